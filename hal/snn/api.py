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

from pathlib import Path
from typing import Any

import nir
import numpy as np

from hal._inputs import as_batch
from hal.compilers.snn import Lowered, lower, map_to_cores, quantize
from hal.errors import CompileError, DoesNotFit, ValidationError
from hal.provenance import Timer, make_provenance
from hal.select import Skip, select
from hal.session import Session
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
        return nir.read(str(path), type_check=type_check)
    except Exception as exc:  # h5py/nir raise many types for corrupt files
        hint = ("NIR's type check failed; if the graph is sound, load it with "
                "hal.load(path, type_check=False) (hal run --no-type-check)"
                if "Type inference" in str(exc) else "re-export it with nir.write")
        raise ValidationError(f"{path}: not a readable NIR file ({type(exc).__name__}: "
                              f"{exc}); {hint}") from None


def _prepare(graph: Any, target: Target, opts: dict[str, Any], dt: float) -> Lowered:
    net = lower(graph, dt)
    if target.precision == "fixed":
        quantize(net, target.limits, opts.get("v_scale", "auto"),
                 opts.get("rounding", "nearest"), opts.get("decay_scale", "auto"))
    return net


def check(graph: Any, target: str | Target, dt: float = 1e-4, **options: Any) -> dict:
    """Map a network onto a target without running it: cores used, quantization, problems."""
    from hal.target import get_target

    t = get_target(target)
    net = _prepare(graph, t, options, dt)
    mapping = map_to_cores(net, t.limits)
    return {"target": t.name, "neurons": net.num_neurons, "mapping": mapping,
            "quantization": net.quantization, "fits": not mapping["problems"]}


def compile(graph: Any, target: str | Target = "cpu", *, dt: float = 1e-4,
            fallback: bool | None = None, **options: Any) -> Executable:
    """Lower and quantize ``graph`` (NIR graph or path) for ``target``.

    Args:
        graph: a ``nir.NIRGraph``, a path to a NIR file, a liquid net (``CfCNet``,
            ``LTCNet``, ``MultiTimescaleNet``) or a torch module ``hal.from_torch`` reads
            (these return a ``LiquidExecutable``).
        target: target name or ``"auto"``; unavailable or too-small targets follow the
            fallback rules of :func:`hal.select`.
        dt: time step in seconds (NIR graphs are continuous time).
        **options: backend options (``compensate_delay``, ``v_scale``, ``rounding``, ...).
    """
    from hal.liquid.ir import LiquidNet

    if type(graph).__module__.startswith(("torch", "ncps", "hal.liquid.torch_modules")):
        from hal.liquid.torch_import import from_torch

        graph = from_torch(graph)
    if isinstance(graph, LiquidNet):
        from hal.liquid.api import compile as compile_liquid

        return compile_liquid(graph, target, fallback=fallback, **options)
    if isinstance(graph, (str, Path)):
        graph = load(graph)
    timer = Timer()

    def fits(t: Target) -> str | None:
        if t.kind != "neuromorphic":
            return None
        try:
            report = check(graph, t, dt, **options)
        except DoesNotFit as exc:
            return str(exc)
        return "; ".join(report["mapping"]["problems"]) or None

    chosen, backend, skips = select(target, "snn", fits=fits, fallback=fallback)
    opts = backend.resolve_options(chosen, options)
    with timer("compile"):
        net = _prepare(graph, chosen, opts, dt)
    return Executable(net, chosen, backend, opts, skips, timer.times)


class Executable:
    """A network compiled for one target; :meth:`run` it as often as you like."""

    def __init__(self, net: Lowered, target: Target, backend: Any, options: dict[str, Any],
                 skips: list[Skip], timing: dict[str, float]) -> None:
        self.net, self.target, self.backend, self.options = net, target, backend, options
        self.skips, self.compile_timing = skips, timing

    def open(self, batch: int | None = None) -> SnnSession:
        """Start a session with zero state for ``batch`` streams (None: one, unbatched).

        Each :meth:`SnnSession.step` returns that step's spikes per population. Sessions
        cannot look ahead, so outputs are never delay-compensated: population ``P``
        answers input from ``session.delays[P]`` steps earlier (one per Dense), on every
        backend alike. Lava sessions hold one stream.
        """
        if not hasattr(self.backend, "snn_open"):
            raise CompileError(f"target '{self.target.name}': backend '{self.backend.name}' "
                               "cannot be stepped from the host; use cpu, cpu-float, torch "
                               "or a loihi2-sim target")
        stepper = self.backend.snn_open(self.net, batch or 1, self.target, self.options)
        return SnnSession(stepper, self.net.n_in, batch, dict(self.net.depth))

    def run(self, inputs: Any, steps: int | None = None, seed: int | None = None) -> SimResult:
        """Run on ``inputs`` shaped (T, n_in) or (B, T, n_in); returns a SimResult."""
        x, single, steps = as_batch(inputs, self.net.n_in, steps)
        comp = bool(self.options.get("compensate_delay"))
        extra = max(self.net.depth.values(), default=0) if comp else 0
        if extra:
            x = np.concatenate([x, np.zeros((x.shape[0], extra, x.shape[2]))], axis=1)
        timer = Timer()
        with timer("run"):
            raw = self.backend.simulate(self.net, x, self.target, self.options)
        return self._result(raw, steps, comp, single, timer.times, seed)

    def _result(self, raw, steps, comp, single, times, seed) -> SimResult:
        spikes, states, delays = {}, {}, {}
        for name, rec in raw.items():
            shift = self.net.depth.get(name, 0) if comp else 0
            delays[name] = 0 if comp else self.net.depth.get(name, 0)
            sl = slice(shift, shift + steps)
            pick = (lambda a, sl=sl: a[0, sl]) if single else (lambda a, sl=sl: a[:, sl])
            spikes[name] = pick(rec["spikes"]).astype(bool)
            states[name] = {k: pick(rec[k]) for k in ("v", "u") if k in rec}
        q = self.net.quantization
        v_scale = 2.0 ** q["format"]["align_bits"] * q["v_scale"] if q else 1.0
        prov = make_provenance(self.target, self.backend, seed=seed, options=self.options,
                               fallbacks=self.skips,
                               packages=getattr(self.backend, "packages", ()),
                               dt=self.net.dt, quantization=q,
                               delay_compensated=comp)
        return SimResult(spikes, states, v_scale, delays, self.target.name, self.backend.name,
                         self.target.precision, steps, self.net.outputs,
                         {**self.compile_timing, **times}, prov)


class SnnSession(Session):
    """A spiking network stepped from a host loop (see :class:`hal.session.Session`).

    Attributes:
        delays: steps by which each population lags the input (Lava's Dense delay).
    """

    def __init__(self, stepper: Any, n_in: int, batch: int | None,
                 delays: dict[str, int]) -> None:
        super().__init__(stepper, n_in, batch)
        self.delays = delays

    def step(self, x_t: Any) -> dict[str, np.ndarray]:
        """Advance one step with input (n_in,) or (B, n_in); returns spikes per population,
        shaped (N,) or (B, N), as bool."""
        return self._advance(x_t)
