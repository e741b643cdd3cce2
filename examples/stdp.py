"""On-chip learning: a seeded two-layer plastic network learns which of its inputs fire
together (STDP, issue 17), on cpu-float, loihi2-sim-float, cpu and loihi2-sim.

Inputs 0..k-1 copy one shared random spike train (each spike kept with probability 0.9),
inputs k..n-1 fire independently at the same rate. STDP strengthens the correlated inputs'
weights: their volleys make the output neuron fire one step later, so pre-before-post
pairs dominate, while the independent inputs' weights drift down (the depression window,
tau_minus = 6 steps, is wider than the potentiation window, tau_plus = 4). The same rule
runs on every target; the cpu kernel reproduces Lava's float model and its bit-approximate
fixed-point model (stochastic rounding seeded by ``rng_seed``). On fixed point the weights
stop at the largest 8-bit mantissa of the compiled weight exponent.

Run: .venv/bin/python examples/stdp.py --seed 0 --json
     .venv/bin/python examples/stdp.py --seed 0 --plot stdp_weights.png
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import hal
from hal.snn.learning import STDP, random_plastic_network

TARGETS = ("cpu-float", "loihi2-sim-float", "cpu", "loihi2-sim")
CONN = "input->lif1"
FLOAT_BOUND = 1e-9
FIXED_BOUND = 0.0  # the cpu kernel draws Lava's own seeded random numbers


def correlated_inputs(n_in: int, steps: int, seed: int, rate: float = 0.1) -> np.ndarray:
    """(steps, n_in) spikes: the first half share one train, the rest are independent."""
    rng = np.random.default_rng(seed)
    k = n_in // 2
    shared = rng.random(steps) < rate
    x = rng.random((steps, n_in)) < rate
    x[:, :k] = shared[:, None] & (rng.random((steps, k)) < 0.9)
    return x.astype(float)


def run(seed: int, steps: int, n_in: int = 8) -> dict:
    """Weight histories per target (targets that cannot run here are left out, with why)."""
    rule = STDP(learning_rate=2 ** -7, A_plus=1.0, A_minus=-1.0, tau_plus=4.0, tau_minus=6.0,
                x1_impulse=2.0, y1_impulse=2.0, t_epoch=2, rng_seed=seed,
                sign_mode="excitatory")
    g = random_plastic_network(n_in, 1, seed=seed, rule=rule)
    x = correlated_inputs(n_in, steps, seed)
    out, skipped = {}, {}
    for t in TARGETS:
        try:
            out[t] = hal.compile(g, target=t, fallback=False).run(x).weight_history[CONN]
        except hal.BackendUnavailable as exc:
            skipped[t] = str(exc)
    return {"history": out, "skipped": skipped, "k": n_in // 2}


def summary(res: dict) -> dict:
    """The comparison the issue asks for, plus what was learned (cpu-float)."""
    h = res["history"]

    def diff(a: str, b: str) -> float | None:
        return float(np.abs(h[a] - h[b]).max()) if a in h and b in h else None

    ref, k = h["cpu-float"], res["k"]
    return {
        "float_max_abs_diff": diff("cpu-float", "loihi2-sim-float"),
        "fixed_max_abs_diff": diff("cpu", "loihi2-sim"),
        "fixed_bound": FIXED_BOUND,
        "weights_changed": bool(all(not np.array_equal(a[0], a[-1]) for a in h.values())),
        "correlated_weight_gain": float((ref[-1, 0, :k] - ref[0, 0, :k]).mean()),
        "independent_weight_gain": float((ref[-1, 0, k:] - ref[0, 0, k:]).mean()),
        "skipped": res["skipped"],
    }


def plot(res: dict, path: str) -> None:
    """Weights over epochs, one panel per target, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hal.saved import write_atomically

    h, k = res["history"], res["k"]
    fig, axes = plt.subplots(1, len(h), figsize=(4 * len(h), 3.2), sharey=True, squeeze=False)
    for ax, (t, w) in zip(axes[0], h.items(), strict=True):
        for j in range(w.shape[2]):
            ax.plot(w[:, 0, j], color="C0" if j < k else "C1", lw=1,
                    label=("correlated" if j == 0 else "independent" if j == k else None))
        ax.set_title(t)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel(f"weight {CONN}")
    axes[0][0].legend()
    fig.tight_layout()
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--json", action="store_true", help="print the comparison as JSON")
    ap.add_argument("--plot", metavar="PNG", help="write weights over time to this file")
    args = ap.parse_args(argv)
    res = run(args.seed, args.steps)
    s = summary(res)
    if args.plot:
        plot(res, args.plot)
    if args.json:
        print(json.dumps(s))
    else:
        for key, value in s.items():
            print(f"{key:>24}: {value}")
    ok = (s["float_max_abs_diff"] is None or s["float_max_abs_diff"] <= FLOAT_BOUND) and \
        (s["fixed_max_abs_diff"] is None or s["fixed_max_abs_diff"] <= FIXED_BOUND)
    return 0 if ok and s["weights_changed"] else 1


if __name__ == "__main__":
    sys.exit(main())
