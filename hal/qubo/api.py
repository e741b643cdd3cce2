"""``hal.solve``: one call for every QUBO-family target, always checked against HiGHS.

Example:
    >>> import hal
    >>> p = hal.AllocationProblem(jobs=["a", "b"], hosts=["h1", "h2"], resources=["cpu"],
    ...     demand=[[2], [2]], capacity=[[3], [3]], cost=[[1, 2], [2, 1]])
    >>> res = hal.solve(p, target="highs")
    >>> res.assignment, res.objective, res.validation["gap"], res.validation["verdict"]
    ({'a': 'h1', 'b': 'h2'}, 2.0, 0.0, 'optimal (proven)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dimod
import numpy as np

from hal._checks import seed as check_seed
from hal.backend import QuboBackend
from hal.compilers.qubo import Compiled, to_bqm, to_cqm
from hal.errors import HALTimeoutError, ValidationError
from hal.provenance import Timer, make_provenance
from hal.qubo.adapters import adapt
from hal.qubo.readers import check_problem, load_problem
from hal.qubo.result import Samples, SolveResult
from hal.registry import get_backend
from hal.select import Skip, select
from hal.target import Target, get_target, list_targets

#: the target every answer is checked against (an exact MILP target, found by name)
REFERENCE_TARGET = "highs"
#: validation's default time budget: max(MIN, FACTOR x the solve), capped by the target's
#: time_limit_s; 1.25x keeps a whole validated solve (HiGHS overruns its limit by up to
#: a second on large models) under 3x the solve alone
VALIDATE_MIN_S, VALIDATE_FACTOR = 2.0, 1.25


def compile_problem(problem: Any) -> Compiled:
    """Lower a problem (or a path to one) to CQM and, when it has no real variables, to
    its penalised BQM."""
    if isinstance(problem, (str, Path)):
        problem = load_problem(problem)
    problem = adapt(problem)
    check_problem(problem)  # finite biases; cheap proofs of infeasibility
    compiled = to_cqm(problem)
    if compiled.bqm is None and not compiled.real_variables:
        to_bqm(compiled)
    return compiled


def solve(
    problem: Any,
    target: str = "highs",
    *,
    seed: int | None = None,
    validate: bool = True,
    fallback: bool | None = None,
    max_gap: float | None = None,
    validate_time_s: float | None = None,
    best_known: float | None = None,
    **options: Any,
) -> SolveResult:
    """Solve an allocation, max-cut, BQM, CQM, LP or Qiskit problem on ``target``.

    Args:
        problem: an AllocationProblem, MaxCutProblem, dimod BQM/CQM (binary, spin,
            integer variables; real ones on ``highs`` only), a qiskit ``SparsePauliOp`` of
            Z/ZZ terms, a qiskit-optimization ``QuadraticProgram``, or a file path.
        target: a target name (``hal targets``) or ``"auto"``.
        seed: seed for samplers and simulators.
        validate: compare with HiGHS's optimum (or bound) and report the gap.
        fallback: see :func:`hal.select`; a problem that does not fit always falls back
            unless ``fallback=False``.
        max_gap: when validating, a relative gap above this (or an infeasible answer)
            returns HiGHS's answer instead, recording why.
        validate_time_s: HiGHS time budget for the validation, building its model
            included (default: max(2 s, 1.25x the solve time), capped by the ``highs``
            target's ``time_limit_s``).
        best_known: the best known objective (a published value), reported beside
            HiGHS's bound when HiGHS cannot prove the optimum in its budget.
        **options: backend options (``num_reads``, ``reps``, ``shots``, ...).
    """
    seed = check_seed(seed)
    timer = Timer()
    with timer("compile"):
        compiled = compile_problem(problem)
    chosen, backend, skips = select(target, "qubo",
                                    fits=lambda t: _fits(t, compiled), fallback=fallback)
    with timer("solve"):
        out: Samples = backend.solve(compiled, chosen, seed=seed, **options)
    run = _Run(chosen, backend, backend.resolve_options(chosen, options), out)
    rows = _rows(compiled, out)
    result = _decode(compiled, out, rows, chosen, backend.name,
                     repair=bool(out.info.get("repair", False)))
    if validate:
        budget = validate_time_s or _budget(timer.times["solve_s"])
        with timer("validate"):
            reference = _validate(compiled, run, rows, result, budget, best_known)
        if reference is not None and _should_fall_back(result, run, max_gap):
            reason = ("answer infeasible" if not result.feasible
                      else f"gap {result.validation['gap']:.3%} above max_gap {max_gap:.3%}")
            skips = [*skips, Skip(chosen.name, f"{reason}; returned HiGHS's answer")]
            replaced = {"target": chosen.name, "backend_info": out.info}
            run = reference
            rows = _rows(compiled, run.out)
            _adopt(result, compiled, rows, run)
            result.provenance["replaced"] = replaced
            result.validation.update(_compare(compiled, result, run.out.info, best_known))
            result.validation["verdict"] += f" (HiGHS's answer: {chosen.name}'s {reason})"
    result.timing = {**timer.times, **run.out.timing}
    if "tts99_s" in result.validation:  # a time, so it lives with the timings
        result.timing["tts99_s"] = result.validation.pop("tts99_s")
    result.fallbacks = [s.to_dict() for s in skips]
    result.provenance = make_provenance(
        run.target, run.backend, seed=seed, options=run.options, fallbacks=skips,
        problem=getattr(compiled.problem, "name", type(compiled.problem).__name__),
        variables=compiled.num_variables, backend_info=run.out.info,
        **result.provenance)
    return result


@dataclass
class _Run:
    """Where an answer came from: target, backend, effective options, its samples."""

    target: Target
    backend: QuboBackend
    options: dict[str, Any]
    out: Samples


def _budget(solve_s: float) -> float:
    return max(VALIDATE_MIN_S, VALIDATE_FACTOR * solve_s)


def _fits(target: Target, compiled: Compiled) -> str | None:
    backend = get_backend(target.backend)
    if not isinstance(backend, QuboBackend):
        return None
    reals = compiled.real_variables
    if reals and "REAL" not in backend.variable_types:
        takers = [t.name for t in list_targets() if _takes_reals(t)]
        return (f"variable '{reals[0]}' is REAL ({len(reals)} real variable(s)); a QUBO "
                f"target takes binary, spin and integer variables; targets that take real "
                f"variables: {', '.join(takers) or 'none installed'}")
    return backend.fits(compiled, target)


def _takes_reals(target: Target) -> bool:
    try:
        backend = get_backend(target.backend)
    except Exception:  # a target whose backend cannot load takes nothing here
        return False
    return isinstance(backend, QuboBackend) and "REAL" in backend.variable_types


@dataclass
class _Row:
    sample: dict
    energy: float
    occurrences: int
    objective: float
    feasible: bool
    violations: list[str]


def _rows(compiled: Compiled, out: Samples) -> list[_Row]:
    """Every distinct sample evaluated once on the original problem."""
    ss = out.sampleset
    labels = list(ss.variables)
    rows = []
    for k in range(len(ss)):
        sample = dict(zip(labels, ss.record.sample[k].tolist(), strict=True))
        obj, feas, viol = compiled.evaluate(sample)
        rows.append(_Row(sample, float(ss.record.energy[k]), int(ss.record.num_occurrences[k]),
                         obj, feas, viol))
    return rows


def _decode(compiled: Compiled, out: Samples, rows: list[_Row], target: Target,
            backend: str, repair: bool, repair_top: int = 20,
            polish_top: int = 5) -> SolveResult:
    """Best raw sample (feasible first, then lowest energy), and, when ``repair`` is on
    and the problem has a repair, the best of repairing the ``repair_top`` lowest-energy
    distinct samples and of tabu search over assignments started from the best
    ``polish_top`` repaired ones (reported separately: ``raw`` keeps the sampler's own
    answer)."""
    best = min(rows, key=lambda r: (not r.feasible, r.energy))
    sample, obj, feas, viol = best.sample, best.objective, best.feasible, best.violations
    raw = {"objective": obj, "feasible": feas, "violations": viol, "energy": best.energy}
    repaired = False
    if repair and compiled.repair is not None:
        candidates = []
        for row in sorted(rows, key=lambda r: r.energy)[:repair_top]:
            fixed = compiled.repair(row.sample)
            obj2, feas2, viol2 = compiled.evaluate(fixed)
            if feas2:
                candidates.append((compiled.sign * obj2, len(candidates), fixed))
        candidates.sort(key=lambda t: t[:2])
        if compiled.polish is not None:  # tabu search from the best few, kept if better
            starts = candidates[:polish_top] or [
                (0.0, k, compiled.repair(r.sample))  # none feasible: search from infeasible
                for k, r in enumerate(sorted(rows, key=lambda r: r.energy)[:polish_top])]
            candidates += [(0.0, len(candidates) + k, compiled.polish(fixed, k))
                           for k, (_, _, fixed) in enumerate(starts)]
        for _, _, fixed in candidates:
            obj2, feas2, viol2 = compiled.evaluate(fixed)
            if feas2 and (not feas or compiled.sign * obj2 < compiled.sign * obj - 1e-9):
                sample, obj, feas, viol, repaired = fixed, obj2, feas2, viol2, True
    return SolveResult(target=target.name, backend=backend, precision=target.precision,
                       assignment=compiled.decode(sample), objective=obj, feasible=feas,
                       energy=None if repaired else best.energy, violations=viol, raw=raw,
                       repaired=repaired, energies=[r.energy for r in rows],
                       sampleset=caller_sampleset(compiled, rows), counts=out.counts,
                       circuit=out.circuit)


def caller_sampleset(compiled: Compiled, rows: list[_Row]) -> dimod.SampleSet:
    """The samples in the caller's variables and vartype (slack and encoding bits
    dropped, integers decoded), aggregated, with energy in the caller's model,
    ``objective`` in the problem's own sense and ``is_feasible``."""
    to_caller = compiled.caller_sample or compiled.model_sample
    original = compiled.problem
    if not rows:
        return dimod.SampleSet.from_samples([], "BINARY", energy=[])
    samples = [to_caller(r.sample) for r in rows]
    extra = {"num_occurrences": [r.occurrences for r in rows],
             "objective": [r.objective for r in rows]}
    if isinstance(original, dimod.BinaryQuadraticModel):
        ss = dimod.SampleSet.from_samples_bqm(samples, original,
                                              is_feasible=[r.feasible for r in rows], **extra)
    else:
        model = original if isinstance(original, dimod.ConstrainedQuadraticModel) \
            else compiled.cqm
        ss = dimod.SampleSet.from_samples_cqm(samples, model, **extra)
    return ss.aggregate()


