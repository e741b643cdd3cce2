"""Compile, run and step liquid (CfC, LTC, multi-timescale) networks on any target whose
backend can hold liquid state (``cpu-float``, ``torch``, ``loihi2-sim-float``).

Example:
    >>> import hal, numpy as np
    >>> from ncps.torch import CfC                                   # doctest: +SKIP
    >>> exe = hal.compile(hal.from_torch(CfC(3, 8)), target="cpu-float")  # doctest: +SKIP
    >>> session = exe.open()                                         # doctest: +SKIP
    >>> y = session.step(np.zeros(3))                                # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hal._inputs import as_batch
from hal.errors import CompileError
from hal.liquid.ir import LiquidNet
from hal.provenance import Timer, make_provenance
from hal.select import Skip, select
from hal.session import Session
from hal.target import Target


@dataclass
class LiquidResult:
    """Outputs of a liquid network run: ``outputs`` (T, n_out) or (B, T, n_out)."""

    outputs: np.ndarray
    target: str
    backend: str
    precision: str
    steps: int
    timing: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


def compile(net: LiquidNet, target: str | Target = "cpu-float", *,
            fallback: bool | None = None, **options: Any) -> LiquidExecutable:
    """Pick a target that can run liquid networks (see :func:`hal.select`)."""
    timer = Timer()

    def fits(t: Target) -> str | None:
        from hal.registry import get_backend

        backend = get_backend(t.backend)
        if not hasattr(backend, "liquid_open"):
            return f"backend '{backend.name}' does not run liquid networks yet"
        if t.precision != "float":
            return "liquid networks run in float only for now"
        return None

    with timer("compile"):
        chosen, backend, skips = select(target, "snn", fits=fits, fallback=fallback)
        if (reason := fits(chosen)) is not None:
            raise CompileError(f"target '{chosen.name}': {reason}; use cpu-float or torch, "
                               "or pass fallback=True")
        opts = backend.resolve_options(chosen, options)
    return LiquidExecutable(net, chosen, backend, opts, skips, timer.times)


class LiquidExecutable:
    """A liquid network bound to a target: :meth:`run` a sequence or :meth:`open` a
    session and :meth:`Session.step` it from a host loop."""

    def __init__(self, net: LiquidNet, target: Target, backend: Any, options: dict[str, Any],
                 skips: list[Skip], timing: dict[str, float]) -> None:
        self.net, self.target, self.backend, self.options = net, target, backend, options
        self.skips, self.compile_timing = skips, timing

    def open(self, batch: int | None = None) -> LiquidSession:
        """Start a session with zero state for ``batch`` streams (None: one, unbatched)."""
        stepper = self.backend.liquid_open(self.net, batch or 1, self.target, self.options)
        return LiquidSession(stepper, self.net.n_in, batch)

    def run(self, inputs: Any, steps: int | None = None, timespans: float = 1.0,
            seed: int | None = None) -> LiquidResult:
        """Run ``inputs`` shaped (T, n_in) or (B, T, n_in) from zero state."""
        x, single, T = as_batch(inputs, self.net.n_in, steps)
        timer = Timer()
        with timer("run"):
            stepper = self.backend.liquid_open(self.net, x.shape[0], self.target, self.options)
            try:
                out = np.stack([stepper.step(x[:, t], timespans) for t in range(T)], axis=1)
            finally:
                stepper.close()
        prov = make_provenance(self.target, self.backend, seed=seed, options=self.options,
                               fallbacks=self.skips,
                               packages=getattr(self.backend, "packages", ()),
                               model=type(self.net).__name__.replace("Net", ""))
        return LiquidResult(out[0] if single else out, self.target.name, self.backend.name,
                            self.target.precision, T, {**self.compile_timing, **timer.times},
                            prov)


class LiquidSession(Session):
    """A liquid network stepped from a host loop (see :class:`hal.session.Session`)."""

    def step(self, x_t: Any, timespan: float = 1.0) -> np.ndarray:
        """Advance one step with input (n_in,) or (B, n_in); returns (n_out,) or (B, n_out)."""
        return self._advance(x_t, timespan)
