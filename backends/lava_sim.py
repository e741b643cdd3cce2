"""Lava (lava-nc 0.10.0) CPU simulation of Loihi 2: ``fixed_pt`` (bit-accurate) or
``floating_pt`` models, from the same lowered network the cpu backend runs.

Each population becomes one process (Lava's ``LIF`` where all neurons share du, dv and
vth, else ``HeteroLIF``, Lava's LIF models with per-neuron values), each connection one
``Dense`` (``DelayDense`` where a NIR Delay adds steps), and the input a ``RingBuffer``.
Every ``Dense`` delivers one step late; results report it as ``delay_steps`` and
``compensate_delay`` aligns it. Runs go in chunks so a timeout can stop them, and the
runtime is always stopped.

A batch of B streams runs in one runtime: populations of B x N neurons and block-diagonal
weights (Lava's ``Sparse``), so per-stream results are those of B separate runs. Spikes
are recorded by a ``SpikeRecorder`` (packed, see its module for why Monitors are slow).
A run that records v or u streams instead, as a session does: the input goes in through
an ``Injector`` and spikes, v and u (``HeteroLIF``'s state ports) come out through
``Extractor``s, one vector per step (a ``Monitor`` is used only for the states and
weights of plastic networks).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from typing import Any

import numpy as np

from hal.backend import WEIGHTS_KEY, Availability, LiquidBackend, Option, SpikingBackend
from hal.compilers.snn import Lowered
from hal.errors import HALTimeoutError, ValidationError
from hal.snn.learning import conn_name, effective, plastic, weight_unit
from hal.target import Target

#: connections with more entries than this run as Lava ``Sparse`` (a dense copy would not fit)
DENSE_MAX = 1 << 26


_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


def import_lava() -> None:
    """Import Lava's process layer where the start method is already chosen.

    Lava's import calls ``multiprocessing.set_start_method('fork')`` without ``force``,
    which raises "context has already been set" where something chose it first: a Dask
    worker (started by spawn), or numba's threading layer after a parallel cpu run. Lava
    needs fork for its processes, so its call is let through with ``force=True`` while it
    imports; nothing else changes. Called before every Lava run.
    """
    if _LAVA_MP in sys.modules or multiprocessing.get_start_method(allow_none=True) is None:
        return
    import importlib.util

    if importlib.util.find_spec("lava") is None:
        return  # the backend reports Lava missing in its own words
    original = multiprocessing.set_start_method

    def set_start_method(method: str, force: bool = False) -> None:
        original(method, force=True)

    multiprocessing.set_start_method = set_start_method  # type: ignore[assignment]
    try:
        importlib.import_module(_LAVA_MP)
    finally:
        multiprocessing.set_start_method = original  # type: ignore[assignment]


class LavaSimBackend(SpikingBackend, LiquidBackend):
    """Lava's Python simulation of Loihi 2 processes."""

    name = "lava_sim"
    requires = ("lava",)
    install_hint = "Lava needs Python 3.10: pip install 'nq-hal[lava]' on Python 3.10"
    packages = ("lava-nc",)
    learns = True  # plastic connections: LearningDense with STDPLoihi
    options = {
        "timeout_s": Option(300.0, "wall-clock limit of one run or one session step, in "
                            "seconds; past it the runtime is stopped and HALTimeoutError "
                            "raised", probe=1e-9),
        "chunk_steps": Option(250, "steps per blocking Lava run of spikes; the timeout is "
                              "checked before each chunk (runs that record v or u stream "
                              "and check it every step; a scheduling knob: results do not change, "
                              "so the conformance kit does not probe it)", probe=None,
                              minimum=1),
    }

    def availability(self, target: Target | None = None) -> Availability:
        import sys

        if sys.version_info[:2] != (3, 10):
            return Availability(False, f"lava-nc 0.10.0 runs only on Python 3.10 (this is "
                                f"{sys.version_info[0]}.{sys.version_info[1]})",
                                self.install_hint)
        return super().availability(target)

    def open_liquid(self, net: Any, batch: int, target: Target,
                    options: dict[str, Any]) -> LavaLiquidStepper:
        """A Lava runtime stepping a liquid network: the float model for a liquid IR net,
        the integer model for a lowered ``FixedLiquid``."""
        import_lava()
        return LavaLiquidStepper(net, batch, float(options["timeout_s"]))

    def open_spiking(self, net: Lowered, batch: int, target: Target, options: dict[str, Any],
                     record: frozenset[str] = frozenset({"spikes"})) -> LavaSnnStepper:
        """A running Lava network stepped from the host: ``batch`` streams side by side in
        one runtime (as :meth:`simulate` runs them), streaming the ``record`` keys."""
        import_lava()
        if batch != 1 and plastic(net):
            raise ValidationError(f"a plastic network learns per stream, so its Lava "
                                  f"session holds one stream; asked for batch={batch}: "
                                  "open one session per stream")
        return LavaSnnStepper(net, batch, target.precision == "fixed", record,
                              float(options["timeout_s"]))

    def simulate(self, net: Lowered, x: np.ndarray, target: Target, options: dict[str, Any],
                 record: frozenset[str] = frozenset({"spikes"})
                 ) -> dict[str, dict[str, np.ndarray]]:
        import_lava()
        _check_spikes(x)
        fixed = target.precision == "fixed"
        B, T, n_in = x.shape
        if plastic(net):  # each stream learns alone, so one runtime per stream
            runs = [_run_one(net, xb.T, fixed, options, record) for xb in x]
            out: dict[str, Any] = {p: {k: np.stack([r[p][k] for r in runs]) for k in runs[0][p]}
                                   for p in net.populations}
            out[WEIGHTS_KEY] = {k: np.concatenate([r[WEIGHTS_KEY][k] for r in runs])
                                for k in runs[0][WEIGHTS_KEY]}
            return out
        if record - {"spikes"}:  # states stream out: a Monitor's read-back is far slower
            return _run_streamed(net, x, fixed, record, float(options["timeout_s"]))
        flat = x.transpose(0, 2, 1).reshape(B * n_in, T)  # stream-major, as _tiled lays out
        raw = _run_one(net if B == 1 else _tiled(net, B), flat, fixed, options, record,
                       sparse=_sparse(net, B))
        return {p: {k: a.reshape(T, B, -1).transpose(1, 0, 2) for k, a in rec.items()}
                for p, rec in raw.items()}


