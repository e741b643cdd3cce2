"""Lowering for the QUBO family: problem -> dimod CQM -> penalised BQM (QUBO).

Rules are registered by problem type (``to_cqm.register``), as nengo registers builders.
Every problem becomes a :class:`Compiled`: a minimisation CQM over binary variables, a
decoder from samples back to the problem's own answer, and an evaluator that computes
the objective and feasibility on the *original* problem.

Penalties are per constraint, not one scalar: each constraint's weight starts from the
largest objective change one variable flip can make (so breaking the constraint never
pays), and :func:`tune_penalties` doubles the weight of constraints that samples keep
violating.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

import dimod
import numpy as np

from hal.compilers.assignment_search import tabu_search
from hal.compilers.integer_encoding import IntegerEncoding, encode_integers
from hal.errors import CompileError, ValidationError
from hal.qubo.problem import AllocationProblem, LPProblem, MaxCutProblem


@dataclass
class Compiled:
    """A problem lowered to a minimisation CQM, with its decoder and evaluator.

    Attributes:
        cqm: the CQM HiGHS solves (binary, integer and real variables; spins turned into
            binaries ``x = (s + 1) / 2``); the objective is minimised (max problems negated).
        sign: +1 for min problems, -1 for max (objective = sign * cqm objective).
        decode: sample (dict) -> the problem's answer (assignment, cut side, sample in the
            caller's variables and vartype).
        evaluate: sample (dict) -> (objective, feasible, violations) on the original.
        problem: the original problem.
        bqm: the penalised BQM once :func:`to_bqm` has run.
        penalties: constraint label -> weight.
        repair: sample -> a feasible sample by greedy moves (allocation problems), or None.
        polish: (feasible sample, seed) -> a better one by tabu search over assignments
            (:mod:`hal.compilers.assignment_search`), or None.
        caller_sample: sample -> the caller's own variables and values (what
            ``SolveResult.sampleset`` holds).
        integers: integer variable -> its binary encoding on QUBO targets.
    """

    cqm: dimod.ConstrainedQuadraticModel
    sign: float
    decode: Callable[[dict], Any]
    evaluate: Callable[[dict], tuple[float, bool, list[str]]]
    problem: Any
    bqm: dimod.BinaryQuadraticModel | None = None
    penalties: dict[str, float] = field(default_factory=dict)
    repair: Callable[[dict], dict] | None = None
    polish: Callable[[dict, int], dict] | None = None
    caller_sample: Callable[[dict], dict] | None = None
    integers: dict[Any, IntegerEncoding] = field(default_factory=dict)
    _binary: dimod.ConstrainedQuadraticModel | None = field(default=None, repr=False)

    @property
    def num_variables(self) -> int:
        """Variables of the BQM when built, else of the CQM (before slack)."""
        return len(self.bqm.variables) if self.bqm is not None else len(self.cqm.variables)

    @property
    def real_variables(self) -> list:
        """Variables of the CQM that are real-valued (only exact MILP targets take them)."""
        return [v for v in self.cqm.variables if self.cqm.vartype(v) is dimod.REAL]

    @property
    def binary_cqm(self) -> dimod.ConstrainedQuadraticModel:
        """The CQM over binaries only (integers encoded, see
        :mod:`hal.compilers.integer_encoding`), which QUBO targets penalise into a BQM."""
        if self._binary is None:
            self._binary, self.integers = encode_integers(self.cqm)
        return self._binary

    def model_sample(self, sample: dict) -> dict:
        """A sample over :attr:`cqm`'s variables (integers decoded from their bits)."""
        out = {}
        for v in self.cqm.variables:
            enc = self.integers.get(v)
            out[v] = enc.value(sample) if enc is not None and v not in sample \
                else sample.get(v, 0)
        return out


@singledispatch
def to_cqm(problem: Any) -> Compiled:
    """Lower ``problem`` to a :class:`Compiled` CQM (dispatch on its type)."""
    raise CompileError(
        f"no QUBO lowering for {type(problem).__name__}; supported: "
        "AllocationProblem, MaxCutProblem, LPProblem, dimod BQM/CQM, qiskit SparsePauliOp, "
        "qiskit-optimization QuadraticProgram"
    )


def _xname(j: int, h: int) -> str:
    return f"x_{j}_{h}"


