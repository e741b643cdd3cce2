"""Lowering a CQM to a MILP for HiGHS (``scipy.optimize.milp``).

Binary, integer and real variables keep their type and bounds. Quadratic objective terms
``b * x_i * x_j`` between binaries are linearised with one extra variable ``z = x_i x_j``
and the constraints ``z <= x_i``, ``z <= x_j``, ``z >= x_i + x_j - 1`` (only the ones the
sign of ``b`` needs); a product ``x * y`` of a binary and a bounded integer or real
``y in [L, U]`` with the four McCormick inequalities, which are exact when ``x`` is
binary; a product of two non-binary variables is refused (HiGHS through scipy takes
linear models). Constraints must be linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import dimod
import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint

from hal.errors import CompileError


@dataclass
class Milp:
    """Arrays for ``scipy.optimize.milp``: minimise c @ x + offset."""

    c: np.ndarray
    offset: float
    constraints: list[LinearConstraint]
    integrality: np.ndarray
    bounds: Bounds
    variables: list  # labels of the first len(variables) columns


def cqm_to_milp(cqm: dimod.ConstrainedQuadraticModel) -> Milp:
    """Build the MILP of a CQM (see module docstring)."""
    variables = list(cqm.variables)
    kinds = [cqm.vartype(v) for v in variables]
    index = {v: i for i, v in enumerate(variables)}
    n = len(variables)
    obj = cqm.objective
    c = np.array([obj.get_linear(v) for v in variables], dtype=float)
    rows, cols, vals, lo, hi = [], [], [], [], []
    extra_c: list[float] = []
    extra_bounds: list[tuple[float, float]] = []

    def row(entries: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(lo)
        for col, val in entries:
            rows.append(r)
            cols.append(col)
            vals.append(val)
        lo.append(low)
        hi.append(high)

    for u, v, b in obj.iter_quadratic():
        if b == 0:
            continue
        z = n + len(extra_c)
        extra_c.append(b)
        iu, iv = index[u], index[v]
        binary = [cqm.vartype(w) is dimod.BINARY for w in (u, v)]
        if all(binary):
            extra_bounds.append((0.0, 1.0))
            if b < 0:  # minimisation pushes z up: bound it by x_u and x_v
                row([(z, 1), (iu, -1)], -np.inf, 0)
                row([(z, 1), (iv, -1)], -np.inf, 0)
            else:  # pushes z down: z >= x_u + x_v - 1
                row([(z, 1), (iu, -1), (iv, -1)], -1, np.inf)
        elif any(binary):  # z = x * y with x binary, y in [L, U]: exact McCormick
            ix, iy = (iu, iv) if binary[0] else (iv, iu)
            y = v if binary[0] else u
            low, up = cqm.lower_bound(y), cqm.upper_bound(y)
            extra_bounds.append((min(0.0, low), max(0.0, up)))
            row([(z, 1), (ix, -up)], -np.inf, 0)
            row([(z, 1), (ix, -low)], 0, np.inf)
            row([(z, 1), (iy, -1), (ix, -low)], -np.inf, -low)
            row([(z, 1), (iy, -1), (ix, -up)], -up, np.inf)
        else:
            raise CompileError(f"objective term {b:g}*{u}*{v}: a product of two non-binary "
                               "variables is not linear; HiGHS (through scipy) takes linear "
                               "models and products with a binary")
    for label, con in cqm.constraints.items():
        if not con.lhs.is_linear():
            raise CompileError(f"constraint '{label}' is quadratic; HiGHS needs linear ones")
        r = len(lo)
        for v, b in con.lhs.iter_linear():
            rows.append(r)
            cols.append(index[v])
            vals.append(b)
        rhs = con.rhs - con.lhs.offset
        sense = con.sense.value
        lo.append(rhs if sense in ("==", ">=") else -np.inf)
        hi.append(rhs if sense in ("==", "<=") else np.inf)
    total = n + len(extra_c)
    cons = []
    if lo:
        A = sparse.csr_array((vals, (rows, cols)), shape=(len(lo), total))
        cons.append(LinearConstraint(A, np.array(lo, float), np.array(hi, float)))
    lb = np.zeros(total)
    ub = np.ones(total)
    integrality = np.ones(total, dtype=np.uint8)
    for k, (low, up) in enumerate(extra_bounds):
        lb[n + k], ub[n + k] = low, up
        integrality[n + k] = 0 if (low, up) != (0.0, 1.0) else 1
    for i, (v, kind) in enumerate(zip(variables, kinds, strict=True)):
        if kind is not dimod.BINARY:
            lb[i], ub[i] = cqm.lower_bound(v), cqm.upper_bound(v)
            integrality[i] = 0 if kind is dimod.REAL else 1
    return Milp(np.concatenate([c, extra_c]), float(obj.offset), cons, integrality,
                Bounds(lb, ub), variables)
