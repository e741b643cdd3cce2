"""Running one job of a sweep, in a Dask worker or in-process: always a row, never a raise.

A job runs on its own thread under a wall-clock limit. Backends that declare ``timeout_s``
(Lava, dimod) are given the limit and stop themselves (a ``timeout`` row). A job still
running :data:`GRACE_S` seconds past its limit also becomes a ``timeout`` row, flagged
``restart_worker``: a thread cannot be stopped from outside, so the Dask executor restarts
that worker (the local executor leaves the thread behind).

Example:
    >>> from hal.sweep.spec import expand, load_sweep_text
    >>> spec = load_sweep_text('''
    ... name: demo
    ... workloads: [{name: n, random_network: {n_in: 2, n_hidden: 3, n_out: 1}, steps: 5}]
    ... targets: [cpu]
    ... ''')
    >>> row = run_job(expand(spec)[0], time_limit_s=60)
    >>> row["status"], row["target"], row["error"]
    ('ok', 'cpu', None)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from typing import Any

from hal.errors import HALError, HALTimeoutError
from hal.result import jsonable
from hal.sweep.spec import Job

#: jobs this process ran on neuromorphic (Lava) targets; the Dask executor recycles a
#: worker when it reaches the sweep's ``recycle_after`` (Lava leaks memory, lava #336)
_LAVA_JOBS = [0]

#: seconds past the limit before the watchdog gives up on a job, so that a backend told
#: the limit (``timeout_s``) can stop itself and clean up first
GRACE_S = 5.0


class DaemonicWorker(HALError, RuntimeError):
    """A Lava job landed on a daemonic process, which may not start Lava's processes."""


def run_job(job: Job, time_limit_s: float, grace_s: float = GRACE_S) -> dict[str, Any]:
    """Run ``job`` under ``time_limit_s`` seconds; return its row (status ``ok``,
    ``failed`` or ``timeout``, with the error), never raising. The watchdog gives up
    ``grace_s`` past the limit."""
    box: dict[str, Any] = {}
    start = time.perf_counter()

    def work() -> None:
        try:
            box["out"] = _execute(job, time_limit_s)
        except BaseException as exc:  # a failing job is a row, whatever it raised
            box["error"] = exc

    thread = threading.Thread(target=work, name=f"hal-sweep-{job.job_id}", daemon=True)
    thread.start()
    thread.join(time_limit_s + grace_s)
    wall = time.perf_counter() - start
    if job.kind == "neuromorphic":
        _LAVA_JOBS[0] += 1
    if thread.is_alive():
        row = _row(job, "timeout", f"HALTimeoutError: job exceeded its time limit of "
                   f"{time_limit_s:g} s (time_limit_s)", wall)
        row["restart_worker"] = True
        return row
    if "error" in box:
        status = "timeout" if isinstance(box["error"], HALTimeoutError) else "failed"
        return _row(job, status, _describe(box["error"]), wall)
    summary, timing, provenance = box["out"]
    return _row(job, "ok", None, wall, summary, timing, provenance)


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, HALError):
        return text
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    return (text + where)[:4000]


def _where() -> str:
    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            return get_worker().address
        except ValueError:  # not inside a Dask worker
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def _row(job: Job, status: str, error: str | None, wall: float,
         summary: dict[str, Any] | None = None, timing: dict[str, float] | None = None,
         provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    summary, timing = summary or {}, timing or {}
    return {
        "job_id": job.job_id, "sweep": job.sweep, "workload": job.workload,
        "family": job.family, "target": job.target, "seed": job.seed,
        "axes": json.dumps(jsonable(job.axes), sort_keys=True),
        "params": json.dumps(jsonable({**job.params, "options": job.options}),
                             sort_keys=True),
        "status": status, "error": error, "wall_s": wall,
        "compile_s": timing.get("compile_s"),
        "run_s": timing.get("run_s", timing.get("solve_s")),
        "spike_total": summary.get("spike_total"),
        "steps_per_s": summary.get("steps_per_s"),
        "objective": summary.get("objective"), "feasible": summary.get("feasible"),
        "gap": summary.get("gap"),
        "summary": json.dumps(jsonable(summary), sort_keys=True),
        "provenance": json.dumps(jsonable(provenance or {}), sort_keys=True),
        "worker": _where(), "pid": os.getpid(),
        "finished": datetime.now(timezone.utc),
        "lava_jobs": _LAVA_JOBS[0], "restart_worker": False,
    }


def _options(job: Job, time_limit_s: float) -> dict[str, Any]:
    """The job's options, with the time limit handed to backends that declare
    ``timeout_s`` (unless the sweep set it)."""
    import hal

    opts = dict(job.options)
    backend = hal.get_backend(hal.get_target(job.target).backend)
    if "timeout_s" in backend.options and "timeout_s" not in opts:
        opts["timeout_s"] = float(time_limit_s)
    return opts


def _execute(job: Job, time_limit_s: float) -> tuple[dict, dict, dict]:
    if job.kind == "neuromorphic" and multiprocessing.current_process().daemon:
        raise DaemonicWorker("this Dask worker is a daemonic process and Lava starts one "
                             "process per population; start the workers with "
                             "DASK_DISTRIBUTED__WORKER__DAEMON=False (hal sweep does so "
                             "for its own LocalCluster)")
    opts = _options(job, time_limit_s)
    if job.family == "spiking":
        return _spiking(job, opts)
    if job.family == "qubo":
        return _qubo(job, opts)
    raise HALError(f"job {job.job_id}: no runner for family '{job.family}'")


def _spiking(job: Job, opts: dict[str, Any]) -> tuple[dict, dict, dict]:
    import numpy as np

    import hal

    p, seed = job.params, job.seed if job.seed is not None else 0
    if p["kind"] == "random_network":
        from hal.snn.ir import random_network

        net_args = {k: p[k] for k in ("recurrent", "density", "bias", "tau_spread")}
        graph = random_network(p["n_in"], p["n_hidden"], p["n_out"], seed=seed, **net_args)
    else:
        graph = hal.load(job.files[p["nir"]])
    exe = hal.compile(graph, target=job.target, dt=p["dt"], **opts)
    rng = np.random.default_rng(seed)
    x = (rng.random((p["steps"], exe.net.n_in)) < p["input_rate"]).astype(float)
    res = exe.run(x, steps=p["steps"], seed=seed)
    counts = {name: int(s.sum()) for name, s in res.spikes.items()}
    run_s = res.timing.get("run_s", 0.0)
    summary = {"spike_counts": counts, "spike_total": sum(counts.values()),
               "neurons": exe.net.num_neurons, "steps": p["steps"],
               "steps_per_s": p["steps"] / run_s if run_s > 0 else None}
    return summary, {**exe.compile_timing, **res.timing}, res.provenance


def _qubo(job: Job, opts: dict[str, Any]) -> tuple[dict, dict, dict]:
    import hal
    from hal.qubo.readers import load_problem

    p = job.params
    problem = load_problem(job.files[p["problem"]], instance=p["instance"])
    res = hal.solve(problem, target=job.target, seed=job.seed, **opts)
    v = res.validation
    summary = {"objective": res.objective, "feasible": res.feasible, "gap": v.get("gap"),
               "optimum": v.get("optimum"), "status": v.get("status"),
               "feasible_fraction": v.get("feasible_fraction"),
               "optimal_fraction": v.get("optimal_fraction"), "tts99_s": v.get("tts99_s"),
               "repaired": res.repaired, "answered_by": res.target}
    return summary, res.timing, res.provenance


__all__ = ["DaemonicWorker", "run_job"]
