"""Exact classical solver: HiGHS through ``scipy.optimize.milp``, with a time limit.

Binary, integer and real variables are solved natively (no encoding, no penalties).

Returns the optimum when HiGHS proves it, else the best solution found, the best bound
and the relative gap between them.
"""

from __future__ import annotations

import time
from typing import Any

import dimod

from hal.backend import Option, QuboBackend
from hal.compilers.milp import cqm_to_milp
from hal.compilers.qubo import Compiled
from hal.errors import HALTimeoutError, Infeasible
from hal.qubo.result import Samples
from hal.target import Target

_STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "other"}


class ClassicalMilpBackend(QuboBackend):
    """HiGHS MILP on the CQM (no penalties: constraints stay constraints)."""

    name = "classical_milp"
    requires = ("scipy",)
    install_hint = "pip install scipy>=1.10"
    packages = ("scipy",)
    variable_types = ("BINARY", "SPIN", "INTEGER", "REAL")
    options = {
        "time_limit_s": Option(60.0, "HiGHS time limit in seconds (capped by the target's "
                               "max_time_s); with no solution by then, HALTimeoutError",
                               probe=1e-9),
        "mip_rel_gap": Option(0.0, "stop once the relative gap between the best solution "
                              "and the bound is below this (0: prove the optimum)", probe=0.5),
    }

    def fits(self, compiled: Compiled, target: Target) -> str | None:
        n = len(compiled.cqm.variables)
        if n > target.limits.max_variables:
            return f"needs {n} variables, target allows {target.limits.max_variables}"
        return None

    def solve(self, compiled: Compiled, target: Target, seed: int | None = None,
              **options: Any) -> Samples:
        opts = self.resolve_options(target, options)
        info, sample = solve_cqm(compiled.cqm, opts["time_limit_s"], opts["mip_rel_gap"],
                                 target.limits.max_time_s)
        if info["status"] == "infeasible":
            raise Infeasible("infeasible: HiGHS proved that no assignment satisfies every "
                             "constraint; relax a capacity, an (anti-)affinity rule or "
                             "allow jobs to stay unassigned (assign: at_most)")
        if sample is None:
            raise HALTimeoutError(f"HiGHS found no solution within {opts['time_limit_s']} s "
                                  f"(status {info['status']}); raise time_limit_s")
        vartype = "BINARY" if all(compiled.cqm.vartype(v) is dimod.BINARY
                                  for v in sample) else "INTEGER"
        ss = dimod.SampleSet.from_samples(sample, vartype,
                                          energy=compiled.cqm.objective.energy(sample))
        timing = {"sample_s": info.pop("solve_s")}
        limit = min(float(opts["time_limit_s"]), target.limits.max_time_s or float("inf"))
        info.update(time_limit=limit, mip_rel_gap=opts["mip_rel_gap"])  # effective settings
        return Samples(ss, info, timing)


def solve_cqm(cqm: dimod.ConstrainedQuadraticModel, time_limit_s: float,
              mip_rel_gap: float = 0.0, max_time_s: float | None = None
              ) -> tuple[dict[str, Any], dict | None]:
    """Solve a binary CQM exactly (minimisation). Returns (info, best sample or None).

    ``info`` holds ``status`` (optimal | time_limit | infeasible | ...), ``objective``
    (best found, CQM sense), ``bound`` (proven lower bound), ``gap`` (relative) and
    ``solve_s``.
    """
    from scipy.optimize import milp

    if max_time_s is not None:
        time_limit_s = min(time_limit_s, max_time_s)
    start = time.perf_counter()
    m = cqm_to_milp(cqm)  # building the model counts against the limit
    left = max(time_limit_s - (time.perf_counter() - start), 1e-3)
    res = milp(m.c, constraints=m.constraints, integrality=m.integrality, bounds=m.bounds,
               options={"time_limit": float(left), "mip_rel_gap": mip_rel_gap,
                        "disp": False})
    elapsed = time.perf_counter() - start
    status = _STATUS.get(res.status, "other")
    info: dict[str, Any] = {"status": status, "solve_s": elapsed, "objective": None,
                            "bound": None, "gap": None}
    if res.x is None:
        return info, None
    objective = float(res.fun) + m.offset
    bound = getattr(res, "mip_dual_bound", None)
    bound = objective if status == "optimal" or bound is None else float(bound) + m.offset
    gap = abs(objective - bound) / max(abs(objective), 1e-9)
    info.update(objective=objective, bound=bound, gap=gap)
    x = res.x[: len(m.variables)]
    values = [int(round(xi)) if kind else float(xi)
              for xi, kind in zip(x.tolist(), m.integrality[: len(m.variables)], strict=True)]
    return info, dict(zip(m.variables, values, strict=True))
