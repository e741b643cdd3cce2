"""The inference side of ``hal run MODEL --data D.npz`` and the estimate of ``hal check
MODEL --target T`` (:mod:`hal.snn.cli` declares the options and calls these)."""

from __future__ import annotations

import json
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from hal.errors import ValidationError
from hal.snn.inference import check_estimate

__all__ = ["check_estimate", "load_data", "print_check_estimate", "print_estimate",
           "run_data"]

console = Console()


def load_data(path: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` (and ``y`` when present) from an ``.npz``; the first ``limit`` samples."""
    try:
        with np.load(path) as d:
            if "x" not in d:
                raise ValidationError(f"{path}: no array 'x' (found {', '.join(d.files)}); "
                                      "save samples as np.savez(path, x=..., y=...)")
            x = np.asarray(d["x"], dtype=np.float64)
            y = np.asarray(d["y"]) if "y" in d else None
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{path}: cannot read .npz data ({exc})") from None
    if limit is not None:
        x, y = x[:limit], (None if y is None else y[:limit])
    return x, y


def run_data(graph: Any, target: str, data: str, *, encode: str | None, decode: str,
             steps: int, seed: int, dt: float, fallback: bool | None, limit: int | None,
             batch_size: int, other: str | None, as_json: bool, **opts: Any) -> int:
    """Predict every sample of ``data`` on ``target`` (and ``other``); print accuracy,
    latency p50/p95/p99, activity and the estimate. Returns the exit code."""
    import hal
    from hal.snn.inference import predict

    x, y = load_data(data, limit)
    kw = {"encoder": encode, "decoder": decode, "steps": steps, "seed": seed,
          "batch_size": batch_size}
    with console.status(f"predicting {len(x)} samples on {target}...", spinner="dots"):
        pred = predict(hal.compile(graph, target=target, dt=dt, fallback=fallback, **opts),
                       x, y, **kw)
        ref = predict(hal.compile(graph, target=other, dt=dt, fallback=fallback, **opts),
                      x, y, **kw) if other else None
    out = pred.to_dict()
    if ref is not None:
        out["compare"] = {"target": ref.target, "accuracy": ref.accuracy,
                          "identical_labels": float((ref.labels == pred.labels).mean()),
                          "identical_outputs": bool(np.array_equal(ref.outputs,
                                                                   pred.outputs))}
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        _print(pred, out.get("compare"))
    return 0


def _print(pred: Any, compare: dict | None) -> None:
    lat = pred.latency_ms
    acc = "n/a" if pred.accuracy is None else f"{pred.accuracy:.2%}"
    console.print(f"{len(pred.labels)} samples on {pred.target} ({pred.precision}), "
                  f"{pred.encoder} -> {pred.steps} steps -> {pred.decoder}: accuracy {acc}; "
                  f"host latency per sample p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} "
                  f"ms, p99 {lat['p99']:.2f} ms", highlight=False)
    if compare:
        console.print(f"vs {compare['target']}: accuracy {compare['accuracy']:.2%}, "
                      f"identical labels {compare['identical_labels']:.1%}", highlight=False)
    activity_table(pred.activity)
    print_estimate(pred.estimate)


def activity_table(act: dict[str, Any]) -> None:
    """Per-population spikes and rates, then synaptic ops, sparsity and footprint."""
    table = Table(title=f"activity per inference ({act['steps']} steps, NeuroBench "
                        "definitions)")
    for col in ("population", "neurons", "spikes", "rate /neuron/step", "rate (Hz)", "ISI CV"):
        table.add_column(col)
    for name, p in act["populations"].items():
        cv = "-" if p["isi_cv"] is None else f"{p['isi_cv']:.2f}"
        table.add_row(name, str(p["neurons"]), f"{p['spikes']:.1f}",
                      f"{p['firing_rate']:.3f}", f"{p['firing_rate_hz']:.0f}", cv)
    console.print(table)
    so, fp = act["synaptic_operations"], act["footprint_bytes"]
    console.print(f"synaptic ops: effective ACs {so['effective_acs']:.0f}, effective MACs "
                  f"{so['effective_macs']:.0f}, dense {so['dense']:.0f}; activation sparsity "
                  f"{act['activation_sparsity']:.3f}; connection sparsity "
                  f"{act['connection_sparsity']:.3f}; footprint {fp['total']} bytes",
                  highlight=False)


def print_estimate(est: dict[str, Any]) -> None:
    """Energy and latency estimate lines, each labelled as an estimate, and sources."""
    if est.get("energy_pj") is None:
        console.print(f"estimate: none ({est.get('note', '')})", highlight=False)
        return
    e, lat = est["energy_pj"], est.get("latency_ns")
    parts = ", ".join(f"{k} {v:.3g}" for k, v in e["breakdown_per_inference"].items())
    console.print(f"[bold]estimate[/] on {est['target']}: energy {e['per_inference']:.4g} pJ "
                  f"per inference, {e['per_step']:.4g} pJ per step ({parts})",
                  highlight=False)
    if lat:
        console.print(f"[bold]estimate[/]: chip latency {lat['per_step']:.4g} ns per step, "
                      f"{lat['per_inference']:.4g} ns per inference ({lat['cores']} cores, "
                      f"barrier {lat['barrier_sync_per_step']:.0f} ns per step)",
                      highlight=False)
    elif est.get("latency_note"):
        console.print(f"estimate: no chip latency ({est['latency_note']})", highlight=False)
    if est.get("note"):
        console.print(f"[dim]{est['note']}[/]", highlight=False)
    for k, v in est.get("sources", {}).items():
        console.print(f"[dim]  {k}: {v}[/]", highlight=False)


def print_check_estimate(est: dict[str, Any]) -> None:
    """Print an estimate made before running (:func:`hal.snn.inference.check_estimate`)."""
    a = est["assumed"]
    console.print(f"before running, assuming every input and neuron spikes with probability "
                  f"{a['spike_probability_per_step']} per step for {a['steps']} steps:",
                  highlight=False)
    print_estimate(est)
