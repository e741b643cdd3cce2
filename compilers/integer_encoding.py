"""Integer variables on QUBO targets: a bounded binary (log) encoding.

An integer ``x`` in ``[lb, ub]`` becomes ``x = lb + sum_k c_k b_k`` over binaries ``b_k``
with ``c = 1, 2, 4, ..., 2^(K-2), R - (2^(K-1) - 1)`` where ``R = ub - lb`` and
``K = floor(log2 R) + 1``: every value in ``[lb, ub]`` has an encoding and no bit pattern
leaves the range (Karimi & Rosenberg's "bounded-coefficient" encoding), so no constraint
is needed to keep ``x`` in bounds. Bits are labelled ``"x#k"``.

Example:
    >>> import dimod
    >>> cqm = dimod.ConstrainedQuadraticModel()
    >>> x = dimod.Integer("x", lower_bound=1, upper_bound=6)
    >>> cqm.set_objective(-x)
    >>> binary, enc = encode_integers(cqm)
    >>> enc["x"].coefficients, enc["x"].lower
    ([1, 2, 2], 1)
    >>> enc["x"].value({"x#0": 1, "x#1": 1, "x#2": 1})
    6
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dimod

from hal.errors import CompileError

#: an integer needing more bits than this is refused (its bounds are almost surely unset)
MAX_BITS = 32


@dataclass(frozen=True)
class IntegerEncoding:
    """``x = lower + sum(c * b for b, c in zip(bits, coefficients))``."""

    lower: int
    bits: list[str]
    coefficients: list[int]

    def value(self, sample: dict) -> int:
        """The integer a sample of the bits encodes."""
        return self.lower + sum(c * int(round(sample.get(b, 0)))
                                for b, c in zip(self.bits, self.coefficients, strict=True))

    def terms(self) -> list[tuple[str, int]]:
        return list(zip(self.bits, self.coefficients, strict=True))


def bounded_coefficients(span: int) -> list[int]:
    """Coefficients whose subset sums are exactly 0..span."""
    if span <= 0:
        return []
    k = span.bit_length()
    coeffs = [1 << i for i in range(k - 1)]
    coeffs.append(span - (sum(coeffs)))
    return coeffs


def encode_integers(cqm: dimod.ConstrainedQuadraticModel
                    ) -> tuple[dimod.ConstrainedQuadraticModel, dict[Any, IntegerEncoding]]:
    """A binary CQM equal to ``cqm`` with every integer variable encoded in binary.

    ``cqm`` must hold only binary and integer variables (spins converted first).

    Raises:
        CompileError: a real variable (QUBO targets cannot take it), or an integer whose
            range needs more than :data:`MAX_BITS` bits (its bounds are missing).
    """
    enc: dict[Any, IntegerEncoding] = {}
    for v in cqm.variables:
        vt = cqm.vartype(v)
        if vt is dimod.REAL:
            raise CompileError(f"variable '{v}' is REAL; QUBO targets take binary, spin and "
                               "integer variables only")
        if vt is dimod.INTEGER:
            lb, ub = int(round(cqm.lower_bound(v))), int(round(cqm.upper_bound(v)))
            coeffs = bounded_coefficients(ub - lb)
            if len(coeffs) > MAX_BITS:
                raise CompileError(f"integer variable '{v}' ranges over [{lb}, {ub}], which "
                                   f"needs {len(coeffs)} bits; give it tighter bounds (an LP "
                                   "Bounds section, or cqm.set_upper_bound)")
            bits = [f"{v}#{k}" for k in range(len(coeffs))]
            clash = [b for b in bits if b in cqm.variables]
            if clash:
                raise CompileError(f"cannot encode integer '{v}': label '{clash[0]}' is taken")
            enc[v] = IntegerEncoding(lb, bits, coeffs)
    if not enc:
        return cqm, enc
    out = dimod.ConstrainedQuadraticModel()
    out.set_objective(_substitute(cqm.objective, enc))
    for label, c in cqm.constraints.items():
        out.add_constraint_from_model(_substitute(c.lhs, enc), c.sense, c.rhs, label=label,
                                      copy=False)
    return out, enc


def _substitute(qm: Any, enc: dict[Any, IntegerEncoding]) -> dimod.BinaryQuadraticModel:
    def expand(v: Any) -> tuple[list[tuple[Any, int]], int]:
        return (enc[v].terms(), enc[v].lower) if v in enc else ([(v, 1)], 0)

    bqm = dimod.BinaryQuadraticModel("BINARY")
    bqm.offset = qm.offset
    for v in qm.variables:
        bqm.add_variables_from((b, 0.0) for b, _ in expand(v)[0])
    for v, a in qm.iter_linear():
        terms, lo = expand(v)
        bqm.offset += a * lo
        for b, c in terms:
            bqm.add_linear(b, a * c)
    for u, v, a in qm.iter_quadratic():
        (tu, lu), (tv, lv) = expand(u), expand(v)
        bqm.offset += a * lu * lv
        for b, c in tu:
            bqm.add_linear(b, a * c * lv)
        for b, c in tv:
            bqm.add_linear(b, a * c * lu)
        for b1, c1 in tu:
            for b2, c2 in tv:
                if b1 == b2:  # b^2 = b
                    bqm.add_linear(b1, a * c1 * c2)
                else:
                    bqm.add_quadratic(b1, b2, a * c1 * c2)
    return bqm
