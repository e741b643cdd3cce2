"""Spiking throughput against what a user would otherwise write, in one run.

Network (hal.snn.ir.recurrent_network): 32 inputs spiking at p = 0.2 -> CubaLIF(N), tau
10 ms, dt 1 ms, recurrent weights 10% dense (fan-out 100 at N = 100,000, held sparse),
about 10% of neurons spiking per step. For each N, every configuration runs in its own
subprocess (so its peak RSS is its own):

- ``lava script``: bench/lava_script.py, plain lava-nc (RingBuffer -> Dense -> LIF with a
  recurrent Dense, a Monitor on the spikes), fed the same integers loihi2-sim runs;
  wall time includes building and starting its processes. Skipped at N > 4000.
- ``numpy loop``: ten lines of float32 numpy (dense weights; scipy.sparse at N > 4000).
- every nq-hal spiking target: ``cpu`` (bit-exact), ``cpu-float``, ``torch`` (skipped at
  N > 4000: it holds dense weights) and ``loihi2-sim`` (Lava; wall time with compile,
  recording spikes; batch 64 only while 64 N <= 6400). No batch at N > 4000: the
  recorded spikes of 64 streams would take 6.4 GB.
- states, at N <= 1000, one stream: ``lava s,v,u`` (the Lava script with a Monitor each
  on spikes, v and u) against ``l2sim s,v,u`` (``loihi2-sim`` with ``record="all"``).

Each runs one stream and a batch of 64. Rates exclude compilation for the in-process
engines (numba compiles once and caches on disk; a warm-up run precedes timing); the
Lava rows include everything, as a user waits for it. Ratios are in neuron-steps/s, to
the Lava script (one stream) and to the numpy loop at the same batch. The machine has
2 cores shared with other jobs: rerun a row that looks off.

Run: .venv/bin/python bench/snn_throughput.py [--sizes 100,1000,4000,100000]
     [--steps 500] [--lava-steps 200] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _net(n: int):
    from hal.snn.ir import recurrent_network

    big = n > 4000
    return recurrent_network(n, fan_out=100 if big else None, sparse=big, seed=0)


def _inputs(b: int, t: int) -> np.ndarray:
    return (np.random.default_rng(1).random((b, t, 32)) < 0.2).astype(float)


def numpy_loop(w_in, w_rec, du, dv, vth, x):
    """The plain float32 loop a user writes (x: (B, T, n_in))."""
    B, T, _ = x.shape
    u = v = s = np.zeros((B, w_rec.shape[0]), np.float32)
    out = np.zeros((B, T, w_rec.shape[0]), bool)
    for t in range(T):
        u = u * (1 - du) + x[:, t] @ w_in.T + s @ w_rec.T
        v = v * (1 - dv) + u
        out[:, t] = s = (v > vth).astype(np.float32)
        v = v * (1 - s)
    return out


def _one(cfg: dict) -> dict:
    """Run one configuration in this process; returns rate, activity, peak RSS."""
    import hal

    n, b, steps, kind = cfg["n"], cfg["b"], cfg["steps"], cfg["kind"]
    g = _net(n)
    x = _inputs(b, steps)
    if kind in ("lava script", "lava s,v,u"):
        sys.path.insert(0, str(HERE))
        import lava_script

        net = hal.compile(g, target="loihi2-sim", dt=1e-3).net
        c_in, c_rec = net.connections
        f = net.populations["lif"].fixed
        spikes, wall = lava_script.run(c_in.mant, c_rec.mant, int(f["du"][0]), int(f["dv"][0]),
                                       int(f["vth"][0]), c_in.exp, c_rec.exp, x[0],
                                       "monitor" if kind == "lava script" else "monitor-all")
        rate, act = steps / wall, spikes.mean()
    elif kind == "numpy loop":
        net = hal.compile(g, target="cpu-float", dt=1e-3).net
        c_in, c_rec = net.connections
        p = net.populations["lif"]
        w_rec = c_rec.matrix.astype(np.float32)
        w_rec = w_rec if n > 4000 else w_rec.toarray()
        args = (c_in.weight.astype(np.float32), w_rec, np.float32(p.du[0]),
                np.float32(p.dv[0]), np.float32(p.vth[0]))
        xf = x.astype(np.float32)
        numpy_loop(*args, xf[:, :5])
        t0 = time.perf_counter()
        spikes = numpy_loop(*args, xf)
        rate, act = steps / (time.perf_counter() - t0), spikes.mean()
    elif kind in ("loihi2-sim", "l2sim s,v,u"):
        t0 = time.perf_counter()
        res = hal.compile(g, target="loihi2-sim", dt=1e-3).run(
            x if b > 1 else x[0], record="spikes" if kind == "loihi2-sim" else "all")
        wall = time.perf_counter() - t0
        rate, act = steps / wall, res.spikes["lif"].mean()
    else:
        exe = hal.compile(g, target=kind, dt=1e-3)
        exe.run(x[:, :5])  # compile the loop (cached on disk) and warm caches
        t0 = time.perf_counter()
        res = exe.run(x)
        rate, act = steps / (time.perf_counter() - t0), res.spikes["lif"].mean()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rate": rate, "activity": float(act), "rss_mb": rss}


def _spawn(cfg: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)],
                         capture_output=True, text=True)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _configs(n: int, args) -> list[dict]:
    T, TL, B = args.steps, args.lava_steps, args.batch
    TL4 = max(TL // 4, 10) if n > 1000 else TL  # Lava runs ~2 steps/s at N=4000
    rows = []
    if n <= 4000:
        rows.append({"kind": "lava script", "b": 1, "steps": TL4})
    if n <= 1000:  # spikes, v and u: Monitors by hand against loihi2-sim record="all"
        rows += [{"kind": "lava s,v,u", "b": 1, "steps": TL},
                 {"kind": "l2sim s,v,u", "b": 1, "steps": TL}]
    for b in (1, B) if n <= 4000 else (1,):  # 64 x 1e5 x T recorded spikes: 6.4 GB
        rows.append({"kind": "numpy loop", "b": b, "steps": T})
        for tgt in ("cpu", "cpu-float", "torch"):
            if tgt != "torch" or n <= 4000:
                rows.append({"kind": tgt, "b": b, "steps": T})
        if n <= 4000 and b * n <= 6400:
            rows.append({"kind": "loihi2-sim", "b": b, "steps": TL4})
    return [{**r, "n": n} for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,4000,100000")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--lava-steps", type=int, default=200,
                    help="steps of the Lava runs (a quarter of it above N=1000)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(json.loads(args.one))))
        return
    print("Lava skipped at N > 4000 (dense Lava processes would not finish in minutes); "
          "torch skipped at N > 4000 (dense weights); batch 64 skipped at N > 4000 (its recorded "
          "spikes alone, 64 x N x steps, take 6.4 GB).")
    print(f"{'N':>6} {'config':<12} {'B':>3} {'steps':>5} {'steps/s':>10} {'neuron-steps/s':>15}"
          f" {'RSS MB':>7} {'act':>5} {'vs lava':>9} {'vs numpy':>8}")
    summary = {}
    for n in (int(s) for s in args.sizes.split(",")):
        anchors = {}
        for cfg in _configs(n, args):
            r = _spawn(cfg)
            key = (cfg["kind"], cfg["b"])
            if "error" in r:
                print(f"{n:>6} {cfg['kind']:<12} {cfg['b']:>3} failed: {r['error']}")
                continue
            ns = r["rate"] * cfg["b"] * n
            summary[(n, *key)] = {**r, "ns": ns, "wall": cfg["steps"] / r["rate"]}
            if cfg["kind"] in ("lava script", "numpy loop"):
                anchors[key] = ns
            lava = anchors.get(("lava script", 1))
            npl = anchors.get(("numpy loop", cfg["b"]))
            print(f"{n:>6} {cfg['kind']:<12} {cfg['b']:>3} {cfg['steps']:>5} {r['rate']:>10,.0f}"
                  f" {ns:>15,.0f} {r['rss_mb']:>7,.0f} {r['activity']:>5.3f}"
                  f" {ns / lava if lava else float('nan'):>8,.1f}x"
                  f" {ns / npl if npl else float('nan'):>7,.2f}x", flush=True)
    _goals(summary, args.batch)


def _goals(s: dict, B: int) -> None:
    def ratio(a, b, key="ns"):
        return s[a][key] / s[b][key] if a in s and b in s else float("nan")

    checks = [
        ("cpu >= 100x lava script, N=1000, one stream",
         ratio((1000, "cpu", 1), (1000, "lava script", 1)), 100),
        (f"cpu B={B} >= 1000x lava script (neuron-steps/s), N=1000",
         ratio((1000, "cpu", B), (1000, "lava script", 1)), 1000),
        ("cpu-float >= 1.5x numpy loop, N=4000", ratio((4000, "cpu-float", 1),
                                                      (4000, "numpy loop", 1)), 1.5),
        ("cpu-float >= 1x numpy loop, N=100", ratio((100, "cpu-float", 1),
                                                   (100, "numpy loop", 1)), 1.0),
    ]
    print()
    for label, r, goal in checks:
        print(f"{_mark(r, r >= goal)}  {label}: {_x(r, '.1f')}")
    for n in (100, 1000, 4000):
        r = ratio((n, "loihi2-sim", 1), (n, "lava script", 1), key="wall")
        print(f"{_mark(r, r <= 1.2)}  loihi2-sim wall <= 1.2x lava script, N={n}: {_x(r, '.2f')}")
    for n in (100, 1000):
        r = ratio((n, "l2sim s,v,u", 1), (n, "lava s,v,u", 1), key="wall")
        print(f"{_mark(r, r <= 1.2)}  loihi2-sim record='all' wall <= 1.2x lava script with "
              f"Monitors on s, v, u, N={n}: {_x(r, '.2f')}")
    big = s.get((100000, "cpu", 1))
    if big:
        print(f"{'met ' if big['rss_mb'] <= 2048 else 'MISS'}  N=100,000 fan-out 100 on cpu "
              f"within 2 GB: peak RSS {big['rss_mb']:,.0f} MB")


def _mark(r: float, ok: bool) -> str:
    return "----" if np.isnan(r) else "met " if ok else "MISS"


def _x(r: float, fmt: str) -> str:
    return "not run (a size missing from --sizes)" if np.isnan(r) else f"{r:,{fmt}}x"


if __name__ == "__main__":
    main()
