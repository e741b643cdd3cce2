"""``hal run MODEL.nir`` and ``hal check MODEL --target T`` for spiking networks."""

from __future__ import annotations

import json
import sys

import click
import numpy as np
from rich.console import Console
from rich.table import Table

console = Console()


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="cpu", show_default=True)
@click.option("--input", "input_path", type=click.Path(dir_okay=False), required=True,
              help="Input .npy shaped (T, n_in).")
@click.option("--steps", type=int, default=None, help="Steps to run (default: input length).")
@click.option("--dt", type=float, default=1e-4, show_default=True, help="Time step (s).")
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
def run(model, target, input_path, steps, dt, other, compensate_delay, fallback, save, plot,
        option_pairs, record, as_json, no_type_check) -> None:
    """Run a NIR network on a target (optionally compare with another target)."""
    import hal
    from hal.errors import ValidationError

    graph = hal.load(model, type_check=not no_type_check)
    try:
        x = np.load(input_path)
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{input_path}: cannot read .npy input ({exc})") from None
    from hal._cli_options import parse_options

    opts = parse_options(option_pairs)
    if compensate_delay:
        opts["compensate_delay"] = True
    fb = True if fallback else None
    keys = "all" if record.strip() == "all" else [k.strip() for k in record.split(",")]
    with console.status(f"running on {target}...", spinner="dots"):
        res = hal.compile(graph, target=target, dt=dt, fallback=fb, **opts).run(
            x, steps, record=keys)
        report = None
        if other:
            ref = hal.compile(graph, target=other, dt=dt, fallback=fb, **opts).run(
                x, steps, record=keys)
            report = hal.compare(res, ref)
    if save:
        arrays = {f"{n}.spikes": s for n, s in res.spikes.items()}
        for n, st in res.states.items():
            arrays.update({f"{n}.{k}": a for k, a in st.items()})
        np.savez(save, **arrays)
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
    table = Table(title=f"hal run on {res.target} ({res.backend}, {res.precision})")
    for col in ("node", "neurons", "spikes", "delay steps"):
        table.add_column(col)
    for node, s in res.spikes.items():
        table.add_row(node, str(s.shape[-1]), str(int(s.sum())), str(res.delay_steps[node]))
    console.print(table)
    console.print(", ".join(f"{k} {v:.3f} s" for k, v in res.timing.items()))
    if report is not None:
        console.print(f"vs {other}: spike-count agreement {report.spike_count_agreement:.1%}, "
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

    fig = raster_figure(res)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def check_model(path: str, target: str, as_json: bool) -> int:
    """Print the mapping of a model onto a target; 2 when it does not fit."""
    import hal
    from hal.snn.api import check

    report = check(hal.load(path), target)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        m = report["mapping"]
        console.print(f"{path} on {report['target']}: {report['neurons']} neurons, "
                      f"{m['cores']} cores", highlight=False)
        for name, p in m["populations"].items():
            console.print(f"  {name}: {p}", highlight=False)
        for w in (report["quantization"] or {}).get("warnings", []):
            console.print(f"[yellow]warning:[/] {w}", highlight=False)
        for prob in m["problems"]:
            console.print(f"[red]does not fit:[/] {prob}", highlight=False)
    return 0 if report["fits"] else 2
