import itertools
import json
import subprocess
import sys

import dimod
import numpy as np
import pytest

import hal
from hal.compilers.qubo import to_bqm, to_cqm
from hal.qubo.readers import read_gap, read_gset

from .conftest import has_module

needs_aer = pytest.mark.skipif(not has_module("qiskit_aer"), reason="qiskit-aer not installed")
needs_dwave = pytest.mark.skipif(not has_module("dwave.samplers"),
                                 reason="dwave-samplers not installed")


def brute_force(p: hal.AllocationProblem) -> float:
    best = None
    for hosts in itertools.product(range(len(p.hosts)), repeat=len(p.jobs)):
        x = np.zeros((len(p.jobs), len(p.hosts)), bool)
        x[np.arange(len(p.jobs)), hosts] = True
        obj, feas, _ = p.evaluate_matrix(x)
        if feas and (best is None or (obj < best if p.sense == "min" else obj > best)):
            best = obj
    return best


@pytest.fixture
def placement():
    return hal.AllocationProblem.from_file("examples/placement.yaml")


def test_highs_matches_brute_force(placement):
    res = hal.solve(placement, target="highs")
    assert res.feasible and res.objective == brute_force(placement) == 12
    assert res.validation["status"] == "optimal" and res.validation["gap"] == 0
    assert {"compile_s", "solve_s", "validate_s"} <= set(res.timing)


@needs_dwave
@pytest.mark.parametrize("target", ["dimod-sa", "dimod-tabu"])
def test_samplers_reach_the_optimum_on_the_demo(placement, target):
    res = hal.solve(placement, target=target, seed=3)
    assert res.feasible
    assert res.objective == 12
    assert 0 < res.validation["feasible_fraction"] <= 1
    assert res.provenance["versions"]["dwave-samplers"]


def test_exact_solver_refuses_above_its_variable_limit(placement):
    with pytest.raises(hal.DoesNotFit, match="allows 20"):
        hal.solve(placement, target="dimod-exact", fallback=False)


def test_exact_solver_on_a_tiny_problem():
    p = hal.AllocationProblem(["a", "b"], ["h1", "h2"], ["cpu"], [[1], [1]], [[1], [1]],
                              [[1, 3], [1, 2]])
    res = hal.solve(p, target="dimod-exact")
    assert res.assignment == {"a": "h1", "b": "h2"} and res.objective == 3


@pytest.mark.parametrize("encoding", ["slack", "unbalanced"])
def test_penalties_make_the_ground_state_feasible(placement, encoding):
    compiled = to_cqm(placement)
    bqm = to_bqm(compiled, encoding=encoding)
    assert len(compiled.penalties) == len(compiled.cqm.constraints)
    if encoding == "slack":  # the optimum assignment plus its best slack has penalty 0
        assert any(str(v).startswith("slack_") for v in bqm.variables)
    else:
        assert not any(str(v).startswith("slack_") for v in bqm.variables)


def test_affinity_and_anti_affinity_are_enforced():
    p = hal.AllocationProblem(["a", "b", "c"], ["h1", "h2"], ["cpu"], [[1], [1], [1]],
                              [[3], [3]], [[0, 5], [0, 5], [5, 0]],
                              anti_affinity=[("a", "b")], affinity=[("a", "c")])
    res = hal.solve(p, target="highs")
    assert res.assignment["a"] == res.assignment["c"] != res.assignment["b"]
    assert res.objective == brute_force(p)


