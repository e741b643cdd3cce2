"""dwave-samplers and dimod samplers on the penalised QUBO: SA, tabu, steepest, exact.

Penalties start per constraint (:func:`hal.compilers.qubo.default_penalties`); with
``tune_penalties`` the backend samples, finds the constraints the best samples violate,
doubles their weights and samples again (at most ``tune_rounds`` times).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hal.backend import Option, QuboBackend
from hal.compilers.qubo import Compiled, to_bqm
from hal.errors import DoesNotFit, ValidationError
from hal.qubo.result import Samples
from hal.target import Target

_SAMPLERS = {
    "sa": ("dwave.samplers", "SimulatedAnnealingSampler"),
    "tabu": ("dwave.samplers", "TabuSampler"),
    "steepest": ("dwave.samplers", "SteepestDescentSolver"),
    "exact": ("dimod", "ExactSolver"),
}


class DimodSamplerBackend(QuboBackend):
    """Samples a BQM with a dimod-compatible sampler named by the ``sampler`` option."""

    name = "dimod_samplers"
    requires = ("dimod", "dwave.samplers")
    install_hint = "pip install 'nq-hal[annealing]'"
    packages = ("dwave-samplers", "dimod")
    options = {
        "sampler": Option("sa", "sa, tabu, steepest or exact", probe="steepest"),
        "num_reads": Option(100, "samples drawn per round", probe=3, minimum=1),
        "num_sweeps": Option(None, "SA sweeps per read (None: dwave-samplers' default)",
                             probe=5),
        "penalty": Option("auto", "constraint penalty: auto (per constraint, from the "
                          "objective's scale) or a dict label -> weight", probe=None),
        "encoding": Option("slack", "inequality encoding: slack (binary slack variables)",
                           probe=None),
        "tune_penalties": Option(True, "double the penalties of violated constraints and "
                                 "sample again", probe=False),
        "tune_rounds": Option(4, "at most this many sampling rounds when tuning", probe=1),
        "repair": Option(True, "repair the lowest-energy samples to feasible answers "
                         "(allocation problems)", probe=False),
        "timeout_s": Option(600.0, "wall-clock limit of the whole solve, seconds",
                            probe=None),
    }

    def fits(self, compiled: Compiled, target: Target) -> str | None:
        """None when the BQM fits the target's variable limit, else why not."""
        n = compiled.num_variables
        limit = target.limits.max_variables
        if n > limit:
            return f"needs {n} binary variables (with slack), target allows {limit}"
        return None

    def solve(self, compiled: Compiled, target: Target, seed: int | None = None,
              **options: Any) -> Samples:
        opts = self.resolve_options(target, options)
        sampler = _make_sampler(opts["sampler"])
        penalties = opts["penalty"] if isinstance(opts["penalty"], dict) else None
        rounds = opts["tune_rounds"] if opts["tune_penalties"] and compiled.cqm.constraints else 1
        history = []
        for k in range(rounds):
            unconstrained = not compiled.cqm.constraints and compiled.bqm is not None
            bqm = compiled.bqm if unconstrained else \
                to_bqm(compiled, penalties, encoding=opts["encoding"])
            if (reason := self.fits(compiled, target)) is not None:
                raise DoesNotFit(f"target '{target.name}': {reason}")
            start = time.perf_counter()
            ss = sampler.sample(bqm, **_sample_kwargs(opts, seed, k))
            ss = ss.aggregate() if opts["sampler"] == "exact" else ss
            violated = _violated_labels(compiled, ss)
            history.append({"round": k, "sample_s": time.perf_counter() - start,
                            "violated": len(violated)})
            if not violated:
                break
            penalties = dict(compiled.penalties)
            for label in violated:
                penalties[label] *= 2.0
        return Samples(ss, {"penalties": len(compiled.penalties), "tuning": history,
                            "encoding": opts["encoding"], "sampler": opts["sampler"]})


def _make_sampler(name: str):
    if name not in _SAMPLERS:
        raise ValidationError(f"sampler: unknown '{name}'; choose one of {sorted(_SAMPLERS)}")
    import importlib

    module, cls = _SAMPLERS[name]
    return getattr(importlib.import_module(module), cls)()


def _sample_kwargs(opts: dict[str, Any], seed: int | None, round_: int) -> dict[str, Any]:
    if opts["sampler"] == "exact":
        return {}
    kw: dict[str, Any] = {"num_reads": opts["num_reads"]}
    if seed is not None:
        kw["seed"] = (seed + round_) % 2**32
    if opts["sampler"] == "sa" and opts["num_sweeps"]:
        kw["num_sweeps"] = opts["num_sweeps"]
    if opts["sampler"] == "tabu":
        kw["timeout"] = 100
    return kw


def _violated_labels(compiled: Compiled, ss, top: int = 10) -> set[str]:
    """Constraints broken by the lowest-energy samples (empty when one is feasible)."""
    cqm = compiled.cqm
    if not cqm.constraints:
        return set()
    labels: set[str] = set()
    order = np.argsort(ss.record.energy)[:top]
    for i in order:
        sample = dict(zip(ss.variables, ss.record.sample[i], strict=True))
        broken = {k for k, v in cqm.iter_violations(sample, clip=True) if v > 1e-9}
        if not broken:
            return set()
        labels |= broken
    return labels