@to_cqm.register
def _allocation(problem: AllocationProblem) -> Compiled:
    J, H = len(problem.jobs), len(problem.hosts)
    sign = 1.0 if problem.sense == "min" else -1.0
    cqm = dimod.ConstrainedQuadraticModel()
    obj = dimod.BinaryQuadraticModel("BINARY")
    for j in range(J):
        for h in range(H):
            obj.add_linear(_xname(j, h), sign * problem.cost[j, h])
    if problem.host_cost is not None:
        for h in range(H):
            obj.add_linear(f"y_{h}", sign * problem.host_cost[h])
    if problem.assign == "at_most" and problem.unassigned_cost is not None:
        for j in range(J):  # cost u_j * (1 - sum_h x_jh)
            obj.offset += sign * problem.unassigned_cost[j]
            for h in range(H):
                obj.add_linear(_xname(j, h), -sign * problem.unassigned_cost[j])
    cqm.set_objective(obj)
    for j in range(J):
        terms = [(_xname(j, h), 1) for h in range(H)]
        sense = "==" if problem.assign == "exactly" else "<="
        cqm.add_constraint_from_iterable(terms, sense, 1, label=f"one_{j}")
    dem = problem.demand_jhr
    for h in range(H):
        for r in range(len(problem.resources)):
            terms = [(_xname(j, h), dem[j, h, r]) for j in range(J) if dem[j, h, r]]
            if not terms:
                continue
            if problem.host_cost is not None:
                terms.append((f"y_{h}", -problem.capacity[h, r]))
                rhs = 0
            else:
                rhs = problem.capacity[h, r]
            cqm.add_constraint_from_iterable(terms, "<=", rhs, label=f"cap_{h}_{r}")
    for k, (a, b) in enumerate(problem.anti_affinity):
        ia, ib = problem.jobs.index(a), problem.jobs.index(b)
        for h in range(H):
            cqm.add_constraint_from_iterable([(_xname(ia, h), 1), (_xname(ib, h), 1)], "<=", 1,
                                             label=f"anti_{k}_{h}")
    for k, (a, b) in enumerate(problem.affinity):
        ia, ib = problem.jobs.index(a), problem.jobs.index(b)
        for h in range(H):
            cqm.add_constraint_from_iterable([(_xname(ia, h), 1), (_xname(ib, h), -1)], "==", 0,
                                             label=f"aff_{k}_{h}")

    def matrix(sample: dict) -> np.ndarray:
        return np.array([[sample.get(_xname(j, h), 0) > 0.5 for h in range(H)]
                         for j in range(J)])

    def decode(sample: dict) -> dict[str, str | None]:
        x = matrix(sample)
        return {problem.jobs[j]: (problem.hosts[int(np.argmax(x[j]))] if x[j].any() else None)
                for j in range(J)}

    def repair(sample: dict) -> dict:
        x = greedy_repair(problem, matrix(sample))
        return {_xname(j, h): int(x[j, h]) for j in range(J) for h in range(H)}

    def polish(sample: dict, seed: int = 0) -> dict:
        x = tabu_search(problem, matrix(sample), tenure=max(5, J // 5) + 2 * seed, seed=seed)
        return {_xname(j, h): int(x[j, h]) for j in range(J) for h in range(H)}

    return Compiled(cqm, sign, decode, lambda s: problem.evaluate_matrix(matrix(s)), problem,
                    repair=repair, polish=polish)


@to_cqm.register
def _maxcut(problem: MaxCutProblem) -> Compiled:
    # cut(s) = sum w (s_i + s_j - 2 s_i s_j); minimise -cut.
    n, (i, j), w = problem.num_nodes, problem.edges.T, problem.weights
    linear = np.zeros(n)
    np.add.at(linear, i, -w)
    np.add.at(linear, j, -w)
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(linear, (i, j, 2 * w), 0.0, "BINARY")
    cqm = dimod.ConstrainedQuadraticModel.from_bqm(bqm)

    def vector(sample: dict) -> np.ndarray:
        return np.array([sample[k] for k in range(n)], dtype=np.int8)

    compiled = Compiled(cqm, -1.0, vector, lambda s: problem.evaluate_vector(vector(s)), problem)
    compiled.bqm = bqm
    return compiled


@to_cqm.register
def _bqm(problem: dimod.BinaryQuadraticModel) -> Compiled:
    bqm = problem.change_vartype("BINARY", inplace=False)
    compiled = _model_problem(dimod.ConstrainedQuadraticModel.from_bqm(bqm), problem,
                              spins=list(problem.variables) if problem.vartype is dimod.SPIN
                              else [])
    compiled.bqm = bqm
    return compiled


@to_cqm.register
def _cqm(problem: dimod.ConstrainedQuadraticModel) -> Compiled:
    spins = [v for v in problem.variables if problem.vartype(v) is dimod.SPIN]
    cqm = problem.spin_to_binary(inplace=False) if spins else problem
    return _model_problem(cqm, problem, spins)


@to_cqm.register
def _lp(problem: LPProblem) -> Compiled:
    sign = -1.0 if problem.sense == "max" else 1.0  # dimod negated a Maximize objective
    return _model_problem(problem.cqm, problem, [], sign)


def _model_problem(cqm: dimod.ConstrainedQuadraticModel, original: Any,
                   spins: list, sign: float = 1.0) -> Compiled:
    """A dimod model: answers are samples in the caller's variables and vartypes."""
    spin_set = set(spins)
    integral = {v for v in cqm.variables if cqm.vartype(v) is not dimod.REAL}
    compiled = Compiled(cqm, sign, lambda s: s, lambda s: (0.0, True, []), original)

    def value(v: Any, x: Any) -> Any:
        if v in spin_set:
            return 2 * int(round(x)) - 1
        return int(round(x)) if v in integral else float(x)

    def caller(sample: dict) -> dict:
        return {v: value(v, x) for v, x in compiled.model_sample(sample).items()}

    def evaluate(sample: dict) -> tuple[float, bool, list[str]]:
        s = {v: (int(round(x)) if v in integral else x)
             for v, x in compiled.model_sample(sample).items()}
        violated = [str(k) for k, v in cqm.iter_violations(s, clip=True) if v > 1e-6]
        return sign * float(cqm.objective.energy(s)), not violated, violated

    compiled.decode = compiled.caller_sample = caller
    compiled.evaluate = evaluate
    return compiled


# -- CQM -> BQM --------------------------------------------------------------------------
def default_penalties(cqm: dimod.ConstrainedQuadraticModel) -> dict[str, float]:
    """Per-constraint weight: the largest objective change one flip of a variable in the
    constraint can make, plus one, divided by the squared smallest violation step."""
    obj = cqm.objective
    constrained = {v for c in cqm.constraints.values() for v in c.lhs.variables}
    flip = {v: abs(obj.get_linear(v)) + sum(abs(b) for _, b in _quad_of(obj, v))
            for v in obj.variables if v in constrained}
    out = {}
    for label, c in cqm.constraints.items():
        coeffs = [abs(b) for _, b in c.lhs.iter_linear() if b]
        step = min(coeffs) if coeffs else 1.0
        gain = max((flip.get(v, 0.0) for v in c.lhs.variables), default=0.0)
        out[label] = (gain + 1.0) / step**2
    return out


def penalty_weights(compiled: Compiled, penalty: Any) -> dict[str, float] | None:
    """The ``penalty`` option as weights per constraint: ``"auto"`` (None: the defaults of
    :func:`default_penalties`), one number for every constraint, or a dict label -> weight.

    Example:
        >>> import dimod
        >>> c = to_cqm(dimod.BinaryQuadraticModel({"a": 1}, {}, 0, "BINARY"))
        >>> penalty_weights(c, "auto") is None, penalty_weights(c, 5.0)
        (True, {})
    """
    if isinstance(penalty, str) and penalty == "auto":
        return None
    labels = list(compiled.cqm.constraints)
    if isinstance(penalty, (int, float)) and not isinstance(penalty, bool) and penalty > 0:
        return {label: float(penalty) for label in labels}
    if isinstance(penalty, dict):
        unknown = sorted(set(map(str, penalty)) - set(map(str, labels)))
        if unknown:
            raise ValidationError(f"penalty: unknown constraint label(s) {unknown[:5]}; the "
                                  f"problem's constraints are {labels[:10]}")
        return {k: float(w) for k, w in penalty.items()}
    raise ValidationError(f"penalty: must be 'auto', a positive number or a dict label -> "
                          f"weight, got {penalty!r}")


def _quad_of(model: Any, v: Any):
    try:
        return model.iter_neighborhood(v)
    except AttributeError:
        return iter(())


def to_bqm(compiled: Compiled, penalties: dict[str, float] | None = None,
           encoding: str = "slack") -> dimod.BinaryQuadraticModel:
    """Penalise every constraint of ``compiled.cqm`` into one BQM.

    Args:
        penalties: weight per constraint label (defaults: :func:`default_penalties`).
        encoding: ``slack`` (binary slack variables, exact) or ``unbalanced``
            (slack-free, arXiv:2211.13914; inequality penalty -l1*h + l2*h^2).
    """
    if encoding not in ("slack", "unbalanced"):
        raise ValidationError(f"encoding: must be 'slack' or 'unbalanced', got '{encoding}'")
    cqm = compiled.binary_cqm
    weights = {**default_penalties(cqm), **(penalties or {})}
    obj = cqm.objective
    bqm = dimod.BinaryQuadraticModel(obj.linear, obj.quadratic, obj.offset, "BINARY")
    for label, c in cqm.constraints.items():
        if not c.lhs.is_linear():
            raise CompileError(f"constraint '{label}' is quadratic; only linear constraints "
                               "can be penalised into a QUBO")
        terms = list(c.lhs.iter_linear())
        const = c.lhs.offset - c.rhs
        w = weights[label]
        if c.sense is dimod.sampleset.Sense.Eq:
            bqm.add_linear_equality_constraint(terms, w, const)
        else:
            sign = 1 if c.sense is dimod.sampleset.Sense.Le else -1
            terms = [(v, sign * b) for v, b in terms]
            if not all(float(b).is_integer() for _, b in terms):
                raise CompileError(f"constraint '{label}' has fractional coefficients; scale "
                                   "it to integers before slack encoding")
            lam = (w, w) if encoding == "unbalanced" else w
            with warnings.catch_warnings():  # "always satisfied" constraints are fine
                warnings.simplefilter("ignore", UserWarning)
                bqm.add_linear_inequality_constraint(
                    [(v, int(b)) for v, b in terms], lam, f"slack_{label}",
                    constant=int(np.ceil(sign * const - 1e-9)), penalization_method=encoding)
    compiled.bqm, compiled.penalties = bqm, weights
    return bqm


def greedy_repair(problem: AllocationProblem, x: np.ndarray) -> np.ndarray:
    """Make an assignment feasible when a simple greedy can, then improve it by moves.

    Drops duplicate assignments, removes jobs from overloaded hosts (least valuable first),
    places unassigned jobs on the best host with room, and finally applies single-job
    moves that improve the objective while keeping feasibility.
    """
    x = x.copy().astype(bool)
    sign = 1.0 if problem.sense == "min" else -1.0
    c = sign * problem.cost  # minimise c
    for j in np.flatnonzero(x.sum(axis=1) > 1):
        keep = np.flatnonzero(x[j])[np.argmin(c[j, x[j]])]
        x[j] = False
        x[j, keep] = True
    dem = problem.demand_jhr
    load = problem.load(x)
    for h in range(len(problem.hosts)):
        while (load[h] > problem.capacity[h] + 1e-9).any():
            on = np.flatnonzero(x[:, h])
            j = on[np.argmax(c[on, h])]
            x[j, h] = False
            load[h] -= dem[j, h]
    for j in np.flatnonzero(~x.any(axis=1)):
        _place(problem, x, load, c, j)
    _improve(problem, x, load, c)
    return x


def _fits(problem: AllocationProblem, x: np.ndarray, load: np.ndarray, j: int, h: int) -> bool:
    if (load[h] + problem.demand_jhr[j, h] > problem.capacity[h] + 1e-9).any():
        return False
    return _apart(problem, x, j, h)


def _apart(problem: AllocationProblem, x: np.ndarray, j: int, h: int) -> bool:
    """True when placing job j on host h breaks no anti-affinity pair."""
    for a, b in problem.anti_affinity:
        other = b if problem.jobs[j] == a else a if problem.jobs[j] == b else None
        if other is not None and x[problem.jobs.index(other), h]:
            return False
    return True


def _place(problem, x, load, c, j) -> None:
    for h in np.argsort(c[j]):
        if _fits(problem, x, load, j, h):
            x[j, h] = True
            load[h] += problem.demand_jhr[j, h]
            return


def _improve(problem, x, load, c, rounds: int = 20) -> None:
    """Local search: move one job to a cheaper host with room, or swap the hosts of two
    jobs, while either lowers the cost and keeps every constraint (first improvement)."""
    if problem.affinity or problem.host_cost is not None:
        return  # moves would need to keep pairs together / account for host cost
    dem = problem.demand_jhr
    for _ in range(rounds):
        moved = _shift_swap(problem, x, load, c, dem, rounds)
        if not problem.anti_affinity:
            moved |= _eject_pass(problem, x, load, c)
        if not moved:
            return


def _shift_swap(problem, x, load, c, dem, rounds: int) -> bool:
    """Shift and swap moves to a local optimum; True when anything moved."""
    any_move = False
    for _ in range(rounds):
        moved = False
        for j in np.flatnonzero(x.any(axis=1)):
            h0 = int(np.flatnonzero(x[j])[0])
            load[h0] -= dem[j, h0]
            x[j, h0] = False
            best = h0
            for h in np.argsort(c[j]):
                if c[j, h] >= c[j, h0]:
                    break
                if _fits(problem, x, load, j, h):
                    best = int(h)
                    break
            x[j, best] = True
            load[best] += dem[j, best]
            moved |= best != h0
        moved |= _swap_pass(problem, x, load, c)
        any_move |= moved
        if not moved:
            break
    return any_move


def _eject_pass(problem, x, load, c) -> bool:
    """Ejection chains of length two: move job j to a host h1 it does not fit on, and
    make room by moving a job k from h1 to a host h2 with room (h2 may be j's old host),
    when the two moves together lower the cost. One pass, first improvement."""
    dem, cap = problem.demand_jhr, problem.capacity
    J, H = x.shape
    moved = False
    for j in range(J):
        if not x[j].any():
            continue
        h0 = int(np.flatnonzero(x[j])[0])
        for h1 in np.argsort(c[j]):
            if c[j, h1] >= c[j, h0]:
                break
            on = np.flatnonzero(x[:, h1])
            if not len(on):
                continue
            over = load[h1] + dem[j, h1]
            ok_k = ((over[None, :] - dem[on, h1] <= cap[h1] + 1e-9).all(axis=1))
            if not ok_k.any():
                continue
            ks = on[ok_k]
            room = load.copy()
            room[h0] -= dem[j, h0]
            fits = (room[None, :, :] + dem[ks] <= cap[None] + 1e-9).all(axis=2)  # (k, h2)
            fits[:, h1] = False
            delta = (c[j, h1] - c[j, h0]) + c[ks] - c[ks, h1][:, None]
            delta[~fits] = np.inf
            best = np.unravel_index(np.argmin(delta), delta.shape)
            if delta[best] >= -1e-9:
                continue
            k, h2 = int(ks[best[0]]), int(best[1])
            x[j, h0], x[j, h1] = False, True
            x[k, h1], x[k, h2] = False, True
            load[h0] -= dem[j, h0]
            load[h1] += dem[j, h1] - dem[k, h1]
            load[h2] += dem[k, h2]
            moved = True
            break
    return moved


def _swap_pass(problem, x, load, c) -> bool:
    dem = problem.demand_jhr
    host = np.where(x.any(axis=1), x.argmax(axis=1), -1)
    swapped = False
    for j1 in range(len(host)):
        for j2 in range(j1 + 1, len(host)):
            h1, h2 = host[j1], host[j2]
            if h1 < 0 or h2 < 0 or h1 == h2:
                continue
            if c[j1, h2] + c[j2, h1] >= c[j1, h1] + c[j2, h2] - 1e-12:
                continue
            new1 = load[h1] - dem[j1, h1] + dem[j2, h1]
            new2 = load[h2] - dem[j2, h2] + dem[j1, h2]
            if (new1 > problem.capacity[h1] + 1e-9).any() or \
                    (new2 > problem.capacity[h2] + 1e-9).any():
                continue
            x[j1, h1] = x[j2, h2] = False
            if not (_apart(problem, x, j1, h2) and _apart(problem, x, j2, h1)):
                x[j1, h1] = x[j2, h2] = True
                continue
            x[j1, h2] = x[j2, h1] = True
            load[h1], load[h2] = new1, new2
            host[j1], host[j2] = h2, h1
            swapped = True
    return swapped