@pytest.mark.parametrize("text,match", [
    ("resources: [cpu]\nhosts:\n  - {name: h, capacity: {cpu: -1}}\njobs: []\n",
     r":3: hosts.0.capacity.cpu: must be >= 0"),
    ("resources: [cpu]\nhosts: [{name: h, capacity: {cpu: 4}}]\n"
     "jobs: [{name: a, demand: {cpu: 1}}]\nanti_affinity: [[a, zz]]\n",
     r"unknown job 'zz'"),
    ("resources: [cpu]\nhosts: [{name: h, capacity: {cpu: 8}}]\n"
     "jobs: [{name: big, demand: {cpu: 12}}]\n",
     r"job 'big' needs 12 cpu, the largest host has 8"),
    ("resources: [cpu\n", r":2: invalid YAML"),
])
def test_bad_problem_files_give_one_clear_error(tmp_path, text, match):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(hal.ValidationError, match=match):
        hal.AllocationProblem.from_file(f)
    out = subprocess.run([sys.executable, "-m", "hal", "solve", str(f)], capture_output=True,
                         text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_too_many_qubits_is_a_clear_error_without_fallback():
    out = subprocess.run([sys.executable, "-m", "hal", "solve", "examples/placement.yaml",
                          "-t", "aer-statevector", "--no-fallback"], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "needs 46 qubits, more than the target's 26" in out.stderr + out.stdout


def test_lp_file_and_cqm_inputs(tmp_path, placement):
    cqm = to_cqm(placement).cqm
    path = tmp_path / "p.lp"
    with open(path, "w") as f:
        dimod.lp.dump(cqm, f)
    res = hal.solve(str(path), target="highs")
    assert res.objective == 12


def test_gap_reader_and_highs_on_gap1(benchmarks):
    probs = read_gap(benchmarks / "gap" / "gap1.txt")
    assert len(probs) == 5 and probs[0].sense == "max"
    assert probs[0].demand.shape == (15, 5, 1)
    res = hal.solve(probs[0], target="highs")
    assert res.objective == 336  # OR-Library optimum of c515-1


@needs_dwave
def test_sa_on_gap1_is_feasible_with_small_gap(benchmarks):
    p = read_gap(benchmarks / "gap" / "gap1.txt")[0]
    res = hal.solve(p, target="dimod-sa", seed=0)
    assert res.feasible
    assert res.validation["gap"] <= 0.02


def test_gset_reader(benchmarks):
    g = read_gset(benchmarks / "gset" / "G1.txt")
    assert g.num_nodes == 800 and len(g.edges) == 19176


def test_random_regular_graphs_are_simple_and_regular():
    for n, d in ((8, 3), (20, 3), (10, 4)):
        g = hal.qubo.problem.MaxCutProblem.random_regular(n, d, seed=n)
        assert np.array_equal(np.bincount(g.edges.ravel(), minlength=n), np.full(n, d))
        assert len({tuple(e) for e in g.edges.tolist()}) == len(g.edges) == n * d // 2
    with pytest.raises(hal.ValidationError, match="no simple 3-regular"):
        hal.qubo.problem.MaxCutProblem.random_regular(7, 3)


@needs_aer
@pytest.mark.parametrize("reps,guarantee", [(1, 0.6924), (2, 0.7559), (3, 0.7924)])
def test_qaoa_ratio_never_below_fixed_angle_guarantee(benchmarks, reps, guarantee):
    for seed in range(2):
        p = hal.qubo.problem.MaxCutProblem.random_regular(8, 3, seed)
        res = hal.solve(p, target="aer-statevector", seed=seed, reps=reps, maxiter=40)
        v = res.validation
        assert res.provenance["backend_info"]["angle_source"].startswith("fixed-angle")
        assert v["expected_approximation_ratio"] >= guarantee
        assert v["approximation_ratio"] >= v["expected_approximation_ratio"] - 1e-9


@needs_aer
def test_noisy_target_reports_hellinger_fidelity():
    p = hal.qubo.problem.MaxCutProblem(4, [(0, 1), (1, 2), (2, 3), (3, 0)])
    res = hal.solve(p, target="aer-noisy", seed=1, maxiter=20)
    f = res.validation["hellinger_fidelity"]
    assert 0.5 < f < 1.0  # noise lowers it, but the device is not random
    assert res.objective == 4


def test_cli_json_output(placement):
    out = subprocess.run([sys.executable, "-m", "hal", "solve", "examples/placement.yaml",
                          "--target", "highs", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    for key in ("target", "backend", "feasible", "objective", "assignment", "timing",
                "validation", "fallbacks", "provenance"):
        assert key in d
    assert d["validation"]["optimum"] == 12 and d["validation"]["gap"] == 0
