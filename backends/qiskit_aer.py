"""QAOA on Qiskit Aer: statevector, matrix product state, and a noisy fake device.

Angles are optimised with COBYLA on exact expectation values (Aer ``EstimatorV2`` with
``default_precision=0``) on the noiseless simulator of the target's method; the final
circuit is then sampled with ``SamplerV2`` on the target itself. On the noisy target
the fake device is built from its hw_configs file (basis gates, coupling map, error
rates -> ``GenericBackendV2`` for transpiling plus our own ``NoiseModel``), and the
Hellinger fidelity of its output distribution against the ideal one is reported.
"""

from __future__ import annotations

import time
from typing import Any

import dimod
import numpy as np

from hal.backend import Option, QuboBackend
from hal.compilers.qaoa import bqm_to_ising, initial_angles, qaoa_circuit
from hal.compilers.qubo import Compiled, penalty_weights, to_bqm
from hal.errors import DoesNotFit, HALTimeoutError, ValidationError
from hal.qubo.result import Samples
from hal.target import NoiseSpec, Target


class QiskitAerBackend(QuboBackend):
    """QAOA built with ``qaoa_ansatz`` and run with Aer primitives V2."""

    name = "qiskit_aer"
    requires = ("qiskit", "qiskit_aer")
    install_hint = "pip install 'nq-hal[quantum]'"
    packages = ("qiskit", "qiskit-aer")
    options = {
        "method": Option("statevector", "Aer method for sampling: statevector, "
                         "matrix_product_state, density_matrix, or automatic (noisy "
                         "targets: density matrix up to density_matrix_max_qubits, else "
                         "statevector trajectories)", probe="matrix_product_state"),
        "reps": Option(1, "QAOA depth p", probe=2, minimum=1),
        "shots": Option(2048, "shots sampled from the optimised circuit", probe=64,
                        minimum=1, fast=256),
        "maxiter": Option(200, "optimiser iterations (COBYLA)", probe=2, fast=10),
        "initial_angles": Option("auto", "auto (fixed-angle table for regular max-cut, "
                                 "else a linear ramp) or a list of 2p angles [beta..., "
                                 "gamma...]", probe=[-0.3, 0.4]),
        "bond_dimension": Option(64, "MPS bond dimension; matrix_product_state only",
                                 probe=2),
        "optimization_level": Option(1, "transpiler optimisation level (0-3) of the "
                                     "sampled circuit", probe=0),
        "penalty": Option("auto", "constraint penalty: auto, one number for every "
                          "constraint, or a dict label -> weight", probe=10.0),
        "encoding": Option("slack", "inequality encoding: slack (binary slack qubits) or "
                           "unbalanced (no slack qubits, arXiv:2211.13914)",
                           probe="unbalanced"),
        "timeout_s": Option(600.0, "wall-clock limit of the angle optimisation in seconds "
                            "(checked before each evaluation); HALTimeoutError beyond",
                            probe=1e-9),
        "optimize": Option(True, "optimise the angles (False: sample at the initial angles)",
                           probe=False),
        "repair": Option(True, "repair the lowest-energy samples to feasible answers by "
                         "greedy moves (allocation problems)", probe=False),
        "density_matrix_max_qubits": Option(12, "noisy targets with method automatic: "
                                            "density matrix up to this many qubits, else "
                                            "statevector trajectories", probe=1),
    }

    def fits(self, compiled: Compiled, target: Target) -> str | None:
        if compiled.bqm is None:
            to_bqm(compiled)
        n = len(compiled.bqm.variables)
        if n > target.limits.qubits:
            return f"needs {n} qubits, more than the target's {target.limits.qubits}"
        return None

    def solve(self, compiled: Compiled, target: Target, seed: int | None = None,
              **options: Any) -> Samples:
        opts = self.resolve_options(target, options)
        _check_given(opts, options, target)
        bqm = to_bqm(compiled, penalty_weights(compiled, opts["penalty"]), opts["encoding"]) \
            if compiled.cqm.constraints or compiled.bqm is None else compiled.bqm
        ising = bqm_to_ising(bqm)
        reps = int(opts["reps"])
        circuit = qaoa_circuit(ising, reps)
        x0, origin = _start(ising, reps, opts["initial_angles"])
        deadline = time.monotonic() + float(opts["timeout_s"])
        start = time.perf_counter()
        params, expectation, evals = _optimise(circuit, ising, x0, opts, seed, deadline)
        optimise_s = time.perf_counter() - start
        bound = circuit.assign_parameters(params)
        start = time.perf_counter()
        counts, ran, facts = _sample(bound, target, opts, seed)
        sample_s = time.perf_counter() - start
        ss = _counts_to_sampleset(counts, ising, bqm)
        info = {"reps": reps, "angles": params.tolist(), "angle_source": origin,
                "initial_angles": x0.tolist(), "expected_energy": expectation + ising.offset,
                "evaluations": evals, "qubits": ising.num_qubits, "shots": int(opts["shots"]),
                "maxiter": int(opts["maxiter"]), "optimize": bool(opts["optimize"]),
                "penalty": opts["penalty"] if isinstance(opts["penalty"], (str, float, int))
                else "per constraint (given)", "encoding": opts["encoding"],
                "repair": bool(opts["repair"]), "timeout_s": float(opts["timeout_s"]),
                "optimization_level": int(opts["optimization_level"]), **facts}
        if target.limits.noise is not None:
            from qiskit.quantum_info import Statevector, hellinger_fidelity

            ideal = Statevector(bound).probabilities_dict()
            info["hellinger_fidelity"] = float(hellinger_fidelity(ideal, counts))
        return Samples(ss, info, {"optimise_s": optimise_s, "sample_s": sample_s},
                       counts=dict(counts), circuit=ran)


