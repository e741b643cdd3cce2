"""Test accuracy of the shipped spiking digits classifier on cpu-float, cpu and loihi2-sim,
with host latency, activity and the energy/latency estimate of each target.

    .venv/bin/python examples/digits.py [--lava-samples N]

Lava runs each sample as its own network (a few seconds each on CPU), so loihi2-sim is
evaluated on the first N test digits (default 10) and compared with cpu on the same
digits: the predictions must be identical (cpu is bit-exact with Lava's fixed point).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import hal
from hal.snn.inference import check_estimate, predict

HERE = Path(__file__).resolve().parent
MODEL = HERE / "models" / "digits_snn.nir"
DATA = HERE / "data" / "digits_test.npz"
KW = {"encoder": "rate", "decoder": "count", "steps": 32, "seed": 0}
console = Console()


def accuracy_table(lava_samples: int = 10) -> dict[str, float]:
    """Print (and return) test accuracy per target; loihi2-sim on ``lava_samples`` digits."""
    graph = hal.load(MODEL)
    d = np.load(DATA)
    x, y = d["x"].astype(np.float64), d["y"]
    table = Table(title=f"Spiking digits classifier (64-64-10 LIF, rate code, {KW['steps']} "
                        "steps, spike-count readout)")
    for col in ("target", "digits", "accuracy", "host latency p50 / p99 (ms)",
                "energy / inference (estimate)", "chip latency / inference (estimate)"):
        table.add_column(col)
    acc, preds = {}, {}
    for target in ("cpu-float", "cpu", "loihi2-sim"):
        n = len(x) if target != "loihi2-sim" else min(lava_samples, len(x))
        avail = hal.get_backend(hal.get_target(target).backend).availability()
        if not avail.ok:
            table.add_row(target, "-", f"skipped: {avail.reason}", "", "", "")
            continue
        p = predict(hal.compile(graph, target=target), x[:n], y[:n], **KW)
        acc[target], preds[target] = p.accuracy, p
        e, lat = p.estimate["energy_pj"], p.estimate.get("latency_ns")
        chip = f"{lat['per_inference'] / 1e3:.1f} us" if lat else "-"
        table.add_row(target, str(n), f"{p.accuracy:.2%}",
                      f"{p.latency_ms['p50']:.2f} / {p.latency_ms['p99']:.2f}",
                      f"{e['per_inference'] / 1e3:.1f} nJ", chip)
    console.print(table)
    if "loihi2-sim" in preds:
        n = len(preds["loihi2-sim"].labels)
        same = np.array_equal(preds["loihi2-sim"].outputs, preds["cpu"].outputs[:n])
        console.print(f"loihi2-sim vs cpu on the same {n} digits: identical spike counts "
                      f"and labels: {same}", highlight=False)
    est = check_estimate(graph, "loihi2")
    console.print(f"[dim]estimates are estimates: {est['note']}[/]", highlight=False)
    return acc


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lava-samples", type=int, default=10)
    accuracy_table(ap.parse_args().lava_samples)
