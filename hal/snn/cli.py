"""``hal run MODEL.nir`` and ``hal check MODEL --target T`` for spiking networks."""

from __future__ import annotations

import json
import sys

import click
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hal._cli_types import POSITIVE_INT, SEED, FiniteFloat

console = Console()


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="cpu", show_default=True)
@click.option("--input", "input_path", type=click.Path(dir_okay=False), default=None,
              help="Input .npy shaped (T, n_in).")
@click.option("--steps", type=POSITIVE_INT, default=None,
              help="Steps to run (default: input length).")
@click.option("--dt", type=FiniteFloat(0.0, exclusive=True), default=1e-4, show_default=True,
              help="Time step (s).")
@click.option("--compare", "other", default=None, help="Also run on this target and compare.")
@click.option("--compensate-delay", is_flag=True, help="Align Lava's one-step Dense delay.")
@click.option("--fallback", is_flag=True, help="Fall back when the target is unavailable.")
@click.option("--save", type=click.Path(dir_okay=False), default=None, help="Write an .npz.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Raster PNG.")
@click.option("-o", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="Compile or backend option (repeatable), e.g. -o v_scale=64.")
@click.option("--record", default="spikes", show_default=True,
              help="What to record: spikes, or a comma list of spikes,v,u, or all.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-type-check", is_flag=True, help="Skip NIR's shape inference on load.")
# inference on a data set (hal.snn.infer_cli)
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="Samples .npz with x (analog, [0, 1]) and optional y labels: predict "
                   "each, print accuracy, latency p50/p95/p99, activity and estimate.")
@click.option("--encode", default=None, help="Encoder of analog input: rate, latency, "
              "delta, population (default rate with --data).")
@click.option("--decode", default="count", show_default=True,
              help="Decoder with --data: count, rate, first_spike, membrane.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Encoder seed.")
@click.option("--limit", type=POSITIVE_INT, default=None,
              help="Only the first N samples of --data.")
@click.option("--batch-size", type=POSITIVE_INT, default=1, show_default=True,
              help="Samples per run with --data (1: true per-sample latency).")
# fault plans and TMR (hal.faults)
@click.option("--faults", default=None, metavar="KIND=RATE,...",
              help="Fault plan applied at compile time, e.g. dead_neurons=0.1,"
                   "weight_bitflips=1e-3 (hal robustness --list-faults lists the kinds).")
@click.option("--fault-seed", type=int, default=0, show_default=True,
              help="Seed that picks the faults' victims.")
@click.option("--tmr", is_flag=True, help="Triplicate spiking populations with a vote.")
def run(model, target, input_path, steps, dt, other, compensate_delay, fallback, save, plot,
        option_pairs, record, as_json, no_type_check, data, encode, decode, seed, limit,
        batch_size, faults, fault_seed, tmr) -> None:
    """Run a NIR network on a target (optionally compare with another target)."""
    import hal
    from hal._atomic import atomic_path, check_writable
    from hal._cli_options import parse_options
    from hal.errors import ValidationError

    if save and not save.endswith(".npz"):
        save += ".npz"  # as np.savez names it
    for path, what in ((save, "--save"), (plot, "--plot")):
        if path:
            check_writable(path, what)  # before the run, not after it
    graph = hal.load(model, type_check=not no_type_check)
    opts = parse_options(option_pairs)
    if compensate_delay:
        opts["compensate_delay"] = True
    if faults or tmr:
        opts.update(faults=faults, fault_seed=fault_seed, tmr=tmr)
    fb = True if fallback else None
    if data is not None:
        from hal.snn.infer_cli import run_data

        sys.exit(run_data(graph, target, data, encode=encode or "rate", decode=decode,
                          steps=steps or 32, seed=seed, dt=dt, fallback=fb, limit=limit,
                          batch_size=batch_size, other=other, as_json=as_json, **opts))
    if input_path is None:
        raise ValidationError("give --input x.npy (network input) or --data d.npz (samples)")
    try:
        x = np.load(input_path)
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{input_path}: cannot read .npy input ({exc})") from None
    keys = "all" if record.strip() == "all" else [k.strip() for k in record.split(",")]
    with console.status(f"running on {target}...", spinner="dots"):
        res = hal.compile(graph, target=target, dt=dt, fallback=fb, **opts).run(
            x, steps, seed, record=keys, encoder=encode)
        report = None
        if other:
            ref = hal.compile(graph, target=other, dt=dt, fallback=fb, **opts).run(
                x, steps, seed, record=keys, encoder=encode)
            report = hal.compare(res, ref)
    if save:
        arrays = {f"{n}.spikes": s for n, s in res.spikes.items()}
        for n, st in res.states.items():
            arrays.update({f"{n}.{k}": a for k, a in st.items()})
        with atomic_path(save) as tmp:
            np.savez(tmp, **arrays)
    if plot:
        _plot(res, plot)
    out = res.to_dict()
    if report is not None:
        out["fidelity"] = report.to_dict()
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        _table(res, report, other)
    sys.exit(1 if report is not None and not report.passed else 0)