def _check_given(opts: dict[str, Any], given: dict[str, Any], target: Target) -> None:
    """Refuse options the caller set that this run would not read."""
    if "density_matrix_max_qubits" in given and (target.limits.noise is None
                                                 or opts["method"] != "automatic"):
        raise ValidationError("option 'density_matrix_max_qubits' applies to noisy targets "
                              f"with method automatic, not '{target.name}' with method "
                              f"'{opts['method']}'")
    if "bond_dimension" in given and opts["method"] != "matrix_product_state":
        raise ValidationError(f"option 'bond_dimension' applies to method "
                              f"matrix_product_state, not '{opts['method']}'; drop it or set "
                              "method='matrix_product_state'")


def _start(ising, reps: int, given: Any) -> tuple[np.ndarray, str]:
    if isinstance(given, str) and given == "auto":
        return initial_angles(ising, reps)
    x0 = np.asarray(given, dtype=float).ravel()
    if x0.shape != (2 * reps,):
        raise ValidationError(f"initial_angles: need 2p = {2 * reps} angles [beta..., "
                              f"gamma...], got {x0.size}")
    return x0, "given"


def _estimator(method: str, seed: int | None, bond_dimension: int):
    from qiskit_aer.primitives import EstimatorV2

    backend_options: dict[str, Any] = {"method": method}
    if method == "matrix_product_state":
        backend_options["matrix_product_state_max_bond_dimension"] = int(bond_dimension)
    if seed is not None:
        backend_options["seed_simulator"] = int(seed)
    return EstimatorV2(options={"backend_options": backend_options, "default_precision": 0})


def _optimise(circuit, ising, x0, opts, seed, deadline) -> tuple[np.ndarray, float, int]:
    from scipy.optimize import minimize

    from hal.compilers.qaoa import cost_operator

    method = opts["method"] if opts["method"] in ("statevector", "matrix_product_state") \
        else "statevector"
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    estimator = _estimator(method, seed, opts["bond_dimension"])
    observable = cost_operator(ising)
    # decompose the ansatz once, not in every estimator call
    circuit = transpile(circuit, AerSimulator(method=method), optimization_level=0)
    evals = 0

    def energy(theta: np.ndarray) -> float:
        nonlocal evals
        if time.monotonic() > deadline:
            raise HALTimeoutError(f"QAOA exceeded timeout_s={opts['timeout_s']} after "
                                  f"{evals} evaluations; raise timeout_s or lower maxiter")
        evals += 1
        return float(estimator.run([(circuit, observable, theta)]).result()[0].data.evs)

    if not opts["optimize"]:
        return x0, energy(x0), evals
    res = minimize(energy, x0, method="COBYLA", options={"maxiter": int(opts["maxiter"])})
    start = energy(x0)
    best = res.x if res.fun <= start else x0
    return np.asarray(best), float(min(res.fun, start)), evals


