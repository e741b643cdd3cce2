"""Robustness campaigns: degradation curves (accuracy against fault rate per kind, mean
and spread over fault seeds) and scenarios (YAML presets) with accuracy, latency
p50/p95/p99 and estimated energy, TMR off and on side by side.

A campaign lowers and quantizes the model once per variant (plain, TMR) and then, per
plan and seed, copies the lowered network and applies the faults: no re-lowering. Every
run is batched (all samples in one ``(B, T, n_in)`` run on cpu targets).

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> from hal.faults.campaign import base, curve
    >>> exe = base(random_network(4, 20, 3, seed=2), "cpu")
    >>> x = np.random.default_rng(0).random((8, 4)); y = np.zeros(8, int)
    >>> c = curve(exe, x, y, "dead_neurons", rates=(0.0, 0.5), seeds=2)
    >>> c["rates"], len(c["accuracy"][1])
    ([0.0, 0.5], 2)
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np

from hal.faults import FaultReport
from hal.faults.inject import FAULTS, apply_network_faults, carries_out
from hal.faults.plan import FaultPlan

#: the rates of a default degradation curve (0-30%)
RATES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
#: predict() settings of a campaign (the digits classifier's)
PREDICT = {"encoder": "rate", "decoder": "count", "steps": 32, "seed": 0}


def base(graph: Any, target: str = "cpu", tmr: Any = False, **options: Any) -> Any:
    """The clean executable a campaign copies (with TMR applied when ``tmr``)."""
    import hal

    return hal.compile(graph, target=target, tmr=tmr, fallback=False, **options)


def with_plan(exe: Any, plan: FaultPlan | dict | str, seed: int = 0) -> Any:
    """A copy of the clean executable ``exe`` with ``plan`` applied (TMR voters of ``exe``
    kept hardened unless the plan sets ``hit_voters``)."""
    from hal.snn.api import Executable

    plan = FaultPlan.parse(plan, seed)
    tmr = exe.faults.tmr if exe.faults is not None else None
    net = copy.deepcopy(exe.net)
    broken = apply_network_faults(net, plan, exe.target,
                                  tuple(tmr["voters"]) if tmr else ())
    out = Executable(net, exe.target, exe.backend, exe.options, exe.skips, {}, exe.graph)
    out.faults = FaultReport(plan, broken, tmr)
    return out


def applicable(target: Any) -> list[str]:
    """Fault kinds a campaign can sweep on ``target`` (its precision; runtime kinds where
    its backend draws them)."""
    return [k for k, f in FAULTS.items() if target.precision in f.precisions and
            (f.stage != "runtime" or carries_out(target, k))]


def _predict(exe: Any, x: np.ndarray, y: np.ndarray, **kw: Any) -> Any:
    from hal.snn.inference import predict

    return predict(exe, x, y, **{**PREDICT, "batch_size": len(x), **kw})


def curve(exe: Any, x: Any, y: Any, kind: str, rates: Any = RATES, seeds: int = 5,
          **predict_kw: Any) -> dict[str, Any]:
    """Accuracy of ``exe`` (clean) under ``kind`` at each rate, over fault seeds
    ``0..seeds-1`` (one seed for deterministic kinds): mean, std, min, max per rate."""
    seeds = seeds if FAULTS[kind].seeded else 1
    acc = []
    for rate in rates:
        row = [_predict(with_plan(exe, {kind: rate}, s), x, y, **predict_kw).accuracy
               for s in range(seeds)]
        acc.append(row)
    a = np.asarray(acc, dtype=float)
    return {"kind": kind, "rates": [float(r) for r in rates], "seeds": seeds,
            "accuracy": a.tolist(), "mean": a.mean(axis=1).tolist(),
            "std": a.std(axis=1).tolist(), "min": a.min(axis=1).tolist(),
            "max": a.max(axis=1).tolist()}


def degradation(exe: Any, x: Any, y: Any, kinds: Any = None, rates: Any = RATES,
                seeds: int = 5, **predict_kw: Any) -> dict[str, Any]:
    """A :func:`curve` per fault kind (default: every kind the target takes)."""
    kinds = list(kinds) if kinds else applicable(exe.target)
    return {k: curve(exe, x, y, k, rates, seeds, **predict_kw) for k in kinds}


def tmr_cost(plain: Any, tmr: Any, x: Any, y: Any) -> dict[str, Any]:
    """Neurons, synapses, cores and estimated energy per inference of ``plain`` and
    ``tmr`` (clean executables) side by side; cores from :func:`map_to_cores` on the
    run target, or on ``loihi2``'s limits when the run target has no core limits."""
    from hal.compilers.snn import map_to_cores
    from hal.faults.tmr import _counts
    from hal.target import get_target

    limits = plain.target.limits
    where = plain.target.name
    if not getattr(limits, "neurons_per_core", None):
        limits, where = get_target("loihi2").limits, "loihi2"
    out: dict[str, Any] = {"cores_on": where}
    for name, exe in (("off", plain), ("on", tmr)):
        n, s = _counts(exe.net)
        est = _predict(exe, x, y).estimate
        energy = (est.get("energy_pj") or {}).get("per_inference")
        out[name] = {"neurons": n, "synapses": s, "cores": map_to_cores(exe.net, limits)
                     ["cores"], "energy_pj_per_inference": energy}
    return out


