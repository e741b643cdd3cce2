"""``hal.load`` and ``hal.compile`` for spiking networks.

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> exe = hal.compile(random_network(3, 5, 2, seed=1), target="cpu")
    >>> res = exe.run(np.ones((20, 3)), steps=20)
    >>> res.spikes["lif2"].shape
    (20, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nir
import numpy as np

from hal._checks import graph_numbers
from hal._inputs import as_batch
from hal.backend import RECORDABLE, RUNTIME_KEY, WEIGHTS_KEY, Option, SpikingBackend
from hal.compilers.snn import OPTIONS, Lowered, lower, map_to_cores, quantize
from hal.errors import CompileError, DoesNotFit, ValidationError
from hal.logs import get_logger
from hal.provenance import Timer, make_provenance
from hal.select import Skip, select
from hal.session import Session
from hal.snn.learning import conn_name, plastic
from hal.snn.result import SimResult
from hal.target import Target


def load(path: str | Path, type_check: bool = True) -> nir.NIRGraph:
    """Read a NIR file (HDF5). Errors name the file and what is wrong.

    Args:
        path: the ``.nir`` file.
        type_check: run NIR's shape inference. Some exporters write shapes NIR cannot
            reconcile (the NIR paper's ``lif_rockpool.nir``); ``False`` skips it, and
            hal's own lowering still checks every shape it uses.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"{path}: no such file")
    try:
        graph = nir.read(str(path), type_check=type_check)
    except Exception as exc:  # h5py/nir raise many types for corrupt files
        hint = ("NIR's type check failed; if the graph is sound, load it with "
                "hal.load(path, type_check=False) (hal run --no-type-check)"
                if "Type inference" in str(exc) else "re-export it with nir.write")
        raise ValidationError(f"{path}: not a readable NIR file ({type(exc).__name__}: "
                              f"{exc}); {hint}") from None
    graph_numbers(graph, str(path))  # input validation
    return graph


log = get_logger("hal.snn")

#: options of spiking executables, read by the API on every backend
EXECUTABLE_OPTIONS = {
    "compensate_delay": Option(False, "shift each population's output back by its Dense "
                               "delay (Lava delivers one step late per Dense) so results "
                               "line up with the exact solution", probe=True),
}


def _record(record: str | Iterable[str]) -> frozenset[str]:
    """``record=`` as a set of :data:`hal.backend.RECORDABLE` keys (``"all"``: every one)."""
    keys = RECORDABLE if record == "all" else (record,) if isinstance(record, str) else record
    keys = frozenset(keys)
    unknown = sorted(keys - set(RECORDABLE))
    if unknown or not keys:
        raise ValidationError(f"record: unknown {unknown or 'empty'}; choose from "
                              f"{list(RECORDABLE)} or 'all'")
    return keys


def _prepare(graph: Any, target: Target, opts: dict[str, Any], dt: float) -> Lowered:
    net = lower(graph, dt)
    if target.precision == "fixed":
        quantize(net, target.limits, opts["v_scale"], opts["rounding"], opts["decay_scale"])
    if not opts["learning"]:  # plastic connections frozen at compiled weights
        for c in net.connections:
            c.rule = None
    return net


def _compile_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(OPTIONS) - set(EXECUTABLE_OPTIONS))
    if unknown:
        raise ValidationError(f"unknown compile option(s) {', '.join(unknown)}")
    merged = {k: o.default for k, o in OPTIONS.items()}
    merged.update((k, v) for k, v in options.items() if k in OPTIONS)
    return merged


def check(graph: Any, target: str | Target, dt: float = 1e-4, **options: Any) -> dict:
    """Map a network onto a target without running it: cores used, quantization, problems."""
    from hal.target import get_target

    t = get_target(target)
    net = _prepare(graph, t, _compile_options(options), dt)
    return _check_lowered(net, t)


def _check_lowered(net: Lowered, t: Target) -> dict:
    mapping = map_to_cores(net, t.limits)
    return {"target": t.name, "neurons": net.num_neurons, "mapping": mapping,
            "quantization": net.quantization, "fits": not mapping["problems"]}


