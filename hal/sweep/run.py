"""Run a sweep's grid on Dask (a ``LocalCluster`` or an existing scheduler) or in-process,
writing rows as they arrive and skipping the jobs already in the output.

On Dask, each worker runs one job at a time (workers x 1 thread, processes). Workers are
non-daemonic (``distributed.worker.daemon: False``, set before they start) so that Lava
can start its processes in them (dask/distributed#2142), and a worker is restarted after
``recycle_after`` Lava jobs (Lava leaks memory over re-instantiations, lava #336) and
after a job that ran past its time limit. A worker that dies is replaced by its nanny and
its job retried once (``distributed.scheduler.allowed-failures: 1``); a job that kills
two workers is a ``failed`` row.

Example:
    >>> import tempfile, os
    >>> from hal.sweep.spec import load_sweep_text
    >>> spec = load_sweep_text('''
    ... name: demo
    ... axes: {seed: [0, 1, 2]}
    ... workloads: [{name: n, random_network: {n_in: 2, n_hidden: 3, n_out: 1}, steps: 5}]
    ... targets: [cpu]
    ... ''')
    >>> out = os.path.join(tempfile.mkdtemp(), "r.parquet")
    >>> run_sweep(spec, out, executor="local", progress=False).ran
    3
    >>> again = run_sweep(spec, out, executor="local", progress=False)
    >>> again.ran, again.skipped
    (0, 3)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hal.errors import ValidationError
from hal.logs import get_logger
from hal.sweep.jobs import GRACE_S, run_job
from hal.sweep.spec import Job, SweepSpec, expand, load_sweep
from hal.sweep.store import ResultStore

log = get_logger("hal.sweep")

EXECUTORS = ("dask", "local")

#: Dask settings made before the cluster starts (the scheduler and nannies read them)
DASK_CONFIG = {
    "distributed.worker.daemon": False,
    "distributed.scheduler.allowed-failures": 1,
}


@dataclass
class SweepReport:
    """What a sweep run did.

    Attributes:
        total: jobs in the grid.
        skipped: jobs already in the output, not run again.
        ran: jobs run now (``ok + failed + timeout``).
        ok, failed, timeout: rows written now, by status.
        restarts: Dask workers restarted (recycled, or after a timeout).
        out: the results folder.
        wall_s: seconds the run took.
        interrupted: True when Ctrl-C stopped it (the rows that arrived are written).
    """

    total: int
    skipped: int
    out: str
    ok: int = 0
    failed: int = 0
    timeout: int = 0
    restarts: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    workers: list[str] = field(default_factory=list)

    @property
    def ran(self) -> int:
        """Jobs run now."""
        return self.ok + self.failed + self.timeout

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for ``--json``)."""
        return {**asdict(self), "ran": self.ran}

    def count(self, row: dict[str, Any]) -> None:
        """Tally one row by status."""
        setattr(self, row["status"], getattr(self, row["status"]) + 1)


def run_sweep(spec: SweepSpec | str | Path, out: str | Path, *, executor: str = "dask",
              workers: int = 2, scheduler: str | None = None,
              time_limit_s: float | None = None, recycle_after: int | None = None,
              retry_failed: bool = False, progress: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None,
              flush_rows: int = 16, flush_s: float = 2.0,
              grace_s: float = GRACE_S) -> SweepReport:
    """Run every job of ``spec`` not yet in ``out``; rows are written as they arrive.

    Args:
        spec: a :class:`SweepSpec` or the path of a sweep file.
        out: the results folder (Parquet dataset; created or added to).
        executor: ``dask`` (a ``LocalCluster``, or ``scheduler``) or ``local``.
        workers: LocalCluster workers (one thread each).
        scheduler: address of a running Dask scheduler (``tcp://host:8786``); its workers
            must be non-daemonic for Lava jobs and see the sweep's files.
        time_limit_s: per-job limit (default: the spec's ``time_limit_s``).
        recycle_after: restart a worker after this many Lava jobs (default: the spec's).
        retry_failed: run again the jobs whose rows failed or timed out.
        progress: show a progress bar on stderr.
        on_row: called with each row after it is queued for writing.
        flush_rows, flush_s: write a part file every this many rows or seconds.
        grace_s: how long past its limit a job's watchdog waits for the backend to stop
            itself before the row says ``timeout`` (and its Dask worker is restarted).
    """
    if executor not in EXECUTORS:
        raise ValidationError(f"executor '{executor}': choose one of {', '.join(EXECUTORS)}")
    if workers < 1:
        raise ValidationError(f"workers {workers}: need at least 1")
    spec = spec if isinstance(spec, SweepSpec) else load_sweep(spec)
    limit = float(time_limit_s or spec.time_limit_s)
    recycle = spec.recycle_after if recycle_after is None else recycle_after
    jobs = expand(spec)
    start = time.perf_counter()
    with ResultStore(out, flush_rows, flush_s) as store:
        done = store.done(retry_failed)
        todo = [j for j in jobs if j.job_id not in done]
        report = SweepReport(total=len(jobs), skipped=len(jobs) - len(todo), out=str(out))
        log.info("sweep %s: %d jobs, %d already in %s", spec.name, len(jobs),
                 report.skipped, out)
        with _progress(progress and bool(todo), len(todo), spec.name) as tick:
            def record(row: dict[str, Any]) -> None:
                store.add(row)
                report.count(row)
                tick(row)
                if on_row is not None:
                    on_row(row)

            try:
                if executor == "local":
                    for job in todo:
                        record(run_job(job, limit, grace_s))
                elif todo:
                    _run_dask(todo, record, report, workers=workers, scheduler=scheduler,
                              limit=limit, recycle=recycle, grace_s=grace_s)
            except KeyboardInterrupt:
                report.interrupted = True
                store.flush()
                raise
            finally:
                report.wall_s = time.perf_counter() - start
    return report