def plot(curves: dict[str, Any], path: str, title: str = "Degradation under faults",
         tmr_curves: dict[str, Any] | None = None) -> None:
    """Accuracy (mean, shaded min-max over seeds) against fault rate per kind, as a PNG
    written atomically (TMR curves dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hal.saved import write_atomically

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (kind, c) in enumerate(curves.items()):
        color = f"C{i}"
        r = np.asarray(c["rates"]) * 100
        ax.plot(r, c["mean"], "o-", color=color, label=kind)
        ax.fill_between(r, c["min"], c["max"], color=color, alpha=0.15)
        if tmr_curves and kind in tmr_curves:
            ax.plot(r, tmr_curves[kind]["mean"], "s--", color=color, label=f"{kind} + TMR")
    ax.set_xlabel("fault rate (%)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _latency(exe: Any, x: np.ndarray, y: np.ndarray, n: int) -> dict[str, float]:
    p = _predict(exe, x[:n], y[:n], batch_size=1)
    return {k: p.latency_ms[k] for k in ("p50", "p95", "p99", "mean")}


def scenario(exes: dict[str, Any], x: Any, y: Any, sc: Any,
             latency_samples: int = 50) -> dict[str, Any]:
    """One scenario on each clean executable of ``exes`` (``{"off": plain, "on": tmr}``):
    accuracy mean/std over its seeds (batched runs), host latency p50/p95/p99 per sample
    (one sample per run, first ``latency_samples`` samples, first seed) and estimated
    energy per inference (first seed)."""
    out: dict[str, Any] = {"name": sc.name, "description": sc.description,
                           "faults": sc.faults, "seeds": sc.seeds}
    for key, exe in exes.items():
        accs, first = [], None
        for s in range(sc.seeds):
            faulty = with_plan(exe, sc.plan(s), s)
            p = _predict(faulty, x, y)
            accs.append(p.accuracy)
            if first is None:
                first = (faulty, p)
        faulty, p = first
        energy = (p.estimate.get("energy_pj") or {}).get("per_inference")
        out[f"tmr_{key}"] = {"accuracy": float(np.mean(accs)), "accuracy_std":
                             float(np.std(accs)), "accuracy_per_seed": accs,
                             "latency_ms": _latency(faulty, x, y, latency_samples),
                             "latency_samples": min(latency_samples, len(x)),
                             "energy_pj_per_inference": energy,
                             "broken": {k: v.get("count", v.get("bits_flipped"))
                                        for k, v in faulty.faults.broken.items()}}
    return out


def load_data(path: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (analog samples) and ``y`` (labels) of an ``.npz`` file."""
    from hal.errors import ValidationError

    try:
        d = np.load(path)
        x, y = np.asarray(d["x"], dtype=np.float64), np.asarray(d["y"])
    except (OSError, KeyError, ValueError) as exc:
        raise ValidationError(f"{path}: need an .npz with arrays x (samples) and y (labels) "
                              f"({exc})") from None
    return (x[:limit], y[:limit]) if limit else (x, y)


def robustness(model: Any, x: Any, y: Any, target: str = "cpu", *, kinds: Any = None,
               rates: Any = RATES, seeds: int = 3, scenarios: Any = None,
               tmr_kinds: Any = ("dead_neurons",), curves: bool = True,
               latency_samples: int = 50, plot_path: str | None = None,
               **options: Any) -> dict[str, Any]:
    """The full report ``hal robustness`` prints: clean accuracy, degradation curves per
    kind (and with TMR for ``tmr_kinds``), the TMR cost, and every scenario (presets by
    default, or names/paths) with TMR off and on.

    Args:
        model: a NIR graph or path. ``x``, ``y``: analog samples and labels.
        target: a spiking target. kinds, rates, seeds: the curves' sweep.
        scenarios: scenario names or YAML paths (default: the six presets).
        plot_path: write the curves as a PNG here (atomically).
        **options: compile options of the target.
    """
    from hal.faults.scenarios import load, presets

    timing: dict[str, float] = {}
    plain, timing["compile_s"] = timed(base, model, target, **options)
    tmr, secs = timed(base, model, target, tmr=True, **options)
    timing["compile_s"] += secs
    clean = _predict(plain, x, y)
    report: dict[str, Any] = {"target": plain.target.name, "samples": int(len(x)),
                              "predict": PREDICT, "clean_accuracy": clean.accuracy}
    if curves:
        report["curves"], timing["curves_s"] = timed(degradation, plain, x, y, kinds,
                                                     rates, seeds)
        tk = [k for k in (tmr_kinds or ()) if k in report["curves"]]
        report["tmr_curves"], timing["tmr_curves_s"] = timed(degradation, tmr, x, y, tk,
                                                             rates, seeds)
        if plot_path:
            plot(report["curves"], plot_path, tmr_curves=report["tmr_curves"],
                 title=f"Degradation on {plain.target.name} ({len(x)} samples)")
            report["plot"] = str(plot_path)
    report["tmr_cost"] = tmr_cost(plain, tmr, x, y)
    chosen = [load(s) for s in scenarios] if scenarios else presets()
    t0 = time.perf_counter()
    report["scenarios"] = [scenario({"off": plain, "on": tmr}, x, y, sc, latency_samples)
                           for sc in chosen]
    timing["scenarios_s"] = time.perf_counter() - t0
    report["timing"] = timing
    return report
