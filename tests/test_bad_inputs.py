"""The bad-input corpus (issue 11): every reader, the CLI and the API, each case asserting
the exit code or exception class and that the message names the culprit; no traceback,
no hang. Grow it with every bug found: add a file under tests/corpus/ and a row below.

CLI cases run the click entry point in-process (``CliRunner``: the same error path as
``python -m hal``, without a second interpreter per case); a few cases run the real
command, for exit codes, Ctrl-C and interpreter exit.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import hal
from hal.cli import main
from tests.conftest import has_module, leaked_shm, shm_files

CORPUS = Path(__file__).parent / "corpus"
ROOT = Path(__file__).resolve().parents[1]
LAVA = has_module("lava") and sys.version_info[:2] == (3, 10)
needs_lava = pytest.mark.skipif(not LAVA, reason="Lava (lava-nc 0.10.0) needs Python 3.10 "
                                "with the lava extra")


def cli(*args: str, env: dict | None = None):
    """Run ``hal ARGS`` in-process; returns click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def assert_one_line_error(result, code: int, *culprits: str) -> None:
    """Exit ``code``, one ``error:`` line on stderr naming every culprit, no traceback."""
    err = result.stderr
    assert result.exit_code == code, (result.exit_code, err, result.stdout)
    assert "Traceback" not in err + result.stdout
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for c in culprits:
        assert c in lines[0], (c, lines[0])


