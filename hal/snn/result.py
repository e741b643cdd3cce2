"""Result of running a spiking network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SimResult:
    """Spikes and states per population, with timing and provenance.

    Attributes:
        spikes: node -> bool array (T, N), or (B, T, N) for a batch.
        states: node -> {"v": ..., "u": ...} in the backend's units (ints for fixed point).
        v_scale: divide fixed-point v by this to get float units (1.0 for float runs).
        delay_steps: node -> steps its output lags the exact solution (0 when compensated).
        target, backend, precision: where it ran.
        timing: compile_s, run_s.
        provenance: versions, options, fallbacks, quantization report.
    """

    spikes: dict[str, np.ndarray]
    states: dict[str, dict[str, np.ndarray]]
    v_scale: float
    delay_steps: dict[str, int]
    target: str
    backend: str
    precision: str
    steps: int
    outputs: list[str]
    timing: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def spike_counts(self) -> dict[str, list[int]]:
        """Per node, spikes per neuron summed over time (and batch)."""
        out = {}
        for node, s in self.spikes.items():
            axes = tuple(range(s.ndim - 1))
            out[node] = s.sum(axis=axes).astype(int).tolist()
        return out

    def voltage(self, node: str) -> np.ndarray:
        """v of ``node`` in float units."""
        return self.states[node]["v"] / self.v_scale

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's --json)."""
        return {"target": self.target, "backend": self.backend, "precision": self.precision,
                "steps": self.steps, "spike_counts": self.spike_counts(),
                "delay_steps": self.delay_steps, "timing": self.timing,
                "provenance": self.provenance}