def _sparse(net: Lowered, batch: int) -> bool:
    """Lava's ``Sparse`` synapses for a batch (block-diagonal) or a large matrix."""
    return batch > 1 or any(c.matrix.shape[0] * c.matrix.shape[1] > DENSE_MAX
                            for c in net.connections)


def _run_streamed(net: Lowered, x: np.ndarray, fixed: bool, record: frozenset[str],
                  timeout_s: float) -> dict[str, dict[str, np.ndarray]]:
    """Run ``x`` (B, T, n_in) through a :class:`LavaSnnStepper`, whose Extractors deliver
    each recorded vector once per step. A ``Monitor`` on v or u is read back one message
    per value, which made ``record="all"`` at N=1000, T=200 take 6.6 s against 0.5 s
    streamed. The whole run has ``timeout_s``, as :func:`_run_one` has."""
    B, T, _ = x.shape
    stepper = LavaSnnStepper(net, B, fixed, record, timeout_s)
    deadline = time.monotonic() + timeout_s
    out = {p: {k: [] for k in stepper.record} for p in net.populations}
    try:
        for t in range(T):
            left = deadline - time.monotonic()
            if left <= 0:
                raise HALTimeoutError(f"Lava run exceeded timeout_s={timeout_s} after {t} "
                                      f"of {T} steps")
            stepper.stream.timeout_s = left  # a step waits at most what the run has left
            for p, rec in stepper.step(x[:, t]).items():
                for k, a in rec.items():
                    out[p][k].append(a)
    finally:
        stepper.close()
    return {p: {k: np.stack(v, axis=1) if v else
                np.zeros((B, 0, net.populations[p].size)) for k, v in rec.items()}
            for p, rec in out.items()}