def compile(graph: Any, target: str | Target = "cpu", *, dt: float = 1e-4,
            fallback: bool | None = None, faults: Any = None, fault_seed: int = 0,
            tmr: Any = False, **options: Any) -> Executable:
    """Lower and quantize ``graph`` (NIR graph or path) for ``target``.

    Args:
        graph: a ``nir.NIRGraph`` or a path to a NIR file.
        target: target name or ``"auto"``; unavailable or too-small targets follow the
            fallback rules of :func:`hal.select`.
        dt: time step in seconds (NIR graphs are continuous time).
        faults: a fault plan (dict or ``"kind=rate,..."``, :mod:`hal.faults`) applied to
            the lowered, quantized network, the same on every target; ``fault_seed``
            picks the victims; ``tmr`` (True or population names) triplicates populations
            with a majority vote. ``exe.faults`` and provenance record what was broken.
        **options: compile options (:data:`hal.compilers.snn.OPTIONS`: ``v_scale``,
            ``rounding``, ``decay_scale``), ``compensate_delay``, and the backend's own
            options (``hal backends`` lists them).
    """
    if isinstance(graph, (str, Path)):
        graph = load(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise ValidationError(f"hal.compile: expected a nir.NIRGraph or a .nir path, got "
                              f"{type(graph).__name__}")
    graph_numbers(graph)  # input validation
    timer = Timer()
    prepared: dict[str, Lowered] = {}  # lowered (and quantized) once per target tried
    plan, reports = None, {}
    if faults is not None or tmr:  # the logic lives in hal.faults
        from hal.faults import apply, prepare

        plan = prepare(faults, fault_seed, tmr)

    def net_for(t: Target, opts: dict[str, Any]) -> Lowered:
        key = f"{t.precision}:{t.limits.model_dump_json()}:{[opts[k] for k in OPTIONS]}"
        if key not in prepared:
            prepared[key] = _prepare(graph, t, opts, dt)
            if plan is not None:
                reports[id(prepared[key])] = apply(prepared[key], t, plan, tmr)
        return prepared[key]

    def fits(t: Target) -> str | None:
        if t.kind != "neuromorphic":
            return None
        try:
            report = _check_lowered(net_for(t, _compile_options(_family_options(options))), t)
        except DoesNotFit as exc:
            return str(exc)
        return "; ".join(report["mapping"]["problems"]) or None

    with timer("compile"):
        chosen, backend, skips = select(target, "spiking", fits=fits, fallback=fallback)
        opts = backend.resolve_options(chosen, options,
                                       extra={**OPTIONS, **EXECUTABLE_OPTIONS})
        net = net_for(chosen, opts)
    if plastic(net) and not backend.learns:
        raise CompileError(f"target '{chosen.name}' (backend {backend.name}) does not run "
                           f"learning rules ({', '.join(conn_name(c) for c in plastic(net))}"
                           " are plastic); use cpu, cpu-float, loihi2-sim or loihi2-sim-float, "
                           "or compile with learning=False")
    log.info("compiled %d neurons for %s", net.num_neurons, chosen.name,
             extra={"target": chosen.name, "backend": backend.name,
                    "neurons": net.num_neurons, "seconds": timer.times["compile_s"]})
    exe = Executable(net, chosen, backend, opts, skips, timer.times, graph)
    exe.faults = reports.get(id(net))
    return exe


def load_saved(meta: dict[str, Any], arrays: dict[str, np.ndarray],
               graph: nir.NIRGraph | None) -> Executable:
    """An :class:`Executable` from a file written by :meth:`Executable.save`."""
    import dataclasses

    from hal import saved
    from hal.registry import get_backend

    target, options = saved.target_and_options(meta)
    backend = get_backend(target.backend)
    if graph is not None:
        graph = dataclasses.replace(graph, metadata={
            k: v for k, v in graph.metadata.items() if k != saved.META_KEY})
    exe = Executable(saved.program(meta, arrays), target, backend, options, [], {}, graph)
    exe.faults = saved.fault_report(meta, arrays)
    return exe


def _family_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in OPTIONS or k in EXECUTABLE_OPTIONS}


