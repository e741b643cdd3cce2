"""``hal solve``: solve a problem file on a target and compare with HiGHS."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hal._atomic import atomic_path, check_writable
from hal._cli_options import parse_options
from hal._cli_types import POSITIVE_INT, SEED, FiniteFloat
from hal.errors import HALError
from hal.qubo.readers import FORMATS, load_problem

console = Console()

OPTION_HELP = ("Backend option KEY=VALUE (repeatable; values read as YAML: 500, false, 2.5); "
               "`hal check TARGET` lists a target's options.")

#: exit code (README) when the answer ran but failed validation; errors carry their own
EXIT_FAILED = 1


@click.command()
@click.argument("problem", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="highs", show_default=True, help="Target name or auto.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Input format (detected from the file when omitted).")
@click.option("--instance", type=POSITIVE_INT, default=None,
              help="Instance (1-based) in a GAP file.")
@click.option("--seed", type=SEED, default=None, help="Seed for samplers and simulators.")
@click.option("--reads", type=POSITIVE_INT, default=None,
              help="Samples (annealers) or shots (QAOA).")
@click.option("--reps", type=POSITIVE_INT, default=None, help="QAOA depth p.")
@click.option("-o", "--option", "raw_options", multiple=True, metavar="KEY=VALUE",
              help=OPTION_HELP)
@click.option("--fallback/--no-fallback", default=None,
              help="--fallback: also when the target is unavailable; --no-fallback: never, "
                   "not even when the problem does not fit (default: only then).")
@click.option("--max-gap", type=FiniteFloat(0.0), default=None,
              help="Return HiGHS's answer when the gap exceeds this fraction.")
@click.option("--best-known", type=float, default=None,
              help="Best known objective (e.g. Gset's published cut), reported beside "
                   "HiGHS's bound.")
@click.option("--validate-time", type=FiniteFloat(0.0), default=None,
              help="HiGHS budget in seconds (default: max(2 s, 1.25x the solve)).")
@click.option("--no-validate", is_flag=True, help="Skip the HiGHS comparison.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (errors too, as {\"error\": ...}).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Save a shot-weighted histogram of the samples' objective (PNG).")
def solve(problem: str, target: str, fmt: str | None, instance: int | None, seed: int | None,
          reads: int | None, reps: int | None, raw_options: tuple[str, ...],
          fallback: bool | None, max_gap: float | None, best_known: float | None,
          validate_time: float | None, no_validate: bool, as_json: bool,
          plot: str | None) -> None:
    """Solve PROBLEM (allocation YAML/JSON, LP, OR-Library GAP, Gset) on a target."""
    try:
        if plot:
            check_writable(plot, "--plot")  # before solving, not after
        prob = load_problem(problem, fmt, instance)
        options = _options(target, reads, reps, raw_options)
        res, caught = _solve(prob, target, seed, no_validate, fallback, max_gap, best_known,
                             validate_time, options, quiet=as_json)
        if plot:
            save_plot(res, plot)
    except HALError as exc:
        if not as_json:
            raise  # hal's CLI prints it on stderr, exit 2
        click.echo(json.dumps({"error": str(exc), "type": type(exc).__name__,
                               "exit_code": exc.exit_code}))
        sys.exit(exc.exit_code)
    failed = not res.feasible or (
        max_gap is not None and (res.validation.get("gap") or 0) > max_gap)
    if as_json:
        click.echo(json.dumps(res.to_dict(), indent=2, default=str))
    else:
        for w in caught:
            console.print(f"[yellow]fallback:[/] {escape(str(w.message))}", highlight=False)
        _table(res)
        _assignment(prob, res)
    sys.exit(EXIT_FAILED if failed else 0)


def _options(target: str, reads: int | None, reps: int | None,
             raw: tuple[str, ...]) -> dict[str, Any]:
    import hal
    from hal.registry import get_backend

    options: dict[str, Any] = {}
    if reads is not None:
        backend = get_backend(hal.get_target(target).backend) if target != "auto" else None
        key = "shots" if backend is not None and "shots" in backend.options else "num_reads"
        options[key] = reads
    if reps is not None:
        options["reps"] = reps
    options.update(parse_options(raw))
    return options


def _solve(prob, target, seed, no_validate, fallback, max_gap, best_known, validate_time,
           options, quiet):
    import hal

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", hal.FallbackWarning)
        with console.status(f"solving on {target}...", spinner="dots") if not quiet \
                else _nothing():
            res = hal.solve(prob, target=target, seed=seed, validate=not no_validate,
                            fallback=fallback, max_gap=max_gap, best_known=best_known,
                            validate_time_s=validate_time, **options)
    return res, caught


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _pct(v: float | None) -> str | None:
    return None if v is None else f"{v:.2%}"


def _table(res) -> None:
    v, info = res.validation, res.provenance.get("backend_info", {})
    table = Table(title=escape(f"hal solve: {res.provenance.get('problem')} on {res.target}"))
    table.add_column("quantity")
    table.add_column("value")
    rows = [("backend", res.backend), ("feasible", res.feasible), ("objective", res.objective),
            ("verdict", v.get("verdict")),
            ("raw objective (before repair)", res.raw.get("objective") if res.repaired
             else None),
            ("repaired", res.repaired if res.repaired else None),
            ("HiGHS optimum (proven)", v.get("optimum")),
            ("HiGHS bound", v.get("bound") if v.get("optimum") is None else None),
            ("HiGHS best found", v.get("best_found") if v.get("optimum") is None else None),
            ("HiGHS status / budget", None if "status" not in v
             else f"{v['status']} / {_fmt(v.get('time_limit_s'))} s"),
            ("gap to optimum", _pct(v.get("gap"))),
            ("gap to bound", _pct(v.get("gap_to_bound"))
             if v.get("optimum") is None and v.get("best_known") is None else None),
            ("best known", v.get("best_known")),
            ("ratio to best known", v.get("ratio_to_best_known")),
            ("best-of-samples ratio", v.get("approximation_ratio")),
            ("<C>/C* (expected ratio)", v.get("expected_approximation_ratio")),
            ("P(optimum)", _pct(v.get("optimal_fraction"))),
            ("feasible samples", _pct(v.get("feasible_fraction"))),
            ("Hellinger fidelity vs ideal", v.get("hellinger_fidelity")),
            ("transpiled depth / 2-qubit gates", None if "transpiled_depth" not in info
             else f"{info['transpiled_depth']} / {info['two_qubit_gates']}"),
            ("simulation", _simulation(info))]
    rows += [(k, None if t is None else f"{t:.3f} s") for k, t in res.timing.items()]
    rows += [(f"skipped {f['target']}", f["reason"]) for f in res.fallbacks]
    for name, value in rows:
        if value is not None:
            table.add_row(name, _fmt(value))
    console.print(table)
    if res.violations:
        console.print("[red]violations:[/] " + escape("; ".join(res.violations[:10])),
                      highlight=False)


def _simulation(info: dict[str, Any]) -> str | None:
    if "simulation_method" not in info:
        return None
    qubits = len(info.get("device_qubits") or []) or info.get("qubits")
    return f"{info['simulation_method']} on {qubits} qubits"


def _assignment(prob, res) -> None:
    """Which job on which host, and each host's load against its capacities (allocation
    problems); a short summary of other answers."""
    from hal.qubo.problem import AllocationProblem, MaxCutProblem

    if isinstance(prob, AllocationProblem):
        x = np.zeros((len(prob.jobs), len(prob.hosts)), dtype=bool)
        for j, job in enumerate(prob.jobs):
            host = res.assignment.get(job)
            if host is not None:
                x[j, prob.hosts.index(host)] = True
        load = prob.load(x)
        table = Table(title="assignment")
        table.add_column("host")
        table.add_column("jobs")
        for r in prob.resources:
            table.add_column(f"{r} load/capacity", justify="right")
        for h, host in enumerate(prob.hosts):
            jobs = [prob.jobs[j] for j in np.flatnonzero(x[:, h])]
            cells = [(f"[red]{load[h, r]:g}/{prob.capacity[h, r]:g}[/]"
                      if load[h, r] > prob.capacity[h, r] + 1e-9
                      else f"{load[h, r]:g}/{prob.capacity[h, r]:g}")
                     for r in range(len(prob.resources))]
            table.add_row(escape(host), escape(", ".join(jobs)) or "-", *cells)
        left = [job for job, host in res.assignment.items() if host is None]
        if left:
            table.add_row("(unassigned)", escape(", ".join(left)), *[""] * len(prob.resources))
        console.print(table)
    elif isinstance(prob, MaxCutProblem):
        side = np.asarray(res.assignment)
        console.print(f"cut sides: {int((side == 0).sum())} nodes | {int((side == 1).sum())} "
                      "nodes (--json for the vector)", highlight=False)
    elif isinstance(res.assignment, dict):
        items = list(res.assignment.items())
        text = ", ".join(f"{k}={v}" for k, v in items[:30])
        more = f" ... ({len(items) - 30} more; --json for all)" if len(items) > 30 else ""
        console.print(f"assignment: {escape(text)}{more}", highlight=False)


def plot_result(res):
    """A matplotlib Figure: the samples' objective (problem's own sense) weighted by
    shots or reads, feasible and infeasible stacked, with the optimum (or best known),
    the expected value over samples and the returned answer marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ss = res.sampleset
    obj = np.asarray(ss.record.objective, dtype=float)
    occ = np.asarray(ss.record.num_occurrences, dtype=float)
    feas = np.asarray(ss.record.is_feasible, dtype=bool)
    unit = "shots" if res.counts is not None else "reads"
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    bins = _bins(obj)
    ax.hist([obj[feas], obj[~feas]], bins=bins, weights=[occ[feas], occ[~feas]],
            stacked=True, color=["tab:blue", "tab:gray"],
            label=[f"feasible ({occ[feas].sum():g} {unit})",
                   f"infeasible ({occ[~feas].sum():g} {unit})"])
    v = res.validation
    ref = v.get("optimum") if v.get("optimum") is not None else v.get("best_known")
    if ref is not None:
        ax.axvline(ref, color="tab:red", ls="--",
                   label=f"{'optimum' if v.get('optimum') is not None else 'best known'} "
                         f"{ref:g}")
    expected = v.get("expected_objective")
    if expected is None and occ.sum():
        expected = float(np.average(obj, weights=occ))
    if expected is not None:
        ax.axvline(expected, color="tab:orange", ls=":", label=f"expected {expected:.4g}")
    if res.objective is not None:
        ax.axvline(res.objective, color="tab:green", label=f"returned {res.objective:g}")
    ax.set_xlabel("objective (problem's own sense)")
    ax.set_ylabel(unit)
    ax.set_title(f"{res.provenance.get('problem')} on {res.target}: {occ.sum():g} {unit}")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig


def _bins(obj: np.ndarray) -> Any:
    values = np.unique(obj)
    if len(values) <= 60 and np.allclose(values, np.round(values)):
        return np.arange(values.min() - 0.5, values.max() + 1.5)  # one bar per integer
    return 40


def save_plot(res, path: str, dpi: int = 100) -> None:
    """Write :func:`plot_result` to ``path`` (PNG)."""
    import matplotlib.pyplot as plt

    fig = plot_result(res)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
