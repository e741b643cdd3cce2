"""hal sweep: spec validation, grid and job ids, the local and Dask executors, resume,
failures and timeouts as rows, Ctrl-C, a killed worker, Lava in workers, report and plot."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from hal.errors import ValidationError

from .conftest import ROOT, has_module, shm_files

pytestmark = pytest.mark.skipif(not (has_module("distributed") and has_module("pyarrow")),
                                reason="needs the sweep extra (dask[distributed], pyarrow)")
needs_lava = pytest.mark.skipif(not has_module("lava"),
                                reason="lava-nc not installed (Python 3.10 only)")
PLACEMENT = ROOT / "examples" / "placement.yaml"


def write_spec(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).replace("@PLACEMENT@", str(PLACEMENT)))
    return path


def rows(out: Path) -> list[dict]:
    from hal.sweep.store import read_results

    return read_results(out).to_pylist()


# --- spec and grid -------------------------------------------------------------------


def test_spec_errors_name_file_line_and_field(tmp_path):
    from hal.sweep import load_sweep

    bad_field = write_spec(tmp_path, """\
        name: s
        workloads:
          - random_network: {n_in: 3, n_hidden: -4}
        targets: [cpu]
        """)
    with pytest.raises(ValidationError, match=r"sweep.yaml:3: workloads.0.random_network"
                                              r".n_hidden: Input should be greater"):
        load_sweep(bad_field)
    bad_target = write_spec(tmp_path, """\
        name: s
        workloads: [{problem: @PLACEMENT@}]
        targets:
          - highs
          - no-such-target
        """)
    with pytest.raises(ValidationError, match=r"sweep.yaml:5: targets.1: .*no-such-target"):
        load_sweep(bad_target)
    bad_option = write_spec(tmp_path, """\
        name: s
        workloads: [{problem: @PLACEMENT@}]
        targets:
          - {name: dimod-sa, axes: {num_readz: [1, 2]}}
        """)
    with pytest.raises(ValidationError, match=r"sweep.yaml:4: .*unknown option\(s\) num_readz"):
        load_sweep(bad_option)
    missing = write_spec(tmp_path, """\
        name: s
        workloads:
          - {name: p, problem: nowhere.yaml}
        targets: [highs]
        """)
    with pytest.raises(ValidationError, match=r"sweep.yaml:3: workloads.0.problem: no such "
                                              r"file nowhere.yaml"):
        load_sweep(missing)


def test_grid_pairs_families_and_ids_follow_what_is_computed(tmp_path):
    from hal.sweep import expand, load_sweep

    problem = tmp_path / "p.yaml"
    problem.write_text(PLACEMENT.read_text())
    spec_path = write_spec(tmp_path, """\
        name: grid
        axes: {seed: [0, 1]}
        workloads:
          - {name: net, random_network: {n_in: 2, n_hidden: 3, n_out: 1}, steps: 5,
             axes: {n_hidden: [3, 6]}}
          - {name: p, problem: p.yaml}
        targets: [cpu, highs, {name: dimod-sa, axes: {num_reads: [5, 10]}}]
        """)
    jobs = expand(load_sweep(spec_path))
    by_target = {t: [j for j in jobs if j.target == t] for t in ("cpu", "highs", "dimod-sa")}
    assert [len(v) for v in by_target.values()] == [4, 2, 4]  # spiking only on cpu, etc.
    assert {j.workload for j in by_target["cpu"]} == {"net"}
    assert len({j.job_id for j in jobs}) == len(jobs) == 10
    assert by_target["dimod-sa"][1].axes == {"seed": 0, "num_reads": 10}
    assert by_target["dimod-sa"][1].options == {"num_reads": 10}
    # same spec, same ids; a renamed sweep keeps them; a changed problem file changes them
    again = expand(load_sweep(spec_path))
    assert [j.job_id for j in again] == [j.job_id for j in jobs]
    spec_path.write_text(spec_path.read_text().replace("name: grid", "name: renamed"))
    assert [j.job_id for j in expand(load_sweep(spec_path))] == [j.job_id for j in jobs]
    problem.write_text(PLACEMENT.read_text().replace("cpu: 8", "cpu: 9", 1))
    changed = {j.job_id for j in expand(load_sweep(spec_path))}
    assert {j.job_id for j in by_target["cpu"]} <= changed
    assert not {j.job_id for j in by_target["highs"]} & changed


# --- local executor: rows, resume, failures, timeouts, Ctrl-C ----------------------------


def test_local_sweep_resumes_and_records_failures(tmp_path):
    from hal.sweep.run import run_sweep

    (tmp_path / "broken.nir").write_bytes(b"not hdf5")
    spec = write_spec(tmp_path, """\
        name: local
        axes: {seed: [0, 1]}
        workloads:
          - {name: net, random_network: {n_in: 3, n_hidden: 5, n_out: 2}, steps: 20}
          - {name: broken, nir: broken.nir}
          - {name: p, problem: @PLACEMENT@}
        targets: [cpu, highs]
        """)
    out = tmp_path / "r.parquet"
    first = run_sweep(spec, out, executor="local", progress=False)
    assert (first.total, first.ok, first.failed, first.skipped) == (6, 4, 2, 0)
    table = {(r["workload"], r["seed"]): r for r in rows(out)}
    assert len(table) == 6
    assert table[("p", 0)]["objective"] == 12.0 and table[("p", 0)]["gap"] == 0.0
    assert table[("net", 1)]["spike_total"] == sum(
        json.loads(table[("net", 1)]["summary"])["spike_counts"].values())
    assert "broken.nir: not a readable NIR file" in table[("broken", 0)]["error"]
    assert json.loads(table[("p", 1)]["provenance"])["seed"] == 1
    second = run_sweep(spec, out, executor="local", progress=False)
    assert (second.ran, second.skipped, len(rows(out))) == (0, 6, 6)
    retried = run_sweep(spec, out, executor="local", progress=False, retry_failed=True)
    assert (retried.ran, retried.failed, retried.skipped) == (2, 2, 4)
    assert len(rows(out)) == 6  # the newer rows replace the failed ones
    assert len(list(out.glob("part-*.parquet"))) == 1  # compacted


def test_job_past_its_time_limit_is_a_timeout_row():
    from hal.sweep import expand, load_sweep_text
    from hal.sweep.jobs import run_job

    spec = load_sweep_text("""
        name: slow
        workloads: [{random_network: {n_in: 10, n_hidden: 300, n_out: 5}, steps: 4000}]
        targets: [cpu]
        """)
    start = time.perf_counter()
    row = run_job(expand(spec)[0], time_limit_s=0.05, grace_s=0.05)
    assert time.perf_counter() - start < 0.5
    assert row["status"] == "timeout" and row["restart_worker"] is True
    assert "exceeded its time limit of 0.05 s" in row["error"]


def test_ctrl_c_leaves_readable_rows_and_a_rerun_finishes(tmp_path):
    from hal.sweep.run import run_sweep

    spec = write_spec(tmp_path, """\
        name: interrupted
        axes: {seed: [0, 1, 2, 3, 4, 5]}
        workloads: [{random_network: {n_in: 2, n_hidden: 3, n_out: 1}, steps: 5}]
        targets: [cpu]
        """)
    out = tmp_path / "r.parquet"
    seen = []

    def interrupt_after_three(row):
        seen.append(row["job_id"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, executor="local", progress=False, on_row=interrupt_after_three,
                  flush_rows=100, flush_s=100)
    assert sorted(r["job_id"] for r in rows(out)) == sorted(seen)
    rest = run_sweep(spec, out, executor="local", progress=False)
    assert (rest.ran, rest.skipped, len(rows(out))) == (3, 3, 6)


# --- Dask ------------------------------------------------------------------------------


def _leaked_shm(before: set[str], wait_s: float = 15.0) -> set[str]:
    """New /dev/shm entries that no live process maps (other sessions on this machine
    may hold live segments of their own meanwhile)."""
    deadline = time.monotonic() + wait_s
    while True:
        mapped = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                mapped |= {line.rsplit("/", 1)[-1].split()[0]
                           for line in open(f"/proc/{pid}/maps") if "/dev/shm/" in line}
            except OSError:
                continue
        leaked = {n for n in shm_files() - before if n not in mapped}
        if not leaked or time.monotonic() > deadline:
            return leaked
        time.sleep(0.5)


@pytest.mark.lava
@pytest.mark.slow
@needs_lava
def test_dask_grid_of_every_family_with_lava_recycled(tmp_path):
    from hal.sweep.run import run_sweep

    spec = write_spec(tmp_path, """\
        name: families
        axes: {seed: [0, 1]}
        workloads:
          - {name: snn, random_network: {n_in: 3, n_hidden: 6, n_out: 2}, steps: 20,
             input_rate: 0.3}
          - {name: p, problem: @PLACEMENT@}
        targets: [cpu, loihi2-sim, {name: dimod-sa, options: {num_reads: 10}}, highs]
        """)
    out = tmp_path / "r.parquet"
    before = shm_files()
    report = run_sweep(spec, out, workers=2, recycle_after=1, progress=False)
    assert (report.total, report.ok, report.failed) == (8, 8, 0)
    assert report.restarts == 2  # every Lava job recycles its worker (recycle_after=1)
    got = rows(out)
    assert sorted((r["target"], r["seed"]) for r in got) == sorted(
        (t, s) for t in ("cpu", "loihi2-sim", "dimod-sa", "highs") for s in (0, 1))
    assert all(r["worker"].startswith("tcp://") for r in got)
    spikes = {(r["target"], r["seed"]): r["spike_total"] for r in got}
    assert all(spikes[("loihi2-sim", s)] == spikes[("cpu", s)] for s in (0, 1))  # bit-exact
    assert all(r["objective"] == 12.0 for r in got if r["family"] == "qubo")
    again = run_sweep(spec, out, workers=2, progress=False)
    assert (again.ran, again.skipped, len(rows(out))) == (0, 8, 8)
    assert _leaked_shm(before) == set()


@pytest.mark.slow
def test_killed_worker_loses_no_rows_and_its_job_is_retried(tmp_path):
    from hal.sweep.run import run_sweep

    spec = write_spec(tmp_path, """\
        name: kill
        axes: {seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}
        workloads: [{random_network: {n_in: 10, n_hidden: 200, n_out: 5}, steps: 1500}]
        targets: [cpu]
        """)
    out = tmp_path / "r.parquet"
    pids: dict[str, int] = {}
    before_kill: list[dict] = []
    killed: list[int] = []

    def kill_the_busy_worker(row):
        pids[row["worker"]] = row["pid"]
        if not killed:
            before_kill.append(row)
        others = [p for w, p in pids.items() if w != row["worker"]]
        if not killed and len(before_kill) >= 3 and others:
            os.kill(others[0], signal.SIGKILL)  # it is running a job now
            killed.append(others[0])

    report = run_sweep(spec, out, workers=2, progress=False, on_row=kill_the_busy_worker,
                       flush_rows=1)
    assert killed, "no worker was killed"
    assert (report.total, report.ok, report.failed) == (10, 10, 0)
    got = {r["job_id"]: r for r in rows(out)}
    assert len(got) == 10
    for r in before_kill:  # rows written before the kill are still there, unchanged
        assert got[r["job_id"]]["finished"] == r["finished"]
    later = [r for r in got.values() if r["finished"] > before_kill[-1]["finished"]]
    assert later and killed[0] not in {r["pid"] for r in later}


@pytest.mark.slow
def test_job_past_its_limit_on_dask_is_a_row_and_its_worker_restarted(tmp_path):
    from hal.sweep.run import run_sweep

    spec = write_spec(tmp_path, """\
        name: slow
        workloads: [{random_network: {n_in: 10, n_hidden: 300, n_out: 5}, steps: 200000}]
        targets: [cpu]
        """)
    out = tmp_path / "r.parquet"
    start = time.perf_counter()
    report = run_sweep(spec, out, workers=1, time_limit_s=0.5, grace_s=0.1, progress=False)
    assert (report.timeout, report.restarts) == (1, 1)
    assert time.perf_counter() - start < 25  # the run alone takes about 30 s here
    (row,) = rows(out)
    assert row["status"] == "timeout" and "time limit of 0.5 s" in row["error"]


# --- CLI and report --------------------------------------------------------------------


def test_cli_local_sweep_report_and_plot(tmp_path):
    from click.testing import CliRunner

    from hal.cli import main

    spec = write_spec(tmp_path, """\
        name: cli
        axes: {seed: [0, 1]}
        workloads: [{name: p, problem: @PLACEMENT@}]
        targets: [highs, {name: dimod-sa, axes: {num_reads: [2, 20]}}]
        """)
    out = tmp_path / "r.parquet"
    runner = CliRunner()
    res = runner.invoke(main, ["sweep", str(spec), "--out", str(out), "--executor", "local",
                               "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ok"] == 6
    res = runner.invoke(main, ["sweep", "report", str(out)])
    assert res.exit_code == 0 and "6 jobs, 6 ok" in res.output
    png = tmp_path / "gap.png"
    res = runner.invoke(main, ["sweep", "report", str(out), "--plot", "gap-vs-num_reads",
                               "--plot-out", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = runner.invoke(main, ["sweep", "report", str(out), "--plot", "gap"])
    assert res.exit_code == 2 and "write METRIC-vs-AXIS" in res.output
    bad = write_spec(tmp_path, "name: x\nworkloads: []\ntargets: [cpu]\n", "bad.yaml")
    res = runner.invoke(main, ["sweep", str(bad), "--out", str(out)])
    assert res.exit_code == 2 and "bad.yaml:2: workloads" in res.output


def test_import_hal_loads_no_sweep_dependency():
    import subprocess
    import sys

    code = ("import sys, hal, hal.cli, hal.sweep; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'dask', 'distributed', 'pyarrow'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
