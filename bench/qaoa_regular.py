"""QAOA max-cut on random 3-regular graphs (n = 8..20, p = 1..3) on ``aer-statevector``:
approximation ratio <cut>/max-cut against the fixed-angle guarantees of Wurtz & Lykov
(p=1 0.6924, p=2 0.7559, p=3 0.7924), and the time of one energy evaluation inside
hal (angles optimised by COBYLA from the fixed-angle start) against raw Aer
(``qaoa_ansatz`` + ``EstimatorV2`` on the same angles), in one process.

Run: .venv/bin/python bench/qaoa_regular.py [--sizes 8,12,16,20] [--reps 1,2,3] [--maxiter 30]
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
    args = ap.parse_args()
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
                per_eval = info["optimise_s"] / max(info["evaluations"], 1)
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
