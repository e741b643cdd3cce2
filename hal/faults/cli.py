"""``hal robustness MODEL --data D.npz --target T``: degradation curves and scenarios."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

console = Console()


def _floats(text: str) -> tuple[float, ...]:
    from hal.errors import ValidationError

    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValidationError(f"--rates: '{text}' is not a comma list of numbers") from None


@click.command()
@click.argument("model", type=click.Path(dir_okay=False), required=False)
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="Samples .npz with x (analog, [0, 1]) and y labels.")
@click.option("--target", "-t", default="cpu", show_default=True)
@click.option("--kinds", default=None, help="Comma list of fault kinds for the curves "
              "(default: every kind the target takes).")
@click.option("--rates", default="0,0.05,0.1,0.15,0.2,0.3", show_default=True,
              help="Fault rates of the curves.")
@click.option("--seeds", type=int, default=3, show_default=True,
              help="Fault seeds per rate (mean and spread).")
@click.option("--tmr-kinds", default="dead_neurons", show_default=True,
              help="Kinds whose curve is also run with TMR ('' for none).")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME|FILE.yaml",
              help="Scenario preset or YAML file (repeatable; default: the six presets).")
@click.option("--no-curves", is_flag=True, help="Scenarios only.")
@click.option("--latency-samples", type=int, default=50, show_default=True,
              help="Samples timed one per run for latency p50/p95/p99.")
@click.option("--limit", type=int, default=None, help="Only the first N samples.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write the curves as a PNG (atomically).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--list-faults", is_flag=True, help="List the fault kinds and options.")
def robustness(model, data, target, kinds, rates, seeds, tmr_kinds, scenarios, no_curves,
               latency_samples, limit, plot, as_json, list_faults) -> None:
    """Accuracy under faults: degradation curves per fault kind (0-30%) and six scenarios
    (normal, minor neuron failures, memory corruption, power fluctuation, adversarial
    attack, cascade failure), TMR off and on."""
    import hal
    from hal.errors import ValidationError
    from hal.faults.campaign import load_data
    from hal.faults.campaign import robustness as run_campaign

    if list_faults:
        _list_faults()
        return
    if model is None or data is None:
        raise ValidationError("give MODEL and --data D.npz (x samples, y labels)")
    x, y = load_data(data, limit)
    with console.status(f"robustness campaign on {target}...", spinner="dots"):
        report = run_campaign(
            hal.load(model), x, y, target, rates=_floats(rates), seeds=seeds,
            kinds=[k.strip() for k in kinds.split(",")] if kinds else None,
            tmr_kinds=[k.strip() for k in tmr_kinds.split(",") if k.strip()],
            scenarios=list(scenarios) or None, curves=not no_curves,
            latency_samples=latency_samples, plot_path=plot)
    report["model"], report["data"] = str(model), str(data)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    _print(report)


def _list_faults() -> None:
    from hal.faults.inject import FAULTS, OPTIONS

    table = Table(title="fault kinds")
    for col in ("kind", "stage", "precisions", "what"):
        table.add_column(col)
    for k, f in FAULTS.items():
        table.add_row(k, f.stage, "/".join(f.precisions), f.doc)
    for k, o in OPTIONS.items():
        table.add_row(k, "option", "", o.doc)
    console.print(table)


def _pct(v) -> str:
    return "-" if v is None else f"{v:.1%}"


def _print(r: dict) -> None:
    console.print(f"clean accuracy on {r['target']} ({r['samples']} samples): "
                  f"{_pct(r['clean_accuracy'])}", highlight=False)
    if "curves" in r:
        first = next(iter(r["curves"].values()))
        table = Table(title="Degradation: accuracy mean (std) over fault seeds")
        table.add_column("kind")
        for rate in first["rates"]:
            table.add_column(f"{rate:.0%}")
        rows = [(k, c) for k, c in r["curves"].items()]
        rows += [(f"{k} + TMR", c) for k, c in r.get("tmr_curves", {}).items()]
        for k, c in rows:
            table.add_row(k, *[f"{m:.3f} ({s:.3f})" for m, s in zip(c["mean"], c["std"],
                                                                   strict=True)])
        console.print(table)
    cost = r["tmr_cost"]
    console.print(f"TMR cost: neurons {cost['off']['neurons']} -> {cost['on']['neurons']}, "
                  f"synapses {cost['off']['synapses']} -> {cost['on']['synapses']}, cores "
                  f"({cost['cores_on']}) {cost['off']['cores']} -> {cost['on']['cores']}, "
                  f"energy/inference (estimate) {_nj(cost['off'])} -> {_nj(cost['on'])}",
                  highlight=False)
    table = Table(title="Scenarios (TMR off | on)")
    for col in ("scenario", "accuracy", "latency p50/p95/p99 ms", "energy (estimate)"):
        table.add_column(col)
    for s in r["scenarios"]:
        a, b = s["tmr_off"], s["tmr_on"]
        table.add_row(s["name"], f"{_pct(a['accuracy'])} | {_pct(b['accuracy'])}",
                      f"{_lat(a)} | {_lat(b)}", f"{_nj(a)} | {_nj(b)}")
    console.print(table)
    if "plot" in r:
        console.print(f"plot: {r['plot']}")


def _lat(v: dict) -> str:
    lat = v["latency_ms"]
    return f"{lat['p50']:.2f}/{lat['p95']:.2f}/{lat['p99']:.2f}"


def _nj(v: dict) -> str:
    e = v.get("energy_pj_per_inference")
    return "-" if e is None else f"{e / 1e3:.1f} nJ"