def _sample(bound, target: Target, opts, seed) -> tuple[dict[str, int], Any, dict[str, Any]]:
    """Counts, the transpiled circuit that ran, and facts about it (depth, two-qubit
    gates, simulation method, device qubits used)."""
    from qiskit import transpile
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    qc = bound.copy()
    qc.measure_all()
    noise = target.limits.noise
    method = opts["method"]
    level = int(opts["optimization_level"])
    facts: dict[str, Any] = {}
    if noise is not None:
        device, physical = fake_device(target, seed, qubits=qc.num_qubits)
        qc = transpile(qc, backend=device, optimization_level=level, seed_transpiler=seed)
        if method == "automatic":
            method = "density_matrix" if qc.num_qubits <= int(
                opts["density_matrix_max_qubits"]) else "statevector"
        facts["device_qubits"] = physical
    else:
        qc = transpile(qc, AerSimulator(method=method), optimization_level=level,
                       seed_transpiler=seed)
    options: dict[str, Any] = {"method": method}
    if method == "matrix_product_state":
        options["matrix_product_state_max_bond_dimension"] = int(opts["bond_dimension"])
        facts["bond_dimension"] = int(opts["bond_dimension"])
    if seed is not None:
        options["seed_simulator"] = int(seed)
    if noise is not None:
        options["noise_model"] = noise_model(target.limits.basis_gates, noise)
    facts.update(simulation_method=method, transpiled_depth=qc.depth(),
                 two_qubit_gates=sum(1 for inst in qc.data
                                     if inst.operation.num_qubits == 2
                                     and inst.operation.name != "barrier"))
    sampler = SamplerV2(default_shots=int(opts["shots"]), options={"backend_options": options})
    counts = sampler.run([qc]).result()[0].data.meas.get_counts()
    return counts, qc, facts


def fake_device(target: Target, seed: int | None = None, qubits: int | None = None):
    """A ``GenericBackendV2`` with the target's basis gates and coupling map, cut down to
    ``qubits`` connected device qubits (all of them when None), and the device qubits
    chosen. Noise is uniform over the device (:func:`noise_model`), so any connected set
    is as good as another; laying the circuit out on the fewest qubits keeps the noisy
    simulation to the qubits it touches instead of the whole device."""
    from qiskit.providers.fake_provider import GenericBackendV2

    lim = target.limits
    edges = [tuple(e) for e in lim.coupling_map]
    chosen = connected_qubits(lim.qubits, edges, qubits or lim.qubits)
    index = {q: i for i, q in enumerate(chosen)}
    sub = [[index[a], index[b]] for a, b in edges if a in index and b in index]
    device = GenericBackendV2(num_qubits=len(chosen), basis_gates=lim.basis_gates,
                              coupling_map=sub, seed=seed or 0)
    return device, chosen


def connected_qubits(num_qubits: int, edges: list[tuple[int, int]], k: int) -> list[int]:
    """``k`` device qubits forming a connected set, grown breadth first from the
    best-connected qubit (ties: the lowest index).

    Example:
        >>> connected_qubits(6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)], 3)
        [0, 1, 5]
    """
    if k > num_qubits:
        raise DoesNotFit(f"needs {k} qubits, the device has {num_qubits}")
    neighbours: dict[int, set[int]] = {q: set() for q in range(num_qubits)}
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    start = max(range(num_qubits), key=lambda q: (len(neighbours[q]), -q))
    order, queue = [start], [start]
    while queue and len(order) < k:
        for q in sorted(neighbours[queue.pop(0)]):
            if q not in order and len(order) < k:
                order.append(q)
                queue.append(q)
    if len(order) < k:
        raise DoesNotFit(f"the device's coupling map has no {k} connected qubits")
    return sorted(order)


def noise_model(basis_gates: list[str], spec: NoiseSpec):
    """Depolarising + thermal-relaxation gate errors and readout errors from the spec."""
    from qiskit_aer.noise import (
        NoiseModel,
        ReadoutError,
        depolarizing_error,
        thermal_relaxation_error,
    )

    t1, t2 = spec.t1_us * 1e3, min(spec.t2_us, 2 * spec.t1_us) * 1e3  # ns
    nm = NoiseModel(basis_gates=basis_gates)
    one = [g for g in basis_gates if g in ("sx", "x", "id")]
    two = [g for g in basis_gates if g in ("cx", "cz", "ecr")]
    e1 = depolarizing_error(spec.single_qubit_error, 1).compose(
        thermal_relaxation_error(t1, t2, spec.single_qubit_time_ns))
    relax2 = thermal_relaxation_error(t1, t2, spec.two_qubit_time_ns)
    e2 = depolarizing_error(spec.two_qubit_error, 2).compose(relax2.expand(relax2))
    if one:
        nm.add_all_qubit_quantum_error(e1, one)
    if two:
        nm.add_all_qubit_quantum_error(e2, two)
    p = spec.readout_error
    nm.add_all_qubit_readout_error(ReadoutError([[1 - p, p], [p, 1 - p]]))
    return nm


def _counts_to_sampleset(counts: dict[str, int], ising, bqm) -> dimod.SampleSet:
    n = ising.num_qubits
    bits = np.array([[int(b) for b in reversed(key[-n:])] for key in counts], dtype=np.int8)
    occ = np.array(list(counts.values()))
    return dimod.SampleSet.from_samples_bqm((bits, ising.variables), bqm,
                                            num_occurrences=occ)
