"""Fault plans: which faults to inject, how often, with which seed.

A plan is a mapping of fault kind to rate (a probability in [0, 1], or a fractional
deviation for the variation kinds) plus the options some kinds take, written as a dict or
as the command line's ``KIND=RATE,KIND=RATE`` string. Every kind is registered by name in
:data:`hal.faults.inject.FAULTS`; an unknown name is refused with the known ones.

Example:
    >>> from hal.faults.plan import FaultPlan
    >>> plan = FaultPlan.parse("dead_neurons=0.1,weight_bitflips=1e-3", seed=3)
    >>> plan.rates, plan.seed
    ({'dead_neurons': 0.1, 'weight_bitflips': 0.001}, 3)
    >>> FaultPlan.parse({"dead_neuronz": 0.1})
    Traceback (most recent call last):
    ...
    hal.errors.ValidationError: faults: unknown fault kind 'dead_neuronz'; known kinds: ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hal.errors import ValidationError


@dataclass(frozen=True)
class FaultPlan:
    """Rates per fault kind, options of those kinds, and the seed that picks the victims.

    Attributes:
        rates: fault kind -> rate (kinds in :data:`hal.faults.inject.FAULTS`); zero rates
            are dropped, so a plan of zeros is the empty plan.
        options: options of the kinds (``bitflip_bit``, ``hit_voters``...).
        seed: the fault seed; every kind draws from its own stream ``(seed, kind)``, so
            adding a kind never changes the victims of another.
    """

    rates: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def parse(cls, spec: Any = None, seed: int = 0) -> FaultPlan:
        """A plan from ``None``, a plan, a dict or a ``"kind=rate,..."`` string; every key
        and rate checked (unknown kinds listed, rates outside [0, 1] refused)."""
        from hal.faults.inject import FAULTS, OPTIONS

        if isinstance(spec, FaultPlan):
            return cls(dict(spec.rates), dict(spec.options), int(seed))
        items = _items(spec)
        rates: dict[str, float] = {}
        options: dict[str, Any] = {}
        for key, value in items.items():
            if key in OPTIONS:
                options[key] = OPTIONS[key].check(value)
                continue
            if key not in FAULTS:
                known = ", ".join(sorted(FAULTS))
                raise ValidationError(f"faults: unknown fault kind '{key}'; known kinds: "
                                      f"{known}; options: {', '.join(sorted(OPTIONS))}")
            rate = _rate(key, value)
            if rate > 0:
                rates[key] = rate
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValidationError(f"fault_seed must be an integer >= 0, got {seed!r}")
        return cls(rates, options, seed)

    @property
    def empty(self) -> bool:
        """True when nothing is injected."""
        return not self.rates

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data."""
        return {"rates": dict(self.rates), "options": dict(self.options), "seed": self.seed}


def _items(spec: Any) -> dict[str, Any]:
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k).strip(): v for k, v in spec.items()}
    if isinstance(spec, str):
        out = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ValidationError(f"faults: '{part}' is not KIND=RATE (e.g. "
                                      "dead_neurons=0.1,weight_bitflips=1e-3)")
            out[key.strip()] = value.strip()
        return out
    raise ValidationError(f"faults: expected a dict or 'kind=rate,...', got "
                          f"{type(spec).__name__}")


def _rate(key: str, value: Any) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"faults: {key}={value!r} is not a number") from None
    if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
        raise ValidationError(f"faults: {key}={value!r} is outside [0, 1]; a rate is a "
                              "probability (or a fractional deviation, 0.1 = 10%)")
    return rate
