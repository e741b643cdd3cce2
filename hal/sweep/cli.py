"""``hal sweep SPEC.yaml --out R.parquet`` and ``hal sweep report R.parquet``."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class _RunByDefault(click.Group):
    """``hal sweep SPEC ...`` means ``hal sweep run SPEC ...``; ``report`` is the other
    subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def sweep() -> None:
    """Run a grid of jobs (workloads x targets x axes) on Dask; summarise the results.

    \b
    hal sweep SPEC.yaml --out R.parquet [--workers 2 | --scheduler tcp://HOST:8786]
    hal sweep report R.parquet [--plot gap-vs-num_reads]
    """


@sweep.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(),
              help="Results folder (Parquet dataset); rerunning skips the jobs in it.")
@click.option("--executor", type=click.Choice(["dask", "local"]), default="dask",
              show_default=True, help="dask: a LocalCluster or --scheduler; local: "
              "in this process, one job at a time.")
@click.option("--workers", type=int, default=2, show_default=True,
              help="LocalCluster workers (one thread each).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Use a running Dask scheduler instead of a LocalCluster.")
@click.option("--time-limit", "time_limit", type=float, default=None,
              help="Seconds per job (default: the spec's time_limit_s).")
@click.option("--recycle-after", type=int, default=None,
              help="Restart a worker after this many Lava jobs (default: the spec's; 0: never).")
@click.option("--retry-failed", is_flag=True, help="Run again the jobs that failed or timed out.")
@click.option("--dry-run", is_flag=True, help="Print the grid and what would run; run nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run(spec, out, executor, workers, scheduler, time_limit, recycle_after, retry_failed,
        dry_run, as_json) -> None:
    """Run every job of SPEC not yet in --out; exit 1 when a job failed."""
    from hal.sweep.spec import expand, load_sweep

    sw = load_sweep(spec)
    if dry_run:
        _dry_run(sw, expand(sw), out, retry_failed, as_json)
        return
    from hal.sweep.run import run_sweep

    if scheduler and executor == "local":
        raise click.UsageError("--scheduler needs --executor dask")
    try:
        report = run_sweep(sw, out, executor=executor, workers=workers, scheduler=scheduler,
                           time_limit_s=time_limit, recycle_after=recycle_after,
                           retry_failed=retry_failed, progress=not as_json)
    except KeyboardInterrupt:
        err_console.print(f"interrupted: the rows that arrived are in {out}; rerun the same "
                          "command to finish the sweep", highlight=False)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        console.print(f"{report.total} jobs: ran {report.ran} ({report.ok} ok, "
                      f"{report.failed} failed, {report.timeout} timed out), "
                      f"{report.skipped} already in {out}; {report.wall_s:.1f} s"
                      + (f"; {report.restarts} worker restarts" if report.restarts else ""),
                      highlight=False)
    sys.exit(1 if report.failed or report.timeout else 0)


def _dry_run(sw, jobs, out, retry_failed, as_json) -> None:
    from pathlib import Path

    from hal.sweep.store import ResultStore

    done = ResultStore(out).done(retry_failed) if Path(out).is_dir() else set()
    rows = [{"job_id": j.job_id, "workload": j.workload, "target": j.target, "axes": j.axes,
             "done": j.job_id in done} for j in jobs]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for r in rows:
        console.print(f"{r['job_id']}  {r['workload']:<16} {r['target']:<14} "
                      f"{json.dumps(r['axes'], default=str)}"
                      + ("  (done)" if r["done"] else ""), highlight=False)
    console.print(f"{len(rows)} jobs, {sum(r['done'] for r in rows)} already in {out}",
                  highlight=False)


@sweep.command("report")
@click.argument("results", type=click.Path(exists=True))
@click.option("--plot", "plot", default=None, metavar="METRIC-vs-AXIS",
              help="Plot a metric against an axis, one line per workload and target "
                   "(e.g. gap-vs-num_reads, steps_per_s-vs-n_hidden).")
@click.option("--plot-out", type=click.Path(dir_okay=False), default=None,
              help="PNG to write (default: RESULTS-METRIC-vs-AXIS.png beside RESULTS).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def report(results, plot, plot_out, as_json) -> None:
    """Print the grid of a results folder as a table (and plot a metric vs an axis)."""
    from hal.sweep.report import grid_rows, plot_metric, print_table

    rows = grid_rows(results)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        print_table(rows, console, title=f"sweep results {results}")
    if plot:
        path = plot_metric(rows, plot, plot_out, results)
        err_console.print(f"wrote {path}", highlight=False)
