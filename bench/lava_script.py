"""The anchor a Lava user would write by hand (plain lava-nc 0.10.0, no nq-hal): a
RingBuffer of input spikes -> Dense -> LIF with a recurrent Dense, fixed point, spikes
recorded by a Monitor, a sink RingBuffer, or not at all, or spikes, v and u by a Monitor
each (``monitor-all``).

Why recording is slow: reading a Var back from a Lava process sends one channel message
per element, so a Monitor or sink RingBuffer holding N x T spikes costs N x T messages
after the run (about 6 s for N = 1000, T = 200 here). nq-hal's ``loihi2-sim`` records
spikes with :mod:`hal.backends.lava_procs.spike_recorder` instead: 48 spikes per word,
48 times fewer messages.

Run: .venv/bin/python bench/lava_script.py [--n 1000] [--steps 200]
"""

import argparse
import time

import numpy as np


def run(w_in: np.ndarray, w_rec: np.ndarray, du: int, dv: int, vth: int, exp_in: int,
        exp_rec: int, x: np.ndarray, record: str = "monitor") -> tuple[np.ndarray | None, float]:
    """Run ``x`` (T, n_in) 0/1 spikes; returns (spikes (T, N) or None, wall seconds)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    t0 = time.perf_counter()
    T, n = x.shape[0], w_rec.shape[0]
    src = RingBuffer(data=x.T.astype(int))
    lif = LIF(shape=(n,), du=du, dv=dv, vth=vth, bias_mant=0)
    d_in = Dense(weights=w_in, weight_exp=exp_in, num_weight_bits=8)
    d_rec = Dense(weights=w_rec, weight_exp=exp_rec, num_weight_bits=8)
    src.s_out.connect(d_in.s_in)
    d_in.a_out.connect(lif.a_in)
    lif.s_out.connect(d_rec.s_in)
    d_rec.a_out.connect(lif.a_in)
    if record == "monitor":
        sink = Monitor()
        sink.probe(lif.s_out, T)
    elif record == "monitor-all":
        mons = [Monitor() for _ in range(3)]
        for mon, what in zip(mons, (lif.s_out, lif.v, lif.u), strict=True):
            mon.probe(what, T)
    elif record == "sink":
        sink = Sink(shape=(n,), buffer=T)
        lif.s_out.connect(sink.a_in)
    try:
        lif.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        if record == "monitor":
            spikes = np.asarray(sink.get_data()[lif.name]["s_out"]).reshape(T, n) > 0
        elif record == "monitor-all":
            got = [np.asarray(m.get_data()[lif.name][k]).reshape(T, n)
                   for m, k in zip(mons, ("s_out", "v", "u"), strict=True)]
            spikes = got[0] > 0
        elif record == "sink":
            spikes = sink.data.get().T > 0
        else:
            spikes = None
    finally:
        lif.stop()
    return spikes, time.perf_counter() - t0


def network(n: int, seed: int = 0) -> dict:
    """Integer weights and parameters of a recurrent net as a Lava user writes them: 32
    inputs, tau 10 ms at dt 1 ms (du = dv = 410 of 4096), 10% dense recurrent weights."""
    rng = np.random.default_rng(seed)
    w_in = np.where(rng.random((n, 32)) < 0.5, rng.normal(60, 60, (n, 32)), 0)
    k = max(1, n // 10)
    w_rec = np.where(rng.random((n, n)) < 0.1, rng.normal(0, 120 / np.sqrt(k), (n, n)), 0)
    def clip(w: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(w), -256, 255).astype(int)

    return {"w_in": clip(w_in), "w_rec": clip(w_rec), "du": 410, "dv": 410, "vth": 120,
            "exp_in": 0, "exp_rec": 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    net = network(args.n)
    x = (np.random.default_rng(1).random((args.steps, 32)) < 0.2).astype(int)
    for record in ("none", "monitor", "sink"):
        spikes, wall = run(**net, x=x, record=record)
        rate = "" if spikes is None else f", activity {spikes[20:].mean():.3f}"
        print(f"N={args.n} record={record:<8} {args.steps / wall:8.1f} steps/s{rate}",
              flush=True)


if __name__ == "__main__":
    main()