def _check_spikes(x: np.ndarray) -> None:
    if not np.isin(x, (0, 1)).all():
        raise ValidationError("Lava targets take 0/1 spike inputs; got graded values "
                              "(use the cpu targets for analog input)")


class LavaStream:
    """A Lava network fed one step at a time from the host (hardware in the loop):
    ``Injector`` -> processes -> one ``Extractor`` per output.

    The network runs non-blocking, ``CHUNK`` steps per run. Within a run the Injector
    holds the network until the host sends the next input, so it advances exactly one
    step per :meth:`step`. Waiting for outputs has a deadline (``timeout_s``).

    Shutdown: a network parked in the Injector never sees a stop request (Lava checks
    for one between phases), so :meth:`close` first queues zeros for the rest of the run
    (the channels hold ``BUFFER`` >= ``CHUNK`` vectors, so this never blocks) and then
    stops the runtime, which then ends within one step. The stop runs in a thread joined
    with ``timeout_s``: a broken network leaves its processes behind, it never hangs the
    host.
    """

    CHUNK = 64
    BUFFER = CHUNK + 2

    def __init__(self, injector: Any, extractors: dict[str, Any], anchor: Any, fixed: bool,
                 timeout_s: float) -> None:
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
        from lava.proc.io.injector import Injector, PyLoihiInjectorModel

        self.injector, self.extractors, self.anchor = injector, extractors, anchor
        self.cfg = Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt",
                                exception_proc_model_map={Injector: PyLoihiInjectorModel,
                                                          Extractor: PyLoihiExtractorModel})
        self.timeout_s = timeout_s
        self.started, self.left = False, 0  # steps left in the current run
        self.stopped = False

    def step(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Send one input vector; return each extractor's vector for the same step."""
        from lava.magma.core.run_conditions import RunSteps

        if self.left == 0:
            if self.started:
                self.anchor.wait()
            self.anchor.run(condition=RunSteps(num_steps=self.CHUNK, blocking=False),
                            run_cfg=self.cfg)
            self.started, self.left = True, self.CHUNK
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
                note = "the session is closed, open a new one"
                try:
                    self.close()
                except Exception as exc:  # the timeout stays the error to report
                    note += f" ({exc})"
                raise HALTimeoutError(f"Lava gave no output for '{name}' within "
                                      f"timeout_s={self.timeout_s}; {note}") from None
            out[name] = port.recv()
        return out

    def close(self) -> None:
        """Queue zeros for the rest of the run, wait for it to end, then stop the runtime.
        A run that failed while starting (Ctrl-C during ``run``) is stopped as it stands.
        Safe twice."""
        from hal import session

        if not self.started:
            if getattr(self.anchor, "runtime", None) is not None and not self.stopped:
                self.stopped = True
                stop_runtime(self.anchor, self.timeout_s)
            return
        self.started, self.stopped = False, True
        zeros = np.zeros(self.injector.in_port.shape)
        for _ in range(self.left):
            self.injector.send(zeros)
        self.left = 0
        grace = session.EXIT_GRACE_S if session.exiting() else self.timeout_s
        # let the run end on the queued zeros and take its reply, then stop (a reply left
        # in the channel fails Runtime.stop)
        stop_runtime(self.anchor, grace, wait_first=True)


class LavaLiquidStepper:
    """Injector -> LiquidCell -> Extractor in a :class:`LavaStream`; :meth:`close` stops
    the runtime. Fixed point: the host quantizes inputs and scales outputs, and only
    Q-format integers cross into Lava."""

    def __init__(self, net: Any, batch: int, timeout_s: float) -> None:
        from hal.compilers.liquid import FixedLiquid

        self.net, self.batch, self.timeout_s = net, batch, timeout_s
        self.fixed = isinstance(net, FixedLiquid)
        self._build()

    def _build(self) -> None:
        """Fresh processes (a Lava network runs once: reset means a new runtime)."""
        from lava.proc.io.extractor import Extractor
        from lava.proc.io.injector import Injector

        guard_sigint()
        from hal.backends.lava_procs.liquid.process import LiquidCell

        net, batch = self.net, self.batch
        injector = Injector(shape=(batch * net.n_in,), buffer_size=LavaStream.BUFFER)
        cell = LiquidCell(net=net, batch=batch)
        extractor = Extractor(shape=(batch * net.n_out,), buffer_size=LavaStream.BUFFER)
        injector.out_port.connect(cell.u_in)
        cell.y_out.connect(extractor.in_port)
        self.stream = LavaStream(injector, {"y": extractor}, cell, self.fixed, self.timeout_s)

    def step(self, u: np.ndarray, ts: float = 1.0) -> np.ndarray:
        if ts != 1.0:
            raise ValidationError("Lava liquid targets step with timespan 1.0 only")
        if self.fixed:
            y = self.stream.step(self.net.quantize(u).astype(float))["y"]
            y = np.asarray(y, float) / float(1 << self.net.frac_bits)
        else:
            y = self.stream.step(u)["y"]
        return np.asarray(y, float).reshape(self.batch, self.net.n_out)

    def reset(self) -> None:
        self.close()
        self._build()

    def close(self) -> None:
        self.stream.close()


class LavaSnnStepper:
    """Injector -> the network -> one Extractor per population and recorded key, in a
    :class:`LavaStream` (Lava's per-Dense delay included as on the cpu targets).

    A batch runs as one network of B copies side by side (:func:`_tiled`). States come
    from ``HeteroLIF``'s ``u_out``/``v_out`` ports, used only when ``v`` or ``u`` is
    recorded, so a spikes-only session runs Lava's stock processes.
    """

    def __init__(self, net: Lowered, batch: int, fixed: bool, record: frozenset[str],
                 timeout_s: float) -> None:
        self.net, self.batch, self.fixed, self.timeout_s = net, batch, fixed, timeout_s
        self.record = sorted(record | {"spikes"})
        self._build()

    def _build(self) -> None:
        from lava.proc.io.extractor import Extractor
        from lava.proc.io.injector import Injector

        net = self.net if self.batch == 1 else _tiled(self.net, self.batch)
        injector = Injector(shape=(net.n_in,), buffer_size=LavaStream.BUFFER)
        procs = _network(net, self.fixed, injector.out_port,
                         sparse=_sparse(self.net, self.batch),
                         states=self.record != ["spikes"])
        extractors = {}
        for name, proc in procs.items():
            for key in self.record:
                ext = Extractor(shape=(net.populations[name].size,),
                                buffer_size=LavaStream.BUFFER)
                (proc.s_out if key == "spikes" else getattr(proc, f"{key}_out")).connect(
                    ext.in_port)
                extractors[f"{name}.{key}"] = ext
        self.stream = LavaStream(injector, extractors, next(iter(procs.values())), self.fixed,
                                 self.timeout_s)

    def step(self, x_t: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        _check_spikes(x_t)
        got = self.stream.step(np.asarray(x_t).reshape(-1))  # stream-major, as _tiled
        out: dict[str, dict[str, np.ndarray]] = {}
        for name in self.net.populations:
            out[name] = {}
            for key in self.record:
                a = np.asarray(got[f"{name}.{key}"]).reshape(self.batch, -1)
                out[name][key] = a > 0 if key == "spikes" else \
                    a.astype(np.int64) if self.fixed else a.astype(float)
        return out

    def reset(self) -> None:
        self.close()
        self._build()

    def close(self) -> None:
        self.stream.close()


def _neurons(pop, fixed: bool, states: bool = False):
    """One Lava process for a population: Lava's stock ``LIF`` where every neuron shares
    du, dv and vth and ``states`` (u and v sent on ports) is off, else ``HeteroLIF``
    (Lava's LIF models with per-neuron values and state ports)."""
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
    if not states and all(np.all(a == a[0]) for a in (du, dv, vth)):
        return LIF(shape=(pop.size,), du=scalar(du[0]), dv=scalar(dv[0]), vth=scalar(vth[0]),
                   **bias)
    from hal.backends.lava_procs.lif.process import HeteroLIF

    return HeteroLIF(shape=(pop.size,), du=du, dv=dv, vth=vth, **bias)


def _tiled(net: Lowered, B: int) -> Lowered:
    """``B`` copies of ``net`` side by side: populations of B x N neurons (stream-major)
    and block-diagonal sparse weights."""
    import dataclasses

    import scipy.sparse as sp

    pops = {}
    for name, p in net.populations.items():
        fixed = {k: np.tile(v, B) for k, v in p.fixed.items()} if p.fixed else None
        pops[name] = dataclasses.replace(p, size=p.size * B, du=np.tile(p.du, B),
                                         dv=np.tile(p.dv, B), vth=np.tile(p.vth, B),
                                         bias=np.tile(p.bias, B), fixed=fixed, shape=())
    conns = [dataclasses.replace(
        c, matrix=sp.block_diag([c.matrix] * B, format="csr"),
        mant_matrix=None if c.mant_matrix is None else
        sp.block_diag([c.mant_matrix] * B, format="csr")) for c in net.connections]
    return dataclasses.replace(net, n_in=net.n_in * B, populations=pops, connections=conns)


def _synapses(c, fixed: bool, bits: int | None, sparse: bool) -> Any:
    """Lava's ``Dense``/``DelayDense``, or ``Sparse``/``DelaySparse`` for a batch."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.sparse.process import DelaySparse, Sparse

    kw = {"weight_exp": int(c.exp), "num_weight_bits": int(bits)} if fixed else {}
    if sparse:
        w = (c.mant_matrix if fixed else c.matrix).astype(np.int64 if fixed else float)
        return DelaySparse(weights=w, delays=int(c.delay), **kw) if c.delay else \
            Sparse(weights=w, **kw)
    w = c.mant if fixed else c.weight
    return DelayDense(weights=w, delays=int(c.delay), **kw) if c.delay else \
        Dense(weights=w, **kw)


def _network(net: Lowered, fixed: bool, source: Any, sparse: bool = False,
             plastic_procs: dict[str, Any] | None = None,
             states: bool = False) -> dict[str, Any]:
    """One process per population (with u/v ports when ``states``) and a
    ``Dense``/``DelayDense`` per connection (``Sparse``/``DelaySparse`` when ``sparse``; a
    ``LearningDense`` where the connection is plastic, collected in ``plastic_procs``), with
    the network input taken from the OutPort ``source``."""
    guard_sigint()
    procs = {name: _neurons(pop, fixed, states) for name, pop in net.populations.items()}
    bits = net.quantization["format"]["weight_bits"] if fixed else None
    for c in net.connections:
        if c.rule is not None:  # plastic -> LearningDense (dense, one stream)
            dense = _learning_dense(net, c, fixed, bits)
            procs[c.target].s_out.connect(dense.s_in_bap)
            if plastic_procs is not None:
                plastic_procs[conn_name(c)] = dense
        else:
            dense = _synapses(c, fixed, bits, sparse)
        (source if c.source == "input" else procs[c.source].s_out).connect(dense.s_in)
        dense.a_out.connect(procs[c.target].a_in)
    return procs


def _learning_dense(net: Lowered, c: Any, fixed: bool, bits: int | None) -> Any:
    """Issue 17: a plastic connection as Lava's ``LearningDense`` with ``STDPLoihi``
    (the post population's spikes back-propagate into ``s_in_bap``)."""
    from lava.proc.dense.process import LearningDense
    from lava.proc.learning_rules.stdp_learning_rule import STDPLoihi
    from lava.utils.weightutils import SignMode

    kw = {"weight_exp": int(c.exp), "num_weight_bits": int(bits)} if fixed else {}
    w = c.mant if fixed else c.weight
    r = effective(net, c, fixed)
    rule = STDPLoihi(learning_rate=r.learning_rate, A_plus=r.A_plus, A_minus=r.A_minus,
                     tau_plus=r.tau_plus, tau_minus=r.tau_minus, x1_impulse=r.x1_impulse,
                     y1_impulse=r.y1_impulse, t_epoch=int(r.t_epoch), rng_seed=int(r.rng_seed))
    sign = {"mixed": SignMode.MIXED, "excitatory": SignMode.EXCITATORY,
            "inhibitory": SignMode.INHIBITORY}[r.sign_mode]
    return LearningDense(weights=np.asarray(w), learning_rule=rule, sign_mode=sign, **kw)


def _weight_history(net: Lowered, fixed: bool, learning: dict[str, Any],
                    mons: dict[str, Any], T: int) -> dict[str, np.ndarray]:
    """Each plastic connection's weights at every epoch's end (row 0: compiled), float
    units, as the cpu targets report them."""
    hist = {}
    for c in net.connections:
        name = conn_name(c)
        if name not in learning:
            continue
        dense, te = learning[name], int(c.rule.t_epoch)
        data = np.asarray(mons[name].get_data()[dense.name]["weights"]).reshape(
            T, *c.weight.shape)
        w0 = c.mant if fixed else c.weight
        if fixed and c.rule.sign_mode == "mixed":  # Lava truncates the lowest bit first
            w0 = (np.asarray(w0, np.int64) >> 1) << 1
        rows = [np.asarray(w0, float), *data[te - 1::te].astype(float)]
        hist[name] = (np.stack(rows) * weight_unit(net, c, fixed))[None]
    return hist


def _run_one(net: Lowered, x: np.ndarray, fixed: bool, opts: dict[str, Any],
             record: frozenset[str], sparse: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """Run ``x`` (n_in, T) in one runtime (``Sparse`` synapses when ``sparse``); returns
    per population the recorded keys, each (T, N)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.monitor.process import Monitor

    from hal.backends.lava_procs.spike_recorder.process import SpikeRecorder

    T = x.shape[1]
    source = RingBuffer(data=x.astype(int if fixed else float))
    learning: dict[str, Any] = {}
    procs = _network(net, fixed, source.s_out, sparse=sparse, plastic_procs=learning)
    w_mons = {}
    for name, dense in learning.items():
        w_mons[name] = Monitor()
        w_mons[name].probe(dense.weights, T)
    recorders, monitors = {}, {}
    for name, proc in procs.items():
        recorders[name] = SpikeRecorder(shape=(net.populations[name].size,), steps=T)
        proc.s_out.connect(recorders[name].a_in)
        for key in record - {"spikes"}:
            mon = Monitor()
            mon.probe(getattr(proc, key), T)
            monitors[(name, key)] = mon
    anchor = next(iter(procs.values()))
    cfg = Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt")
    deadline = time.monotonic() + float(opts["timeout_s"])
    try:
        done = 0
        while done < T:
            if time.monotonic() > deadline:
                raise HALTimeoutError(f"Lava run exceeded timeout_s={opts['timeout_s']} "
                                      f"after {done} of {T} steps")
            n = min(int(opts["chunk_steps"]), T - done)
            anchor.run(condition=RunSteps(num_steps=n), run_cfg=cfg)
            done += n
        out = {name: {"spikes": recorders[name].spikes()} for name in net.populations}
        for (name, key), mon in monitors.items():
            proc = procs[name]
            data = np.asarray(mon.get_data()[proc.name][key]).reshape(T, -1)
            out[name][key] = data.astype(np.int64) if fixed else data
        if learning:
            out[WEIGHTS_KEY] = _weight_history(net, fixed, learning, w_mons, T)
        return out
    finally:
        stop_runtime(anchor, float(opts["timeout_s"]))


# -- interruption and cleanup ------------------------------------------------------
#: after Ctrl-C (or at interpreter exit) a runtime gets this long to stop before its
#: processes are terminated
INTERRUPT_GRACE_S = 1.5


_FORK = {"depth": 0, "pending": False, "hooked": False}


def guard_sigint() -> None:
    """Make Ctrl-C reach only this (host) process, never half-way through a fork, and
    never the Lava processes it forks.

    A terminal sends SIGINT to the whole process group: Lava's processes would die
    printing tracebacks while the host waits for them. And a KeyboardInterrupt raised in
    the host inside ``os.fork``'s at-fork handlers is swallowed ("Exception ignored"),
    so the run went on. Called before a network is built (so before Lava forks), this
    wraps the main thread's SIGINT handler once and hooks ``os.fork``: a forked process
    ignores SIGINT; an interrupt that lands during a fork is raised again right after it.
    Off the main thread it does nothing.
    """
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if not _FORK["hooked"]:
        os.register_at_fork(before=_fork_begins, after_in_parent=_fork_ends,
                            after_in_child=_forked)
        _FORK["hooked"] = True
    previous = signal.getsignal(signal.SIGINT)
    if getattr(previous, "hal_guard", False):
        return
    host = os.getpid()

    def on_sigint(signum: int, frame: Any) -> Any:
        if os.getpid() != host:
            return None  # a forked Lava process: the host stops it
        if _FORK["depth"]:
            _FORK["pending"] = True  # raised again when the fork is done
            return None
        if callable(previous):
            return previous(signum, frame)
        if previous == signal.SIG_IGN:
            return None
        raise KeyboardInterrupt

    on_sigint.hal_guard = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, on_sigint)


def _fork_begins() -> None:
    _FORK["depth"] += 1


def _fork_ends() -> None:
    import os
    import signal
    import threading

    _FORK["depth"] = max(_FORK["depth"] - 1, 0)
    if _FORK["pending"] and not _FORK["depth"]:
        _FORK["pending"] = False
        # sent again from a thread, once os.fork has returned (an exception raised in an
        # at-fork handler would be swallowed again)
        threading.Timer(0.02, os.kill, (os.getpid(), signal.SIGINT)).start()


def _forked() -> None:
    import signal

    _FORK["depth"], _FORK["pending"] = 0, False
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread of the child: the Python guard still applies
        pass


def stop_runtime(anchor: Any, timeout_s: float, wait_first: bool = False) -> None:
    """Stop the runtime of ``anchor``'s network and release what Lava keeps of it.

    The stop runs in a thread joined within ``timeout_s`` (:data:`INTERRUPT_GRACE_S` while
    an exception such as KeyboardInterrupt is propagating, and never less); a runtime
    that does not stop in time has its processes terminated and its shared memory freed
    (:func:`force_stop`): its results, if any, were already read. Either way
    :func:`release_lava` then drops Lava's references to the finished processes. Errors
    of a stop that returned are raised after the cleanup, unless another exception is
    already propagating. ``wait_first``: wait for the
    current (non-blocking) run to end before stopping.
    """
    import sys
    import threading

    runtime = getattr(anchor, "runtime", None)
    if runtime is None:
        return
    propagating = sys.exc_info()[0] is not None
    grace = INTERRUPT_GRACE_S if propagating else max(timeout_s, INTERRUPT_GRACE_S)
    errors: list[BaseException] = []
    segments = _segments(runtime)  # Lava forgets them when it shuts its manager down
    procs = _processes(runtime)

    def stop() -> None:
        try:
            if wait_first:
                anchor.wait()
            anchor.stop()
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    stopper = threading.Thread(target=stop, daemon=True, name="hal-lava-stop")
    stopper.start()
    stopper.join(grace)
    hung = stopper.is_alive()
    if hung or errors or any(_alive(p) for p in procs):
        force_stop(runtime)
    _unlink(segments)
    release_lava(runtime)
    if errors and not hung and not propagating:
        raise errors[0]


def force_stop(runtime: Any) -> None:
    """Terminate a runtime's Lava processes (SIGTERM, then SIGKILL), shut down its
    shared-memory manager (which unlinks the segments) and terminate the manager's
    process if it is still there. For runtimes that do not stop, or half-started ones."""
    import multiprocessing as mp

    runtime._is_running = runtime._is_started = False
    for part in (_smm(runtime), getattr(runtime, "_watchdog_manager", None)):
        try:
            if part is not None:
                (part.shutdown if hasattr(part, "shutdown") else part.stop)()
        except Exception:  # noqa: BLE001, S110 - best effort: a half-started manager
            pass
    procs = _processes(runtime)
    for proc in procs:
        if _alive(proc):
            proc.terminate()
    for proc in procs:
        for signal_it in (None, "kill"):
            if _alive(proc):
                if signal_it:
                    proc.kill()
                try:
                    mp.Process.join(proc, 0.5)
                except ValueError:  # closed meanwhile by Lava's own join
                    break
        # reaped: keep Lava's join and multiprocessing's exit hook off it
        proc._is_done = True
        mp.process._children.discard(proc)


def _smm(runtime: Any) -> Any:
    return getattr(getattr(runtime, "_messaging_infrastructure", None), "smm", None)


def _processes(runtime: Any) -> list[Any]:
    """The OS processes a runtime started: its actors and its shared-memory manager."""
    actors = list(getattr(getattr(runtime, "_messaging_infrastructure", None), "actors",
                          None) or [])
    manager = getattr(getattr(_smm(runtime), "_manager", None), "_process", None)
    return actors + ([manager] if manager is not None else [])


def _alive(actor: Any) -> bool:
    try:
        return bool(actor.is_alive())
    except ValueError:  # Lava closes the process object once it has joined it
        return False


def _segments(runtime: Any) -> list[str]:
    """Names of the shared-memory segments a runtime's channels use."""
    handles = getattr(_smm(runtime), "_shared_memory_handles", None) or []
    return [h.name for h in handles if getattr(h, "name", None)]


def _unlink(names: list[str]) -> None:
    """Unlink segments still present (an interrupted start can leave its manager's
    segments behind even after a clean stop)."""
    from multiprocessing import shared_memory

    for name in names:
        try:
            seg = shared_memory.SharedMemory(name=name)
        except (FileNotFoundError, OSError, ValueError):
            continue
        seg.close()
        try:
            seg.unlink()
        except FileNotFoundError:
            pass


def release_lava(runtime: Any) -> None:
    """Drop what Lava keeps of a finished runtime's processes.

    Lava's ``ProcessServer`` and ``VarServer`` singletons list every process and variable
    ever created (with their ports and runtime, hence its channels and shared-memory
    objects), so each run left about 300 KB behind. Processes of a stopped runtime are
    never run again; removing them and their variables lets Python free the network.
    """
    from lava.magma.core.process.process import ProcessServer
    from lava.magma.core.process.variable import VarServer

    server = ProcessServer()
    gone = {id(p) for p in server.processes if getattr(p, "_runtime", None) is runtime}
    if not gone:
        return
    server.processes = [p for p in server.processes if id(p) not in gone]
    var_server = VarServer()
    var_server.vars = [v for v in var_server.vars
                       if id(getattr(v, "process", None)) not in gone]
    _dedupe_lava_log_handlers()


def _dedupe_lava_log_handlers() -> None:
    """Every Lava process adds a console handler to the root logger, and every Lava
    compile one to the compiler's logger (one more per run, and each Lava log line
    printed once per handler); keep only the first of each."""
    import logging

    from lava.magma.core.process.process import LogConfig

    fmt = LogConfig().format
    for logger, lava_fmt in ((logging.getLogger(), fmt),
                             (logging.getLogger("lava.magma.compiler.compiler"), None)):
        kept = False
        for handler in list(logger.handlers):
            formatter = handler.formatter
            if type(handler) is logging.StreamHandler and \
                    getattr(formatter, "_fmt", None) == lava_fmt:
                if kept:
                    logger.removeHandler(handler)
                kept = True
