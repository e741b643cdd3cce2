"""Activity metrics of a spiking run, and energy and latency *estimates* per target.

Activity follows NeuroBench's definitions (Yik et al., "The neurobench framework for
benchmarking neuromorphic computing algorithms and systems", Nature Communications 16,
1545, 2025; arXiv:2304.04640), counted on the network as hal runs it (populations and
connections after lowering, and after quantization on fixed-point targets):

- **synaptic operations** per inference: *effective ACs* = for every spike, the nonzero
  weights it is delivered through (its fan-out); *effective MACs* = the same for nonzero
  analog (non-binary) input values, which need a multiply; *dense* = every weight, zero or
  not, every step (what a dense processor executes).
- **activation sparsity** = 1 - spikes / (neurons x steps), over all spiking neurons.
- **connection sparsity** = zero weights / all weights, over all connections.
- **footprint** = bytes of weights, neuron parameters and neuron state at the target's
  widths (weight_bits, state_bits, ... from its limits; the float word size otherwise).

Per population: spikes and firing rate per inference, and the coefficient of variation of
inter-spike intervals (ISI CV: std / mean of ISIs per spike train with >= 2 ISIs, averaged
over trains; 1 for a Poisson train, 0 for a regular one).

Estimates (:func:`estimate`) multiply these counts by per-operation costs from the
target's ``costs:`` block in ``hw_configs/`` (each number with its source) and are always
labelled ``"estimate": True`` with those sources. A spike at the last step is counted as
delivered (its synaptic operations happen on the next step of a longer run).

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> exe = hal.compile(random_network(3, 5, 2, seed=1), target="cpu")
    >>> x = (np.random.default_rng(0).random((20, 3)) < 0.5).astype(float)
    >>> act = activity(exe.net, exe.target, {"lif1": np.ones((20, 5)),
    ...                                       "lif2": np.zeros((20, 2))}, x)
    >>> act["populations"]["lif1"]["spikes"], act["activation_sparsity"]
    (100.0, 0.2857142857142857)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from hal.errors import ValidationError

#: NeuroBench, where the activity definitions come from
NEUROBENCH = ("NeuroBench: Yik et al., Nature Communications 16, 1545 (2025), "
              "arXiv:2304.04640, metrics synaptic_operations, activation_sparsity, "
              "connection_sparsity, footprint")
#: arithmetic of one neuron update in hal's discretisation (hal.compilers.snn):
#: u' = u (1 - du) + a_in (1 mult, 1 add); v' = v (1 - dv) + u' + bias (1 mult, 2 adds);
#: spike test v' > vth (1 add)
NEURON_UPDATE_OPS = {"mult": 2, "add": 4}


# -- counting ----------------------------------------------------------------------------

def _matrix(c: Any, fixed: bool) -> Any:
    """The weights a connection actually delivers: integer mantissas on fixed-point
    targets (rounding can zero small weights), floats otherwise; dense or scipy.sparse."""
    return c.mant if fixed and getattr(c, "mant", None) is not None else c.weight


def fan_out(c: Any, fixed: bool) -> np.ndarray:
    """Nonzero weights per source neuron of connection ``c`` (dense or scipy.sparse).

    Example:
        >>> from hal.compilers.snn import Connection
        >>> fan_out(Connection("input", "a", np.array([[1.0, 0.0], [2.0, 0.0]])), False)
        array([2, 0])
        >>> fan_out(Connection("input", "a", sp.csr_matrix([[1.0, 0.0], [2.0, 0.0]])), False)
        array([2, 0])
    """
    m = _matrix(c, fixed)
    if sp.issparse(m):
        return np.asarray((m != 0).sum(axis=0)).ravel().astype(np.int64)
    return np.count_nonzero(np.asarray(m), axis=0).astype(np.int64)


def _shape(m: Any) -> tuple[int, int]:
    return tuple(int(d) for d in m.shape)  # type: ignore[return-value]


def _is_fixed(net: Any, target: Any) -> bool:
    return target.precision == "fixed" and net.quantization is not None


def step_counts(net: Any, target: Any, spikes: dict[str, np.ndarray],
                x: np.ndarray) -> dict[str, Any]:
    """Per population and per (sample, step): spikes out, accumulates and multiply-
    accumulates delivered into it. ``spikes[p]`` and ``x`` are (B, T, N) or (T, N)."""
    fixed = _is_fixed(net, target)
    x = np.asarray(x, dtype=np.float64)
    x = x if x.ndim == 3 else x[None]
    spk = {p: np.asarray(s) for p, s in spikes.items()}
    spk = {p: (s if s.ndim == 3 else s[None]).astype(bool) for p, s in spk.items()}
    B, T = x.shape[:2]
    binary = bool(np.isin(x, (0.0, 1.0)).all())
    acs = {p: np.zeros((B, T)) for p in net.populations}
    macs = {p: np.zeros((B, T)) for p in net.populations}
    for c in net.connections:
        src = (x != 0) if c.source == "input" else spk[c.source]
        ops = src[:, :T].astype(np.float64) @ fan_out(c, fixed).astype(np.float64)
        (macs if c.source == "input" and not binary else acs)[c.target] += ops
    out = {p: spk[p][:, :T].sum(axis=2).astype(np.float64) if p in spk else np.zeros((B, T))
           for p in net.populations}
    return {"B": B, "T": T, "binary_input": binary, "acs": acs, "macs": macs, "spikes": out,
            "input_events": (x != 0).sum(axis=2).astype(np.float64)}


def _isi_cv(s: np.ndarray) -> float | None:
    """Mean ISI CV over the spike trains of ``s`` (B, T, N) that have >= 2 ISIs."""
    b, n, t = np.nonzero(s.transpose(0, 2, 1))  # ordered by train (b, n), then time
    if len(t) < 3:
        return None
    same = (b[1:] == b[:-1]) & (n[1:] == n[:-1])
    isi = np.diff(t)[same].astype(np.float64)
    train = (b[1:] * s.shape[2] + n[1:])[same]
    if not len(isi):
        return None
    _, inv = np.unique(train, return_inverse=True)
    cnt = np.bincount(inv)
    mean = np.bincount(inv, isi) / cnt
    var = np.maximum(np.bincount(inv, isi * isi) / cnt - mean**2, 0.0)
    ok = cnt >= 2
    return float((np.sqrt(var[ok]) / mean[ok]).mean()) if ok.any() else None


def footprint(net: Any, target: Any) -> dict[str, int]:
    """Bytes of weights (dense, as NeuroBench counts parameters), neuron parameters and
    neuron state (u, v) at the target's widths."""
    lim, fixed = target.limits, _is_fixed(net, target)
    word = _word_bits(target)
    wbits = (getattr(lim, "weight_bits", None) if fixed else None) or word
    sbits = (getattr(lim, "state_bits", None) if fixed else None) or word
    if fixed:  # du, dv (decay_bits), vth (threshold_bits), bias mantissa + exponent
        exp_bits = max(int(lim.bias_exp_max or 0).bit_length(), 1)
        pbits = 2 * lim.decay_bits + lim.threshold_bits + lim.bias_mant_bits + exp_bits
    else:
        pbits = 4 * word
    n = net.num_neurons
    weights = sum(math.prod(_shape(_matrix(c, fixed))) for c in net.connections)
    out = {"weights": math.ceil(weights * wbits / 8), "neuron_parameters":
           math.ceil(n * pbits / 8), "neuron_state": math.ceil(n * 2 * sbits / 8)}
    out["total"] = sum(out.values())
    return out


