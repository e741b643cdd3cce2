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
from hal.compilers.qubo import Compiled, to_bqm
from hal.errors import HALTimeoutError
from hal.qubo.result import Samples
from hal.target import NoiseSpec, Target


class QiskitAerBackend(QuboBackend):
    """QAOA built with ``qaoa_ansatz`` and run with Aer primitives V2."""

    name = "qiskit_aer"
    requires = ("qiskit", "qiskit_aer")
    install_hint = "pip install 'nq-hal[quantum]'"
    packages = ("qiskit", "qiskit-aer")
    options = {
        "method": Option("statevector", "Aer method: statevector or matrix_product_state",
                         probe="matrix_product_state"),
        "reps": Option(1, "QAOA depth p", probe=2, minimum=1),
        "shots": Option(2048, "shots sampled from the optimised circuit", probe=64,
                        minimum=1),
        "maxiter": Option(200, "optimiser iterations (COBYLA)", probe=2),
        "initial_angles": Option("auto", "auto (fixed-angle table, else a ramp) or a list "
                                 "of 2p angles", probe=None),
        "bond_dimension": Option(64, "MPS bond dimension (matrix_product_state)", probe=None),
        "optimization_level": Option(1, "transpiler optimisation level", probe=0),
        "penalty": Option("auto", "constraint penalty: auto or a dict label -> weight",
                          probe=None),
        "encoding": Option("slack", "inequality encoding: slack", probe=None),
        "timeout_s": Option(600.0, "wall-clock limit of the optimisation, seconds",
                            probe=None),
        "optimize": Option(True, "optimise the angles (False: sample at the initial angles)",
                           probe=False),
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
        bqm = compiled.bqm if compiled.bqm is not None else to_bqm(
            compiled, opts["penalty"] if isinstance(opts["penalty"], dict) else None,
            opts["encoding"])
        ising = bqm_to_ising(bqm)
        circuit = qaoa_circuit(ising, int(opts["reps"]))
        x0, origin = (initial_angles(ising, int(opts["reps"])) if opts["initial_angles"] == "auto"
                      else (np.asarray(opts["initial_angles"], float), "given"))
        deadline = time.monotonic() + float(opts["timeout_s"])
        start = time.perf_counter()
        params, expectation, evals = _optimise(circuit, ising, x0, opts, seed, deadline)
        optimise_s = time.perf_counter() - start
        bound = circuit.assign_parameters(params)
        counts = _sample(bound, target, opts, seed)
        ss = _counts_to_sampleset(counts, ising, bqm)
        info = {"reps": int(opts["reps"]), "angles": params.tolist(), "angle_source": origin,
                "initial_angles": x0.tolist(), "expected_energy": expectation + ising.offset,
                "evaluations": evals, "optimise_s": optimise_s, "qubits": ising.num_qubits,
                "shots": int(opts["shots"])}
        if target.limits.noise is not None:
            from qiskit.quantum_info import Statevector, hellinger_fidelity

            ideal = Statevector(bound).probabilities_dict()
            info["hellinger_fidelity"] = float(hellinger_fidelity(ideal, counts))
        return Samples(ss, info)


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
    best = res.x if res.fun <= energy(x0) else x0
    return np.asarray(best), float(min(res.fun, energy(x0))), evals


def _sample(bound, target: Target, opts, seed) -> dict[str, int]:
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    qc = bound.copy()
    qc.measure_all()
    noise = target.limits.noise
    options: dict[str, Any] = {"method": opts["method"]}
    if opts["method"] == "matrix_product_state":
        options["matrix_product_state_max_bond_dimension"] = int(opts["bond_dimension"])
    if seed is not None:
        options["seed_simulator"] = int(seed)
    if noise is not None:
        from qiskit.transpiler import generate_preset_pass_manager

        device = fake_device(target, seed)
        options["noise_model"] = noise_model(target.limits.basis_gates, noise)
        pm = generate_preset_pass_manager(optimization_level=int(opts["optimization_level"]),
                                          backend=device, seed_transpiler=seed)
        qc = pm.run(qc)
    else:
        from qiskit import transpile

        qc = transpile(qc, AerSimulator(method=opts["method"]), seed_transpiler=seed)
    sampler = SamplerV2(default_shots=int(opts["shots"]), options={"backend_options": options})
    return sampler.run([qc]).result()[0].data.meas.get_counts()


def fake_device(target: Target, seed: int | None = None):
    """A ``GenericBackendV2`` with the target's qubits, basis gates and coupling map."""
    from qiskit.providers.fake_provider import GenericBackendV2

    lim = target.limits
    return GenericBackendV2(num_qubits=lim.qubits, basis_gates=lim.basis_gates,
                            coupling_map=[list(e) for e in lim.coupling_map], seed=seed or 0)


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
