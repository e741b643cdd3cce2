"""``hal.solve``: one call for every QUBO-family target, always checked against HiGHS.

Example:
    >>> import hal
    >>> p = hal.AllocationProblem(jobs=["a", "b"], hosts=["h1", "h2"], resources=["cpu"],
    ...     demand=[[2], [2]], capacity=[[3], [3]], cost=[[1, 2], [2, 1]])
    >>> res = hal.solve(p, target="highs")
    >>> res.assignment, res.objective, res.validation["gap"]
    ({'a': 'h1', 'b': 'h2'}, 2.0, 0.0)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from hal._checks import seed as check_seed
from hal.backend import QuboBackend
from hal.compilers.qubo import Compiled, to_bqm, to_cqm
from hal.provenance import Timer, make_provenance
from hal.qubo.readers import check_problem, load_problem
from hal.qubo.result import Samples, SolveResult
from hal.select import Skip, select
from hal.target import Target, get_target


def compile_problem(problem: Any) -> Compiled:
    """Lower a problem (or a path to one) to CQM and its penalised BQM."""
    if isinstance(problem, (str, Path)):
        problem = load_problem(problem)
    check_problem(problem)  # finite biases; cheap proofs of infeasibility (issue 11)
    compiled = to_cqm(problem)
    if compiled.bqm is None:
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
    **options: Any,
) -> SolveResult:
    """Solve an allocation, max-cut, BQM, CQM or LP problem on ``target``.

    Args:
        problem: an AllocationProblem, MaxCutProblem, dimod BQM/CQM, or a file path.
        target: a target name (``hal targets``) or ``"auto"``.
        seed: seed for samplers and simulators.
        validate: compare with HiGHS's optimum (or bound) and report the gap.
        fallback: see :func:`hal.select`; a problem that does not fit always falls back
            unless ``fallback=False``.
        max_gap: when validating, a relative gap above this (or an infeasible answer)
            returns HiGHS's answer instead, recording why.
        validate_time_s: HiGHS time limit for the validation (default: highs target's).
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
    result = _decode(compiled, out, chosen, backend.name)
    result.timing = dict(timer.times)
    if validate:
        with timer("validate"):
            reference = _validate(compiled, out, result, validate_time_s)
        result.timing = dict(timer.times)
        if reference is not None and _should_fall_back(result, max_gap):
            reason = ("answer infeasible" if not result.feasible
                      else f"gap {result.validation['gap']:.3%} above max_gap {max_gap:.3%}")
            skips = [*skips, Skip(chosen.name, f"{reason}; returned HiGHS's answer")]
            _adopt(result, reference, compiled)
    result.fallbacks = [s.to_dict() for s in skips]
    result.provenance = make_provenance(
        chosen, backend, seed=seed, options=backend.resolve_options(chosen, options),
        fallbacks=skips,
        problem=getattr(compiled.problem, "name", type(compiled.problem).__name__),
        variables=compiled.num_variables, backend_info=_jsonable(out.info))
    return result


def _fits(target: Target, compiled: Compiled) -> str | None:
    from hal.registry import get_backend

    backend = get_backend(target.backend)
    return backend.fits(compiled, target) if isinstance(backend, QuboBackend) else None


def _decode(compiled: Compiled, out: Samples, target: Target, backend: str,
            repair_top: int = 20) -> SolveResult:
    """Best raw sample (feasible first, then lowest energy), and, where the problem has a
    repair, the best of repairing the ``repair_top`` lowest-energy distinct samples
    (reported separately: ``raw`` keeps the sampler's own answer)."""
    ss = out.sampleset
    rows = []
    for row in range(len(ss)):
        sample = dict(zip(ss.variables, ss.record.sample[row], strict=True))
        obj, feas, viol = compiled.evaluate(sample)
        rows.append(((not feas, float(ss.record.energy[row])), sample, obj, feas, viol))
    rows.sort(key=lambda r: r[0])
    best_key, sample, obj, feas, viol = rows[0]
    raw = {"objective": obj, "feasible": feas, "violations": viol, "energy": best_key[1]}
    repaired = False
    if compiled.repair is not None:
        by_energy = sorted(rows, key=lambda r: r[0][1])[:repair_top]
        for _, candidate, *_ in by_energy:
            fixed = compiled.repair(candidate)
            obj2, feas2, viol2 = compiled.evaluate(fixed)
            if feas2 and (not feas or compiled.sign * obj2 < compiled.sign * obj - 1e-9):
                sample, obj, feas, viol, repaired = fixed, obj2, feas2, viol2, True
    return SolveResult(target=target.name, backend=backend, precision=target.precision,
                       assignment=compiled.decode(sample), objective=obj, feasible=feas,
                       energy=None if repaired else best_key[1], violations=viol, raw=raw,
                       repaired=repaired, energies=ss.record.energy.tolist())


def _validate(compiled: Compiled, out: Samples, result: SolveResult,
              time_s: float | None) -> dict | None:
    from hal.backends.classical_milp import solve_cqm

    highs = get_target("highs")
    time_s = time_s or float(highs.options.get("time_limit_s", 60))
    info, sample = solve_cqm(compiled.cqm, time_s, 0.0, highs.limits.max_time_s)
    v: dict[str, Any] = {"status": info["status"], "reference": "highs",
                         "reference_s": info["solve_s"]}
    sign = compiled.sign
    v["optimum"] = sign * info["objective"] if info["status"] == "optimal" else None
    v["best_found"] = None if info["objective"] is None else sign * info["objective"]
    v["bound"] = None if info["bound"] is None else sign * info["bound"]
    ref = v["bound"]
    v["gap"] = (abs(ref - result.objective) / max(abs(ref), 1e-9)
                if ref is not None and result.feasible else None)
    v["approximation_ratio"] = (_ratio(result.objective, ref, sign)
                                if ref is not None and result.feasible else None)
    v.update(_sample_stats(compiled, out, ref))
    for key in ("hellinger_fidelity", "expected_energy"):
        if key in out.info:
            v[key] = out.info[key]
    if "expected_energy" in out.info and not compiled.cqm.constraints and ref:
        # unconstrained: the BQM energy is the objective (negated for max problems)
        v["expected_approximation_ratio"] = _ratio(sign * out.info["expected_energy"], ref, sign)
    result.validation = v
    return {"sample": sample, "objective": v["best_found"]} if sample is not None else None


def _ratio(found: float, ref: float, sign: float) -> float | None:
    if ref == 0 or found == 0:
        return 1.0 if found == ref else None
    return found / ref if sign < 0 else ref / found


def _sample_stats(compiled: Compiled, out: Samples, ref: float | None) -> dict[str, Any]:
    ss = out.sampleset
    occ = ss.record.num_occurrences
    feasible = np.zeros(len(ss), dtype=bool)
    optimal = np.zeros(len(ss), dtype=bool)
    for row in range(len(ss)):
        sample = dict(zip(ss.variables, ss.record.sample[row], strict=True))
        obj, feas, _ = compiled.evaluate(sample)
        feasible[row] = feas
        optimal[row] = feas and ref is not None and abs(obj - ref) <= 1e-6 * max(1, abs(ref))
    total = occ.sum()
    p = float(occ[optimal].sum() / total) if total else 0.0
    per_read = out.info.get("sample_s_per_read") or _per_read(out, total)
    if p >= 1.0:
        tts = per_read
    elif p > 0 and per_read is not None:
        tts = per_read * math.log(0.01) / math.log(1 - p)
    else:
        tts = None
    return {"feasible_fraction": float(occ[feasible].sum() / total) if total else 0.0,
            "optimal_fraction": p, "tts99_s": tts, "num_samples": int(total)}


def _per_read(out: Samples, total: int) -> float | None:
    tuning = out.info.get("tuning")
    if tuning and total:
        return tuning[-1]["sample_s"] / total
    return None


def _should_fall_back(result: SolveResult, max_gap: float | None) -> bool:
    if result.backend == "classical_milp":
        return False
    if not result.feasible:
        return True
    gap = result.validation.get("gap")
    return max_gap is not None and gap is not None and gap > max_gap


def _adopt(result: SolveResult, reference: dict, compiled: Compiled) -> None:
    sample = reference["sample"]
    obj, feas, viol = compiled.evaluate(sample)
    result.assignment, result.objective, result.feasible = compiled.decode(sample), obj, feas
    result.violations, result.energy = viol, None
    result.target, result.backend = "highs", "classical_milp"


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in info.items():
        if isinstance(v, (np.generic,)):
            v = v.item()
        out[k] = v
    return out