def _word_bits(target: Any) -> int:
    costs = getattr(target, "costs", None)
    if costs is not None and "word_bits" in costs.values:
        return int(costs.values["word_bits"].value)
    return 32  # a target without a cost block: NeuroBench counts float32 parameters


def activity(net: Any, target: Any, spikes: dict[str, np.ndarray], x: np.ndarray,
             counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Activity metrics of one run (NeuroBench's definitions; see the module docstring).

    Args:
        net: the lowered network (``exe.net``).
        target: the target it ran on (``exe.target``).
        spikes: population -> spikes (T, N) or (B, T, N), as in ``SimResult.spikes``.
        x: the input the network received, (T, n_in) or (B, T, n_in).
        counts: :func:`step_counts` of the same run, when already computed.

    Returns:
        a JSON-ready dict; counts are per inference (per sample), averaged over the batch.
    """
    c = counts or step_counts(net, target, spikes, x)
    B, T = c["B"], c["T"]
    fixed = _is_fixed(net, target)
    pops, total_spikes, spiking_neurons = {}, 0.0, 0
    for name, p in net.populations.items():
        n_spk = float(c["spikes"][name].sum()) / B
        s = spikes.get(name)
        s3 = None if s is None else (np.asarray(s) if np.ndim(s) == 3 else np.asarray(s)[None])
        pops[name] = {"neurons": p.size, "spiking": bool(p.spiking), "spikes": n_spk,
                      "firing_rate": n_spk / (p.size * T) if p.size and T else 0.0,
                      "firing_rate_hz": n_spk / (p.size * T * net.dt) if p.size and T else 0.0,
                      "isi_cv": _isi_cv(s3.astype(bool)) if s3 is not None else None}
        if p.spiking:
            total_spikes += n_spk
            spiking_neurons += p.size
    weights = [_matrix(k, fixed) for k in net.connections]
    n_w = sum(math.prod(_shape(m)) for m in weights)
    nnz = sum(int(m.count_nonzero()) if sp.issparse(m) else int(np.count_nonzero(m))
              for m in weights)
    return {
        "definitions": NEUROBENCH, "samples": B, "steps": T,
        "populations": pops,
        "input": {"events": float(c["input_events"].sum()) / B,
                  "binary": c["binary_input"]},
        "synaptic_operations": {
            "effective_acs": sum(float(a.sum()) for a in c["acs"].values()) / B,
            "effective_macs": sum(float(a.sum()) for a in c["macs"].values()) / B,
            "dense": float(n_w * T)},
        "activation_sparsity": 1.0 - total_spikes / (spiking_neurons * T)
        if spiking_neurons and T else None,
        "connection_sparsity": 1.0 - nnz / n_w if n_w else None,
        "footprint_bytes": footprint(net, target),
    }


# -- estimates ---------------------------------------------------------------------------

def _cost(target: Any, key: str) -> float:
    costs = target.costs
    if key not in costs.values:
        raise ValidationError(f"target '{target.name}' ({target.path}): costs.values has no "
                              f"'{key}', which the {costs.model} estimate needs; add it with "
                              "its source")
    return float(costs.values[key].value)


def _sources(target: Any, keys: list[str]) -> dict[str, str]:
    vals = target.costs.values
    return {k: f"{vals[k].value:g}: {vals[k].source}" for k in keys if k in vals}


def estimate(net: Any, target: Any, counts: dict[str, Any],
             mapping: dict[str, Any] | None = None) -> dict[str, Any]:
    """Energy (pJ) and latency (ns) *estimates* of a run on ``target`` from its per-
    operation costs (``hw_configs/<target>.yaml``, ``costs:``), with the sources.

    Neuromorphic targets: energy = synaptic ops x E_synop + neuron updates x E_update +
    spikes x (E_spike + one tile hop per destination population, a lower bound); latency
    per step = the slowest core (its share of neuron updates, synaptic ops and spikes,
    populations spread evenly over the cores :func:`hal.compilers.snn.map_to_cores` gives
    them) plus the barrier synchronisation for the tiles used. Conventional targets (cpu,
    torch): energy of the arithmetic only, event-driven (ACs, MACs, neuron updates) and
    dense; no latency model (the measured host latency is the figure there).

    Args:
        net: the lowered network.
        target: a target with a ``costs:`` block.
        counts: :func:`step_counts` of a run (or :func:`assumed_counts`).
        mapping: :func:`hal.compilers.snn.map_to_cores` of ``net`` (computed if omitted).
    """
    if getattr(target, "costs", None) is None:
        return {"estimate": True, "target": target.name, "energy_pj": None,
                "latency_ns": None, "sources": {},
                "note": f"target '{target.name}' has no costs: block in hw_configs/"}
    fn = _neuromorphic if target.costs.model == "neuromorphic" else _conventional
    out = fn(net, target, counts, mapping)
    return {"estimate": True, "target": target.name, "model": target.costs.model,
            "note": target.costs.note, **out}


def _per(total: np.ndarray, B: int, T: int) -> dict[str, float]:
    return {"per_inference": float(total.sum()) / B, "per_step": float(total.sum()) / (B * T)}


def _neuromorphic(net: Any, target: Any, c: dict[str, Any], mapping: dict | None) -> dict:
    from hal.compilers.snn import map_to_cores

    mapping = mapping or map_to_cores(net, target.limits)
    B, T = c["B"], c["T"]
    e_syn, e_nu = _cost(target, "synaptic_op_pj"), _cost(target, "neuron_update_pj")
    e_spk, e_hop = _cost(target, "spike_out_pj"), _cost(target, "tile_hop_pj")
    t_syn, t_nu = _cost(target, "synaptic_op_ns"), _cost(target, "neuron_update_ns")
    t_spk = _cost(target, "spike_out_ns")
    dests = {p: sum(1 for k in net.connections if k.source == p) for p in net.populations}
    parts = {"synaptic_ops": np.zeros((B, T)), "neuron_updates": np.zeros((B, T)),
             "spikes_and_routing": np.zeros((B, T))}
    core_time = []
    for name, p in net.populations.items():
        ops = c["acs"][name] + c["macs"][name]
        spk = c["spikes"][name]
        parts["synaptic_ops"] += ops * e_syn
        parts["neuron_updates"] += p.size * e_nu
        parts["spikes_and_routing"] += spk * dests[name] * (e_spk + e_hop)
        cores = mapping["populations"][name]["cores"]
        core_time.append((p.size * t_nu + ops * t_syn + spk * dests[name] * t_spk) / cores)
    slowest = np.max(np.stack(core_time), axis=0) if core_time else np.zeros((B, T))
    sync = _barrier(target, mapping["cores"])
    step_ns = slowest + sync
    total = sum(parts.values())
    keys = ["synaptic_op_pj", "neuron_update_pj", "spike_out_pj", "tile_hop_pj",
            "synaptic_op_ns", "neuron_update_ns", "spike_out_ns", "barrier_1_tile_ns",
            "barrier_32_tiles_ns", "cores_per_tile"]
    return {
        "energy_pj": {**_per(total, B, T),
                      "breakdown_per_inference": {k: float(v.sum()) / B
                                                  for k, v in parts.items()}},
        "latency_ns": {"per_step": float(step_ns.mean()),
                       "per_step_max": float(step_ns.max(initial=0)),
                       "per_inference": float(step_ns.sum()) / B,
                       "barrier_sync_per_step": sync, "cores": mapping["cores"]},
        "sources": {**_sources(target, keys),
                    "model": "hal.snn.metrics.estimate: dynamic energy only (no static "
                             "power); routing a lower bound of one tile hop per spike per "
                             "destination population; barrier interpolated linearly "
                             "between 1 and 32 tiles"},
    }


def _barrier(target: Any, cores: int) -> float:
    lo, hi = _cost(target, "barrier_1_tile_ns"), _cost(target, "barrier_32_tiles_ns")
    tiles = max(1, math.ceil(cores / _cost(target, "cores_per_tile")))
    return lo + (hi - lo) * (min(tiles, 32) - 1) / 31


def _conventional(net: Any, target: Any, c: dict[str, Any], mapping: dict | None) -> dict:
    B, T = c["B"], c["T"]
    add, mult = _cost(target, "add_pj"), _cost(target, "mult_pj")
    acs = sum(a for a in c["acs"].values())
    macs = sum(a for a in c["macs"].values())
    n = net.num_neurons
    nu = n * (NEURON_UPDATE_OPS["mult"] * mult + NEURON_UPDATE_OPS["add"] * add)
    dense_w = sum(math.prod(_shape(_matrix(k, _is_fixed(net, target))))
                  for k in net.connections)
    parts = {"accumulates": acs * add, "multiply_accumulates": macs * (add + mult),
             "neuron_updates": np.full((B, T), nu)}
    total = sum(parts.values())
    dense = np.full((B, T), dense_w * (add + mult) + nu)
    return {
        "energy_pj": {**_per(total, B, T),
                      "breakdown_per_inference": {k: float(np.sum(v)) / B
                                                  for k, v in parts.items()},
                      "dense_per_inference": float(dense.sum()) / B},
        "latency_ns": None,
        "latency_note": "no per-operation time model for a general-purpose processor; the "
                        "measured host latency (predict) is the figure for this target",
        "sources": {**_sources(target, ["add_pj", "mult_pj", "word_bits"]),
                    "model": "hal.snn.metrics.estimate: arithmetic only (no memory access, "
                             "which dominates on real CPUs and GPUs); neuron update = "
                             f"{NEURON_UPDATE_OPS['mult']} mult + {NEURON_UPDATE_OPS['add']} "
                             "add per neuron per step"},
    }


def assumed_counts(net: Any, target: Any, steps: int = 32, rate: float = 0.1) -> dict:
    """Counts for an estimate before anything runs: every input and neuron spiking with
    probability ``rate`` per step (expected values, one sample)."""
    fixed = _is_fixed(net, target)
    B, T = 1, int(steps)
    acs = {p: np.zeros((B, T)) for p in net.populations}
    for c in net.connections:
        acs[c.target] += rate * float(fan_out(c, fixed).sum())
    spikes = {p: np.full((B, T), rate * q.size if q.spiking else 0.0)
              for p, q in net.populations.items()}
    return {"B": B, "T": T, "binary_input": True, "acs": acs,
            "macs": {p: np.zeros((B, T)) for p in net.populations}, "spikes": spikes,
            "input_events": np.full((B, T), rate * net.n_in)}