# -- problem files: `hal solve FILE` ------------------------------------------------------
SOLVE = [
    ("alloc_alias_bomb.yaml", 2, ["MAX_NODES", "alias"]),
    ("alloc_deep_nesting.yaml", 2, ["alloc_deep_nesting.yaml:1", "MAX_DEPTH"]),
    ("alloc_deep_nesting.json", 2, ["alloc_deep_nesting.json", "MAX_DEPTH"]),
    ("alloc_not_mapping.yaml", 2, ["(top level)", "mapping"]),
    ("alloc_empty.yaml", 2, ["alloc_empty.yaml", "mapping"]),
    ("alloc_missing_jobs.yaml", 2, ["missing field 'jobs'"]),
    ("alloc_cost_cheap.yaml", 2, [":6", "jobs.0.cost.h1", "'cheap'"]),
    ("alloc_demand_text.yaml", 2, [":6", "jobs.0.demand.cpu", "'lots'"]),
    ("alloc_capacity_nan.yaml", 2, [":3", "hosts.0.capacity.cpu", "finite"]),
    ("alloc_capacity_inf.yaml", 2, [":3", "hosts.0.capacity.cpu", "finite"]),
    ("alloc_demand_negative.yaml", 2, ["jobs.0.demand.cpu", ">= 0"]),
    ("alloc_cost_nan.yaml", 2, ["jobs.0.cost.h1", "finite"]),
    ("alloc_capacity_bool.yaml", 2, ["hosts.0.capacity.cpu", "expected a number"]),
    ("alloc_unknown_resource_capacity.yaml", 2, ["hosts.0.capacity.gpu", "unknown resource"]),
    ("alloc_unknown_resource_demand.yaml", 2, ["jobs.0.demand.ram", "unknown resource"]),
    ("alloc_unknown_host_cost.yaml", 2, ["jobs.0.cost.h9", "unknown host 'h9'"]),
    ("alloc_unknown_job_affinity.yaml", 2, ["affinity.0", "unknown job 'ghost'"]),
    ("alloc_bad_pair.yaml", 2, ["anti_affinity.0", "two job names"]),
    ("alloc_jobs_empty.yaml", 2, ["jobs", "at least one job"]),
    ("alloc_hosts_empty.yaml", 2, ["hosts", "at least one host"]),
    ("alloc_resources_empty.yaml", 2, ["resources", "at least one resource"]),
    ("alloc_duplicate_jobs.yaml", 2, ["job names repeat", "'a'"]),
    ("alloc_bad_sense.yaml", 2, ["sense", "sideways"]),
    ("alloc_bad_assign.yaml", 2, ["assign", "maybe"]),
    ("alloc_sense_list.yaml", 2, ["sense", "expected a string"]),
    ("alloc_name_list.yaml", 2, ["jobs.0.name", "expected"]),
    ("alloc_host_not_mapping.yaml", 2, ["hosts.0", "missing field 'name'"]),
    ("alloc_unassigned_length.yaml", 2, ["unassigned_cost", "one per job"]),
    ("alloc_unassigned_nan.yaml", 2, ["unassigned_cost.0", "finite"]),
    ("alloc_invalid_syntax.yaml", 2, ["alloc_invalid_syntax.yaml:2", "invalid YAML"]),
    ("alloc_tab_indent.yaml", 2, ["alloc_tab_indent.yaml:3", "invalid YAML"]),
    ("alloc_unhashable_key.yaml", 2, ["alloc_unhashable_key.yaml:1", "invalid YAML"]),
    ("alloc_binary.yaml", 2, ["alloc_binary.yaml", "UTF-8"]),
    ("alloc_invalid.json", 2, ["alloc_invalid.json:1", "invalid JSON"]),
    ("alloc_list.json", 2, ["alloc_list.json", "mapping"]),
    ("alloc_markup_name.yaml", 2, ["jobs.1.demand.gpu", "unknown resource"]),
    ("infeasible_total_demand.yaml", 1, ["infeasible", "total demand", "9 cpu", "have 8"]),
    ("infeasible_job_fits_no_host.yaml", 1, ["job 'big' fits no host", "needs 12 cpu"]),
    ("infeasible_anti_affinity.yaml", 1, ["anti-affinity", "j0, j1, j2", "2 hosts"]),
    ("infeasible_contradictory.yaml", 1, ["contradictory", "b and a"]),
    ("infeasible_affinity_group.yaml", 1, ["affinity: jobs a, b must share a host"]),
    ("infeasible_markup.yaml", 1, ["job '[/]' fits no host"]),
    ("gap_negative_dims.txt", 2, ["gap_negative_dims.txt:2", "agents m", ">= 1"]),
    ("gap_zero_dims.txt", 2, ["gap_zero_dims.txt:2", "agents m"]),
    ("gap_float_dims.txt", 2, [":2", "integer", "2.5"]),
    ("gap_zero_instances.txt", 2, [":1", "instance count P", ">= 1"]),
    ("gap_text_token.txt", 2, ["gap_text_token.txt:3", "cost value 2", "'abc'"]),
    ("gap_nan_cost.txt", 2, [":3", "cost value 1", "finite"]),
    ("gap_inf_capacity.txt", 2, [":5", "capacity", "finite"]),
    ("gap_negative_resource.txt", 2, [":4", "resource value 1", ">= 0"]),
    ("gap_negative_capacity.txt", 2, [":5", "capacity value 1", ">= 0"]),
    ("gap_truncated.txt", 2, ["gap_truncated.txt:4", "truncated"]),
    ("gap_trailing.txt", 2, ["gap_trailing.txt:6", "after the last"]),
    ("gap_huge_dims.txt", 2, [":2", "GAP_MAX_CELLS"]),
    ("gap_two_instances.txt", 2, ["2 instances", "--instance 1..2"]),
    ("gset_nan_weight.txt", 2, ["gset_nan_weight.txt:2", "weight", "finite"]),
    ("gset_inf_weight.txt", 2, [":2", "weight", "finite"]),
    ("gset_text_weight.txt", 2, [":2", "weight", "'heavy'"]),
    ("gset_header_text.txt", 2, [":1", "nodes", "'three'"]),
    ("gset_count_mismatch.txt", 2, ["header says 5 edges, found 2"]),
    ("gset_node_out_of_range.txt", 2, [":3", "node 9 outside 1..3"]),
    ("gset_node_zero.txt", 2, [":2", "node 0 outside 1..3"]),
    ("gset_self_loop.txt", 2, [":2", "self-loop"]),
    ("gset_float_endpoint.txt", 2, [":2", "expected an integer", "'1.5'"]),
    ("gset_too_many_columns.txt", 2, [":2", "expected 'i j'"]),
    ("gset_zero_nodes.txt", 2, [":1", "nodes", ">= 1"]),
    ("lp_empty.lp", 2, ["lp_empty.lp", "empty LP file"]),
    ("lp_whitespace.lp", 2, ["lp_whitespace.lp", "empty LP file"]),
    ("lp_garbage.lp", 2, ["lp_garbage.lp", "no variables"]),
    ("format_unknown.txt", 2, ["format_unknown.txt", "cannot tell the format"]),
]
FORMAT = {"gset_zero_nodes.txt": "gset", "gset_empty.txt": "gset",
          "gset_header_text.txt": "gset", "gset_too_many_columns.txt": "gset"}