def _validate(compiled: Compiled, run: _Run, rows: list[_Row], result: SolveResult,
              budget: float, best_known: float | None) -> _Run | None:
    """Fill ``result.validation`` from HiGHS (the reference target, through the registry);
    return HiGHS's run when it found a solution."""
    ref_target = get_target(REFERENCE_TARGET)
    ref_backend = get_backend(ref_target.backend)
    cap = float(ref_target.options.get("time_limit_s", budget))
    budget = min(budget, cap)
    v: dict[str, Any] = {"reference": ref_target.name}
    reference: _Run | None
    if run.target.name == ref_target.name:  # the answer is HiGHS's own: no second solve
        reference, info = run, run.out.info
        v["time_limit_s"] = run.options.get("time_limit_s")
    else:
        v["time_limit_s"] = budget
        try:
            opts = {"time_limit_s": budget}
            out = ref_backend.solve(compiled, ref_target, **opts)
            reference = _Run(ref_target, ref_backend,
                             ref_backend.resolve_options(ref_target, opts), out)
            info = out.info
        except (HALTimeoutError, ValidationError) as exc:
            status = "no solution" if isinstance(exc, HALTimeoutError) else "infeasible"
            reference, info = None, {"status": status, "objective": None, "bound": None,
                                     "message": str(exc)}
    v.update(_compare(compiled, result, info, best_known))
    ref = v["optimum"] if v["optimum"] is not None else best_known
    v.update(_sample_stats(compiled, run.out, rows, ref))
    for key in ("hellinger_fidelity", "expected_energy"):
        if key in run.out.info:
            v[key] = run.out.info[key]
    if "expected_energy" in run.out.info and not compiled.cqm.constraints and ref:
        # unconstrained: the BQM energy is the objective (negated for max problems)
        v["expected_objective"] = compiled.sign * run.out.info["expected_energy"]
        v["expected_approximation_ratio"] = _ratio(v["expected_objective"], ref,
                                                   compiled.sign)
    result.validation = v
    return reference


