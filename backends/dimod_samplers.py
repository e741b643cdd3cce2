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
from hal.compilers.qubo import Compiled, penalty_weights, to_bqm
from hal.errors import DoesNotFit, HALTimeoutError, ValidationError
from hal.qubo.result import Samples
from hal.target import Target

_SAMPLERS = {
    "sa": ("dwave.samplers", "SimulatedAnnealingSampler"),
    "tabu": ("dwave.samplers", "TabuSampler"),
    "steepest": ("dwave.samplers", "SteepestDescentSolver"),
    "exact": ("dimod", "ExactSolver"),
}


#: options that only some samplers read: option -> the samplers that read it
_APPLIES = {"num_sweeps": ("sa",), "tabu_timeout_ms": ("tabu",),
            "num_reads": ("sa", "tabu", "steepest")}


class DimodSamplerBackend(QuboBackend):
    """Samples a BQM with a dimod-compatible sampler named by the ``sampler`` option."""

    name = "dimod_samplers"
    requires = ("dimod", "dwave.samplers")
    install_hint = "pip install 'nq-hal[annealing]'"
    packages = ("dwave-samplers", "dimod")
    options = {
        "sampler": Option("sa", "which sampler: sa (simulated annealing), tabu, steepest "
                          "(steepest descent) or exact (every state, small problems)",
                          probe="steepest"),
        "num_reads": Option(100, "samples drawn per round (sa, tabu, steepest)", probe=3,
                            minimum=1, fast=5),
        "num_sweeps": Option(None, "sweeps per SA read (None: dwave-samplers' default, "
                             "1000); sa only", probe=5),
        "tabu_timeout_ms": Option(None, "tabu search time per read in ms (None: "
                                  "dwave-samplers' default); tabu only", probe=5),
        "penalty": Option("auto", "constraint penalty: auto (per constraint, from the "
                          "objective's scale), one number for every constraint, or a dict "
                          "label -> weight", probe=10.0),
        "encoding": Option("slack", "inequality encoding: slack (binary slack variables, "
                           "exact) or unbalanced (no slack, arXiv:2211.13914)",
                           probe="unbalanced"),
        "tune_penalties": Option(True, "double the penalties of the constraints the best "
                                 "samples violate and sample again", probe=False),
        "tune_rounds": Option(4, "at most this many sampling rounds when tuning", probe=1),
        "repair": Option(True, "repair the lowest-energy samples to feasible answers by "
                         "greedy moves, then polish the best by tabu search over "
                         "assignments (allocation problems); False: the sampler's own "
                         "best sample", probe=False),
        "timeout_s": Option(600.0, "wall-clock limit of the whole solve in seconds; SA "
                            "stops between reads, tuning stops between rounds; with no "
                            "sample by then, HALTimeoutError", probe=1e-9),
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
        name = opts["sampler"]
        sampler = _make_sampler(name)
        _check_applies(name, options)
        deadline = time.monotonic() + float(opts["timeout_s"])
        penalties = penalty_weights(compiled, opts["penalty"])
        constrained = bool(compiled.cqm.constraints)
        rounds = opts["tune_rounds"] if opts["tune_penalties"] and constrained else 1
        history: list[int] = []
        ss, sample_s, total_s, timed_out = None, 0.0, 0.0, False
        for k in range(int(rounds)):
            if time.monotonic() > deadline:
                if ss is None:
                    raise HALTimeoutError(f"sampler '{name}' reached timeout_s="
                                          f"{opts['timeout_s']} before any sample; raise "
                                          "timeout_s")
                timed_out = True
                break
            bqm = to_bqm(compiled, penalties, encoding=opts["encoding"]) if constrained \
                else compiled.bqm
            if (reason := self.fits(compiled, target)) is not None:
                raise DoesNotFit(f"target '{target.name}': {reason}")
            start = time.perf_counter()
            got = sampler.sample(bqm, **_sample_kwargs(opts, seed, k, deadline))
            sample_s = time.perf_counter() - start
            total_s += sample_s
            if len(got) == 0:
                raise HALTimeoutError(f"sampler '{name}' reached timeout_s={opts['timeout_s']}"
                                      " before its first read finished; raise timeout_s")
            ss = got.aggregate() if name == "exact" else got
            violated = _violated_labels(compiled, ss)
            history.append(len(violated))
            if not violated:
                break
            penalties = dict(compiled.penalties)
            for label in violated:
                penalties[label] *= 2.0
        info = {"sampler": name, "penalty": _describe_penalty(opts["penalty"]),
                "encoding": opts["encoding"], "constraints": len(compiled.penalties),
                "tune_penalties": bool(opts["tune_penalties"]),
                "tune_rounds": int(opts["tune_rounds"]), "violated_per_round": history,
                "repair": bool(opts["repair"]), "timeout_s": float(opts["timeout_s"]),
                "timed_out": timed_out, "bqm_variables": compiled.num_variables,
                **{k: (opts[k] if name in _APPLIES[k] else None) for k in _APPLIES}}
        return Samples(ss, info, {"sample_s": sample_s, "sample_total_s": total_s})


def _check_applies(name: str, given: dict[str, Any]) -> None:
    """Refuse an option the caller set that this sampler would not read."""
    for key, samplers in _APPLIES.items():
        if key in given and given[key] is not None and name not in samplers:
            raise ValidationError(f"option '{key}' applies to sampler(s) {', '.join(samplers)}"
                                  f", not '{name}'; drop it or choose one of those samplers")


def _describe_penalty(penalty: Any) -> Any:
    return penalty if isinstance(penalty, (str, int, float)) else "per constraint (given)"


def _make_sampler(name: str):
    if name not in _SAMPLERS:
        raise ValidationError(f"sampler: unknown '{name}'; choose one of {sorted(_SAMPLERS)}")
    import importlib

    module, cls = _SAMPLERS[name]
    return getattr(importlib.import_module(module), cls)()


def _sample_kwargs(opts: dict[str, Any], seed: int | None, round_: int,
                   deadline: float) -> dict[str, Any]:
    name = opts["sampler"]
    if name == "exact":
        return {}
    kw: dict[str, Any] = {"num_reads": opts["num_reads"]}
    if seed is not None:
        kw["seed"] = (seed + round_) % 2**32
    if name == "sa":
        kw["interrupt_function"] = lambda: time.monotonic() > deadline
        if opts["num_sweeps"]:
            kw["num_sweeps"] = opts["num_sweeps"]
    if name == "tabu" and opts["tabu_timeout_ms"] is not None:
        kw["timeout"] = int(opts["tabu_timeout_ms"])
    return kw


def _violated_labels(compiled: Compiled, ss, top: int = 10) -> set[str]:
    """Constraints broken by the lowest-energy samples (empty when one is feasible)."""
    cqm = compiled.binary_cqm
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
