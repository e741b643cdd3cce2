"""Health monitoring: neurons that went silent or saturated, against a clean profile.

:func:`profile` records each neuron's firing rate (spikes per step) on clean runs.
A :class:`HealthMonitor` then counts spikes from a running session (``update`` with each
step's spikes) or from whole runs (``observe``), and :meth:`HealthMonitor.report` flags

- **silent** neurons: clean rate >= ``min_rate`` but no spike in the observed steps, once
  the clean rate predicts at least ``expected_spikes`` spikes over them (a Poisson train
  with that mean stays silent with probability e**-expected_spikes: 0.25% at 6);
- **saturated** neurons: observed rate >= ``saturated_rate`` where the clean rate was
  below it.

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> net = random_network(4, 30, 3, seed=2)
    >>> x = (np.random.default_rng(0).random((8, 50, 4)) < 0.5).astype(float)
    >>> prof = profile(hal.compile(net, target="cpu").run(x))
    >>> bad = hal.compile(net, target="cpu", faults={"saturated_neurons": 0.2}, fault_seed=1)
    >>> mon = HealthMonitor(prof)
    >>> with bad.open(batch=8) as session:
    ...     for t in range(50):
    ...         mon.update(session.step(x[:, t]))
    >>> rep = mon.report()
    >>> rep["saturated"] == bad.faults.broken["saturated_neurons"]["neurons"]
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Profile:
    """Clean firing rate (spikes per step) per population and neuron."""

    rates: dict[str, np.ndarray]
    steps: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"steps": self.steps, "rates": {k: v.tolist() for k, v in self.rates.items()}}


def _rates(spikes: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    counts, steps = {}, {}
    for p, s in spikes.items():
        s = np.asarray(s, dtype=bool)
        s = s if s.ndim == 3 else s[None]
        counts[p] = s.sum(axis=(0, 1)).astype(np.float64)
        steps[p] = s.shape[0] * s.shape[1]
    return counts, steps


def profile(*results: Any) -> Profile:
    """The clean profile of one or more runs (``SimResult``s or spike dicts)."""
    total: dict[str, np.ndarray] = {}
    steps = 0
    for r in results:
        counts, n = _rates(getattr(r, "spikes", r))
        for p, c in counts.items():
            total[p] = total.get(p, 0) + c
        steps += next(iter(n.values()))
    return Profile({p: c / steps for p, c in total.items()}, steps)


@dataclass
class HealthMonitor:
    """Counts spikes of a session or of runs and flags silent and saturated neurons.

    Attributes:
        profile: the clean :class:`Profile`.
        min_rate: clean rate below which a neuron is never called silent.
        expected_spikes: the clean rate must predict this many spikes before silence
            counts.
        saturated_rate: observed rate at or above which a neuron is saturated.
    """

    profile: Profile
    min_rate: float = 0.02
    expected_spikes: float = 6.0
    saturated_rate: float = 0.9
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    steps: int = 0

    def update(self, spikes: dict[str, np.ndarray]) -> None:
        """Add one step's spikes per population ((N,) or (B, N); a batch counts as B
        streams observed for one step each)."""
        b = 1
        for p, s in spikes.items():
            s = np.asarray(s, dtype=bool)
            s = s if s.ndim == 2 else s[None]
            b = s.shape[0]
            self.counts[p] = self.counts.get(p, 0) + s.sum(axis=0)
        self.steps += b

    def observe(self, result: Any) -> None:
        """Add a whole run (a ``SimResult`` or a spike dict of (T, N) or (B, T, N))."""
        counts, steps = _rates(getattr(result, "spikes", result))
        for p, c in counts.items():
            self.counts[p] = self.counts.get(p, 0) + c
        self.steps += next(iter(steps.values()))

    def report(self) -> dict[str, Any]:
        """``silent`` and ``saturated``: population -> neuron indices; ``steps``."""
        silent, saturated = {}, {}
        for p, clean in self.profile.rates.items():
            if p not in self.counts or not self.steps:
                continue
            seen = np.asarray(self.counts[p], dtype=np.float64)
            quiet = (clean >= self.min_rate) & (clean * self.steps >= self.expected_spikes)
            idx = np.flatnonzero(quiet & (seen == 0))
            if len(idx):
                silent[p] = idx.tolist()
            idx = np.flatnonzero((seen / self.steps >= self.saturated_rate) &
                                 (clean < self.saturated_rate))
            if len(idx):
                saturated[p] = idx.tolist()
        return {"silent": silent, "saturated": saturated, "steps": self.steps}


def score(monitor: HealthMonitor, injected: dict[str, dict[str, list[int]]]) -> dict:
    """Detection of the injected faults by ``monitor``: per kind (``silent`` for dead
    neurons, ``saturated``), the injected neurons, those the monitor can see (a dead
    neuron only when its clean rate qualifies it, see the module docstring; a neuron
    injected as both counts as saturated), those detected, the detection rate over the
    detectable ones, and the other neurons flagged (downstream effects of the faults,
    or false alarms: on a clean network every flag is a false alarm)."""
    report = monitor.report()
    sat = {(p, i) for p, idx in injected.get("saturated", {}).items() for i in idx}
    out = {}
    for key in ("silent", "saturated"):
        want = {(p, i) for p, idx in injected.get(key, {}).items() for i in idx}
        if key == "silent":
            want -= sat
            seeable = {(p, i) for p, i in want if _qualifies(monitor, p, i)}
        else:
            seeable = want
        got = {(p, i) for p, idx in report[key].items() for i in idx}
        out[key] = {"injected": len(want), "detectable": len(seeable),
                    "detected": len(seeable & got),
                    "detection_rate": len(seeable & got) / len(seeable) if seeable else None,
                    "other_flagged": sorted(got - want)}
    return out


def _qualifies(monitor: HealthMonitor, pop: str, i: int) -> bool:
    clean = monitor.profile.rates[pop][i]
    return bool(clean >= monitor.min_rate and clean * monitor.steps >= monitor.expected_spikes)
