"""The cpu targets for spiking networks: Loihi fixed point bit-exact with Lava's
``fixed_pt`` models (``cpu``), or float64 with Lava's ``floating_pt`` equations
(``cpu-float``), run by the event-driven engine. Batched: many input streams run at once.
Imports no Lava.

Liquid networks (CfC, LTC, multi-timescale) step here too: in float64 (``cpu-float``), or
as the integer program :mod:`hal.compilers.liquid` lowers them to (``cpu``; Lava's
``fixed_pt`` LiquidCell model runs the same functions).

Fixed-point step (copied from lava-nc 0.10.0 ``PyLifModelBitAcc`` and
``PyDenseModelBitAcc``, not from their precision labels), with S = state_bits,
D = 2**decay_bits, A = align_bits, all read from the target through the quantization
report (Loihi 2: S = 24, D = 4096, A = 6):
    u' = wrapS(trunc((u * (D - du - 1)) / D) + (a_in << A))
    v' = clipS(trunc((v * (D - dv)) / D) + u' + (bias_mant << bias_exp))
    spike = v' > vth << A, then v' = 0
    a_in(t+1+delay) = shift(W_mant @ s(t), weight_exp)      (one step late per Dense)

The engine (:mod:`hal.snn.engine`) runs these equations event-driven (only the weight rows
of neurons that spiked are added, in integers), for every stream at once, in a compiled
loop where numba is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hal.backend import RUNTIME_KEY, LiquidBackend, Option, SpikingBackend
from hal.compilers.liquid import FixedLiquid
from hal.compilers.snn import Lowered
from hal.liquid.reference import FixedLiquidStepper, LiquidStepper
from hal.snn import learning
from hal.snn.engine import Engine
from hal.snn.learning import plastic
from hal.target import Target


class CpuReferenceBackend(SpikingBackend, LiquidBackend):
    """Runs a lowered network with the spiking engine, fixed or float by the target's
    precision."""

    name = "cpu_reference"
    requires = ("numpy",)
    install_hint = "pip install numpy"
    packages = ("numpy",)
    learns = True  # plastic connections: hal.snn.learning's numpy stepper
    runtime_faults = frozenset({"spike_drop"})  # drawn per spike in the engine's loop
    options: dict[str, Option] = {}  # the engine's kernel and synapses are picked for the net

    def simulate(self, net: Lowered, x: np.ndarray, target: Target, options: dict[str, Any],
                 record: frozenset[str] = frozenset({"spikes"})
                 ) -> dict[str, dict[str, np.ndarray]]:
        """Run ``x`` shaped (B, T, n_in); returns per population the recorded keys
        (B, T, N)."""
        if plastic(net):  # learning runs in hal.snn.learning's numpy stepper
            return learning.simulate(net, x, target.precision == "fixed", record)
        engine = self.open_spiking(net, x.shape[0], target, options, record)
        out: dict[str, Any] = engine.run(x)
        if net.runtime_faults:
            out[RUNTIME_KEY] = {"spikes_dropped": engine.dropped.tolist()}
        return out

    def open_spiking(self, net: Lowered, batch: int, target: Target, options: dict[str, Any],
                     record: frozenset[str] = frozenset({"spikes"})
                     ) -> SnnStepper | learning.LearningStepper:
        """A stepper holding spiking state for ``batch`` streams (a plastic network: the
        learning stepper of :mod:`hal.snn.learning`; the engine does not learn)."""
        if plastic(net):
            return learning.LearningStepper(net, batch, target.precision == "fixed", record)
        return SnnStepper(net, batch, target.precision == "fixed", record)

    def open_liquid(self, net: Any, batch: int, target: Target,
                    options: dict[str, Any]) -> LiquidStepper | FixedLiquidStepper:
        """A stepper holding liquid state for ``batch`` streams: float64 for a liquid IR
        net, integers for a lowered :class:`FixedLiquid` (fixed-point targets)."""
        if isinstance(net, FixedLiquid):
            return FixedLiquidStepper(net, batch)
        return LiquidStepper(net, batch)


class SnnStepper(Engine):
    """Spiking state for a batch of streams (:class:`hal.snn.engine.Engine`), advanced one
    step per :meth:`step` or many per :meth:`run`."""

    def close(self) -> None:
        """Drop the state."""
        self.u = self.v = self.buf = np.zeros(0)


def simulate(net: Lowered, x: np.ndarray, fixed: bool,
             record: frozenset[str] = frozenset({"spikes"})) -> dict[str, dict[str, np.ndarray]]:
    """Run ``x`` (B, T, n_in) through a fresh engine, recording the keys in ``record``."""
    return Engine(net, x.shape[0], fixed, record).run(x)
