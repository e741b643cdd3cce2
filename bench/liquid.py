"""CfC (64 units, ncps defaults) for 1000 steps, one stream and a batch of 64: steps per
second on hal's ``cpu-float``, ``torch`` and ``loihi2-sim-float`` (one blocking Lava step
per input; fewer steps, see --lava-steps) targets next to ncps's own torch forward, in
one process.

Run: .venv/bin/python bench/liquid.py [--steps 1000] [--batch 64]
"""

import argparse
import time

import numpy as np
import torch
from ncps.torch import CfC

import hal


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lava-steps", type=int, default=200)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = CfC(8, 64).eval()
    net = hal.from_torch(model)
    print(f"{'batch':>5} {'runner':<17} {'steps/s':>10} {'stream-steps/s':>15} {'vs ncps':>8}")
    for batch in (1, args.batch):
        x = np.random.default_rng(0).normal(size=(batch, args.steps, 8)).astype(np.float32)
        rates = {}
        t0 = time.perf_counter()
        with torch.no_grad():
            model(torch.tensor(x))
        rates["ncps torch"] = args.steps / (time.perf_counter() - t0)
        for target in ("cpu-float", "torch", "loihi2-sim-float"):
            if not hal.get_backend(hal.get_target(target).backend).availability().ok:
                continue
            exe = hal.compile(net, target=target, fallback=False)
            steps = args.lava_steps if target.startswith("loihi") else args.steps
            exe.run(x[:, :10])  # warm up
            t0 = time.perf_counter()
            exe.run(x[:, :steps])
            rates[target] = steps / (time.perf_counter() - t0)
        for name, r in rates.items():
            print(f"{batch:>5} {name:<17} {r:>10,.0f} {r * batch:>15,.0f} "
                  f"{r / rates['ncps torch']:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
