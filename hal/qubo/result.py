"""Result of a QUBO-family solve, with validation and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Samples:
    """What a QUBO backend returns: samples over the BQM (or CQM) variables.

    Attributes:
        sampleset: a dimod SampleSet (energies are BQM energies, lower is better).
        info: backend facts (status, bound, angles, penalties, rounds...).
    """

    sampleset: Any
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class SolveResult:
    """The answer of ``hal.solve`` and how far it can be trusted.

    Attributes:
        target, backend: where it ran (after any fallback).
        assignment: job -> host (allocation), 0/1 vector (max-cut) or variable -> value.
        objective: objective value in the problem's own sense (profit, cost, cut).
        feasible: whether every constraint holds.
        energy: BQM energy of the returned sample (None for exact MILP answers).
        violations: the constraints the answer breaks.
        raw: the best sample before repair (objective, feasible, violations).
        repaired: True when greedy repair changed the raw answer.
        timing: seconds per stage (compile_s, solve_s, validate_s).
        validation: classical comparison (optimum, bound, gap, status, feasible_fraction,
            tts99_s, approximation_ratio, ...); empty with validate=False.
        fallbacks: targets skipped, with reasons.
        provenance: versions, seed, options, target file.
        energies: energies of every sample (for histograms).
    """

    target: str
    backend: str
    assignment: Any
    objective: float | None
    feasible: bool
    energy: float | None
    violations: list[str]
    raw: dict[str, Any]
    repaired: bool
    timing: dict[str, float]
    validation: dict[str, Any]
    fallbacks: list[dict[str, str]]
    provenance: dict[str, Any]
    energies: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the CLI's --json output)."""
        assignment = self.assignment
        if hasattr(assignment, "tolist"):
            assignment = assignment.tolist()
        return {
            "target": self.target, "backend": self.backend, "feasible": self.feasible,
            "objective": self.objective, "energy": self.energy, "assignment": assignment,
            "violations": self.violations, "raw": self.raw, "repaired": self.repaired,
            "timing": self.timing, "validation": self.validation,
            "fallbacks": self.fallbacks, "provenance": self.provenance,
        }
