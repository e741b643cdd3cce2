"""QAOA max-cut on random 3-regular graphs (n = 8..20, p = 1..3) on ``aer-statevector``:
approximation ratio <cut>/max-cut against the fixed-angle guarantees of Wurtz & Lykov
(p=1 0.6924, p=2 0.7559, p=3 0.7924), and the time of one energy evaluation inside
hal (angles optimised by COBYLA from the fixed-angle start) against raw Aer
(``qaoa_ansatz`` + ``EstimatorV2`` on the same angles), in one process.

Then the ``aer-noisy`` column: QAOA p=1 on 10-node 3-regular graphs, the whole
``hal.solve`` on ``aer-noisy`` (4,096 noisy shots, laid out on the fewest device qubits)
beside what a plain Qiskit user writes: transpile the same bound circuit onto the full
16-qubit fake device and run it on ``AerSimulator`` with the same noise model.

Run: .venv/bin/python bench/qaoa_regular.py [--sizes 8,12,16,20] [--reps 1,2,3] [--maxiter 30]
     [--noisy-seeds 5] [--plain-seeds 2]
"""

import argparse
import time

import numpy as np

import hal
from hal.qubo.problem import MaxCutProblem

GUARANTEE = {1: 0.6924, 2: 0.7559, 3: 0.7924}


def raw_eval_s(problem: MaxCutProblem, reps: int, theta: np.ndarray, repeats: int = 5) -> float:
    """What a user of raw Qiskit writes: the cost Hamiltonian, qaoa_ansatz, EstimatorV2."""
    from qiskit.circuit.library import qaoa_ansatz
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer.primitives import EstimatorV2

    n = problem.num_nodes
    terms = [("ZZ", [int(i), int(j)], 0.5 * w) for (i, j), w in
             zip(problem.edges, problem.weights, strict=True)]
    cost = SparsePauliOp.from_sparse_list(terms, num_qubits=n)
    ansatz = qaoa_ansatz(cost, reps=reps)
    est = EstimatorV2(options={"default_precision": 0})
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _ = est.run([(ansatz, cost, theta)]).result()[0].data.evs
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8,10,12,14,16,18,20")
    ap.add_argument("--reps", default="1,2,3")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--maxiter", type=int, default=30)
    ap.add_argument("--noisy-seeds", type=int, default=5)
    ap.add_argument("--plain-seeds", type=int, default=2)
    ap.add_argument("--noisy-n", type=int, default=10)
    args = ap.parse_args()
    if args.sizes:
        statevector(args)
    if args.noisy_seeds:
        noisy(args)


def plain_noisy_s(bound, seed: int, shots: int) -> float:
    """Plain Qiskit: transpile onto the whole fake device, AerSimulator with noise."""
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    from hal.backends.qiskit_aer import fake_device, noise_model

    target = hal.get_target("aer-noisy")
    device, _ = fake_device(target, seed)
    qc = bound.copy()
    qc.measure_all()
    qc = transpile(qc, backend=device, optimization_level=1, seed_transpiler=seed)
    sim = AerSimulator(noise_model=noise_model(target.limits.basis_gates,
                                               target.limits.noise), seed_simulator=seed)
    t0 = time.perf_counter()
    sim.run(qc, shots=shots).result()
    return time.perf_counter() - t0


def noisy(args) -> None:
    from qiskit.circuit.library import qaoa_ansatz

    from hal.compilers.qaoa import bqm_to_ising, cost_operator
    from hal.compilers.qubo import to_cqm

    print(f"\naer-noisy, n={args.noisy_n}, p=1, 4096 shots: hal.solve total / sampling "
          "vs plain transpile + AerSimulator (sampling)")
    worst = 0.0
    for seed in range(args.noisy_seeds):
        problem = MaxCutProblem.random_regular(args.noisy_n, 3, seed)
        t0 = time.perf_counter()
        res = hal.solve(problem, target="aer-noisy", seed=seed)
        total = time.perf_counter() - t0
        worst = max(worst, total)
        info = res.provenance["backend_info"]
        line = (f"seed {seed}: hal {total:6.2f} s total, sampling {res.timing['sample_s']:5.2f}"
                f" s on {len(info['device_qubits'])} qubits ({info['simulation_method']}), "
                f"P(opt) {res.validation['optimal_fraction']:.3f}, Hellinger "
                f"{info['hellinger_fidelity']:.3f}")
        if seed < args.plain_seeds:
            ising = bqm_to_ising(to_cqm(problem).bqm)
            bound = qaoa_ansatz(cost_operator(ising), reps=1).assign_parameters(
                np.asarray(info["angles"]))
            line += f" | plain {plain_noisy_s(bound, seed, int(info['shots'])):6.2f} s"
        print(line, flush=True)
    print(f"aer-noisy worst total: {worst:.2f} s over {args.noisy_seeds} seeds")


def statevector(args) -> None:
    print(f"{'n':>3} {'p':>2} {'seed':>4} {'ratio':>7} {'guarantee':>9} {'best cut':>8} "
          f"{'max cut':>7} {'evals':>5} {'hal ms/eval':>11} {'raw ms/eval':>11} {'ratio':>6}")
    below, speed = 0, []
    for n in (int(s) for s in args.sizes.split(",")):
        for reps in (int(r) for r in args.reps.split(",")):
            for seed in range(args.seeds):
                problem = MaxCutProblem.random_regular(n, 3, seed)
                res = hal.solve(problem, target="aer-statevector", seed=seed, reps=reps,
                                maxiter=args.maxiter)
                info, v = res.provenance["backend_info"], res.validation
                per_eval = res.timing["optimise_s"] / max(info["evaluations"], 1)
                raw = raw_eval_s(problem, reps, np.asarray(info["angles"]))
                speed.append(per_eval / raw)
                ratio = v["expected_approximation_ratio"]
                below += ratio < GUARANTEE[reps]
                print(f"{n:>3} {reps:>2} {seed:>4} {ratio:>7.4f} {GUARANTEE[reps]:>9.4f} "
                      f"{res.objective:>8g} {v['optimum']:>7g} {info['evaluations']:>5} "
                      f"{per_eval * 1e3:>11.2f} {raw * 1e3:>11.2f} {per_eval / raw:>5.2f}x",
                      flush=True)
    print(f"\nruns below the fixed-angle guarantee: {below}; time per evaluation hal/raw: "
          f"median {np.median(speed):.2f}x, max {max(speed):.2f}x")


if __name__ == "__main__":
    main()
