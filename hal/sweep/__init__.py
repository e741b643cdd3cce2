"""Sweeps: grids of jobs (workloads x targets x axes) described as data, run on Dask or
in-process, written to Parquet as they arrive, resumable.

``import hal.sweep`` imports neither dask nor pyarrow (install the ``sweep`` extra to run
sweeps); they load when a sweep runs.

Example:
    >>> from hal.sweep import load_sweep_text, expand
    >>> spec = load_sweep_text('''
    ... name: demo
    ... axes: {seed: [0, 1]}
    ... workloads: [{problem: examples/placement.yaml}]
    ... targets: [highs, {name: dimod-sa, axes: {num_reads: [5, 10]}}]
    ... ''')
    >>> [(j.target, j.axes) for j in expand(spec)][:3]
    [('highs', {'seed': 0}), ('highs', {'seed': 1}), ('dimod-sa', {'seed': 0, 'num_reads': 5})]
"""

from __future__ import annotations

from hal.sweep.spec import Job, SweepSpec, expand, load_sweep, load_sweep_text

_LAZY = {"run_sweep": "hal.sweep.run", "SweepReport": "hal.sweep.run",
         "read_results": "hal.sweep.store", "run_job": "hal.sweep.jobs"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hal.sweep' has no attribute '{name}'")


__all__ = ["Job", "SweepSpec", "expand", "load_sweep", "load_sweep_text", *_LAZY]
