"""The ``hal`` command line: targets, backends, check, run (networks), solve (QUBO).

Exit codes: 0 ok, 1 ran but failed a fidelity or validation check, 2 bad input or does
not fit. Errors print one line naming the culprit, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import hal
from hal.errors import HALError

console = Console()
err_console = Console(stderr=True)


def one_line(text: str) -> str:
    """``text`` on one line (several problems joined with '; ')."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on one line (user text escaped, never read as rich markup)
    and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False,
                      soft_wrap=True)
    sys.exit(code)


def _describe(exc: BaseException) -> str:
    """One line for an exception nq-hal did not turn into a HALError itself."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller problem, fewer steps or a smaller batch"
    if isinstance(exc, RecursionError):
        return "input nested too deeply (recursion limit reached)"
    module = type(exc).__module__.split(".")[0]
    origin = "" if module == "builtins" else f"{module}."
    return (f"{origin}{type(exc).__name__}: {exc} (an input nq-hal did not check; please "
            "report it, with HAL_DEBUG=1 for the traceback)")


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
    """The one error path of the command line: every failure prints one line on stderr.

    Exit codes: 2 bad input (a HALError's ``exit_code``, a click usage error, any other
    exception), 1 a run that finished but failed (infeasible, timeout, failed check),
    130 interrupted (Ctrl-C). ``HAL_DEBUG=1`` re-raises unexpected exceptions with their
    traceback.
    """

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # usage errors: bad flag, bad value
            ctx = getattr(exc, "ctx", None)
            see = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _fail(exc.format_message() + see, exc.exit_code)
        except (KeyboardInterrupt, click.Abort):
            _fail("interrupted (Ctrl-C); the run was stopped and its resources released", 130)
        except HALError as exc:
            _fail(str(exc), exc.exit_code)
        except BrokenPipeError:  # output piped into a command that stopped reading
            sys.stderr.close()
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
            if os.environ.get("HAL_DEBUG"):
                raise
            _fail(_describe(exc), 2)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # before click turns it into Abort and prints a blank line
            _fail("interrupted (Ctrl-C); the run was stopped and its resources released", 130)


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
        status = "[green]yes[/]" if r["available"] else f"[red]no[/]: {escape(r['short'])}"
        table.add_row(*(escape(r[k]) for k in ("name", "kind", "backend", "precision")), status)
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
        status = "[green]yes[/]" if r["available"] else f"[red]no[/]: {escape(r['reason'])}"
        table.add_row(escape(r["name"]), ", ".join(r["workloads"]), status,
                      ", ".join(r["options"]))
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
    _check_fallbacks(t)
    avail = hal.get_backend(t.backend).availability(t)
    info = {"name": t.name, "kind": t.kind, "backend": t.backend, "precision": t.precision,
            "available": avail.ok, "reason": avail.describe(),
            "limits": t.limits.model_dump(exclude_none=True), "sources": t.sources,
            "options": t.options, "fallback": t.fallback, "path": t.path}
    if as_json:
        _print_json(info)
        return
    table = Table(title=escape(f"target {t.name} ({t.kind}, backend {t.backend})"))
    table.add_column("limit")
    table.add_column("value")
    table.add_column("source")
    for key, value in info["limits"].items():
        table.add_row(key, escape(str(value)), escape(t.sources.get(key, "")))
    console.print(table)
    console.print(escape(f"options: {t.options}\nfallback: {t.fallback or 'none'}\n"
                         f"available: {avail.describe()}\nfile: {t.path}"), highlight=False)


def _check_fallbacks(t: hal.Target) -> None:
    """Every fallback must name a target of the same family."""
    from hal.errors import TargetNotFound, ValidationError

    for name in t.fallback:
        try:
            other = hal.get_target(name)
        except TargetNotFound:
            raise ValidationError(f"{t.path}: fallback: target '{name}' does not exist; see "
                                  "'hal targets' for the known ones") from None
        if other.family != t.family:
            raise ValidationError(f"{t.path}: fallback: target '{name}' runs {other.family} "
                                  f"workloads, '{t.name}' runs {t.family}")


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
