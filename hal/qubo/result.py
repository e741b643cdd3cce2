"""Result of a QUBO-family solve, with validation and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hal.result import Result


@dataclass
class Samples:
    """What a QUBO backend returns: samples over the BQM (or CQM) variables.

    Attributes:
        sampleset: a dimod SampleSet (energies are BQM energies, lower is better).
        info: backend facts (status, bound, angles, penalties, rounds...).
    """

    sampleset: Any
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class SolveResult(Result):
    """The answer of ``hal.solve`` and how far it can be trusted.

    Attributes:
        assignment: job -> host (allocation), 0/1 vector (max-cut) or variable -> value.
        objective: objective value in the problem's own sense (profit, cost, cut).
        feasible: whether every constraint holds.
        energy: BQM energy of the returned sample (None for exact MILP answers).
        violations: the constraints the answer breaks.
        raw: the best sample before repair (objective, feasible, violations).
        repaired: True when greedy repair changed the raw answer.
        validation: classical comparison (optimum, bound, gap, status, feasible_fraction,
            tts99_s, approximation_ratio, ...); empty with validate=False.
        energies: energies of every sample (for histograms).
    """

    assignment: Any
    objective: float | None
    feasible: bool
    energy: float | None = None
    violations: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    repaired: bool = False
    validation: dict[str, Any] = field(default_factory=dict)
    energies: list[float] = field(default_factory=list)

    def _payload(self) -> dict[str, Any]:
        return {"feasible": self.feasible, "objective": self.objective, "energy": self.energy,
                "assignment": self.assignment, "violations": self.violations,
                "raw": self.raw, "repaired": self.repaired, "validation": self.validation}
