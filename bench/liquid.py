"""CfC (64 units, ncps defaults) for 1000 steps, one stream and a batch of 64: steps per
second on hal's float targets (``cpu-float``, ``torch``, ``loihi2-sim-float``) and its
fixed-point ones (``cpu``, ``loihi2-sim``), next to ncps's own torch forward, in one
process, with each target's worst output error against ``cpu-float``. Lava streams its
input through an Injector, one step per input (fewer steps, see --lava-steps).

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
    print(f"{'batch':>5} {'runner':<17} {'steps/s':>10} {'stream-steps/s':>15} {'vs ncps':>8} "
          f"{'max err':>9}")
    for batch in (1, args.batch):
        x = np.random.default_rng(0).normal(size=(batch, args.steps, 8)).astype(np.float32)
        rates, errors = {}, {}
        ref = hal.compile(net, target="cpu-float").run(x).outputs
        t0 = time.perf_counter()
        with torch.no_grad():
            model(torch.tensor(x))
        rates["ncps torch"] = args.steps / (time.perf_counter() - t0)
        for target in ("cpu-float", "torch", "cpu", "loihi2-sim-float", "loihi2-sim"):
            if not hal.get_backend(hal.get_target(target).backend).availability().ok:
                continue
            exe = hal.compile(net, target=target, fallback=False)
            steps = args.lava_steps if target.startswith("loihi") else args.steps
            exe.run(x[:, :10])  # warm up
            t0 = time.perf_counter()
            out = exe.run(x[:, :steps]).outputs
            rates[target] = steps / (time.perf_counter() - t0)
            errors[target] = f"{np.abs(out - ref[:, :steps]).max():9.1e}"
        for name, r in rates.items():
            print(f"{batch:>5} {name:<17} {r:>10,.0f} {r * batch:>15,.0f} "
                  f"{r / rates['ncps torch']:>7.2f}x {errors.get(name, ''):>9}", flush=True)


if __name__ == "__main__":
    main()
