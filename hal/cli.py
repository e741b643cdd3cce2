"""The ``hal`` command line: targets, backends, check, run (networks), solve (QUBO).

Exit codes: 0 ok, 1 ran but failed a fidelity or validation check, 2 bad input or does
not fit. Errors print one line naming the culprit, never a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

import hal
from hal.errors import HALError

console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=_json_default))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


class _Group(click.Group):
    """Turns every HALError into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HALError as exc:
            _fail(str(exc))


@click.group(cls=_Group)
@click.version_option(hal.__version__, prog_name="hal")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Log the library's 'hal' logger at this level to stderr.")
@click.option("--log-json", is_flag=True, help="Write log records as JSON lines.")
def main(log_level: str, log_json: bool) -> None:
    """nq-hal: compile and run spiking/liquid networks and QUBO problems on any target."""
    from hal.logs import configure

    configure(log_level, log_json)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def version(as_json: bool) -> None:
    """Print nq-hal's version and the versions of the backend SDKs installed."""
    import platform

    from hal.provenance import package_versions

    names = ["nq-hal", "numpy", "scipy", "dimod", "nir", "lava-nc", "qiskit", "qiskit-aer",
             "dwave-samplers", "torch", "ncps", "numba"]
    versions = {"python": platform.python_version(), **package_versions(names)}
    if as_json:
        _print_json(versions)
        return
    for name, ver in versions.items():
        click.echo(f"{name} {ver}")


def _target_rows() -> list[dict[str, Any]]:
    rows = []
    for t in hal.list_targets():
        avail = hal.get_backend(t.backend).availability(t)
        rows.append({"name": t.name, "kind": t.kind, "backend": t.backend,
                     "precision": t.precision, "available": avail.ok,
                     "reason": "" if avail.ok else avail.describe(), "short": avail.reason,
                     "fallback": t.fallback, "path": t.path})
    return rows


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def targets(as_json: bool) -> None:
    """List every target, its backend, and whether it can run here."""
    rows = _target_rows()
    if as_json:
        _print_json(rows)
        return
    table = Table(title="nq-hal targets")
    for col in ("name", "kind", "backend", "precision", "available"):
        table.add_column(col)
    for r in rows:
        status = "[green]yes[/]" if r["available"] else f"[red]no[/]: {r['short']}"
        table.add_row(r["name"], r["kind"], r["backend"], r["precision"], status)
    console.print(table)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def backends(as_json: bool) -> None:
    """List registered backends (entry-point group ``hal.backends``)."""
    rows = []
    for name in hal.list_backends():
        b = hal.get_backend(name)
        avail = b.availability()
        rows.append({"name": name, "workloads": list(b.workloads), "available": avail.ok,
                     "reason": "" if avail.ok else avail.describe(),
                     "options": sorted(b.options)})
    if as_json:
        _print_json(rows)
        return
    table = Table(title="nq-hal backends")
    for col in ("name", "workloads", "available", "options"):
        table.add_column(col)
    for r in rows:
        status = "[green]yes[/]" if r["available"] else f"[red]no[/]: {r['reason']}"
        table.add_row(r["name"], ", ".join(r["workloads"]), status, ", ".join(r["options"]))
    console.print(table)


@main.command()
@click.argument("what")
@click.option("--target", "-t", default=None, help="Check a model file against this target.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(what: str, target: str | None, as_json: bool) -> None:
    """Validate a target (name or YAML file), or a model file against --target."""
    if target is not None:
        from hal.snn.cli import check_model

        sys.exit(check_model(what, target, as_json))
    t = hal.get_target(what)
    avail = hal.get_backend(t.backend).availability(t)
    info = {"name": t.name, "kind": t.kind, "backend": t.backend, "precision": t.precision,
            "available": avail.ok, "reason": avail.describe(),
            "limits": t.limits.model_dump(exclude_none=True), "sources": t.sources,
            "options": t.options, "fallback": t.fallback, "path": t.path}
    if as_json:
        _print_json(info)
        return
    table = Table(title=f"target {t.name} ({t.kind}, backend {t.backend})")
    table.add_column("limit")
    table.add_column("value")
    table.add_column("source")
    for key, value in info["limits"].items():
        table.add_row(key, str(value), t.sources.get(key, ""))
    console.print(table)
    console.print(f"options: {t.options}\nfallback: {t.fallback or 'none'}\n"
                  f"available: {avail.describe()}\nfile: {t.path}", highlight=False)


def _register_family_commands() -> None:
    from hal.faults.cli import robustness
    from hal.qubo.cli import solve
    from hal.snn.cli import run
    from hal.sweep.cli import sweep

    main.add_command(run)
    main.add_command(solve)
    main.add_command(sweep)
    main.add_command(robustness)


_register_family_commands()