@pytest.mark.parametrize("name,code,culprits", SOLVE, ids=[c[0] for c in SOLVE])
def test_problem_file(name, code, culprits):
    extra = ["--format", FORMAT[name]] if name in FORMAT else []
    result = cli("solve", CORPUS / name, *extra)
    assert_one_line_error(result, code, *culprits)


def test_markup_in_names_is_printed_literally():
    result = cli("solve", CORPUS / "infeasible_markup.yaml")
    assert "'[/]'" in result.stderr and result.exit_code == 1
    out = cli("solve", CORPUS / "valid_anchors.yaml", "--json")
    assert out.exit_code == 0, out.stderr


@pytest.mark.parametrize("args,culprits", [
    (["gset_empty.txt", "--format", "gset"], ["gset_empty.txt", "empty file"]),
    (["gap_two_instances.txt", "--instance", "5"], ["--instance must be 1..2"]),
    (["gap_two_instances.txt", "--instance", "0"], ["--instance", "0"]),
    (["gap_two_instances.txt", "--format", "bogus"], ["--format", "bogus"]),
    (["valid_anchors.yaml", "--seed", "-1"], ["--seed", "-1"]),
    (["valid_anchors.yaml", "--seed", "4294967296"], ["--seed", "4294967296"]),
    (["valid_anchors.yaml", "--seed", "abc"], ["--seed", "'abc'"]),
    (["valid_anchors.yaml", "--reads", "0"], ["--reads", "0"]),
    (["valid_anchors.yaml", "--reps", "0"], ["--reps", "0"]),
    (["valid_anchors.yaml", "--max-gap", "nan"], ["--max-gap", "not finite"]),
    (["valid_anchors.yaml", "--max-gap", "-1"], ["--max-gap", ">= 0"]),
    (["valid_anchors.yaml", "-t", "no-such-target"], ["unknown target 'no-such-target'"]),
    (["valid_anchors.yaml", "-t", "cpu"], ["cpu"]),
    (["valid_anchors.yaml", "--plot", "/no/such/folder/e.png"], ["--plot", "does not exist"]),
    (["valid_anchors.yaml", "--plot", "."], ["--plot", "is a directory"]),
    (["no-such-file.yaml"], ["no-such-file.yaml", "no such file"]),
    (["."], ["PROBLEM", "is a directory"]),
], ids=lambda v: "-".join(v) if isinstance(v, list) and len(v) > 2 else None)
def test_solve_flags(args, culprits):
    args = [str(CORPUS / args[0]) if (CORPUS / args[0]).exists() and args[0] != "." else
            args[0], *args[1:]]
    assert_one_line_error(cli("solve", *args), 2, *culprits)


def test_valid_edge_cases_still_solve():
    for name in ("valid_anchors.yaml", "valid_at_most_over_capacity.yaml"):
        result = cli("solve", CORPUS / name, "--json")
        assert result.exit_code == 0, (name, result.stderr)
    p = hal.AllocationProblem.from_file(CORPUS / "valid_at_most_over_capacity.yaml")
    assert p.infeasibility() == []  # jobs may stay out, so capacity is no proof


# -- target files: `hal check FILE` -------------------------------------------------------
TARGETS = [
    ("target_bad_kind.yaml", ["target_bad_kind.yaml:2", "kind"]),
    ("target_cores_text.yaml", ["target_cores_text.yaml:5", "limits.cores"]),
    ("target_cores_negative.yaml", [":5", "limits.cores", "greater than 0"]),
    ("target_weight_bits.yaml", [":5", "limits.weight_bits"]),
    ("target_name_mismatch.yaml", [":1", "differs from the file name"]),
    ("target_missing_source.yaml", ["no source given for limits max_variables"]),
    ("target_fallback_missing.yaml", ["fallback", "'no-such-target' does not exist"]),
    ("target_fallback_family.yaml", ["fallback", "'highs' runs qubo"]),
    ("target_unknown_field.yaml", [":5", "speed"]),
    ("target_not_mapping.yaml", ["target_not_mapping.yaml", "mapping"]),
    ("target_invalid_syntax.yaml", ["target_invalid_syntax.yaml:", "invalid YAML"]),
    ("target_alias_bomb.yaml", ["target_alias_bomb.yaml", "MAX_NODES"]),
    ("target_noise_rate.yaml", ["limits.noise.single_qubit_error"]),
]


