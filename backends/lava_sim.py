"""Lava (lava-nc 0.10.0) CPU simulation of Loihi 2: ``fixed_pt`` (bit-accurate) or
``floating_pt`` models, from the same lowered network the cpu backend runs.

Each population becomes one process (Lava's ``LIF`` where all neurons share du, dv and
vth, else ``HeteroLIF``, Lava's LIF models with per-neuron values), each connection one
``Dense`` (``DelayDense`` where a NIR Delay adds steps), and the input a ``RingBuffer``.
Every ``Dense`` delivers one step late; results report it as ``delay_steps`` and
``compensate_delay`` aligns it. Runs go in chunks so a timeout can stop them, and the
runtime is always stopped.
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
               "rounding": "nearest", "decay_scale": "auto", "chunk_steps": 250}

    def availability(self, target: Target | None = None) -> Availability:
        import sys

        if sys.version_info[:2] != (3, 10):
            return Availability(False, f"lava-nc 0.10.0 runs only on Python 3.10 (this is "
                                f"{sys.version_info[0]}.{sys.version_info[1]})",
                                self.install_hint)
        return super().availability(target)

    def liquid_open(self, net: Any, batch: int, target: Target,
                    opts: dict[str, Any]) -> LavaLiquidStepper:
        """A Lava runtime stepping a liquid network (float targets only)."""
        return LavaLiquidStepper(net, batch, float(opts["timeout_s"]))

    def simulate(self, net: Lowered, x: np.ndarray, target: Target,
                 opts: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
        if not np.isin(x, (0, 1)).all():
            raise ValidationError("Lava targets take 0/1 spike inputs; got graded values "
                                  "(use the cpu targets for analog input)")
        runs = [_run_one(net, xb, target.precision == "fixed", opts) for xb in x]
        return {p: {k: np.stack([r[p][k] for r in runs]) for k in runs[0][p]}
                for p in net.populations}


class LavaStream:
    """A Lava network fed one step at a time from the host (hardware in the loop):
    ``Injector`` -> processes -> one ``Extractor`` per output.

    The network runs non-blocking in chunks of ``chunk`` steps. Within a chunk the
    Injector holds the network until the host sends the next input, so it advances
    exactly one step per :meth:`step`. Chunks matter for shutdown: a network parked in
    the Injector cannot see a stop request, so :meth:`close` feeds zeros to the end of
    the current chunk, waits for it, and only then stops the runtime. Waiting for
    outputs has a deadline (``timeout_s``).
    """

    def __init__(self, injector: Any, extractors: dict[str, Any], anchor: Any, cfg: Any,
                 timeout_s: float, chunk: int = 32) -> None:
        self.injector, self.extractors, self.anchor = injector, extractors, anchor
        self.cfg, self.timeout_s, self.chunk = cfg, timeout_s, chunk
        self.started, self.left = False, 0  # steps left in the current chunk

    def step(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Send one input vector; return each extractor's vector for the same step."""
        from lava.magma.core.run_conditions import RunSteps

        if self.left == 0:
            if self.started:
                self.anchor.wait()
            self.anchor.run(condition=RunSteps(num_steps=self.chunk, blocking=False),
                            run_cfg=self.cfg)
            self.started, self.left = True, self.chunk
        self.injector.send(np.asarray(x, float).reshape(-1))
        self.left -= 1
        return self._receive()

    def _receive(self) -> dict[str, np.ndarray]:
        from queue import Empty

        deadline = time.monotonic() + self.timeout_s
        out = {}
        for name, ext in self.extractors.items():
            port = ext.out_port.external_pipe_csp_recv_port
            try:  # wait on the channel's queue (as Extractor.receive does), with a deadline
                port._queue.get(timeout=max(deadline - time.monotonic(), 0.0), peek=True)
            except Empty:
                raise HALTimeoutError(f"Lava gave no output for '{name}' within "
                                      f"timeout_s={self.timeout_s}") from None
            out[name] = port.recv()
        return out

    def close(self) -> None:
        """Finish the current chunk on zero input, then stop the runtime. Safe twice."""
        if not self.started:
            return
        self.started = False
        try:
            zeros = np.zeros(self.injector.in_port.shape)
            while self.left:
                self.injector.send(zeros)
                self.left -= 1
                self._receive()
            self.anchor.wait()
        finally:
            self.left = 0
            self.anchor.stop()


