"""Lowering a BQM to a QAOA circuit: BQM -> Ising -> SparsePauliOp -> ``qaoa_ansatz``.

Qubit ``i`` carries BQM variable ``i`` (in ``bqm.variables`` order) and its measured bit
is the variable's value: spin ``s = 1 - 2x`` is the Z eigenvalue, so ``x = 0`` <-> |0>.
Then ``E(x) = offset + sum_i h'_i Z_i + sum_ij J_ij Z_i Z_j`` with ``h' = -h`` of dimod's
``to_ising()`` (which uses ``s = 2x - 1``) and the same ``J``.

Fixed angles (Wurtz & Lykov, arXiv:2107.00677) apply to max-cut on D-regular graphs
with ``H = sum 0.5 Z_i Z_j``; with qiskit's ``qaoa_ansatz`` they map to
``gamma = +gamma_table``, ``beta = -beta_table``. The table ships as package data
(``hal/compilers/data/fixed_angles_regular_maxcut.json``, source and licence in the README
beside it), so compiled circuits never depend on benchmark data or the working directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import dimod
import numpy as np

from hal.errors import CompileError


@dataclass
class IsingForm:
    """The Ising form of a BQM over qubits 0..n-1."""

    variables: list
    h: np.ndarray
    couplings: list[tuple[int, int, float]]
    offset: float

    @property
    def num_qubits(self) -> int:
        return len(self.variables)


def bqm_to_ising(bqm: dimod.BinaryQuadraticModel) -> IsingForm:
    """Ising form with the bit convention of the module docstring."""
    variables = list(bqm.variables)
    index = {v: i for i, v in enumerate(variables)}
    h, J, offset = bqm.spin.to_ising()
    hv = np.array([-h.get(v, 0.0) for v in variables])
    couplings = [(index[u], index[v], float(b)) for (u, v), b in J.items() if b]
    return IsingForm(variables, hv, couplings, float(offset))


def cost_operator(ising: IsingForm):
    """The Ising Hamiltonian as a qiskit ``SparsePauliOp`` (offset left out)."""
    from qiskit.quantum_info import SparsePauliOp

    terms = [("Z", [i], float(c)) for i, c in enumerate(ising.h) if c]
    terms += [("ZZ", [i, j], c) for i, j, c in ising.couplings]
    if not terms:
        raise CompileError("the problem has no interactions: every assignment has the same "
                           "energy, so QAOA has nothing to optimise")
    return SparsePauliOp.from_sparse_list(terms, num_qubits=ising.num_qubits)


def qaoa_circuit(ising: IsingForm, reps: int):
    """``qaoa_ansatz`` of the cost operator; parameters are [beta..., gamma...]."""
    from qiskit.circuit.library import qaoa_ansatz

    if reps < 1:
        raise CompileError(f"reps (QAOA depth p) must be >= 1, got {reps}")
    return qaoa_ansatz(cost_operator(ising), reps=reps)


def regular_degree(ising: IsingForm) -> tuple[int, float] | None:
    """(D, coupling) when the Ising form is unweighted max-cut on a D-regular graph."""
    if np.any(np.abs(ising.h) > 1e-12) or not ising.couplings:
        return None
    values = {round(c, 12) for _, _, c in ising.couplings}
    if len(values) != 1:
        return None
    deg = np.zeros(ising.num_qubits, dtype=int)
    for i, j, _ in ising.couplings:
        deg[i] += 1
        deg[j] += 1
    if len(set(deg.tolist())) != 1:
        return None
    return int(deg[0]), values.pop()


def initial_angles(ising: IsingForm, reps: int,
                   table: Path | None = None) -> tuple[np.ndarray, str]:
    """Start angles [beta..., gamma...] and where they came from.

    Uses the fixed-angle table for regular max-cut graphs when it is available, else a
    linear ramp (as in annealing-inspired initialisations) scaled by the couplings.
    """
    reg = regular_degree(ising)
    table = table or fixed_angle_table_path()
    if reg is not None and table.exists():
        d, coupling = reg
        entry = json.loads(table.read_text()).get(str(d), {}).get(str(reps))
        if entry is not None:
            scale = 0.5 / coupling  # the table is for H = sum 0.5 Z Z
            gamma = np.array(entry["gamma"]) * scale
            beta = -np.array(entry["beta"])
            return np.concatenate([beta, gamma]), f"fixed-angle table D={d} p={reps}"
    size = max(np.abs(ising.h).max(initial=0), max((abs(c) for *_, c in ising.couplings),
                                                   default=0))
    k = (np.arange(reps) + 0.5) / reps
    beta = -0.6 * (1 - k)
    gamma = 0.6 * k / max(size, 1e-9)
    return np.concatenate([beta, gamma]), "linear ramp"


def fixed_angle_table_path() -> Path:
    """The fixed-angle table shipped with nq-hal (package data of ``hal.compilers``)."""
    from importlib.resources import files

    return Path(str(files("hal.compilers") / "data" / "fixed_angles_regular_maxcut.json"))
