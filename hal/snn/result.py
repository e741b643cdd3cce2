"""Result of running a spiking network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hal.result import Result


@dataclass(kw_only=True)
class SimResult(Result):
    """Spikes (and the states asked for) per population, with timing and provenance.

    Attributes:
        spikes: node -> bool array (T, N), or (B, T, N) for a batch.
        states: node -> {"v": ..., "u": ...} for the states recorded (``record=``), in the
            backend's units (ints for fixed point); empty when only spikes were recorded.
        v_scale: divide fixed-point v by this to get float units (1.0 for float runs).
        delay_steps: node -> steps its output lags the exact solution (0 when compensated).
        steps: time steps per stream.
        outputs: the graph's output populations.
        record: what was recorded (``spikes``, ``v``, ``u``).
        weights: plastic connection (``source->target``) -> its weights after the run, in
            float units, (N, M) or (B, N, M) (:mod:`hal.snn.learning`); empty without
            learning.
        weight_history: the same at every learning epoch's end, (epochs + 1, N, M) or
            (B, epochs + 1, N, M); row 0 holds the compiled weights. With
            ``compensate_delay`` the padded steps at the end learn too.
        metrics_source: computes ``(activity, estimate)`` when first read.
    """

    spikes: dict[str, np.ndarray]
    states: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    v_scale: float = 1.0
    delay_steps: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    outputs: list[str] = field(default_factory=list)
    record: tuple[str, ...] = ("spikes",)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    weight_history: dict[str, np.ndarray] = field(default_factory=dict)
    metrics_source: Callable[[], tuple[dict[str, Any], dict[str, Any]]] | None = field(
        default=None, repr=False, compare=False)
    _metrics: tuple[dict[str, Any], dict[str, Any]] | None = field(
        default=None, init=False, repr=False, compare=False)

    def _computed(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Activity and estimate, computed on first use (a campaign that never reads them
        never pays for them)."""
        if self._metrics is None and self.metrics_source is not None:
            self._metrics = self.metrics_source()
        return self._metrics or (None, None)

    @property
    def activity(self) -> dict[str, Any] | None:
        """Spikes, rates, synaptic operations, sparsity, footprint, ISI CV
        (:func:`hal.snn.metrics.activity`, NeuroBench's definitions)."""
        return self._computed()[0]

    @property
    def estimate(self) -> dict[str, Any] | None:
        """Energy (pJ) and latency (ns) estimates on the target, with their sources
        (:func:`hal.snn.metrics.estimate`)."""
        return self._computed()[1]

    def spike_counts(self) -> dict[str, list[int]]:
        """Per node, spikes per neuron summed over time (and batch)."""
        out = {}
        for node, s in self.spikes.items():
            axes = tuple(range(s.ndim - 1))
            out[node] = s.sum(axis=axes).astype(int).tolist()
        return out

    def voltage(self, node: str) -> np.ndarray:
        """v of ``node`` in float units (record ``v`` to have it)."""
        from hal.errors import ValidationError

        if "v" not in self.states.get(node, {}):
            raise ValidationError(f"v of '{node}' was not recorded; run with "
                                  "record=('spikes', 'v')")
        return self.states[node]["v"] / self.v_scale

    def _payload(self) -> dict[str, Any]:
        return {"steps": self.steps, "record": list(self.record),
                "spike_counts": self.spike_counts(), "delay_steps": self.delay_steps,
                "activity": self.activity, "estimate": self.estimate,
                **({"learning": self._learning()} if self.weight_history else {})}

    def _learning(self) -> dict[str, Any]:
        """Per plastic connection: epochs run and how far the weights moved."""
        out = {}
        for name, h in self.weight_history.items():
            change = np.abs(h[..., -1, :, :] - h[..., 0, :, :])
            out[name] = {"epochs": int(h.shape[-3] - 1), "max_abs_change": float(change.max()),
                         "mean_abs_change": float(change.mean())}
        return out