@pytest.mark.parametrize("name,culprits", TARGETS, ids=[t[0] for t in TARGETS])
def test_target_file(name, culprits):
    assert_one_line_error(cli("check", CORPUS / name), 2, *culprits)


def test_target_by_name_and_path(tmp_path):
    assert_one_line_error(cli("check", "no-such-target"), 2, "unknown target 'no-such-target'")
    (tmp_path / "target_bad_kind.yaml").write_text((CORPUS / "target_bad_kind.yaml").read_text())
    env = {"HAL_TARGETS_PATH": str(tmp_path)}
    assert_one_line_error(cli("targets", env=env), 2, "target_bad_kind.yaml")
    with pytest.raises(hal.ValidationError, match="target name"):
        hal.get_target(3)


# -- `hal run MODEL --input X` -------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small NIR model, a NaN-weight copy, and run inputs good and bad."""
    import nir

    from hal.snn.ir import random_network

    d = tmp_path_factory.mktemp("run")
    g = random_network(3, 5, 2, seed=1)
    nir.write(str(d / "m.nir"), g)
    bad = random_network(3, 5, 2, seed=1)
    w = next(n for n in bad.nodes.values() if hasattr(n, "weight"))
    w.weight = np.full_like(np.asarray(w.weight, float), np.nan)
    nir.write(str(d / "nan.nir"), bad)
    (d / "garbage.nir").write_bytes(b"not hdf5 at all")
    arrays = {"ok": np.ones((10, 3)), "nan": np.full((10, 3), np.nan),
              "inf": np.full((10, 3), np.inf), "complex": np.ones((10, 3)) * 1j,
              "shape": np.ones((10, 5)), "flat": np.ones(10), "text": np.array([["a"] * 3]),
              "graded": np.full((10, 3), 0.5)}
    for k, a in arrays.items():
        np.save(d / f"{k}.npy", a)
    np.save(d / "object.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    ro = d / "readonly"
    ro.mkdir()
    ro.chmod(0o500)
    yield d
    ro.chmod(0o700)


RUN = [
    (["missing.nir", "ok.npy"], [], ["missing.nir", "no such file"]),
    (["garbage.nir", "ok.npy"], [], ["garbage.nir", "not a readable NIR file"]),
    (["nan.nir", "ok.npy"], [], ["nan.nir", "NaN or inf"]),
    (["m.nir", "missing.npy"], [], ["missing.npy", "cannot read .npy"]),
    (["m.nir", str(CORPUS / "input_not_npy.npy")], [], ["input_not_npy.npy", "cannot read"]),
    (["m.nir", "object.npy"], [], ["object.npy", "cannot read .npy"]),
    (["m.nir", "nan.npy"], [], ["inputs", "non-finite", "nan"]),
    (["m.nir", "inf.npy"], [], ["inputs", "non-finite", "inf"]),
    (["m.nir", "complex.npy"], [], ["inputs", "complex"]),
    (["m.nir", "shape.npy"], [], ["inputs must be (T, 3)", "(10, 5)"]),
    (["m.nir", "flat.npy"], [], ["inputs must be (T, 3)", "(10,)"]),
    (["m.nir", "text.npy"], [], ["inputs", "must be numbers", "'a'"]),
    (["m.nir", "ok.npy"], ["--steps", "0"], ["--steps", "0"]),
    (["m.nir", "ok.npy"], ["--steps", "-1"], ["--steps", "-1"]),
    (["m.nir", "ok.npy"], ["--dt", "nan"], ["--dt", "not finite"]),
    (["m.nir", "ok.npy"], ["--dt", "0"], ["--dt", "> 0"]),
    (["m.nir", "ok.npy"], ["--dt", "-1e-4"], ["--dt", "> 0"]),
    (["m.nir", "ok.npy"], ["--save", "/no/such/folder/out.npz"], ["--save", "does not exist"]),
    (["m.nir", "ok.npy"], ["--plot", "/no/such/folder/r.png"], ["--plot", "does not exist"]),
    (["m.nir", "ok.npy"], ["--save", "{d}"], ["--save", "is a directory"]),
    (["m.nir", "ok.npy"], ["-t", "no-such-target"], ["unknown target 'no-such-target'"]),
    (["m.nir", "ok.npy"], ["-t", "highs"], ["highs"]),
    (["m.nir", "ok.npy"], ["--record", "bogus"], ["record", "bogus"]),
    (["m.nir", "ok.npy"], ["--compare", "nope"], ["unknown target 'nope'"]),
    (["m.nir", "ok.npy"], ["-t", "loihi2"], ["Loihi"]),
]


@pytest.mark.parametrize("paths,flags,culprits", RUN,
                         ids=[f"{p[1]}{''.join(f)}" for p, f, _ in RUN])
def test_run(files, paths, flags, culprits):
    model, x = (p if os.path.isabs(p) else str(files / p) for p in paths)
    flags = [f.format(d=files) for f in flags]
    assert_one_line_error(cli("run", model, "--input", x, "-t", "cpu", *flags), 2, *culprits)


def test_run_save_into_readonly_folder_fails_before_running(files):
    out = files / "readonly" / "out.npz"
    if os.access(files / "readonly", os.W_OK):
        pytest.skip("running as root: a read-only folder is still writable")
    result = cli("run", files / "m.nir", "--input", files / "ok.npy", "--save", out)
    assert_one_line_error(result, 2, "--save", "not writable")


def test_run_outputs_are_written_whole(files, tmp_path):
    save, plot = tmp_path / "out", tmp_path / "r.png"
    result = cli("run", files / "m.nir", "--input", files / "ok.npy", "--save", save,
                 "--plot", plot)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz", "r.png"]  # no temp left
    assert np.load(tmp_path / "out.npz")  # a whole, readable archive


@needs_lava
def test_graded_input_on_lava_names_the_rule(files):
    result = cli("run", files / "m.nir", "--input", files / "graded.npy", "-t", "loihi2-sim")
    assert_one_line_error(result, 2, "0/1 spike inputs")


# -- the API ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exe():
    from hal.snn.ir import random_network

    return hal.compile(random_network(3, 5, 2, seed=1), target="cpu")


API_RUN = [
    (np.full((5, 3), np.nan), {}, "non-finite value nan at index"),
    (np.full((5, 3), -np.inf), {}, "non-finite value -inf"),
    (np.ones((5, 3)) * 1j, {}, "complex"),
    ([[1, 2, 3], [1, 2]], {}, "ragged"),
    ([["a", "b", "c"]], {}, "must be numbers, got 'a'"),
    ([[None, 1, 2]], {}, "must be numbers, got None"),
    (np.ones((5, 3)), {"steps": 0}, "steps: must be >= 1"),
    (np.ones((5, 3)), {"steps": -1}, "steps: must be >= 1"),
    (np.ones((5, 3)), {"steps": 1.5}, "steps: expected an integer"),
    (np.ones((5, 3)), {"steps": "10"}, "steps: expected an integer"),
    (np.ones((5, 4)), {}, r"inputs must be \(T, 3\)"),
    (np.ones((0, 5, 3)), {}, "batch of 0 streams"),
    (np.ones((0, 3)), {}, "steps: must be >= 1"),
    (np.ones((5, 3)), {"record": "bogus"}, "record: unknown"),
]


@pytest.mark.parametrize("x,kw,match", API_RUN, ids=[m for *_, m in API_RUN])
def test_api_run_inputs(exe, x, kw, match):
    with pytest.raises(hal.ValidationError, match=match):
        exe.run(x, **kw)


def test_api_session_inputs(exe):
    s = exe.open()
    with pytest.raises(hal.ValidationError, match="step input: non-finite"):
        s.step(np.array([np.nan, 0, 0]))
    with pytest.raises(hal.ValidationError, match=r"shape \(3,\)"):
        s.step(np.ones(4))
    with pytest.raises(hal.ValidationError, match="step input: must be numbers"):
        s.step(["x", "y", "z"])
    s.close()
    with pytest.raises(hal.ValidationError, match="session is closed"):
        s.step(np.zeros(3))


def _nan_graph():
    from hal.snn.ir import random_network

    g = random_network(3, 5, 2, seed=1)
    node = next(n for n in g.nodes.values() if hasattr(n, "weight"))
    node.weight = np.asarray(node.weight, float) * np.nan
    return g


API_COMPILE = [
    (lambda g: hal.compile(g, target=None), hal.ValidationError, "target must be"),
    (lambda g: hal.compile(g, target=3), hal.ValidationError, "target must be"),
    (lambda g: hal.compile(g, target="nope"), hal.TargetNotFound, "unknown target 'nope'"),
    (lambda g: hal.compile(g, target="highs"), hal.ValidationError, "highs"),
    (lambda g: hal.compile(g, target="cpu", dt=float("nan")), hal.ValidationError, "dt"),
    (lambda g: hal.compile(g, target="cpu", dt=-1.0), hal.ValidationError, "dt"),
    (lambda g: hal.compile(g, target="cpu", bogus=1), hal.ValidationError, "bogus"),
    (lambda g: hal.compile("missing.nir"), hal.ValidationError, "no such file"),
    (lambda g: hal.compile(object()), hal.ValidationError, "cannot take a object"),
    (lambda g: hal.compile(_nan_graph(), target="cpu"), hal.ValidationError, "NaN or inf"),
]


@pytest.mark.parametrize("call,exc,match", API_COMPILE, ids=[m for *_, m in API_COMPILE])
def test_api_compile(call, exc, match):
    from hal.snn.ir import random_network

    with pytest.raises(exc, match=match):
        call(random_network(3, 5, 2, seed=1))


def test_api_compare(exe):
    from hal.liquid.api import LiquidResult

    r5, r7 = exe.run(np.ones((5, 3))), exe.run(np.ones((7, 3)))
    liquid = LiquidResult(outputs=np.zeros((5, 2)), steps=5, target="cpu-float",
                          backend="cpu_reference", precision="float")
    for a, b, match in ((r5, r7, "different shapes"), (r5, liquid, "SimResult with a "
                        "LiquidResult"), (1, 2, "not int"), (liquid, r5, "LiquidResult")):
        with pytest.raises(hal.ValidationError, match=match):
            hal.compare(a, b)


def _problem(**kw):
    base = dict(jobs=["a", "b"], hosts=["h1", "h2"], resources=["cpu"], demand=[[2], [2]],
                capacity=[[3], [3]], cost=[[1, 2], [2, 1]])
    return hal.AllocationProblem(**{**base, **kw})


def _bqm(linear, quadratic=None):
    import dimod

    return dimod.BinaryQuadraticModel(linear, quadratic or {}, 0.0, "BINARY")


API_SOLVE = [
    (lambda: hal.solve(_bqm({"a": math.nan}), "dimod-sa"), hal.ValidationError,
     "linear bias of 'a' is nan"),
    (lambda: hal.solve(_bqm({"a": 1}, {("a", "b"): math.inf}), "highs"),
     hal.ValidationError, "quadratic bias"),
    (lambda: hal.solve(_bqm({}), "highs"), hal.ValidationError, "no variables"),
    (lambda: hal.solve(_problem(), "dimod-sa", seed=-1), hal.ValidationError, "seed"),
    (lambda: hal.solve(_problem(), "dimod-sa", seed=2**32), hal.ValidationError, "seed"),
    (lambda: hal.solve(_problem(), "dimod-sa", seed=1.5), hal.ValidationError, "seed"),
    (lambda: hal.solve(_problem(), "dimod-sa", num_reads=0), hal.ValidationError,
     "num_reads: must be >= 1"),
    (lambda: hal.solve(_problem(), "dimod-sa", num_reads=2.5), hal.ValidationError,
     "num_reads: expected an integer"),
    (lambda: hal.solve(_problem(), "highs", time_limit_s=math.nan), hal.ValidationError,
     "time_limit_s: must be finite"),
    (lambda: hal.solve(_problem(), "highs", num_readz=3), hal.ValidationError, "num_readz"),
    (lambda: _problem(jobs=[], demand=[], cost=[]), hal.ValidationError, "jobs: none given"),
    (lambda: _problem(hosts=[], capacity=[], cost=[[], []]), hal.ValidationError,
     "hosts: none given"),
    (lambda: _problem(cost=[[1, math.nan], [2, 1]]), hal.ValidationError,
     r"cost: non-finite value nan at index \(0, 1\)"),
    (lambda: _problem(cost=[["x", 1], [2, 1]]), hal.ValidationError, "cost: must be numbers"),
    (lambda: _problem(demand=[[2, 1], [2, 1]]), hal.ValidationError, "demand: expected shape"),
    (lambda: _problem(sense="up"), hal.ValidationError, "sense"),
    (lambda: hal.solve(_problem(capacity=[[1], [1]]), "highs"), hal.Infeasible,
     "job 'a' fits no host"),
    (lambda: hal.solve(_problem(anti_affinity=[("a", "b")], affinity=[("a", "b")]), "highs"),
     hal.Infeasible, "contradictory"),
    (lambda: hal.MaxCutProblem(3, [[0, 5]]), hal.ValidationError, "0..2"),
    (lambda: hal.solve(42, "highs"), hal.ValidationError, "cannot take a int"),
]


@pytest.mark.parametrize("call,exc,match", API_SOLVE, ids=[m for *_, m in API_SOLVE])
def test_api_solve(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_highs_proven_infeasible_is_a_result_not_a_timeout():
    """Capacities every cheap check passes, yet no assignment fits: HiGHS proves it."""
    p = hal.AllocationProblem(jobs=["a", "b", "c"], hosts=["h1", "h2"], resources=["cpu"],
                              demand=[[3], [3], [3]], capacity=[[5], [5]],
                              cost=[[0, 0]] * 3)
    assert p.infeasibility() == []  # 9 <= 10 in total, every job fits somewhere
    with pytest.raises(hal.Infeasible, match="HiGHS proved"):
        hal.solve(p, "highs")
    assert issubclass(hal.Infeasible, ValueError) and hal.Infeasible.exit_code == 1


def test_infeasible_reasons_name_each_group():
    p = hal.AllocationProblem.from_file(CORPUS / "infeasible_total_demand.yaml")
    assert p.infeasibility() == ["total demand: jobs need 9 cpu in all, the hosts have 8"]


def test_errors_also_inherit_the_builtin():
    for cls, builtin in ((hal.ValidationError, ValueError), (hal.TargetNotFound, LookupError),
                         (hal.HALTimeoutError, TimeoutError), (hal.Infeasible, ValueError),
                         (hal.BackendUnavailable, RuntimeError)):
        assert issubclass(cls, hal.HALError) and issubclass(cls, builtin)


# -- hostile YAML, timed ----------------------------------------------------------------
def test_alias_bomb_refused_within_one_second():
    from hal._yaml import LocatedYAML

    text = (CORPUS / "alloc_alias_bomb.yaml").read_text()
    t0 = time.perf_counter()
    with pytest.raises(hal.ValidationError, match="MAX_NODES"):
        LocatedYAML.from_text(text, "bomb.yaml")
    with pytest.raises(hal.ValidationError, match="MAX_NODES"):
        hal.AllocationProblem.from_file(CORPUS / "alloc_alias_bomb.yaml")
    assert time.perf_counter() - t0 < 1.0


def test_deep_nesting_refused_not_recursion_error():
    from hal._yaml import MAX_DEPTH, LocatedYAML

    for text in ("a: " + "[" * 100_000 + "]" * 100_000, "- " * 10_000 + "x"):
        with pytest.raises(hal.ValidationError, match="MAX_DEPTH"):
            LocatedYAML.from_text(text, "deep.yaml")
    ok = LocatedYAML.from_text("a: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2))
    assert ok.data["a"] == [[]] or isinstance(ok.data["a"], list)


# -- real subprocesses: exit codes, Ctrl-C, interpreter exit ---------------------------
def _hal(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "hal", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def test_real_command_exit_codes_and_one_line():
    bad = _hal("solve", CORPUS / "alloc_capacity_nan.yaml")
    infeasible = _hal("solve", CORPUS / "infeasible_total_demand.yaml")
    for out, code in ((bad, 2), (infeasible, 1)):
        assert out.returncode == code, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def _lava_pids(pgid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True,
                         text=True).stdout.split("\n")
    return [line.split()[0] for line in out if line.strip() and "Z" not in line.split()[1]]


@needs_lava
@pytest.mark.parametrize("group,record", [(False, "spikes"), (True, "spikes"),
                                          (False, "spikes,v,u")],
                         ids=["signal-to-hal", "ctrl-c-to-group", "streamed-states"])
def test_sigint_during_lava_run_exits_130_and_leaves_nothing(files, group, record):
    x = files / "long.npy"
    np.save(x, (np.random.default_rng(0).random((50_000, 3)) < 0.3).astype(float))
    before = shm_files()
    proc = subprocess.Popen([sys.executable, "-m", "hal", "run", files / "m.nir", "-t",
                             "loihi2-sim", "--input", x, "--record", record], cwd=ROOT,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while len(_lava_pids(proc.pid)) < 6 and time.monotonic() < deadline:
            time.sleep(0.2)  # wait until Lava's processes run
        assert proc.poll() is None, proc.communicate()
        time.sleep(1.0)
        t0 = time.monotonic()
        if group:  # what a terminal's Ctrl-C does: SIGINT to every process of the group
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert elapsed < 5
    assert "Traceback" not in err and err.strip().splitlines() == [
        "error: interrupted (Ctrl-C); the run was stopped and its resources released"]
    time.sleep(0.5)
    assert _lava_pids(proc.pid) == []
    assert leaked_shm(before) == set()


@needs_lava
def test_forgotten_lava_session_does_not_block_exit(tmp_path):
    script = tmp_path / "forget.py"
    script.write_text(textwrap.dedent("""
        import numpy as np, hal
        from hal.snn.ir import random_network
        exe = hal.compile(random_network(3, 5, 2, seed=1), target="loihi2-sim")
        s = exe.open()
        for _ in range(3):
            s.step(np.array([1.0, 0.0, 1.0]))
        print("stepped", flush=True)
    """))
    before = shm_files()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()
        t0 = time.monotonic()
        assert line.strip() == "stepped", proc.stderr.read()
        proc.wait(timeout=5)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0 and elapsed < 5, proc.stderr.read()
    time.sleep(0.5)
    assert _lava_pids(proc.pid) == []
    assert leaked_shm(before) == set()


@needs_lava
def test_lava_session_closed_on_garbage_collection():
    import gc
    import multiprocessing as mp

    from hal.snn.ir import random_network

    exe = hal.compile(random_network(3, 5, 2, seed=1), target="loihi2-sim")
    s = exe.open()
    s.step(np.array([1.0, 0.0, 1.0]))
    assert mp.active_children()
    del s
    gc.collect()
    deadline = time.monotonic() + 5
    while mp.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mp.active_children() == []


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from hal._atomic import atomic_path

    out = tmp_path / "out.npz"
    with pytest.raises(OSError, match="No space"), atomic_path(out) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
    out.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert out.read_bytes() == b"old" and list(tmp_path.iterdir()) == [out]


@needs_lava
def test_ctrl_c_during_api_run_on_lava_raises_after_cleanup(exe):
    import multiprocessing as mp
    import threading

    from hal.snn.ir import random_network

    lava = hal.compile(random_network(3, 5, 2, seed=1), target="loihi2-sim")
    x = (np.random.default_rng(0).random((50_000, 3)) < 0.3).astype(float)  # ~40 s of run
    before = shm_files()
    sent, seen = [], []
    # what a terminal's Ctrl-C meets, even where pytest itself was started with SIGINT
    # ignored (a background job or nohup: hal then rightly leaves the interrupt ignored)
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)

    def interrupt() -> None:  # once Lava's processes run (at the latest after 10 s)
        deadline = time.monotonic() + 10
        while len(mp.active_children()) < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        seen.append(len(mp.active_children()))
        time.sleep(0.5)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    interrupted = False
    try:
        lava.run(x)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, handler)
    assert interrupted, f"the run ended without KeyboardInterrupt (SIGINT sent: {bool(sent)}, " \
                        f"Lava processes seen: {seen})"
    assert sent and time.monotonic() - sent[0] < 2.0
    assert mp.active_children() == []
    assert leaked_shm(before) == set()