@contextlib.contextmanager
def _progress(show: bool, total: int, name: str) -> Iterator[Callable[[dict], None]]:
    if not show:
        yield lambda row: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("done, [red]{task.fields[failed]} failed[/]"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=Console(stderr=True))
    task = bar.add_task(f"sweep {name}", total=total, failed=0)
    failed = [0]

    def tick(row: dict[str, Any]) -> None:
        failed[0] += row["status"] != "ok"
        bar.update(task, advance=1, failed=failed[0])

    with bar:
        yield tick


def _cluster(workers: int, scheduler: str | None) -> contextlib.ExitStack:
    """A stack holding a Client (and the LocalCluster it owns)."""
    from distributed import Client, LocalCluster

    stack = contextlib.ExitStack()
    try:
        if scheduler:
            client = stack.enter_context(Client(scheduler, timeout="10s"))
        else:
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
    except OSError as exc:
        stack.close()
        raise ValidationError(f"cannot reach Dask scheduler {scheduler}: {exc}; start one "
                              "(dask scheduler) or leave out --scheduler") from None
    stack.client = client  # type: ignore[attr-defined]
    return stack


def _run_dask(todo: list[Job], record: Callable[[dict[str, Any]], None],
              report: SweepReport, *, workers: int, scheduler: str | None, limit: float,
              recycle: int, grace_s: float) -> None:
    import dask
    from distributed import as_completed

    with dask.config.set(DASK_CONFIG), _cluster(workers, scheduler) as stack:
        client = stack.client  # type: ignore[attr-defined]
        info = client.scheduler_info(n_workers=-1)["workers"]
        report.workers = sorted(info)
        window = _window(info, todo, recycle)
        queue, futures, done = deque(todo), as_completed(), {}

        def submit() -> None:
            if queue:
                job = queue.popleft()
                fut = client.submit(run_job, job, limit, grace_s, pure=False,
                                    key=f"hal-sweep-{job.job_id}-{time.time_ns()}")
                done[fut.key] = job
                futures.add(fut)

        for _ in range(window):
            submit()
        for fut in futures:
            job = done.pop(fut.key)
            row = _collect(fut, job)
            record(row)
            lava_due = (job.kind == "neuromorphic" and recycle
                        and row.get("lava_jobs", 0) >= recycle)
            if row.get("restart_worker") or lava_due:
                _restart(client, row["worker"], report)
            submit()


def _window(info: dict[str, Any], todo: list[Job], recycle: int) -> int:
    """Jobs in flight: two per worker thread, so a worker has its next job at hand (the
    round trip costs milliseconds per job); one per thread when Lava jobs will recycle
    workers, because a restart also takes down a job queued on that worker and Dask counts
    that against its one retry."""
    threads = max(1, sum(w.get("nthreads", 1) for w in info.values()))
    recycles = recycle and any(j.kind == "neuromorphic" for j in todo)
    return threads if recycles else 2 * threads


def _collect(fut: Any, job: Job) -> dict[str, Any]:
    """The row a future returned, or a ``failed`` row when its workers died."""
    from hal.sweep.jobs import _row

    try:
        row = fut.result()
    except Exception as exc:  # KilledWorker, CancelledError, lost connections
        reason = ("the worker running it died twice (Dask KilledWorker)"
                  if type(exc).__name__ == "KilledWorker" else f"{type(exc).__name__}: {exc}")
        row = _row(job, "failed", reason, float("nan"))
        row["worker"] = ""
    finally:
        fut.release()
    return row


def _restart(client: Any, worker: str, report: SweepReport) -> None:
    """Restart one worker through its nanny (fresh process: Lava's leaks and a stuck job's
    thread go with the old one)."""
    if not worker.startswith(("tcp://", "inproc://", "tls://", "ucx://")):
        return
    try:
        client.restart_workers([worker], raise_for_error=False)
        report.restarts += 1
    except Exception as exc:  # the worker may have gone already; the nanny replaces it
        log.warning("could not restart worker %s: %s", worker, exc)
