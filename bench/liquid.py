"""CfC (64 units, ncps defaults) for 1000 steps, one stream and a batch of 64: steps per
second on hal's ``cpu-float`` and ``torch`` targets next to ncps's own torch forward, in
one process. (Lava targets for liquid networks are not built yet.)

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
    args = ap.parse_args()
    torch.manual_seed(0)
    model = CfC(8, 64).eval()
    net = hal.from_torch(model)
    print(f"{'batch':>5} {'runner':<12} {'steps/s':>10} {'stream-steps/s':>15} {'vs ncps':>8}")
    for batch in (1, args.batch):
        x = np.random.default_rng(0).normal(size=(batch, args.steps, 8)).astype(np.float32)
        rates = {}
        t0 = time.perf_counter()
        with torch.no_grad():
            model(torch.tensor(x))
        rates["ncps torch"] = args.steps / (time.perf_counter() - t0)
        for target in ("cpu-float", "torch"):
            exe = hal.compile(net, target=target)
            exe.run(x[:, :10])  # warm up
            t0 = time.perf_counter()
            exe.run(x)
            rates[target] = args.steps / (time.perf_counter() - t0)
        for name, r in rates.items():
            print(f"{batch:>5} {name:<12} {r:>10,.0f} {r * batch:>15,.0f} "
                  f"{r / rates['ncps torch']:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
