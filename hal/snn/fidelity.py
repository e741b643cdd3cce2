"""Fidelity: how far one run of a network agrees with another (the reference).

Delays are aligned first: a result whose node lags the exact solution by ``d`` steps
(Lava's one step per Dense) is shifted back by ``d`` before comparing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hal.errors import ValidationError
from hal.snn.result import SimResult


@dataclass
class FidelityReport:
    """Agreement of ``result`` with ``reference``, per node and overall.

    Attributes:
        spike_count_agreement: fraction of neurons with the same spike count.
        spike_time_agreement: 2|A and B| / (|A| + |B|) over (step, neuron) spikes.
        voltage_rmse: RMSE of v in float units, where both recorded it.
        output_agreement: fraction of (step, neuron) output values that agree.
        delay_steps: steps result is shifted by, per node, to align with the reference.
        passed: all thresholds met.
    """

    spike_count_agreement: float
    spike_time_agreement: float
    voltage_rmse: float | None
    output_agreement: float
    delay_steps: dict[str, int]
    passed: bool
    thresholds: dict[str, float]
    per_node: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _align(a: np.ndarray, shift: int) -> np.ndarray:
    if shift == 0:
        return a
    out = np.zeros_like(a)
    if shift > 0:
        out[..., : a.shape[-2] - shift, :] = a[..., shift:, :]
    else:
        out[..., -shift:, :] = a[..., : a.shape[-2] + shift, :]
    return out


def compare(result: SimResult, reference: SimResult, *,
            min_spike_count: float = 0.95, min_spike_time: float = 0.9,
            max_voltage_rmse: float | None = None, min_output: float = 0.95
            ) -> FidelityReport:
    """Compare two runs of the same spiking network on the same input (``hal.compare``
    dispatches here for :class:`SimResult`). Voltages are compared where both runs
    recorded ``v``.
    """
    if result.steps != reference.steps or \
            {k: s.shape for k, s in result.spikes.items()} != \
            {k: s.shape for k, s in reference.spikes.items()}:
        raise ValidationError(f"cannot compare runs of different shapes ({result.steps} vs "
                              f"{reference.steps} steps, or other populations/batch): run "
                              "the same network on the same input")
    counts_eq, dice_num, dice_den, sq, nv = 0, 0, 0, 0.0, 0
    neurons, per_node, delays = 0, {}, {}
    out_eq, out_n = 0, 0
    for node, s_ref in reference.spikes.items():
        if node not in result.spikes:
            continue
        shift = result.delay_steps.get(node, 0) - reference.delay_steps.get(node, 0)
        delays[node] = shift
        s = _align(result.spikes[node], shift)
        ca, cb = s.sum(axis=-2), s_ref.sum(axis=-2)
        counts_eq += int((ca == cb).sum())
        neurons += ca.size
        both = int((s & s_ref).sum())
        dice_num += 2 * both
        dice_den += int(s.sum() + s_ref.sum())
        node_info = {"count_agreement": float((ca == cb).mean()),
                     "spikes": int(s.sum()), "reference_spikes": int(s_ref.sum())}
        if "v" in result.states.get(node, {}) and "v" in reference.states.get(node, {}):
            va = _align(result.voltage(node), shift)
            vb = reference.voltage(node)
            sq += float(((va - vb) ** 2).sum())
            nv += va.size
            node_info["voltage_rmse"] = float(np.sqrt(((va - vb) ** 2).mean()))
        if node in reference.outputs:
            out_eq += int((s == s_ref).sum())
            out_n += s.size
        per_node[node] = node_info
    sca = counts_eq / neurons if neurons else 1.0
    sta = dice_num / dice_den if dice_den else 1.0
    rmse = float(np.sqrt(sq / nv)) if nv else None
    oa = out_eq / out_n if out_n else 1.0
    passed = sca >= min_spike_count and sta >= min_spike_time and oa >= min_output and (
        max_voltage_rmse is None or rmse is None or rmse <= max_voltage_rmse)
    th = {"min_spike_count": min_spike_count, "min_spike_time": min_spike_time,
          "min_output": min_output}
    if max_voltage_rmse is not None:
        th["max_voltage_rmse"] = max_voltage_rmse
    return FidelityReport(sca, sta, rmse, oa, delays, passed, th, per_node)
