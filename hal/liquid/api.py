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

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hal._inputs import as_batch
from hal.backend import LiquidBackend
from hal.compilers.liquid import LIQUID_RULES, OPTIONS, FixedLiquid, quantize_liquid
from hal.errors import CompileError, ValidationError
from hal.liquid.ir import LiquidNet
from hal.provenance import Timer, make_provenance
from hal.result import Result
from hal.select import Skip, select
from hal.session import Session
from hal.target import Target


@dataclass(kw_only=True)
class LiquidResult(Result):
    """Outputs of a liquid network run: ``outputs`` (T, n_out) or (B, T, n_out)."""

    outputs: np.ndarray
    steps: int

    def _payload(self) -> dict[str, Any]:
        o = self.outputs
        return {"steps": self.steps, "output_shape": list(o.shape),
                "final_outputs": o[..., -1, :].tolist() if o.size else []}


@dataclass
class LiquidFidelity:
    """How far a liquid run's outputs are from a reference run's (same net, same input).

    Attributes:
        max_abs_error: worst |difference| over every output value.
        rmse: root mean square difference.
        relative_rmse: ``rmse`` over the reference outputs' RMS.
        passed: ``max_abs_error <= max_error``.
    """

    target: str
    reference: str
    max_abs_error: float
    rmse: float
    relative_rmse: float
    passed: bool
    max_error: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_liquid(result: LiquidResult, reference: LiquidResult,
                   max_error: float = 0.05) -> LiquidFidelity:
    """Compare two liquid runs (e.g. a fixed-point target against ``cpu-float``)."""
    if result.outputs.shape != reference.outputs.shape:
        raise ValidationError(f"cannot compare outputs shaped {result.outputs.shape} with "
                              f"{reference.outputs.shape}: run both on the same input")
    d = result.outputs - reference.outputs
    rmse = float(np.sqrt((d ** 2).mean())) if d.size else 0.0
    scale = float(np.sqrt((reference.outputs ** 2).mean())) if d.size else 0.0
    worst = float(np.abs(d).max()) if d.size else 0.0
    return LiquidFidelity(result.target, reference.target, worst, rmse,
                          rmse / scale if scale else 0.0, worst <= max_error, max_error)


def compile(net: Any, target: str | Target = "cpu-float", *,
            fallback: bool | None = None, faults: Any = None, fault_seed: int = 0,
            **options: Any) -> LiquidExecutable:
    """Pick a target that can run liquid networks (see :func:`hal.select`).

    Args:
        net: a liquid IR net (``CfCNet``, ``LTCNet``, ``MultiTimescaleNet``) or a torch
            module :func:`hal.from_torch` reads (ncps ``CfC``/``LTC``, ``MultiTimescale``).
        target: target name or ``"auto"``.
        faults, fault_seed: a fault plan for CfC nets (``dead_neurons``,
            ``weight_variation`` applied to the IR, so every target runs the same faulty
            net; ``weight_bitflips`` on fixed-point targets, applied to the lowered
            integers; :mod:`hal.faults.liquid`); ``exe.faults`` says what was broken.
        **options: fixed-point lowering options (:data:`hal.compilers.liquid.OPTIONS`:
            ``frac_bits``, ``lut_segments``) and the backend's own options.
    """
    if not isinstance(net, LiquidNet):
        from hal.liquid.torch_import import from_torch

        net = from_torch(net)
    report = None
    if faults is not None:  # CfC faults on the IR (hal.faults.liquid)
        from hal.faults import FaultPlan
        from hal.faults.liquid import apply_liquid

        plan = FaultPlan.parse(faults, fault_seed)
        if not plan.empty:
            net, report = apply_liquid(net, plan)
    timer = Timer()

    def fits(t: Target) -> str | None:
        if t.precision == "fixed" and type(net) not in LIQUID_RULES:
            return (f"{type(net).__name__} has no fixed-point lowering (LTC divides every "
                    "solver step)")
        return None

    with timer("compile"):
        chosen, backend, skips = select(target, "liquid", fits=fits, fallback=fallback)
        if (reason := fits(chosen)) is not None:
            raise CompileError(f"target '{chosen.name}': {reason}; use cpu-float or torch, "
                               "or pass fallback=True")
        opts = backend.resolve_options(chosen, options, extra=OPTIONS)
        lowered = quantize_liquid(net, chosen.limits, opts["frac_bits"], opts["lut_segments"]) \
            if chosen.precision == "fixed" else None
        if report is not None and "weight_bitflips" in report.plan.rates:
            if lowered is None:
                raise ValidationError(f"faults: weight_bitflips applies to fixed-point "
                                      f"targets, '{chosen.name}' is {chosen.precision}; use "
                                      "cpu or loihi2-sim")
            from hal.faults.liquid import flip_liquid_bits

            report.broken["weight_bitflips"] = flip_liquid_bits(
                lowered, report.plan, int(chosen.limits.weight_bits))
            lowered.report["weight_bitflips"] = {  # the errors above are of clean weights
                "bits_flipped": report.broken["weight_bitflips"]["bits_flipped"],
                "note": "weight errors above are quantization errors of the clean weights; "
                        "exe.faults.broken['weight_bitflips'] lists the flipped words"}
    exe = LiquidExecutable(net, chosen, backend, opts, skips, timer.times, lowered)
    exe.faults = report
    return exe


