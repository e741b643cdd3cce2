"""nq-hal demo: the NIR paper's LIF graph on Lava, cpu and cpu-float, compared with the
paper's traces; a CfC policy closing the loop around a pendulum on every liquid target;
then a VM placement solved on dimod-sa, aer-statevector and highs."""

import os
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import hal
from hal.qubo.problem import MaxCutProblem

console = Console()
BENCH = Path(os.environ.get("HAL_BENCHMARKS", Path(__file__).resolve().parents[2] / "shared"
                            / "benchmarks"))
PAPER = {"v_scale": 256, "rounding": "floor", "decay_scale": 4095}


def spiking() -> None:
    d = BENCH / "nir" / "01_lif"
    if not d.exists():
        console.print(f"[yellow]skipping the NIR demo: no benchmark data at {d}[/]")
        return
    ref = np.loadtxt(d / "lif_lava_cpu_fixed.csv", delimiter=",")
    exact = np.loadtxt(d / "lif_exact.csv", delimiter=",")
    graph = hal.load(d / "lif_norse.nir")
    table = Table(title="NIR paper 01_lif: output spike steps")
    for col in ("run", "spike steps", "matches"):
        table.add_column(col)
    table.add_row("paper: Lava CPU fixed (CSV)", str(np.flatnonzero(ref[:, 2]).tolist()), "")
    table.add_row("paper: exact solution (CSV)", str(np.flatnonzero(exact[:, 2]).tolist()), "")
    runs = {}
    for name, target, opts in [("loihi2-sim", "loihi2-sim", PAPER), ("cpu", "cpu", PAPER),
                               ("cpu-float", "cpu-float", {}),
                               ("cpu-float, delay compensated", "cpu-float",
                                {"compensate_delay": True})]:
        avail = hal.get_backend(hal.get_target(target).backend).availability()
        if not avail.ok:
            table.add_row(name, f"skipped: {avail.reason}", "")
            continue
        res = hal.compile(graph, target=target, **opts).run(ref[:, :1], record="v")
        runs[name] = res
        steps = np.flatnonzero(res.spikes["1"][:, 0])
        want = exact if "compensated" in name else ref
        ok = steps.tolist() == np.flatnonzero(want[:, 2]).tolist()
        if res.precision == "fixed":
            ok = ok and np.array_equal(res.states["1"]["v"][:, 0], ref[:, 1])
        table.add_row(name, str(steps.tolist()), "[green]yes[/]" if ok else "[red]no[/]")
    console.print(table)
    if "loihi2-sim" in runs:
        rep = hal.compare(runs["cpu"], runs["loihi2-sim"])
        console.print(f"cpu vs loihi2-sim: spike agreement {rep.spike_time_agreement:.0%}, "
                      f"voltage RMSE {rep.voltage_rmse}", highlight=False)


def placement() -> None:
    prob = hal.AllocationProblem.from_file(Path(__file__).parent / "placement.yaml")
    table = Table(title=f"VM placement ({len(prob.jobs)} VMs, {len(prob.hosts)} hosts)")
    for col in ("target", "ran on", "objective", "feasible", "HiGHS optimum", "gap", "time"):
        table.add_column(col)
    small = MaxCutProblem(8, [(i, (i + 1) % 8) for i in range(8)] + [(i, i + 4) for i in
                                                                     range(4)], name="cube")
    for target, p in [("dimod-sa", prob), ("aer-statevector", prob), ("highs", prob),
                      ("aer-statevector", small)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", hal.FallbackWarning)
            r = hal.solve(p, target=target, seed=0)
        ran = r.target + (f" (fell back: {r.fallbacks[0]['reason']})" if r.fallbacks else "")
        v = r.validation
        table.add_row(f"{target} [{getattr(p, 'name', '')}]", ran, f"{r.objective:g}",
                      str(r.feasible), str(v.get("optimum")), f"{v.get('gap', 0):.2%}",
                      f"{sum(r.timing.values()):.2f} s")
    console.print(table)


def closed_loop() -> None:
    import importlib.util

    if importlib.util.find_spec("ncps") is None:
        console.print("[yellow]skipping the closed-loop demo: ncps is not installed[/]")
        return
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from closed_loop import make_policy, rollout, targets

    net = make_policy()
    table = Table(title="Closed loop: CfC policy driving a pendulum, 200 steps of session.step")
    for col in ("target", "final angle (rad)", "max |difference| vs cpu-float",
                "step p50 / p99 (measured)"):
        table.add_column(col)
    lat: dict[str, dict] = {t: {} for t in targets()}
    runs = {t: rollout(net, t, latency=lat[t]) for t in lat}
    for t, r in runs.items():
        table.add_row(t, f"{r[-1, 0]:.6f}", f"{np.abs(r - runs['cpu-float']).max():.2e}",
                      f"{lat[t]['p50_us']:,.0f} / {lat[t]['p99_us']:,.0f} us")
    console.print(table)


def digits() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from digits import accuracy_table

    accuracy_table()


def robustness() -> None:
    """Issue 15: the digits classifier's dead-neuron curve with and without TMR, and the
    CfC pendulum controller's control cost under dead units and weight mismatch."""
    import sys

    from hal.faults.campaign import base, curve

    sys.path.insert(0, str(Path(__file__).parent))
    here = Path(__file__).parent
    d = np.load(here / "data" / "digits_test.npz")
    x, y = d["x"].astype(np.float64), d["y"]
    graph = hal.load(here / "models" / "digits_snn.nir")
    rates = (0.0, 0.1, 0.2, 0.3)
    runs = {tmr: curve(base(graph, "cpu", tmr=tmr), x, y, "dead_neurons", rates, seeds=3)
            for tmr in (False, True)}
    table = Table(title="Digits classifier under dead neurons (cpu, 360 digits, 3 fault "
                        "seeds; hal robustness for all kinds and scenarios)")
    for col in ("dead neurons", "accuracy", "accuracy with TMR"):
        table.add_column(col)
    for i, r in enumerate(rates):
        a, b = runs[False], runs[True]
        table.add_row(f"{r:.0%}", f"{a['mean'][i]:.1%} +- {a['std'][i]:.1%}",
                      f"{b['mean'][i]:.1%} +- {b['std'][i]:.1%}")
    console.print(table)
    import importlib.util

    if importlib.util.find_spec("ncps") is None:
        console.print("[yellow]skipping the controller under faults: ncps is not installed[/]")
        return
    from closed_loop import control_cost, make_policy, rollout

    net = make_policy()
    table = Table(title="CfC pendulum controller (untrained, seeded) under faults (cpu-float, "
                        "200 steps, Pendulum-v1 cost per step, 3 fault seeds)")
    for col in ("faults", "control cost (mean over seeds)", "max |angle difference|"):
        table.add_column(col)
    clean = rollout(net, "cpu-float")
    table.add_row("none", f"{control_cost(clean):.3f}", "0")
    for plan in ({"dead_neurons": 0.2}, {"weight_variation": 0.2}):
        trajs = [rollout(net, "cpu-float", faults=plan, fault_seed=s) for s in range(3)]
        table.add_row(", ".join(f"{k}={v}" for k, v in plan.items()),
                      f"{np.mean([control_cost(t) for t in trajs]):.3f}",
                      f"{max(np.abs(t[:, 0] - clean[:, 0]).max() for t in trajs):.3f}")
    console.print(table)


if __name__ == "__main__":
    spiking()
    digits()
    closed_loop()
    robustness()
    placement()