def _compare(compiled: Compiled, result: SolveResult, info: dict[str, Any],
             best_known: float | None) -> dict[str, Any]:
    """Optimum or bound, the gap to them, and a one-line verdict."""
    sign, status = compiled.sign, info["status"]
    found = None if info.get("objective") is None else sign * info["objective"]
    bound = None if info.get("bound") is None else sign * info["bound"]
    optimum = found if status == "optimal" else None
    v: dict[str, Any] = {"status": status, "optimum": optimum, "best_found": found,
                         "bound": bound, "best_known": best_known}
    obj = result.objective if result.feasible else None
    v["gap"] = _rel(obj, optimum)
    v["gap_to_bound"] = _rel(obj, bound)
    v["approximation_ratio"] = _ratio(obj, optimum if optimum is not None else best_known,
                                      sign) if obj is not None else None
    v["ratio_to_best_known"] = _ratio(obj, best_known, sign) \
        if obj is not None and best_known is not None else None
    if obj is None:
        verdict = "infeasible answer"
    elif optimum is not None:
        verdict = ("optimal (proven)" if v["gap"] <= 1e-9
                   else f"{v['gap']:.2%} from the proven optimum")
    elif best_known is not None:
        verdict = (f"{v['ratio_to_best_known']:.4f} of best known {best_known:g}; HiGHS "
                   f"proved no optimum in its budget ({status}"
                   + (f", bound {bound:g})" if bound is not None else ")"))
    elif bound is not None:
        verdict = (f"within {v['gap_to_bound']:.2%} of HiGHS's bound; optimum not proven "
                   f"(HiGHS {status})")
    else:
        verdict = f"not checked: HiGHS found no solution ({status})"
    v["verdict"] = verdict
    return v


