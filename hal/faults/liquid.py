"""Faults of liquid (CfC) networks, applied to the float IR before lowering, so every
liquid target (``cpu-float``, ``torch``, ``loihi2-sim-float``, and the fixed-point ``cpu``
and ``loihi2-sim`` that quantize it) runs the same faulty network.

- ``dead_neurons``: a hidden unit's state stays 0 (its rows of ff1/ff2 and their biases
  zeroed, and ``A`` in pure mode).
- ``weight_variation``: every weight and bias of every layer and the readout times
  ``1 + N(0, rate)`` (parameter mismatch).

Other kinds (bit flips in the fixed-point program, spiking-only kinds) are refused.

Example:
    >>> import hal
    >>> from hal.liquid.ir import random_cfc
    >>> exe = hal.compile(random_cfc(3, 8, 1, seed=0), target="cpu-float",
    ...                   faults={"dead_neurons": 0.3}, fault_seed=1)
    >>> exe.faults.broken["dead_neurons"]["units"]
    {'layers[0]': [0]}
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from hal.errors import ValidationError
from hal.faults import FaultReport
from hal.faults.inject import stream
from hal.faults.plan import FaultPlan

#: the fault kinds liquid networks take
LIQUID_KINDS = ("dead_neurons", "weight_variation")


def apply_liquid(net: Any, plan: FaultPlan) -> tuple[Any, FaultReport]:
    """A faulty copy of the liquid IR ``net`` and what was broken."""
    from hal.liquid.ir import CfCNet

    bad = sorted(set(plan.rates) - set(LIQUID_KINDS))
    if bad:
        raise ValidationError(f"faults: liquid networks take {', '.join(LIQUID_KINDS)}; "
                              f"not {', '.join(bad)}")
    if not isinstance(net, CfCNet):
        raise ValidationError(f"faults: liquid faults apply to CfC networks, not "
                              f"{type(net).__name__}")
    net = copy.deepcopy(net)
    broken: dict[str, Any] = {}
    if "dead_neurons" in plan.rates:
        rng, rate, units = stream(plan.seed, "dead_neurons"), plan.rates["dead_neurons"], {}
        for k, layer in enumerate(net.layers):
            idx = np.flatnonzero(rng.random(layer.hidden) < rate)
            if len(idx):
                _kill(layer, idx)
                units[f"layers[{k}]"] = idx.tolist()
        broken["dead_neurons"] = {"units": units,
                                  "count": int(sum(len(v) for v in units.values()))}
    if "weight_variation" in plan.rates:
        rng, rate = stream(plan.seed, "weight_variation"), plan.rates["weight_variation"]
        n = 0
        for layer in net.layers:
            for name in ("ff1", "ff2", "time_a", "time_b"):
                aff = getattr(layer, name)
                if aff is not None:
                    setattr(layer, name, _vary(aff, rng, rate))
                    n += aff[0].size + aff[1].size
            layer.backbone = [_vary(a, rng, rate) for a in layer.backbone]
        if net.readout is not None:
            net.readout = _vary(net.readout, rng, rate)
        broken["weight_variation"] = {"parameters": n}
    return net, FaultReport(plan, broken)


def _kill(layer: Any, idx: np.ndarray) -> None:
    for name in ("ff1", "ff2"):
        aff = getattr(layer, name)
        if aff is not None:
            w, b = aff[0].copy(), aff[1].copy()
            w[idx], b[idx] = 0.0, 0.0
            setattr(layer, name, (w, b))
    if layer.A is not None:
        layer.A = layer.A.copy()
        layer.A[idx] = 0.0


def _vary(aff: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
          rate: float) -> tuple[np.ndarray, np.ndarray]:
    w, b = aff
    return (w * (1 + rate * rng.standard_normal(w.shape)),
            b * (1 + rate * rng.standard_normal(b.shape)))
