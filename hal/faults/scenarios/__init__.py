"""Robustness scenarios as data: one YAML file per scenario (``name``, ``description``,
``faults``: a fault plan, ``seeds``: fault seeds averaged, optional ``options``).

Example:
    >>> from hal.faults.scenarios import load, presets
    >>> [s.name for s in presets()][:2]
    ['normal_operation', 'minor_neuron_failures']
    >>> load("cascade_failure").plan(0).rates["dead_neurons"]
    0.1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hal.errors import ValidationError
from hal.faults.plan import FaultPlan

HERE = Path(__file__).resolve().parent
#: the shipped presets, in report order
PRESETS = ("normal_operation", "minor_neuron_failures", "memory_corruption",
           "power_fluctuation", "adversarial_attack", "cascade_failure")
_KEYS = {"name", "description", "faults", "seeds", "options"}


@dataclass(frozen=True)
class Scenario:
    """A named fault plan averaged over ``seeds`` fault seeds."""

    name: str
    description: str = ""
    faults: dict[str, Any] = field(default_factory=dict)
    seeds: int = 1
    source: str = ""

    def plan(self, seed: int) -> FaultPlan:
        """The scenario's plan under fault seed ``seed``."""
        return FaultPlan.parse(self.faults, seed)


def load(name_or_path: str | Path) -> Scenario:
    """A preset by name, or a scenario YAML file; errors name the file and the key."""
    path = Path(name_or_path)
    if not path.suffix and (HERE / f"{name_or_path}.yaml").exists():
        path = HERE / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValidationError(f"scenario '{name_or_path}': no such preset or file; presets: "
                              f"{', '.join(PRESETS)}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or "name" not in data:
        raise ValidationError(f"{path}: a scenario is a mapping with at least 'name' and "
                              "'faults'")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ValidationError(f"{path}: unknown key(s) {', '.join(unknown)}; a scenario has "
                              f"{', '.join(sorted(_KEYS))}")
    faults = {**(data.get("faults") or {}), **(data.get("options") or {})}
    seeds = data.get("seeds", 1)
    if not isinstance(seeds, int) or seeds < 1:
        raise ValidationError(f"{path}: seeds must be an integer >= 1, got {seeds!r}")
    try:
        FaultPlan.parse(faults)
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc}") from None
    return Scenario(str(data["name"]), str(data.get("description", "")).strip(), faults,
                    seeds, str(path))


def presets() -> list[Scenario]:
    """The six shipped scenarios."""
    return [load(n) for n in PRESETS]
