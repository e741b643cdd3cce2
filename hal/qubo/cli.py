"""``hal solve``: solve a problem file on a target and compare with HiGHS."""

from __future__ import annotations

import json
import sys
import warnings

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hal._atomic import atomic_path, check_writable
from hal._cli_types import POSITIVE_INT, SEED, FiniteFloat
from hal.qubo.readers import FORMATS, load_problem

console = Console()


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
@click.option("--fallback/--no-fallback", default=None,
              help="--fallback: also when the target is unavailable; --no-fallback: never, "
                   "not even when the problem does not fit (default: only then).")
@click.option("--max-gap", type=FiniteFloat(0.0), default=None,
              help="Return HiGHS's answer when the gap exceeds this fraction.")
@click.option("--no-validate", is_flag=True, help="Skip the HiGHS comparison.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Save an energy histogram of the samples (PNG).")
def solve(problem: str, target: str, fmt: str | None, instance: int | None, seed: int | None,
          reads: int | None, reps: int | None, fallback: bool | None, max_gap: float | None,
          no_validate: bool, as_json: bool, plot: str | None) -> None:
    """Solve PROBLEM (allocation YAML/JSON, LP, OR-Library GAP, Gset) on a target."""
    import hal
    from hal.registry import get_backend

    if plot:
        check_writable(plot, "--plot")  # before solving, not after
    prob = load_problem(problem, fmt, instance)
    options = {}
    if reads is not None:
        backend = get_backend(hal.get_target(target).backend) if target != "auto" else None
        key = "shots" if backend is not None and "shots" in backend.options else "num_reads"
        options[key] = reads
    if reps is not None:
        options["reps"] = reps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", hal.FallbackWarning)
        with console.status(f"solving on {target}...", spinner="dots"):
            res = hal.solve(prob, target=target, seed=seed, validate=not no_validate,
                            fallback=fallback, max_gap=max_gap, **options)
    failed = not res.feasible or (
        max_gap is not None and (res.validation.get("gap") or 0) > max_gap)
    if plot:
        _plot(res, plot)
    if as_json:
        click.echo(json.dumps(res.to_dict(), indent=2, default=str))
    else:
        for w in caught:
            console.print(f"[yellow]fallback:[/] {escape(str(w.message))}", highlight=False)
        _table(res)
    sys.exit(1 if failed else 0)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _table(res) -> None:
    v = res.validation
    table = Table(title=escape(f"hal solve: {res.provenance.get('problem')} on {res.target}"))
    table.add_column("quantity")
    table.add_column("value")
    rows = [("backend", res.backend), ("feasible", res.feasible), ("objective", res.objective),
            ("raw objective (before repair)", res.raw.get("objective")),
            ("repaired", res.repaired), ("HiGHS optimum", v.get("optimum")),
            ("HiGHS bound", v.get("bound")), ("HiGHS status", v.get("status")),
            ("gap", None if v.get("gap") is None else f"{v['gap']:.3%}"),
            ("approximation ratio", v.get("approximation_ratio")),
            ("feasible samples", None if "feasible_fraction" not in v
             else f"{v['feasible_fraction']:.1%}"),
            ("time to 99% (s)", v.get("tts99_s")),
            ("Hellinger fidelity vs ideal", v.get("hellinger_fidelity"))]
    rows += [(k, f"{t:.3f} s") for k, t in res.timing.items()]
    rows += [(f"skipped {f['target']}", f["reason"]) for f in res.fallbacks]
    for name, value in rows:
        if value is not None:
            table.add_row(escape(str(name)), escape(_fmt(value)))
    console.print(table)
    if res.violations:
        console.print("[red]violations:[/] " + escape("; ".join(res.violations[:10])),
                      highlight=False)


def _plot(res, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(res.energies, bins=40, color="tab:blue", alpha=0.8)
    if res.energy is not None:
        ax.axvline(res.energy, color="tab:green", label="returned sample")
    ax.set_xlabel("BQM energy (lower is better)")
    ax.set_ylabel("samples")
    ax.set_title(f"{res.provenance.get('problem')} on {res.target}")
    ax.legend(loc="best") if res.energy is not None else None
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)