class LavaLiquidStepper:
    """Injector -> LiquidCell -> Extractor in a :class:`LavaStream`; :meth:`close` stops
    the runtime."""

    def __init__(self, net: Any, batch: int, timeout_s: float) -> None:
        self.net, self.batch, self.timeout_s = net, batch, timeout_s
        self._build()

    def _build(self) -> None:
        """Fresh processes (a Lava network runs once: reset means a new runtime)."""
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
        from lava.proc.io.injector import Injector, PyLoihiInjectorModel

        from hal.backends.lava_procs.liquid.process import LiquidCell

        net, batch = self.net, self.batch
        injector = Injector(shape=(batch * net.n_in,))
        cell = LiquidCell(net=net, batch=batch)
        extractor = Extractor(shape=(batch * net.n_out,))
        injector.out_port.connect(cell.u_in)
        cell.y_out.connect(extractor.in_port)
        cfg = Loihi2SimCfg(select_tag="floating_pt", exception_proc_model_map={
            Injector: PyLoihiInjectorModel, Extractor: PyLoihiExtractorModel})
        self.stream = LavaStream(injector, {"y": extractor}, cell, cfg, self.timeout_s)

    def step(self, u: np.ndarray, ts: float = 1.0) -> np.ndarray:
        if ts != 1.0:
            raise ValidationError("Lava liquid targets step with timespan 1.0 only")
        y = self.stream.step(u)["y"]
        return np.asarray(y, float).reshape(self.batch, self.net.n_out)

    def reset(self) -> None:
        self.close()
        self._build()

    def close(self) -> None:
        self.stream.close()


def _neurons(pop, fixed: bool):
    """One Lava process for a population: Lava's stock ``LIF`` where every neuron shares
    du, dv and vth, else ``HeteroLIF`` (Lava's LIF models with per-neuron values)."""
    from lava.proc.lif.process import LIF

    if fixed:
        f = pop.fixed
        du, dv, vth = f["du"], f["dv"], f["vth"]
        bias = {"bias_mant": f["bias_mant"], "bias_exp": f["bias_exp"]}
        scalar = int
    else:
        du, dv, vth = pop.du, pop.dv, pop.vth
        bias = {"bias_mant": pop.bias}
        scalar = float
    if all(np.all(a == a[0]) for a in (du, dv, vth)):
        return LIF(shape=(pop.size,), du=scalar(du[0]), dv=scalar(dv[0]), vth=scalar(vth[0]),
                   **bias)
    from hal.backends.lava_procs.lif.process import HeteroLIF

    return HeteroLIF(shape=(pop.size,), du=du, dv=dv, vth=vth, **bias)


def _run_one(net: Lowered, x: np.ndarray, fixed: bool, opts: dict[str, Any]):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.monitor.process import Monitor

    T = x.shape[0]
    source = RingBuffer(data=x.T.astype(int if fixed else float))
    procs, monitors = {}, {}
    for name, pop in net.populations.items():
        procs[name] = _neurons(pop, fixed)
        monitors[name] = {}
        for var in ("s_out", "v", "u"):
            mon = Monitor()
            mon.probe(getattr(procs[name], var), T)
            monitors[name][var] = mon
    for c in net.connections:
        kw = {"weight_exp": int(c.exp), "num_weight_bits": 8} if fixed else {}
        w = c.mant if fixed else c.weight
        dense = DelayDense(weights=w, delays=int(c.delay), **kw) if c.delay else \
            Dense(weights=w, **kw)
        (source.s_out if c.source == "input" else procs[c.source].s_out).connect(dense.s_in)
        dense.a_out.connect(procs[c.target].a_in)
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
        for name in net.populations:
            proc, rec = procs[name], {}
            for var, key in (("s_out", "spikes"), ("v", "v"), ("u", "u")):
                data = monitors[name][var].get_data()[proc.name][getattr(proc, var).name]
                rec[key] = np.asarray(data).reshape(T, -1)
            rec["spikes"] = rec["spikes"] > 0
            if fixed:
                rec["v"], rec["u"] = rec["v"].astype(np.int64), rec["u"].astype(np.int64)
            out[name] = rec
        return out
    finally:
        anchor.stop()