class LiquidExecutable:
    """A liquid network bound to a target: :meth:`run` a sequence or :meth:`open` a
    session and :meth:`Session.step` it from a host loop."""

    def __init__(self, net: LiquidNet, target: Target, backend: LiquidBackend,
                 options: dict[str, Any],
                 skips: list[Skip], timing: dict[str, float],
                 fixed: FixedLiquid | None = None) -> None:
        self.net, self.target, self.backend, self.options = net, target, backend, options
        self.skips, self.compile_timing, self.fixed = skips, timing, fixed

    @property
    def quantization(self) -> dict[str, Any] | None:
        """Fixed-point targets: formats, per-parameter and lookup-table errors (None on
        float targets). Measure the output error with :func:`hal.compare`."""
        return None if self.fixed is None else self.fixed.report

    def save(self, path: str | Path) -> None:
        """Write the network and its fixed-point program (if any), target, options and
        versions to ``path`` (``.npz``); :func:`hal.load_executable` reads it back and runs
        it bit-identically. The file is written atomically."""
        from hal.saved import describe, save_npz

        meta, arrays = describe("liquid", {"net": self.net, "fixed": self.fixed},
                                self.target, self.options, self.backend.packages,
                                self.faults)
        save_npz(path, meta, arrays)

    def _stepper(self, batch: int) -> Any:
        net = self.net if self.fixed is None else self.fixed
        return self.backend.open_liquid(net, batch, self.target, self.options)

    def open(self, batch: int | None = None) -> LiquidSession:
        """Start a session with zero state for ``batch`` streams (None: one, unbatched)."""
        stepper = self._stepper(batch or 1)
        return LiquidSession(stepper, self.net.n_in, batch)

    def run(self, inputs: Any, steps: int | None = None, timespans: float = 1.0,
            seed: int | None = None) -> LiquidResult:
        """Run ``inputs`` shaped (T, n_in) or (B, T, n_in) from zero state."""
        x, single, T = as_batch(inputs, self.net.n_in, steps)
        timer = Timer()
        with timer("run"):
            stepper = self._stepper(x.shape[0])
            try:
                out = np.stack([stepper.step(x[:, t], timespans) for t in range(T)], axis=1)
            finally:
                stepper.close()
        prov = make_provenance(self.target, self.backend, seed=seed, options=self.options,
                               fallbacks=self.skips,
                               model=type(self.net).__name__.replace("Net", ""),
                               quantization=self.quantization)
        return LiquidResult(outputs=out[0] if single else out, steps=T,
                            target=self.target.name, backend=self.backend.name,
                            precision=self.target.precision,
                            timing={**self.compile_timing, **timer.times},
                            fallbacks=[s.to_dict() for s in self.skips], provenance=prov)


def load_saved(meta: dict[str, Any], arrays: dict[str, np.ndarray],
               graph: Any = None) -> LiquidExecutable:
    """A :class:`LiquidExecutable` from a file written by :meth:`LiquidExecutable.save`."""
    from hal import saved
    from hal.registry import get_backend

    target, options = saved.target_and_options(meta)
    prog = saved.program(meta, arrays)
    exe = LiquidExecutable(prog["net"], target, get_backend(target.backend), options, [],
                           {}, prog["fixed"])
    exe.faults = saved.fault_report(meta, arrays)
    return exe


class LiquidSession(Session):
    """A liquid network stepped from a host loop (see :class:`hal.session.Session`)."""

    def step(self, x_t: Any, timespan: float = 1.0) -> np.ndarray:
        """Advance one step with input (n_in,) or (B, n_in); returns (n_out,) or (B, n_out)."""
        return self._advance(x_t, timespan)
