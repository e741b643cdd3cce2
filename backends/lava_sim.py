"""Lava (lava-nc 0.10.0) CPU simulation of Loihi 2: ``fixed_pt`` (bit-accurate) or
``floating_pt`` models, from the same lowered network the cpu backend runs.

Each population becomes one ``LIF`` process per group of neurons sharing du, dv and vth
(Lava's LIF has one of each per process), each connection one ``Dense`` per pair of
groups, and the input a ``RingBuffer``. Every ``Dense`` delivers one step late; results
report it as ``delay_steps`` and ``compensate_delay`` aligns it. Runs go in chunks so a
timeout can stop them, and the runtime is always stopped.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hal.backend import Availability, Backend
from hal.compilers.snn import Lowered
from hal.errors import HALTimeoutError, ValidationError
from hal.target import Target


class LavaSimBackend(Backend):
    """Lava's Python simulation of Loihi 2 processes."""

    name = "lava_sim"
    family = "snn"
    requires = ("lava",)
    install_hint = "Lava needs Python 3.10: pip install 'nq-hal[lava]' on Python 3.10"
    packages = ("lava-nc",)
    options = {"compensate_delay": False, "timeout_s": 300, "v_scale": "auto",
               "rounding": "nearest", "decay_scale": 4096, "chunk_steps": 250}

    def availability(self, target: Target | None = None) -> Availability:
        import sys

        if sys.version_info[:2] != (3, 10):
            return Availability(False, f"lava-nc 0.10.0 runs only on Python 3.10 (this is "
                                f"{sys.version_info[0]}.{sys.version_info[1]})",
                                self.install_hint)
        return super().availability(target)

    def simulate(self, net: Lowered, x: np.ndarray, target: Target,
                 opts: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
        if not np.isin(x, (0, 1)).all():
            raise ValidationError("Lava targets take 0/1 spike inputs; got graded values "
                                  "(use the cpu targets for analog input)")
        runs = [_run_one(net, xb, target.precision == "fixed", opts) for xb in x]
        return {p: {k: np.stack([r[p][k] for r in runs]) for k in runs[0][p]}
                for p in net.populations}


def _groups(pop, fixed: bool) -> list[np.ndarray]:
    keys = (np.stack([pop.fixed["du"], pop.fixed["dv"], pop.fixed["vth"]], 1) if fixed
            else np.stack([pop.du, pop.dv, pop.vth], 1))
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    return [np.flatnonzero(inv.reshape(-1) == g) for g in range(inv.max() + 1)]


def _run_one(net: Lowered, x: np.ndarray, fixed: bool, opts: dict[str, Any]):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    T = x.shape[0]
    source = RingBuffer(data=x.T.astype(int if fixed else float))
    groups, procs, monitors = {}, {}, {}
    for name, pop in net.populations.items():
        groups[name] = _groups(pop, fixed)
        for g, idx in enumerate(groups[name]):
            if fixed:
                f = pop.fixed
                proc = LIF(shape=(len(idx),), du=int(f["du"][idx[0]]), dv=int(f["dv"][idx[0]]),
                           vth=int(f["vth"][idx[0]]), bias_mant=f["bias_mant"][idx],
                           bias_exp=f["bias_exp"][idx])
            else:
                proc = LIF(shape=(len(idx),), du=float(pop.du[idx[0]]),
                           dv=float(pop.dv[idx[0]]), vth=float(pop.vth[idx[0]]),
                           bias_mant=pop.bias[idx])
            procs[name, g] = proc
            monitors[name, g] = {}
            for var in ("s_out", "v", "u"):
                mon = Monitor()
                mon.probe(getattr(proc, var), T)
                monitors[name, g][var] = mon
    for c in net.connections:
        w = c.mant if fixed else c.weight
        src_groups = [(None, np.arange(net.n_in))] if c.source == "input" else \
            [((c.source, g), idx) for g, idx in enumerate(groups[c.source])]
        for dg, didx in enumerate(groups[c.target]):
            for skey, sidx in src_groups:
                sub = w[np.ix_(didx, sidx)]
                if not np.any(sub):
                    continue
                kw = {"weight_exp": int(c.exp), "num_weight_bits": 8} if fixed else {}
                dense = Dense(weights=sub, **kw)
                (source.s_out if skey is None else procs[skey].s_out).connect(dense.s_in)
                dense.a_out.connect(procs[c.target, dg].a_in)
    anchor = next(iter(procs.values()))
    cfg = Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt")
    deadline = time.monotonic() + float(opts["timeout_s"])
    try:
        done = 0
        while done < T:
            n = min(int(opts["chunk_steps"]), T - done)
            anchor.run(condition=RunSteps(num_steps=n), run_cfg=cfg)
            done += n
            if time.monotonic() > deadline and done < T:
                raise HALTimeoutError(f"Lava run exceeded timeout_s={opts['timeout_s']} "
                                      f"after {done} of {T} steps")
        out = {}
        for name, pop in net.populations.items():
            rec = {k: np.zeros((T, pop.size)) for k in ("spikes", "v", "u")}
            for g, idx in enumerate(groups[name]):
                for var, key in (("s_out", "spikes"), ("v", "v"), ("u", "u")):
                    mon = monitors[name, g][var]
                    proc = procs[name, g]
                    data = mon.get_data()[proc.name][getattr(proc, var).name]
                    rec[key][:, idx] = np.asarray(data).reshape(T, len(idx))
            rec["spikes"] = rec["spikes"] > 0
            if fixed:
                rec["v"], rec["u"] = rec["v"].astype(np.int64), rec["u"].astype(np.int64)
            out[name] = rec
        return out
    finally:
        anchor.stop()
