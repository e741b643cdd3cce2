"""Gset max-cut (G1, G11, G14, G43) on hal's ``dimod-sa`` against raw dwave-samplers SA
with the same reads, sweeps and seed, in one process: best cut vs the best known cut
(BLS 2013) and the time ratio hal / raw (goal: same cut quality at <= 1.1x raw time).

hal's time is the whole ``hal.solve`` call (read problem -> CQM -> BQM -> sample ->
decode), without HiGHS validation; raw is ``SimulatedAnnealingSampler().sample(bqm)``
on a BQM built once beforehand.

Run: .venv/bin/python bench/gset.py [--graphs G1,G11,G14,G43] [--reads 10] [--sweeps 1000]
"""

import argparse
import csv
import os
import time
from pathlib import Path

import dimod
import numpy as np
from dwave.samplers import SimulatedAnnealingSampler

import hal
from hal.qubo.readers import read_gset

BENCH = Path(os.environ.get("HAL_BENCHMARKS", "../shared/benchmarks"))


def raw_bqm(p) -> dimod.BinaryQuadraticModel:
    """Max-cut as a BQM to minimise: -cut = sum_ij w (2 x_i x_j - x_i - x_j)."""
    i, j = p.edges.T
    lin = np.zeros(p.num_nodes)
    np.add.at(lin, i, -p.weights)
    np.add.at(lin, j, -p.weights)
    return dimod.BinaryQuadraticModel.from_numpy_vectors(lin, (i, j, 2 * p.weights), 0.0,
                                                         "BINARY")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--graphs", default="G1,G11,G14,G43")
    ap.add_argument("--reads", type=int, default=10)
    ap.add_argument("--sweeps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    best = {r["instance"]: float(r["best_known_cut_BLS2013"])
            for r in csv.DictReader(open(BENCH / "gset" / "best_known_BLS2013_gbench.csv"))}
    sampler = SimulatedAnnealingSampler()
    print(f"{'graph':<5} {'best known':>10} {'hal cut':>8} {'raw cut':>8} {'hal s':>7} "
          f"{'raw s':>7} {'ratio':>6}")
    ratios = []
    for name in args.graphs.split(","):
        path = BENCH / "gset" / f"{name}.txt"
        problem = read_gset(path)
        bqm = raw_bqm(problem)
        t_hal, t_raw, cut_hal, cut_raw = [], [], [], []
        for rep in range(args.repeats):  # alternate, so drift hits both sides alike
            t0 = time.perf_counter()
            res = hal.solve(path, target="dimod-sa", seed=rep, validate=False,
                            num_reads=args.reads, num_sweeps=args.sweeps)
            t_hal.append(time.perf_counter() - t0)
            cut_hal.append(res.objective)
            t0 = time.perf_counter()
            ss = sampler.sample(bqm, num_reads=args.reads, num_sweeps=args.sweeps, seed=rep)
            t_raw.append(time.perf_counter() - t0)
            cut_raw.append(-ss.first.energy)
        ratio = min(t_hal) / min(t_raw)
        ratios.append(ratio)
        print(f"{name:<5} {best[name]:>10g} {max(cut_hal):>8g} {max(cut_raw):>8g} "
              f"{min(t_hal):>7.2f} {min(t_raw):>7.2f} {ratio:>5.2f}x", flush=True)
    print(f"\ntime ratio hal/raw (best of {args.repeats}): max {max(ratios):.2f}x, "
          f"mean {np.mean(ratios):.2f}x")


if __name__ == "__main__":
    main()