def _table(res, report, other) -> None:
    table = Table(title=escape(f"hal run on {res.target} ({res.backend}, {res.precision})"))
    for col in ("node", "neurons", "spikes", "delay steps"):
        table.add_column(col)
    for node, s in res.spikes.items():
        table.add_row(escape(node), str(s.shape[-1]), str(int(s.sum())),
                      str(res.delay_steps[node]))
    console.print(table)
    console.print(", ".join(f"{k} {v:.3f} s" for k, v in res.timing.items()))
    if report is not None:
        console.print(f"vs {escape(other)}: spike-count agreement "
                      f"{report.spike_count_agreement:.1%}, "
                      f"spike-time agreement {report.spike_time_agreement:.1%}, output "
                      f"agreement {report.output_agreement:.1%}, voltage RMSE "
                      f"{report.voltage_rmse}, delay aligned {report.delay_steps}: "
                      f"{'PASS' if report.passed else 'FAIL'}", highlight=False)


def raster_figure(res):
    """A matplotlib figure: one spike raster per population (stream 0 of a batch), and v
    of the first population that recorded it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = list(res.spikes)
    with_v = [n for n in nodes if "v" in res.states.get(n, {})]
    rows = len(nodes) + (1 if with_v else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2 + 1.5 * rows), sharex=True, squeeze=False)
    axes = axes[:, 0]
    batched = res.spikes[nodes[0]].ndim == 3
    for ax, node in zip(axes, nodes, strict=False):
        s = res.spikes[node][0] if batched else res.spikes[node]
        t, n = np.nonzero(s)
        ax.scatter(t, n, s=2, color="k")
        ax.set_ylim(-0.5, s.shape[1] - 0.5)
        ax.set_ylabel(f"{node}\nneuron")
    if with_v:
        v = res.voltage(with_v[0])
        axes[-1].plot(v[0] if batched else v, lw=0.7)
        axes[-1].set_ylabel(f"v ({with_v[0]})")
    axes[0].set_title(f"spikes on {res.target}" + (" (stream 0)" if batched else ""))
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    return fig


def _plot(res, path: str) -> None:
    import matplotlib.pyplot as plt

    from hal._atomic import atomic_path

    fig = raster_figure(res)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)


def check_model(path: str, target: str, as_json: bool) -> int:
    """Print the mapping of a model onto a target; 2 when it does not fit."""
    import hal
    from hal.snn.api import check
    from hal.snn.infer_cli import check_estimate, print_check_estimate

    graph = hal.load(path)
    report = check(graph, target)
    report["estimate"] = check_estimate(graph, target)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        m = report["mapping"]
        console.print(escape(f"{path} on {report['target']}: {report['neurons']} neurons, "
                             f"{m['cores']} cores"), highlight=False)
        for name, p in m["populations"].items():
            console.print(escape(f"  {name}: {p}"), highlight=False)
        for w in (report["quantization"] or {}).get("warnings", []):
            console.print(f"[yellow]warning:[/] {escape(str(w))}", highlight=False)
        for prob in m["problems"]:
            console.print(f"[red]does not fit:[/] {escape(str(prob))}", highlight=False)
        print_check_estimate(report["estimate"])
    return 0 if report["fits"] else 2
