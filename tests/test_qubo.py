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
def test_qaoa_ratio_never_below_fixed_angle_guarantee(monkeypatch, reps, guarantee):
    monkeypatch.setenv("HAL_BENCHMARKS", "/nonexistent")  # angles ship with nq-hal
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


# -- issue 10: honest options, provenance, HiGHS through the registry ---------------------
def _comparable(res) -> dict:
    """What the conformance kit compares: to_dict() without the run's options, creation
    time and timings."""
    d = res.to_dict()
    d.pop("timing")
    for key in ("options", "created"):
        d["provenance"].pop(key)
    return d


def _tiny_bqm() -> dimod.BinaryQuadraticModel:
    return dimod.BinaryQuadraticModel({"a": -1, "b": -1, "c": 2}, {("a", "b"): 2}, 0, "BINARY")


@pytest.mark.parametrize("target", [
    "highs", pytest.param("dimod-sa", marks=needs_dwave),
    pytest.param("aer-statevector", marks=needs_aer)])
def test_every_option_is_read(target):
    backend = hal.get_backend(hal.get_target(target).backend)
    base = _comparable(hal.solve(_tiny_bqm(), target=target, seed=7, fallback=False,
                                 maxiter=3) if target.startswith("aer") else
                       hal.solve(_tiny_bqm(), target=target, seed=7, fallback=False))
    for name, opt in backend.options.items():
        assert opt.doc.strip() and opt.probe is not None, f"{name}: no doc or probe"
        extra = {"maxiter": 3} if target.startswith("aer") and name != "maxiter" else {}
        try:
            got = _comparable(hal.solve(_tiny_bqm(), target=target, seed=7, fallback=False,
                                        **extra, **{name: opt.probe}))
        except hal.HALError:
            continue
        assert got != base, f"{target}: option {name}={opt.probe!r} changed nothing"


@needs_dwave
def test_repair_false_returns_the_samplers_own_answer(benchmarks):
    p = read_gap(benchmarks / "gap" / "gap1.txt")[0]
    res = hal.solve(p, target="dimod-sa", seed=0, repair=False, num_reads=20)
    assert res.repaired is False and res.objective == res.raw["objective"]
    assert res.provenance["backend_info"]["repair"] is False
    with pytest.raises(hal.HALTimeoutError, match="timeout_s"):
        hal.solve(p, target="dimod-sa", seed=0, timeout_s=1e-9)
    with pytest.raises(hal.ValidationError, match="num_sweeps.*applies to sampler"):
        hal.solve(p, target="dimod-tabu", num_sweeps=10)


@needs_dwave
def test_provenance_names_highs_when_its_answer_is_adopted(benchmarks):
    p = read_gap(benchmarks / "gap" / "gap1.txt")[0]
    res = hal.solve(p, target="dimod-sa", seed=0, repair=False, num_reads=5, num_sweeps=20,
                    tune_penalties=False, max_gap=0.0)
    assert res.target == res.provenance["target"] == "highs"
    assert res.backend == res.provenance["backend"] == "classical_milp"
    assert res.provenance["replaced"]["target"] == "dimod-sa"
    assert res.objective == 336 and res.fallbacks[-1]["target"] == "dimod-sa"


def test_qubo_api_reaches_highs_only_through_the_registry():
    src = open("hal/qubo/api.py").read()
    assert "classical_milp" not in src and "hal.backends" not in src


# -- issue 13: Ocean users ----------------------------------------------------------------
@needs_dwave
def test_sampler_passes_dimods_api_checks_and_keeps_spins():
    from dimod.testing.asserts import assert_sampler_api

    sampler = hal.Sampler("dimod-sa", num_reads=30)
    assert_sampler_api(sampler)
    bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -0.5, "c": 0.25},
                                     {("a", "b"): -1.0, ("b", "c"): 0.75}, 0.0, "SPIN")
    exact = dimod.ExactSolver().sample(bqm).first
    ss = sampler.sample(bqm, seed=1)
    assert ss.vartype is dimod.SPIN and ss.first.sample == exact.sample
    assert ss.first.energy == pytest.approx(exact.energy)
    assert ss.record.num_occurrences.sum() == 30
    for target in ("highs", "dimod-sa"):
        res = hal.solve(bqm, target=target, seed=1)
        assert res.assignment == exact.sample, target
        assert res.sampleset.vartype is dimod.SPIN
    qubo = sampler.sample_qubo({("x", "x"): -1, ("x", "y"): 2, ("y", "y"): -1}, seed=0)
    assert qubo.vartype is dimod.BINARY and qubo.first.energy == -1


def test_to_pandas_needs_pandas(placement):
    res = hal.solve(placement, target="highs")
    if has_module("pandas"):
        assert len(res.to_pandas()) == len(res.sampleset)
    else:
        with pytest.raises(ImportError, match="pip install pandas"):
            res.to_pandas()


def _integer_cqm() -> dimod.ConstrainedQuadraticModel:
    # maximise 3n + 2m - 2x with n + m <= 7, n - x <= 3; n in [0, 5], m in [1, 4], x binary:
    # n=3, m=4, x=0 gives 17; n=4 needs x=1: 12 + 6 - 2 = 16
    n = dimod.Integer("n", lower_bound=0, upper_bound=5)
    m = dimod.Integer("m", lower_bound=1, upper_bound=4)
    x = dimod.Binary("x")
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(-3 * n - 2 * m + 2 * x)
    cqm.add_constraint(n + m <= 7, label="total")
    cqm.add_constraint(n - x <= 3, label="link")
    return cqm