def _rel(found: float | None, ref: float | None) -> float | None:
    if found is None or ref is None:
        return None
    return abs(ref - found) / max(abs(ref), 1e-9)


def _ratio(found: float, ref: float | None, sign: float) -> float | None:
    if ref is None:
        return None
    if ref == 0 or found == 0:
        return 1.0 if found == ref else None
    return found / ref if sign < 0 else ref / found


def _sample_stats(compiled: Compiled, out: Samples, rows: list[_Row],
                  ref: float | None) -> dict[str, Any]:
    """Shot/read-weighted fractions: feasible, at the optimum (or best known), and the
    time to reach it with 99% probability (``tts99_s``, moved to ``result.timing``)."""
    occ = np.array([r.occurrences for r in rows], dtype=float)
    feasible = np.array([r.feasible for r in rows], dtype=bool)
    optimal = np.array([r.feasible and ref is not None
                        and abs(r.objective - ref) <= 1e-6 * max(1, abs(ref)) for r in rows],
                       dtype=bool)
    total = occ.sum()
    p = float(occ[optimal].sum() / total) if total and ref is not None else None
    per_read = out.timing.get("sample_s")
    per_read = per_read / total if per_read and total else None
    if p is None or per_read is None or p == 0:
        tts = None
    elif p >= 1.0:
        tts = per_read
    else:
        tts = per_read * math.log(0.01) / math.log(1 - p)
    return {"feasible_fraction": float(occ[feasible].sum() / total) if total else 0.0,
            "optimal_fraction": p, "tts99_s": tts, "num_samples": int(total)}


def _should_fall_back(result: SolveResult, run: _Run, max_gap: float | None) -> bool:
    if run.target.name == REFERENCE_TARGET:
        return False
    if not result.feasible:
        return True
    gap = result.validation.get("gap")
    return max_gap is not None and gap is not None and gap > max_gap


def _adopt(result: SolveResult, compiled: Compiled, rows: list[_Row], run: _Run) -> None:
    """Replace the answer by the reference run's, with its target and backend."""
    best = min(rows, key=lambda r: (not r.feasible, r.energy))
    result.assignment, result.objective = compiled.decode(best.sample), best.objective
    result.feasible, result.violations, result.energy = best.feasible, best.violations, None
    result.target, result.backend = run.target.name, run.backend.name
    result.precision, result.repaired = run.target.precision, False
    result.sampleset, result.energies = caller_sampleset(compiled, rows), [r.energy for r in rows]
    result.counts = result.circuit = None
