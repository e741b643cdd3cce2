"""Fault injection, triple modular redundancy and robustness campaigns.

``hal.compile(net, target=..., faults={...}, fault_seed=..., tmr=...)`` applies a
:class:`FaultPlan` to the lowered, quantized network before any backend sees it, so every
target runs the same faulty network; the executable's ``faults`` (a :class:`FaultReport`)
and every result's provenance say exactly what was broken.

Example:
    >>> import hal
    >>> from hal.snn.ir import random_network
    >>> exe = hal.compile(random_network(3, 10, 2, seed=1), target="cpu",
    ...                   faults="weight_bitflips=0.05", fault_seed=2)
    >>> exe.faults.plan.rates, exe.faults.broken["weight_bitflips"]["bits_flipped"] > 0
    ({'weight_bitflips': 0.05}, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hal.faults.inject import FAULTS, OPTIONS, apply_network_faults, check_kinds
from hal.faults.plan import FaultPlan

__all__ = ["FAULTS", "OPTIONS", "FaultPlan", "FaultReport", "apply", "prepare"]


@dataclass
class FaultReport:
    """What a compile broke: the plan, the TMR transform, and per kind the victims.

    Attributes:
        plan: the :class:`FaultPlan` (rates, options, seed).
        broken: fault kind -> what it broke (neurons per population, synapses and bits per
            connection, variation factors per neuron).
        tmr: the redundancy transform's populations and neuron/synapse counts, or None.
    """

    plan: FaultPlan
    broken: dict[str, Any] = field(default_factory=dict)
    tmr: dict[str, Any] | None = None

    def perturb(self, x: np.ndarray, seed: int | None) -> np.ndarray:
        """The network input (B, T, n_in) with the plan's ``input_noise`` applied."""
        rate = self.plan.rates.get("input_noise", 0.0)
        if not rate:
            return x
        from hal.faults.inputs import noisy

        return noisy(x, rate, self.plan.seed, seed or 0)

    def perturb_step(self, x: np.ndarray, step: int) -> np.ndarray:
        """A session step's input (B, n_in) with the plan's ``input_noise`` applied."""
        rate = self.plan.rates.get("input_noise", 0.0)
        if not rate:
            return x
        from hal.faults.inputs import noisy_step

        return noisy_step(x, rate, self.plan.seed, step)

    def attack(self, net: Any, x: Any) -> Any:
        """Analog samples (B, n_in) with the plan's ``adversarial`` perturbation applied."""
        eps = self.plan.rates.get("adversarial", 0.0)
        if not eps:
            return x
        from hal.faults.inputs import fgsm

        x = np.asarray(x, dtype=np.float64)
        return fgsm(net, x[None] if x.ndim == 1 else x, eps)[0 if x.ndim == 1 else slice(None)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the plan, the TMR counts and what was broken."""
        return {"plan": self.plan.to_dict(), "tmr": self.tmr, "broken": self.broken}


def prepare(faults: Any = None, fault_seed: int = 0, tmr: Any = False) -> FaultPlan | None:
    """Check a plan before anything compiles; None when there is nothing to do."""
    plan = FaultPlan.parse(faults, fault_seed)
    if plan.empty and not tmr:
        return None
    return plan


def apply(net: Any, target: Any, plan: FaultPlan, tmr: Any = False) -> FaultReport:
    """Apply ``tmr`` (see :mod:`hal.faults.tmr`), then ``plan``, to ``net`` in place."""
    check_kinds(plan, target)
    report = FaultReport(plan)
    protected: tuple[str, ...] = ()
    if tmr:
        from hal.faults.tmr import triplicate

        report.tmr = triplicate(net, tmr)
        protected = tuple(report.tmr["voters"])
    report.broken = apply_network_faults(net, plan, target, protected)
    return report
