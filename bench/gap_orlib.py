"""OR-Library GAP gap1-gap12 (60 instances) on dimod-sa, with HiGHS beside it.

Prints per file: feasible count, mean and worst gap to the OR-Library optimum (raw SA
sample and after greedy repair), SA time, HiGHS optimum and time.
Run: .venv/bin/python bench/gap_orlib.py [--reads 100] [--files gap1,gap2]
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
    args = ap.parse_args()
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
