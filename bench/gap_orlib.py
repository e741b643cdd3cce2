"""OR-Library GAP on dimod-sa, with HiGHS beside it.

Prints per instance of gap1-gap12 (60 instances): feasibility and gap to the OR-Library
optimum of the raw SA sample and of the answer after repair (greedy repair, then tabu
search over assignments), SA time, HiGHS optimum and time; then gapa-gapc (100-200 jobs,
minimisation, no optimum in the table: the gap is to HiGHS's answer or bound within
--highs-time); then seeded random type-C instances (5x20, 8x24) against HiGHS's proven
optimum.
Run: .venv/bin/python bench/gap_orlib.py [--reads 100] [--files gap1,gap2] [--large gapa]
     [--random-seeds 5]
"""

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np

import hal
from hal.qubo.readers import read_gap

BENCH = Path(os.environ.get("HAL_BENCHMARKS", "../shared/benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=100)
    ap.add_argument("--files", default=",".join(f"gap{i}" for i in range(1, 13)))
    ap.add_argument("--large", default="gapa,gapb,gapc")
    ap.add_argument("--highs-time", type=float, default=60.0)
    ap.add_argument("--random-seeds", type=int, default=5)
    args = ap.parse_args()
    orlib(args)
    if args.large:
        large(args)
    if args.random_seeds:
        random_instances(args)


def large(args) -> None:
    print("\ngapa-gapc (min): dimod-sa vs HiGHS within --highs-time")
    worst = 0.0
    for f in args.large.split(","):
        for k, p in enumerate(read_gap(BENCH / "gap" / f"{f}.txt"), 1):
            t0 = time.perf_counter()
            r = hal.solve(p, target="dimod-sa", seed=k, validate_time_s=args.highs_time,
                          num_reads=args.reads)
            v = r.validation
            ref = v["optimum"] if v["optimum"] is not None else v["best_found"]
            gap = (r.objective - ref) / ref if r.feasible and ref else None
            worst = max(worst, gap or 0.0)
            print(f"{f}-{k} ({len(p.hosts)}x{len(p.jobs)}): feasible={r.feasible} "
                  f"objective {r.objective:g} | HiGHS {v['status']} {ref} "
                  f"(bound {v['bound']}) gap {'-' if gap is None else f'{gap:.2%}'} | "
                  f"{time.perf_counter() - t0:.1f}s", flush=True)
    print(f"gapa-gapc worst gap to HiGHS's answer: {worst:.2%}")


def random_instances(args) -> None:
    print("\nseeded random GAP (type C, min) vs HiGHS's proven optimum")
    gaps = []
    for agents, jobs in ((5, 20), (8, 24)):
        for seed in range(args.random_seeds):
            p = hal.AllocationProblem.random_gap(agents, jobs, seed=seed)
            r = hal.solve(p, target="dimod-sa", seed=seed, num_reads=args.reads)
            gap = r.validation["gap"]
            gaps.append(gap if gap is not None else float("inf"))
            print(f"{p.name}: feasible={r.feasible} {r.validation['verdict']}", flush=True)
    print(f"random GAP: {sum(g <= 0.01 for g in gaps)}/{len(gaps)} within 1%, worst "
          f"{max(gaps):.2%}")


def orlib(args) -> None:
    optima = {(r["file"], int(r["instance"].split("-")[1])): float(r["optimum"])
              for r in csv.DictReader(open(BENCH / "gap" / "optima_orlib_gapinfo.csv"))}
    rows = []
    for f in args.files.split(","):
        for k, p in enumerate(read_gap(BENCH / "gap" / f"{f}.txt"), 1):
            t0 = time.perf_counter()
            r = hal.solve(p, target="dimod-sa", seed=k, validate=False, num_reads=args.reads)
            t_sa = time.perf_counter() - t0
            t0 = time.perf_counter()
            h = hal.solve(p, target="highs", validate=False)
            t_h = time.perf_counter() - t0
            opt = optima[(f, k)]
            raw = r.raw
            gap_raw = (opt - raw["objective"]) / opt if raw["feasible"] else None
            gap = (opt - r.objective) / opt if r.feasible else None
            rows.append((f, k, raw["feasible"], gap_raw, r.feasible, gap, t_sa, h.objective,
                         t_h, opt))
            print(f"{f}-{k}: raw feasible={raw['feasible']} raw gap="
                  f"{'-' if gap_raw is None else f'{gap_raw:.2%}'} final gap="
                  f"{'-' if gap is None else f'{gap:.2%}'} sa {t_sa:.2f}s | highs "
                  f"{h.objective:g} (opt {opt:g}) {t_h:.2f}s", flush=True)
    n = len(rows)
    feas_raw = sum(r[2] for r in rows)
    feas = sum(r[4] for r in rows)
    graw = [r[3] for r in rows if r[3] is not None]
    gfin = [r[5] for r in rows if r[5] is not None]
    print(f"\nraw SA samples: {feas_raw}/{n} feasible, mean gap {np.mean(graw):.2%}, "
          f"worst {np.max(graw):.2%}")
    print(f"after repair:   {feas}/{n} feasible, mean gap {np.mean(gfin):.2%}, "
          f"worst {np.max(gfin):.2%}")
    print(f"SA time total {sum(r[6] for r in rows):.1f}s; HiGHS matches optimum "
          f"{sum(abs(r[7] - r[9]) < 1e-6 for r in rows)}/{n}, total "
          f"{sum(r[8] for r in rows):.1f}s")


if __name__ == "__main__":
    main()
