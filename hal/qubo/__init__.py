"""QUBO-family problems: allocation, max-cut, dimod BQM/CQM, LP files (see
:mod:`hal.qubo.api`)."""

from hal.workloads import Workload

WORKLOAD = Workload(
    name="qubo",
    accepts=("hal.qubo.problem:AllocationProblem", "hal.qubo.problem:MaxCutProblem",
             "hal.qubo.problem:LPProblem",
             "dimod.binary.binary_quadratic_model:BinaryQuadraticModel",
             "dimod.constrained.constrained:ConstrainedQuadraticModel",
             "qiskit.quantum_info.operators.symplectic.sparse_pauli_op:SparsePauliOp",
             "qiskit_optimization.problems.quadratic_program:QuadraticProgram"),
    suffixes=("*",),  # every problem file: hal.qubo.readers guesses the format
    results=("hal.qubo.result:SolveResult",),
    solve="hal.qubo.api:solve",
)
