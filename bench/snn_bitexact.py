"""cpu (numpy) against loihi2-sim (Lava fixed_pt) on the twenty seeded networks of
``hal.snn.ir.random_suite``: counts networks whose spikes, u and v agree at every step.

Run: .venv/bin/python bench/snn_bitexact.py [--steps 100]
"""

import argparse

import numpy as np

import hal
from hal.snn.ir import random_suite


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    same = total = 0
    for label, g, x in random_suite(args.steps):
        a = hal.compile(g, target="cpu").run(x, record="all")
        b = hal.compile(g, target="loihi2-sim").run(x, record="all")
        equal = all(np.array_equal(a.spikes[n], b.spikes[n])
                    and all(np.array_equal(a.states[n][k], b.states[n][k]) for k in ("u", "v"))
                    for n in a.spikes)
        spikes = sum(int(s.sum()) for s in a.spikes.values())
        total += 1
        same += equal
        print(f"{'identical' if equal else 'DIFFERENT'}  {label}: {spikes} spikes, "
              f"lava {b.timing['run_s']:.2f}s, cpu {a.timing['run_s']:.3f}s", flush=True)
    print(f"\n{same}/{total} networks identical (spikes, u, v at all {args.steps} steps)")


if __name__ == "__main__":
    main()
