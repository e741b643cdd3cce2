"""Summaries of a results folder: the grid as a table, and a metric plotted against an axis.

Example:
    >>> import tempfile, os
    >>> from hal.sweep.spec import load_sweep_text
    >>> from hal.sweep.run import run_sweep
    >>> spec = load_sweep_text('''
    ... name: demo
    ... workloads: [{name: n, random_network: {n_in: 2, n_hidden: 3, n_out: 1},
    ...              axes: {steps: [5, 10]}}]
    ... targets: [cpu]
    ... ''')
    >>> out = os.path.join(tempfile.mkdtemp(), "r.parquet")
    >>> _ = run_sweep(spec, out, executor="local", progress=False)
    >>> rows = grid_rows(out)
    >>> [(r["target"], r["steps"], r["status"]) for r in rows]
    [('cpu', 5, 'ok'), ('cpu', 10, 'ok')]
    >>> series(rows, "neurons", "steps")
    {('n', 'cpu'): [(5, 4.0, 4.0, 4.0), (10, 4.0, 4.0, 4.0)]}
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from hal.errors import ValidationError

#: typed metric columns of a results row, shown in the table when any row has them
METRICS = ("spike_total", "steps_per_s", "objective", "feasible", "gap")


def grid_rows(results: str | Path) -> list[dict[str, Any]]:
    """One dict per job (newest row), axes as keys, sorted by workload, target, axes."""
    from hal.sweep.store import read_results

    rows = []
    for r in read_results(results).to_pylist():
        axes = json.loads(r["axes"] or "{}")
        rows.append({"job_id": r["job_id"], "workload": r["workload"], "target": r["target"],
                     **axes, "axes": list(axes), "status": r["status"],
                     **{m: r[m] for m in METRICS}, "wall_s": r["wall_s"],
                     "error": r["error"], "summary": json.loads(r["summary"] or "{}")})
    return sorted(rows, key=lambda r: (r["workload"], r["target"],
                                       [_sort_key(r[a]) for a in r["axes"]]))


def _axis_names(rows: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in rows:
        names += [a for a in r["axes"] if a not in names]
    return names


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def print_table(rows: list[dict[str, Any]], console: Any, title: str = "sweep") -> None:
    """Print the grid: workload, target, each axis, status, the metrics present, time."""
    from rich.table import Table

    axes = [a for a in _axis_names(rows) if a != "seed"] + ["seed"]
    metrics = [m for m in METRICS if any(r[m] is not None for r in rows)]
    table = Table(title=title)
    for col in ("workload", "target", *axes, "status", *metrics, "wall_s"):
        right = col in (*metrics, "wall_s")
        table.add_column(col, justify="right" if right else "left", no_wrap=not right)
    for r in rows:
        status = r["status"] if r["status"] == "ok" else f"[red]{r['status']}[/]"
        table.add_row(r["workload"], r["target"], *(_fmt(r.get(a)) for a in axes), status,
                      *(_fmt(r[m]) for m in metrics), _fmt(r["wall_s"]))
    console.print(table)
    bad = [r for r in rows if r["status"] != "ok"]
    console.print(f"{len(rows)} jobs, {len(rows) - len(bad)} ok, {len(bad)} failed or timed "
                  "out", highlight=False)
    for r in bad:
        console.print(f"  {r['job_id']} {r['workload']} on {r['target']} {r['status']}: "
                      f"{r['error']}", highlight=False, soft_wrap=True)


def _value(row: dict[str, Any], key: str) -> Any:
    return row[key] if key in row and key != "summary" else row["summary"].get(key)


def series(rows: list[dict[str, Any]], metric: str, axis: str
           ) -> dict[tuple[str, str], list[tuple[Any, float, float, float]]]:
    """Per (workload, target), ``(axis value, mean, min, max)`` of ``metric`` over the
    ``ok`` rows at each axis value (the mean runs over the other axes, e.g. seeds)."""
    points: dict[tuple[str, str], dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        x, y = _value(r, axis), _value(r, metric)
        if r["status"] != "ok" or x is None or not isinstance(y, (int, float)):
            continue
        points[(r["workload"], r["target"])][x].append(float(y))
    return {key: [(x, sum(ys) / len(ys), min(ys), max(ys))
                  for x, ys in sorted(by_x.items(), key=lambda kv: _sort_key(kv[0]))]
            for key, by_x in points.items()}


def _sort_key(x: Any) -> tuple:
    """Numbers in order before everything else (as text)."""
    return (0, x, "") if isinstance(x, (int, float)) else (1, 0, str(x))


def _parse(spec: str) -> tuple[str, str]:
    metric, sep, axis = spec.partition("-vs-")
    if not sep or not metric or not axis:
        raise ValidationError(f"--plot {spec!r}: write METRIC-vs-AXIS, e.g. gap-vs-num_reads")
    return metric, axis


def plot_metric(rows: list[dict[str, Any]], spec: str, out: str | Path | None,
                results: str | Path) -> Path:
    """Plot ``METRIC-vs-AXIS`` (one line per workload and target, min-max bars) to a PNG,
    written atomically; returns its path."""
    metric, axis = _parse(spec)
    data = series(rows, metric, axis)
    if not data:
        known = sorted({k for r in rows for k in (*METRICS, *r["summary"])
                        if isinstance(_value(r, k), (int, float))})
        raise ValidationError(f"--plot {spec}: no ok row has both '{metric}' and '{axis}'; "
                              f"metrics: {', '.join(known)}; axes: "
                              f"{', '.join(_axis_names(rows))}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hal.saved import write_atomically

    res = Path(results)
    path = Path(out) if out else res.with_name(f"{res.stem}-{metric}-vs-{axis}.png")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    numeric = all(isinstance(p[0], (int, float)) for pts in data.values() for p in pts)
    for (workload, target), pts in data.items():
        xs = [p[0] if numeric else str(p[0]) for p in pts]
        ys = [p[1] for p in pts]
        err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=f"{workload} on {target}")
    ax.set_xlabel(axis)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} vs {axis} ({res.name}; mean, min-max over other axes)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    finally:
        plt.close(fig)
    return path
