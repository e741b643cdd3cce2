"""Steps per second of one recurrent LIF network on Lava (fixed_pt, floating_pt) and on
the numpy cpu backend (fixed, float, and batched B=64), all in one process.

Network: random_network(n_in=N//10, N hidden, 10 out, recurrent, density 0.1), 500 steps,
input spikes with p = 0.2. Lava's wall time includes starting its runtime (one OS process
per Lava process), so it is also timed at a tenth of the steps and the marginal rate
((T - T/10) / (t(T) - t(T/10))) is printed beside the wall rate. Ratios are cpu / Lava fixed
(marginal rate). Goals (issue 3): cpu fixed >= 50x Lava fixed at N=1000 for one stream;
batched >= 500x Lava in neuron-steps/s.

Run: .venv/bin/python bench/snn_throughput.py [--sizes 100,1000,4000] [--steps 500]
"""

import argparse
import time

import numpy as np

import hal
from hal.snn.ir import random_network


def timed(exe, x) -> float:
    t0 = time.perf_counter()
    exe.run(x)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,4000")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lava-steps", type=int, default=None,
                    help="steps for the Lava runs (default: --steps; Lava at N=4000 runs "
                         "about one step per second)")
    args = ap.parse_args()
    T, B = args.steps, args.batch
    TL = args.lava_steps or T
    short = max(TL // 10, 1)
    print(f"{'N':>5} {'backend':<22} {'steps/s':>10} {'neuron-steps/s':>15} {'vs lava fixed':>14}")
    for N in (int(s) for s in args.sizes.split(",")):
        g = random_network(max(N // 10, 1), N, 10, seed=0, recurrent=True, density=0.1)
        n_in, neurons = max(N // 10, 1), N + 10
        x = (np.random.default_rng(0).random((T, n_in)) < 0.2).astype(float)
        xb = (np.random.default_rng(1).random((B, T, n_in)) < 0.2).astype(float)
        rates = {}
        for tgt in ("loihi2-sim", "loihi2-sim-float"):
            exe = hal.compile(g, target=tgt)
            t_long, t_short = timed(exe, x[:TL]), timed(exe, x[:short])
            rates[tgt] = (TL / t_long, (TL - short) / max(t_long - t_short, 1e-9))
        for tgt in ("cpu", "cpu-float"):
            exe = hal.compile(g, target=tgt)
            timed(exe, x[:5])  # warm caches
            rates[tgt] = (T / timed(exe, x),) * 2
        exe = hal.compile(g, target="cpu")
        rates[f"cpu batched B={B}"] = (B * T / timed(exe, xb),) * 2
        lava = rates["loihi2-sim"][1]
        for name, (wall, marginal) in rates.items():
            extra = f" (wall {wall:,.0f})" if name.startswith("loihi2") else ""
            print(f"{N:>5} {name:<22} {marginal:>10,.0f} {marginal * neurons:>15,.0f} "
                  f"{marginal / lava:>13.1f}x{extra}", flush=True)


if __name__ == "__main__":
    main()
