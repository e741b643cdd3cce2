"""hal sweep on Dask: jobs/s for 200 short cpu jobs on 1 vs 2 workers, and the per-job
overhead of Dask against running the same jobs in a plain loop.

Each job compiles a seeded random network (3-8-2 LIF) for ``cpu`` and runs 20 steps, the
shortest useful job, so the numbers show the machinery, not the work. The anchor is what
a user would otherwise write: a loop over ``hal.compile(...).run(...)``. Rates on Dask
are steady state (from the first row to the last, so the cluster start-up and the
workers' first imports are reported apart).

    python bench/sweep_scaling.py [--jobs 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import hal
from hal.snn.ir import random_network
from hal.sweep import expand, load_sweep_text
from hal.sweep.run import run_sweep

SPEC = """
name: scaling
axes: {{seed: {seeds}}}
workloads: [{{name: tiny, random_network: {{n_in: 3, n_hidden: 8, n_out: 2}}, steps: 20}}]
targets: [cpu]
"""


def plain_loop(jobs) -> float:
    start = time.perf_counter()
    for job in jobs:
        p = job.params
        graph = random_network(p["n_in"], p["n_hidden"], p["n_out"], seed=job.seed)
        x = (np.random.default_rng(job.seed).random((p["steps"], 3)) < p["input_rate"])
        hal.compile(graph, target="cpu").run(x.astype(float), steps=p["steps"])
    return time.perf_counter() - start


def timed_sweep(spec, out: Path, **kw) -> tuple[float, float, int]:
    """(total wall incl. cluster start/stop, steady-state jobs/s, rows)."""
    stamps: list[float] = []
    start = time.perf_counter()
    report = run_sweep(spec, out, progress=False, on_row=lambda r: stamps.append(
        time.perf_counter()), **kw)
    total = time.perf_counter() - start
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    assert report.ok == report.total, f"{report.failed} jobs failed"
    return total, rate, report.ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200)
    n = ap.parse_args().jobs
    spec = load_sweep_text(SPEC.format(seeds=list(range(n))))
    jobs = expand(spec)
    plain_loop(jobs[:3])  # warm imports, as a worker's first job does
    loop_s = plain_loop(jobs)
    print(f"{n} cpu jobs (3-8-2 LIF, 20 steps each) on this {os.cpu_count()}-core machine")
    print(f"  plain loop of hal.compile().run():  {n / loop_s:7.1f} jobs/s "
          f"({loop_s / n * 1e3:.2f} ms/job)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        total, rate, _ = timed_sweep(spec, Path(tmp) / "local.parquet", executor="local")
        print(f"  hal sweep --executor local:         {rate:7.1f} jobs/s "
              f"(total {total:.1f} s)")
        for workers in (1, 2):
            out = Path(tmp) / f"dask{workers}.parquet"
            total, rate, rows = timed_sweep(spec, out, workers=workers)
            results[workers] = rate
            print(f"  hal sweep on Dask, {workers} worker(s):     {rate:7.1f} jobs/s "
                  f"steady (total {total:.1f} s with cluster start/stop, {rows} rows)")
    per_job = 1 / results[1] - loop_s / n
    print(f"scaling 2 workers / 1 worker: {results[2] / results[1]:.2f}x")
    print(f"Dask overhead per job (1 worker, steady) vs the plain loop: {per_job * 1e3:+.1f} ms")


if __name__ == "__main__":
    main()
