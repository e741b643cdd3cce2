"""Other libraries' problem types, turned into dimod models ``hal.solve`` lowers.

* a qiskit ``SparsePauliOp`` of I/Z terms with at most two Z (an Ising Hamiltonian) ->
  a SPIN BQM whose variable ``i`` is qubit ``i``'s Z eigenvalue (+1 for ``|0>``), so the
  answer's spins are the eigenvalues of the ground state found;
* a qiskit-optimization ``QuadraticProgram`` -> its LP export
  (``export_as_lp_string``) read by dimod's LP reader; nq-hal does not depend on
  qiskit-optimization (whose upstream support has ended) and never imports it.

Types are recognised by ``"module:QualName"`` only when their module is already
imported, so nothing here imports qiskit.

Example:
    >>> import dimod
    >>> adapt(dimod.BinaryQuadraticModel("SPIN")).vartype is dimod.SPIN  # passed through
    True
"""

from __future__ import annotations

import sys
from typing import Any

import dimod

from hal.errors import ValidationError
from hal.qubo.problem import LPProblem

SPARSE_PAULI_OP = "qiskit.quantum_info.operators.symplectic.sparse_pauli_op:SparsePauliOp"
QUADRATIC_PROGRAM = "qiskit_optimization.problems.quadratic_program:QuadraticProgram"


def _type(spec: str) -> type | None:
    module, _, name = spec.partition(":")
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod is not None else None


def adapt(problem: Any) -> Any:
    """``problem`` as a type :func:`hal.compilers.qubo.to_cqm` lowers (others unchanged)."""
    for spec, convert in _ADAPTERS.items():
        cls = _type(spec)
        if cls is not None and isinstance(problem, cls):
            return convert(problem)
    return problem


def from_sparse_pauli_op(op: Any) -> dimod.BinaryQuadraticModel:
    """An Ising Hamiltonian (I/Z Paulis, at most two Z per term, real coefficients) as
    a SPIN BQM over qubit indices.

    Raises:
        ValidationError: a term with X or Y, more than two Z, or a complex coefficient
            (named), which no Ising model can hold.
    """
    bqm = dimod.BinaryQuadraticModel("SPIN")
    bqm.add_variables_from((i, 0.0) for i in range(op.num_qubits))
    for label, qubits, coeff in op.simplify().to_sparse_list():
        if abs(complex(coeff).imag) > 1e-12:
            raise ValidationError(f"SparsePauliOp term {label or 'I'} on qubits {qubits} has "
                                  f"a complex coefficient {coeff}; an Ising Hamiltonian is "
                                  "Hermitian with real coefficients")
        c = float(complex(coeff).real)
        zs = [q for p, q in zip(label, qubits, strict=True) if p == "Z"]
        others = [p for p in label if p not in "IZ"]
        if others or len(zs) > 2:
            raise ValidationError(f"SparsePauliOp term {label} on qubits {qubits}: only I/Z "
                                  "terms with at most two Z (an Ising Hamiltonian) can be "
                                  "solved as a QUBO")
        if not zs:
            bqm.offset += c
        elif len(zs) == 1:
            bqm.add_linear(zs[0], c)
        else:
            bqm.add_quadratic(zs[0], zs[1], c)
    return bqm


def from_quadratic_program(qp: Any) -> LPProblem:
    """A qiskit-optimization ``QuadraticProgram`` through its own LP export."""
    return LPProblem.from_lp_text(qp.export_as_lp_string(),
                                  name=getattr(qp, "name", "") or "quadratic_program")


_ADAPTERS = {SPARSE_PAULI_OP: from_sparse_pauli_op, QUADRATIC_PROGRAM: from_quadratic_program}