@needs_dwave
def test_integer_variables_solve_on_highs_and_on_a_sampler():
    exact = hal.solve(_integer_cqm(), target="highs")
    assert exact.assignment == {"n": 3, "m": 4, "x": 0} and exact.objective == -17
    sa = hal.solve(_integer_cqm(), target="dimod-sa", seed=0, num_reads=50)
    assert sa.feasible and sa.objective == exact.objective
    assert sa.assignment == exact.assignment and sa.validation["verdict"] == "optimal (proven)"
    assert set(sa.sampleset.variables) == {"n", "m", "x"}  # bits decoded back


def test_real_variables_run_on_highs_and_are_refused_by_qubo_targets():
    cqm = dimod.ConstrainedQuadraticModel()
    y, x = dimod.Real("y", upper_bound=2.5), dimod.Binary("x")
    cqm.set_objective(-y - x)
    cqm.add_constraint(y + x <= 3, label="c")
    assert hal.solve(cqm, target="highs").assignment == {"y": 2.0, "x": 1}
    with pytest.raises(hal.DoesNotFit, match=r"variable 'y' is REAL.*real variables: highs"):
        hal.solve(cqm, target="dimod-sa", fallback=False)


LP_TEXT = """\\ integer allocation, written as docplex writes a QuadraticProgram
Maximize
 obj: 3 n + 2 m - x + [ - 2 m * x ]/2
Subject To
 total: n + m <= 7
 link: n - x <= 3
Bounds
 0 <= n <= 5
 1 <= m <= 4
Binaries
 x
Generals
 n m
End
"""


def test_lp_file_with_general_and_bounds_sections(tmp_path):
    path = tmp_path / "alloc.lp"
    path.write_text(LP_TEXT)
    res = hal.solve(str(path), target="highs")
    # maximise: n=4, m=3, x=1 gives 12+6-1-3 = 14; x=0 gives n=3, m=4: 9+8 = 17
    assert res.objective == 17 and res.assignment == {"n": 3, "m": 4, "x": 0}
    assert res.validation["optimum"] == 17


@needs_aer
def test_sparse_pauli_op_is_an_ising_problem():
    from qiskit.quantum_info import SparsePauliOp

    op = SparsePauliOp.from_sparse_list([("ZZ", [0, 1], 1.0), ("Z", [0], 0.5),
                                         ("Z", [2], -1.0), ("", [], 2.0)], num_qubits=3)
    res = hal.solve(op, target="highs")
    # spins are Z eigenvalues: ZZ wants 0,1 opposite, Z0 wants s0=-1, Z2 wants s2=+1
    assert res.assignment == {0: -1, 1: 1, 2: 1} and res.objective == pytest.approx(-0.5)
    energies = np.real(np.diag(op.to_matrix()))
    assert res.objective == pytest.approx(energies.min())
    with pytest.raises(hal.ValidationError, match="only I/Z"):
        hal.solve(SparsePauliOp(["XZ"]), target="highs")


# -- issue 13: trustworthy validation and the CLI ----------------------------------------
@needs_dwave
@needs_dwave
def test_unproven_validation_reports_gap_to_bound_and_best_known():
    # HiGHS cannot prove max-cut on 400 nodes in 1 s, but finds a cut and a bound
    g = hal.qubo.problem.MaxCutProblem.random_regular(400, 3, seed=0)
    res = hal.solve(g, target="dimod-sa", seed=0, num_reads=2, num_sweeps=200,
                    validate_time_s=1.0, best_known=550)
    v = res.validation
    assert v["status"] == "time_limit" and v["optimum"] is None and v["gap"] is None
    assert "of best known 550; HiGHS proved no optimum" in v["verdict"]
    assert v["gap_to_bound"] is not None and v["bound"] >= res.objective
    assert v["ratio_to_best_known"] == pytest.approx(res.objective / 550)
    assert v["time_limit_s"] == 1.0


def test_cli_options_assignment_and_json_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hal", "solve", "examples/placement.yaml",
                          "-o", "mip_rel_gap=0.5", "-o", "time_limit_s=30"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "load/capacity" in out.stdout and "web1" in out.stdout
    assert "optimal" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "hal", "solve", "examples/placement.yaml",
                          "-o", "no_such=1", "--json"], capture_output=True, text=True)
    assert bad.returncode == 2
    err = json.loads(bad.stdout)
    assert "no_such" in err["error"] and err["type"] == "ValidationError"


# -- issue 13: QAOA reporting and the plot -------------------------------------------------
@needs_aer
def test_noisy_qaoa_reports_circuit_counts_and_plots(tmp_path):
    from hal.qubo.cli import plot_result, save_plot

    p = hal.qubo.problem.MaxCutProblem.random_regular(6, 3, seed=1)
    res = hal.solve(p, target="aer-noisy", seed=3, maxiter=10, shots=512)
    info, v = res.provenance["backend_info"], res.validation
    assert sum(res.counts.values()) == 512 == res.sampleset.record.num_occurrences.sum()
    assert len(info["device_qubits"]) == 6 and info["simulation_method"] == "density_matrix"
    assert info["two_qubit_gates"] >= 9 and info["transpiled_depth"] > 0
    assert "OPENQASM 3" in res.circuit_qasm()
    assert 0 < v["optimal_fraction"] < 1 and 0 < v["expected_approximation_ratio"] < 1
    fig = plot_result(res)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("objective") and ax.get_ylabel() == "shots"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(s.startswith("optimum") for s in labels)
    assert any(s.startswith("expected") for s in labels)
    assert any(s.startswith("returned") for s in labels)
    heights = sum(patch.get_height() for patch in ax.patches)
    assert heights == pytest.approx(512)  # bars count shots, not distinct bitstrings
    path = tmp_path / "hist.png"
    save_plot(res, str(path), dpi=50)
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.shape[:2] == (200, 320)