class Executable:
    """A network compiled for one target; :meth:`run` it as often as you like."""

    #: the :class:`hal.faults.FaultReport` of a compile with faults or TMR, else None
    faults: Any = None

    def __init__(self, net: Lowered, target: Target, backend: SpikingBackend,
                 options: dict[str, Any], skips: list[Skip], timing: dict[str, float],
                 graph: nir.NIRGraph | None = None) -> None:
        self.net, self.target, self.backend, self.options = net, target, backend, options
        self.skips, self.compile_timing, self.graph = skips, timing, graph

    def save(self, path: str | Path) -> None:
        """Write the compiled program to ``path`` as a NIR file: the graph (readable by any
        NIR tool) with the lowered, quantized program, target, options and versions under
        the graph's ``nq_hal`` metadata. :func:`hal.load_executable` reads it back and
        runs it bit-identically. The file is written atomically."""
        import dataclasses

        from hal.saved import META_KEY, describe, write_atomically

        meta, arrays = describe("spiking", self.net, self.target, self.options,
                                self.backend.packages, self.faults)
        graph = self.graph if self.graph is not None else nir.NIRGraph(nodes={}, edges=[])
        graph = dataclasses.replace(graph, metadata={**graph.metadata,
                                                     META_KEY: {**meta, "arrays": arrays}})
        write_atomically(path, lambda tmp: nir.write(tmp, graph))

    def open(self, batch: int | None = None,
             record: str | Iterable[str] = ("spikes",)) -> SnnSession:
        """Start a session with zero state for ``batch`` streams (None: one, unbatched).

        Each :meth:`SnnSession.step` returns that step's spikes per population; states in
        ``record`` (``v``, ``u``) are kept in :attr:`SnnSession.states`. Sessions cannot
        look ahead, so outputs are never delay-compensated: population ``P`` answers input
        from ``session.delays[P]`` steps earlier (one per Dense), on every backend alike.
        On Lava a batch runs side by side in one runtime; a plastic network's Lava
        session holds one stream (each stream would learn its own weights).
        """
        stepper = self.backend.open_spiking(self.net, batch or 1, self.target, self.options,
                                            _record(record) | {"spikes"})
        session = SnnSession(stepper, self.net.n_in, batch, dict(self.net.depth))
        session.plastic = [conn_name(c) for c in plastic(self.net)]
        if self.faults is not None and "input_noise" in self.faults.plan.rates:
            session.perturb = self.faults.perturb_step
        return session

    def run(self, inputs: Any, steps: int | None = None, seed: int | None = None,
            record: str | Iterable[str] = ("spikes",), *, encoder: str | None = None,
            encoder_options: dict[str, Any] | None = None) -> SimResult:
        """Run on ``inputs`` shaped (T, n_in) or (B, T, n_in); returns a SimResult.

        Args:
            inputs: spikes (0/1) or analog values (cpu targets) per step; with ``encoder``,
                analog samples (n,) or (B, n) (a signal (T, n) or (B, T, n) for ``delta``).
            steps: steps to run (default: the input's length; shorter input is padded).
            seed: recorded in provenance; the encoder's seed (0 when None).
            record: ``"spikes"`` (default), any of ``("spikes", "v", "u")``, or ``"all"``.
                Recording states costs time and memory on every backend.
            encoder: a name in ``hal.encode`` (``rate``, ``latency``, ``delta``,
                ``population``): encodes ``inputs`` to spikes on the host first.
            encoder_options: keyword options of the encoder.
        """
        if encoder is not None:  # analog input encoded on the host
            from hal.snn.inference import encode_inputs

            if self.faults is not None:  # adversarial input, before encoding
                inputs = self.faults.attack(self.net, inputs)
            inputs = encode_inputs(inputs, encoder, steps, seed or 0, encoder_options)
        keys = _record(record) | {"spikes"}
        x, single, steps = as_batch(inputs, self.net.n_in, steps)
        if self.faults is not None:  # input noise on the host, same everywhere
            x = self.faults.perturb(x, seed)
        comp = bool(self.options["compensate_delay"])
        extra = max(self.net.depth.values(), default=0) if comp else 0
        if extra:
            x = np.concatenate([x, np.zeros((x.shape[0], extra, x.shape[2]))], axis=1)
        timer = Timer()
        with timer("run"):
            raw = self.backend.simulate(self.net, x, self.target, self.options, keys)
        log.info("ran %d steps x %d streams on %s", steps, x.shape[0], self.target.name,
                 extra={"target": self.target.name, "steps": steps, "batch": x.shape[0],
                        "record": sorted(keys), "seconds": timer.times["run_s"]})
        res = self._result(raw, steps, comp, single, timer.times, seed, keys)
        from hal.snn.inference import run_metrics  # activity and estimate, when first read

        res.metrics_source = functools.partial(run_metrics, self.net, self.target,
                                               res.spikes, x[:, :steps])
        return res

    def predict(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        """Encode, run and decode a batch of samples: labels, accuracy against ``y``,
        latency p50/p95/p99, activity and estimate (:func:`hal.snn.inference.predict`)."""
        from hal.snn.inference import predict

        return predict(self, x, y, **kwargs)

    def _result(self, raw, steps, comp, single, times, seed, keys) -> SimResult:
        spikes, states, delays = {}, {}, {}
        raw = dict(raw)
        history = raw.pop(WEIGHTS_KEY, {})  # plastic connections
        runtime = raw.pop(RUNTIME_KEY, None)  # what the backend counted (spike_drop)
        if single:
            history = {k: h[0] for k, h in history.items()}
        for name, rec in raw.items():
            shift = self.net.depth.get(name, 0) if comp else 0
            delays[name] = 0 if comp else self.net.depth.get(name, 0)
            sl = slice(shift, shift + steps)
            pick = (lambda a, sl=sl: a[0, sl]) if single else (lambda a, sl=sl: a[:, sl])
            spikes[name] = pick(rec["spikes"]).astype(bool)
            if kept := {k: pick(rec[k]) for k in ("v", "u") if k in keys}:
                states[name] = kept
        q = self.net.quantization
        v_scale = 2.0 ** q["format"]["align_bits"] * q["v_scale"] if q else 1.0
        prov = make_provenance(self.target, self.backend, seed=seed, options=self.options,
                               fallbacks=self.skips, dt=self.net.dt, quantization=q,
                               delay_compensated=comp,
                               faults=self.faults.to_dict() if self.faults else None)
        if runtime is not None:
            prov["runtime"] = {k: v[0] if single else v for k, v in runtime.items()}
        return SimResult(target=self.target.name, backend=self.backend.name,
                         precision=self.target.precision, spikes=spikes, states=states,
                         v_scale=v_scale, delay_steps=delays, steps=steps,
                         outputs=list(self.net.outputs), record=tuple(sorted(keys)),
                         weights={k: h[..., -1, :, :] for k, h in history.items()},
                         weight_history=history,
                         timing={**self.compile_timing, **times},
                         fallbacks=[s.to_dict() for s in self.skips], provenance=prov)


class SnnSession(Session):
    """A spiking network stepped from a host loop (see :class:`hal.session.Session`).

    Attributes:
        delays: steps by which each population lags the input (Lava's Dense delay).
        states: after each step, population -> {"v": ..., "u": ...} for the states the
            session records (empty unless ``exe.open(record=...)`` asked for them).
    """

    def __init__(self, stepper: Any, n_in: int, batch: int | None,
                 delays: dict[str, int]) -> None:
        super().__init__(stepper, n_in, batch)
        self.delays = delays
        self.plastic: list[str] = []  # plastic connections
        self.states: dict[str, dict[str, np.ndarray]] = {}

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """Current weights of each plastic connection (float units, (N, M) or (B, N, M));
        empty for a network without learning. Raises where the backend cannot read them
        while stepping."""
        from hal.snn.learning import PlasticStepper

        if not isinstance(self._stepper, PlasticStepper):
            if self.plastic:
                raise CompileError(f"this session's backend cannot read weights while "
                                   f"stepping ({', '.join(self.plastic)} learn); open the "
                                   "session on cpu or cpu-float, or read res.weights of a run")
            return {}
        w = self._stepper.weights()
        return {k: a[0] for k, a in w.items()} if self.batch is None else w

    def step(self, x_t: Any) -> dict[str, np.ndarray]:
        """Advance one step with input (n_in,) or (B, n_in); returns spikes per population,
        shaped (N,) or (B, N), as bool. A faulty executable's input noise is applied to
        each step's input first (:attr:`hal.session.Session.perturb`)."""
        out = self._advance(x_t)
        self.states = {n: {k: a for k, a in rec.items() if k != "spikes"}
                       for n, rec in out.items() if len(rec) > 1}
        return {n: rec["spikes"] for n, rec in out.items()}
