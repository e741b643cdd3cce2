"""Lowering a CQM to a MILP for HiGHS (``scipy.optimize.milp``).

Binary, integer and real variables keep their type and bounds. Quadratic objective terms
``b * x_i * x_j`` between binaries are linearised with one extra variable ``z = x_i x_j``
and the constraints ``z <= x_i``, ``z <= x_j``, ``z >= x_i + x_j - 1`` (only the ones the
sign of ``b`` needs); a product involving an integer or real variable is refused (HiGHS
through scipy takes linear models). Constraints must be linear.
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
    extra_c = []
    for u, v, b in obj.iter_quadratic():
        if b == 0:
            continue
        for w in (u, v):
            if cqm.vartype(w) is not dimod.BINARY:
                raise CompileError(f"objective term {b:g}*{u}*{v}: variable '{w}' is "
                                   f"{cqm.vartype(w).name}; HiGHS takes products of binary "
                                   "variables only (encode it in binary, or make it linear)")
        z = n + len(extra_c)
        extra_c.append(b)
        iu, iv = index[u], index[v]
        r = len(lo)
        if b < 0:  # minimisation pushes z up: bound it by x_u and x_v
            rows += [r, r, r + 1, r + 1]
            cols += [z, iu, z, iv]
            vals += [1, -1, 1, -1]
            lo += [-np.inf, -np.inf]
            hi += [0, 0]
        else:  # pushes z down: z >= x_u + x_v - 1
            rows += [r, r, r]
            cols += [z, iu, iv]
            vals += [1, -1, -1]
            lo += [-1]
            hi += [np.inf]
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
    for i, (v, kind) in enumerate(zip(variables, kinds, strict=True)):
        if kind is not dimod.BINARY:
            lb[i], ub[i] = cqm.lower_bound(v), cqm.upper_bound(v)
            integrality[i] = 0 if kind is dimod.REAL else 1
    return Milp(np.concatenate([c, extra_c]), float(obj.offset), cons, integrality,
                Bounds(lb, ub), variables)
