"""Result of a QUBO-family solve, with validation and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hal.errors import MissingPackage
from hal.result import Result


@dataclass
class Samples:
    """What a QUBO backend returns: samples over the BQM (or CQM) variables.

    Attributes:
        sampleset: a dimod SampleSet (energies are BQM energies, lower is better).
        info: backend facts and the effective settings (sampler, reads, penalties, angles,
            circuit depth...): deterministic under a seed, so two runs can be compared.
        timing: seconds per backend stage (``sample_s``, ``optimise_s``, ...).
        counts: measured bitstring -> shots (gate-model targets).
        circuit: the circuit as run (transpiled), gate-model targets.
    """

    sampleset: Any
    info: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] | None = None
    circuit: Any = None


@dataclass(kw_only=True)
class SolveResult(Result):
    """The answer of ``hal.solve`` and how far it can be trusted.

    Attributes:
        assignment: job -> host (allocation), 0/1 vector (max-cut) or, for dimod models,
            variable -> value in the caller's vartype (spins as -1/+1, integers decoded).
        objective: objective value in the problem's own sense (profit, cost, cut).
        feasible: whether every constraint holds.
        energy: BQM energy of the returned sample (None for exact MILP answers).
        violations: the constraints the answer breaks.
        raw: the best sample before repair (objective, feasible, violations).
        repaired: True when greedy repair changed the raw answer.
        validation: classical comparison (optimum, bound, gap, verdict, status,
            feasible_fraction, approximation_ratio, ...; the time to 99% is
            ``timing["tts99_s"]``); empty with
            validate=False.
        energies: energies of every distinct sample (for histograms).
        sampleset: every sample as a dimod ``SampleSet`` in the caller's variables and
            vartype, with ``num_occurrences``, ``energy`` (of the caller's model),
            ``objective`` (the problem's own sense) and ``is_feasible`` per row.
        counts: bitstring -> shots on gate-model targets (else None).
        circuit: the transpiled circuit that was sampled (a qiskit ``QuantumCircuit``) on
            gate-model targets (else None); see :meth:`circuit_qasm`.

    Example:
        >>> import dimod, hal
        >>> bqm = dimod.BinaryQuadraticModel({"a": 1, "b": -1}, {}, 0, "SPIN")
        >>> r = hal.solve(bqm, target="highs")
        >>> r.assignment, {k: int(v) for k, v in r.sampleset.first.sample.items()}
        ({'a': -1, 'b': 1}, {'a': -1, 'b': 1})
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
    sampleset: Any = field(default=None, repr=False)
    counts: dict[str, int] | None = field(default=None, repr=False)
    circuit: Any = field(default=None, repr=False)

    def _payload(self) -> dict[str, Any]:
        return {"feasible": self.feasible, "objective": self.objective, "energy": self.energy,
                "assignment": self.assignment, "violations": self.violations,
                "raw": self.raw, "repaired": self.repaired, "validation": self.validation}

    def to_pandas(self) -> Any:
        """The sample set as a pandas ``DataFrame`` (one row per distinct sample).

        Raises:
            MissingPackage: pandas is not installed (nq-hal does not depend on it).
        """
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise MissingPackage("SolveResult.to_pandas needs pandas, which nq-hal does not "
                                 "install; pip install pandas (or use result.sampleset)"
                                 ) from None
        return self.sampleset.to_pandas_dataframe()

    def circuit_qasm(self) -> str | None:
        """The transpiled circuit as OpenQASM 3 text (None off gate-model targets); for
        QPY, ``qiskit.qpy.dump(result.circuit, file)``."""
        if self.circuit is None:
            return None
        from qiskit import qasm3

        return qasm3.dumps(self.circuit)
