"""Dead-neuron degradation curve of the shipped digits classifier (64-64-10 LIF) on its
360 test digits: 6 rates x 5 fault seeds, each a batched run of all 360 digits (rate code,
32 steps) on the cpu target, timed in one process (goal: under 60 s on a 2-core machine);
then the same curve with TMR (hidden and output triplicated, voters hardened).

Run: .venv/bin/python bench/robustness.py [--target cpu] [--seeds 5]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import hal
from hal.faults.campaign import RATES, base, curve

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="cpu")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    graph = hal.load(ROOT / "examples" / "models" / "digits_snn.nir")
    d = np.load(ROOT / "examples" / "data" / "digits_test.npz")
    x, y = d["x"].astype(np.float64), d["y"]
    runs = {}
    for tmr in (False, True):
        t0 = time.perf_counter()
        exe = base(graph, args.target, tmr=tmr)
        runs[tmr] = (curve(exe, x, y, "dead_neurons", RATES, args.seeds),
                     time.perf_counter() - t0)
    print(f"dead-neuron curve, {len(x)} digits, {len(RATES)} rates x {args.seeds} seeds, "
          f"target {args.target}")
    print(f"{'rate':>6} {'accuracy (mean +- std)':>24} {'with TMR':>18}")
    for i, r in enumerate(RATES):
        a, b = runs[False][0], runs[True][0]
        print(f"{r:>6.0%} {a['mean'][i]:>16.4f} +- {a['std'][i]:.4f} "
              f"{b['mean'][i]:>10.4f} +- {b['std'][i]:.4f}")
    for tmr, (_, secs) in runs.items():
        n = len(RATES) * args.seeds
        print(f"{'TMR' if tmr else 'plain'}: {n} runs of {len(x)} digits in {secs:.1f} s "
              f"({secs / n * 1e3:.0f} ms per run), goal < 60 s: "
              f"{'met' if secs < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
