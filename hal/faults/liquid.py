"""Faults of liquid (CfC) networks, applied to the float IR before lowering, so every
liquid target (``cpu-float``, ``torch``, ``loihi2-sim-float``, and the fixed-point ``cpu``
and ``loihi2-sim`` that quantize it) runs the same faulty network.

- ``dead_neurons``: a hidden unit's state stays 0 (its rows of ff1/ff2 and their biases
  zeroed, and ``A`` in pure mode).
- ``weight_variation``: every weight and bias of every layer and the readout times
  ``1 + N(0, rate)`` (parameter mismatch).
- ``weight_bitflips`` (fixed-point targets): each bit of every stored weight mantissa
  (``weight_bits``-bit two's complement words of the lowered program's matrices) flips
  with probability ``rate`` (or only ``bitflip_bit``), applied after lowering, so ``cpu``
  and ``loihi2-sim`` run the same faulty integers.

Other kinds (spiking-only kinds) are refused.

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

#: the fault kinds liquid networks take (weight_bitflips: fixed-point targets only)
LIQUID_KINDS = ("dead_neurons", "weight_variation", "weight_bitflips")


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
    broken: dict[str, Any] = {}  # weight_bitflips: after lowering, flip_liquid_bits
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


def flip_liquid_bits(fixed: Any, plan: FaultPlan, bits: int) -> dict[str, Any]:
    """Flip bits of the weight mantissas of a lowered :class:`FixedLiquid` in place (its
    QAffine matrices replaced): each of the ``bits``-bit two's complement word's bits with
    probability ``rate``, or only ``bitflip_bit``. Returns what flipped, per matrix."""
    from dataclasses import replace

    from hal.compilers.liquid import QAffine

    rng, rate = stream(plan.seed, "weight_bitflips"), plan.rates["weight_bitflips"]
    only = plan.options.get("bitflip_bit")
    if only is not None and only >= bits:
        raise ValidationError(f"faults: bitflip_bit={only} but this target stores "
                              f"{bits}-bit weights; choose 0..{bits - 1}")
    report, total = {}, 0

    def flip(name: str, q: QAffine) -> QAffine:
        nonlocal total
        m = np.asarray(q.mant, np.int64)
        if only is None:
            flips = rng.random((m.size, bits)) < rate
        else:
            flips = np.zeros((m.size, bits), bool)
            flips[:, only] = rng.random(m.size) < rate
        hit = np.flatnonzero(flips.any(axis=1))
        if not len(hit):
            return q
        word = (m.reshape(-1)[hit] & ((1 << bits) - 1)) ^ \
            (flips[hit] * (1 << np.arange(bits))).sum(axis=1)
        after = np.where(word >= 1 << (bits - 1), word - (1 << bits), word)
        new = m.reshape(-1).copy()
        new[hit] = after
        report[name] = {"index": hit.tolist(), "before": m.reshape(-1)[hit].tolist(),
                        "after": after.tolist()}
        total += int(flips[hit].sum())
        return replace(q, mant=new.reshape(m.shape))

    for k, layer in enumerate(fixed.layers):
        for key, v in list(layer.items()):
            if isinstance(v, QAffine):
                layer[key] = flip(f"layers[{k}].{key}", v)
            elif isinstance(v, list):
                layer[key] = [flip(f"layers[{k}].{key}[{i}]", q) if isinstance(q, QAffine)
                              else q for i, q in enumerate(v)]
    if fixed.readout is not None:
        fixed.readout = flip("readout", fixed.readout)
    return {"matrices": report, "bits_flipped": total, "weight_bits": bits}
