"""Lowering NIR graphs to neuron populations and connections, and float -> Loihi fixed point.

Lowering rules are registered by NIR node type (``NEURON_RULES``); a node type without a
rule raises :class:`CompileError` naming the node. Every connection (Affine/Linear)
delivers one step late on Lava (one step per Dense); backends that emulate it report
``delay_steps`` per population.

Discretisation with step ``dt`` (forward Euler, Lava's LIF form
``u' = u (1 - du) + a_in``, ``v' = v (1 - dv) + u + bias``):
    LIF:     du = 1, dv = dt/tau, input scale r dt/tau, bias dt/tau (v_leak + r b)
    CubaLIF: du = dt/tau_syn, dv = dt/tau_mem, input scale w_in r dt/tau_syn dt/tau_mem
    IF:      du = 1, dv = 0, input scale r
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np

from hal.errors import CompileError, DoesNotFit, ValidationError


@dataclass
class Population:
    """A group of current-based LIF neurons in Lava's form (per-neuron parameters)."""

    name: str
    size: int
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray
    bias: np.ndarray
    fixed: dict[str, Any] | None = None  # du, dv, vth, bias_mant, bias_exp (ints)


@dataclass
class Connection:
    """Dense weights from ``source`` (``"input"`` or a population) to ``target``."""

    source: str
    target: str
    weight: np.ndarray  # (n_target, n_source), float, input scale folded in
    mant: np.ndarray | None = None  # int weights after quantization
    exp: int = 0


@dataclass
class Lowered:
    """A network as populations + connections, the form every SNN backend runs."""

    n_in: int
    populations: dict[str, Population]
    connections: list[Connection]
    outputs: list[str]
    dt: float
    depth: dict[str, int] = field(default_factory=dict)  # Dense hops from the input
    quantization: dict[str, Any] | None = None

    @property
    def num_neurons(self) -> int:
        return sum(p.size for p in self.populations.values())


def _arr(node: Any, attr: str, n: int) -> np.ndarray:
    value = np.asarray(getattr(node, attr), dtype=np.float64).reshape(-1)
    if value.size == 1:
        value = np.full(n, value[0])
    return value


def _lif(name: str, node: nir.LIF, dt: float) -> tuple[Population, np.ndarray]:
    n = np.asarray(node.tau).size
    tau, r = _arr(node, "tau", n), _arr(node, "r", n)
    k = dt / tau
    return Population(name, n, np.ones(n), k, _arr(node, "v_threshold", n),
                      k * _arr(node, "v_leak", n)), r * k


def _cubalif(name: str, node: nir.CubaLIF, dt: float) -> tuple[Population, np.ndarray]:
    n = np.asarray(node.tau_mem).size
    ks, km = dt / _arr(node, "tau_syn", n), dt / _arr(node, "tau_mem", n)
    r, w_in = _arr(node, "r", n), _arr(node, "w_in", n)
    return Population(name, n, ks, km, _arr(node, "v_threshold", n),
                      km * _arr(node, "v_leak", n)), w_in * r * ks * km


def _if(name: str, node: nir.IF, dt: float) -> tuple[Population, np.ndarray]:
    n = np.asarray(node.r).size
    return Population(name, n, np.ones(n), np.zeros(n), _arr(node, "v_threshold", n),
                      np.zeros(n)), _arr(node, "r", n)


NEURON_RULES = {nir.LIF: _lif, nir.CubaLIF: _cubalif, nir.IF: _if}
SYNAPSE_TYPES = (nir.Affine, nir.Linear)


def lower(graph: nir.NIRGraph, dt: float = 1e-4) -> Lowered:
    """Lower a flat NIR graph of Input/Affine/Linear/LIF/CubaLIF/IF/Output nodes."""
    if not dt > 0:
        raise ValidationError(f"dt must be > 0, got {dt}")
    nodes, edges = graph.nodes, graph.edges
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValidationError(f"edge ({a} -> {b}) names node '{end}' that does not exist")
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise CompileError(f"need exactly one Input node, found {inputs}")
    n_in = int(np.prod(nodes[inputs[0]].input_type["input"]))
    pops, scale = {}, {}
    for name, node in nodes.items():
        if isinstance(node, (nir.Input, nir.Output, *SYNAPSE_TYPES)):
            continue
        rule = NEURON_RULES.get(type(node))
        if rule is None:
            raise CompileError(f"node '{name}' is a {type(node).__name__}, which has no "
                               f"lowering rule; supported: Affine, Linear, "
                               f"{', '.join(t.__name__ for t in NEURON_RULES)}")
        _check_finite(name, node)
        if np.any(np.asarray(getattr(node, "v_reset", 0.0)) != 0):
            raise CompileError(f"node '{name}': v_reset must be 0 (Loihi resets v to 0)")
        pops[name], scale[name] = rule(name, node, dt)
        if np.any(_arr(node, "tau" if isinstance(node, nir.LIF) else "r", pops[name].size) <= 0):
            raise ValidationError(f"node '{name}': tau and r must be > 0")
    conns = []
    for name, node in nodes.items():
        if not isinstance(node, SYNAPSE_TYPES):
            continue
        _check_finite(name, node)
        src = [a for a, b in edges if b == name]
        dst = [b for a, b in edges if a == name]
        if len(src) != 1 or len(dst) != 1:
            raise CompileError(f"node '{name}' needs one input and one output edge, "
                               f"has {src} -> {dst}")
        s, d = src[0], dst[0]
        s_key = "input" if s in inputs else s
        if s_key != "input" and s not in pops or d not in pops:
            raise CompileError(f"node '{name}' must connect Input or a neuron node to a "
                               f"neuron node, not {s} -> {d}")
        w = np.asarray(node.weight, dtype=np.float64)
        n_src = n_in if s_key == "input" else pops[s].size
        if w.shape != (pops[d].size, n_src):
            raise ValidationError(f"shape mismatch: '{name}' weight is {w.shape}, but '{s}' "
                                  f"has {n_src} outputs and '{d}' has {pops[d].size} neurons")
        conns.append(Connection(s_key, d, w * scale[d][:, None]))
        if isinstance(node, nir.Affine):
            pops[d].bias = pops[d].bias + np.asarray(node.bias, float) * scale[d] / pops[d].du
    outputs = [a for a, b in edges if isinstance(nodes[b], nir.Output)]
    outputs = [o for o in outputs if o in pops] or list(pops)
    net = Lowered(n_in, pops, conns, outputs, dt)
    net.depth = _depths(net)
    return net


def _check_finite(name: str, node: Any) -> None:
    for attr, value in vars(node).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and \
                not np.isfinite(value).all():
            raise ValidationError(f"node '{name}': {attr} contains NaN or infinity")


def _depths(net: Lowered) -> dict[str, int]:
    depth, frontier = {"input": 0}, ["input"]
    while frontier:
        nxt = []
        for c in net.connections:
            if c.source in frontier and c.target not in depth:
                depth[c.target] = depth[c.source] + 1
                nxt.append(c.target)
        frontier = nxt
    return {p: depth.get(p, 0) for p in net.populations}


# -- quantization ------------------------------------------------------------------------
def quantize(net: Lowered, limits: Any, v_scale: float | str = "auto",
             rounding: str = "nearest", decay_scale: int = 4096) -> dict[str, Any]:
    """Fix every parameter to Loihi's integer formats in place; return the report.

    Voltages are scaled by ``v_scale`` (``auto``: the largest power of two that keeps
    thresholds within ``threshold_bits`` and one step's input within 16 bits). The
    NIR paper's script corresponds to ``v_scale=256, rounding="floor", decay_scale=4095``.
    """
    rnd = np.floor if rounding == "floor" else np.rint
    vth_max = 2 ** limits.threshold_bits - 1
    if v_scale == "auto":
        max_vth = max(float(p.vth.max()) for p in net.populations.values())
        rows = [np.abs(c.weight).sum(axis=1).max(initial=0) for c in net.connections]
        bound = min(vth_max / max_vth, (2**15 - 1) / max(max(rows, default=1e-9), 1e-9))
        v_scale = float(2 ** math.floor(math.log2(bound)))
    S = float(v_scale)
    report: dict[str, Any] = {"v_scale": S, "rounding": rounding, "decay_scale": decay_scale,
                              "parameters": {}, "warnings": []}
    dmax = 2 ** limits.decay_bits - 1
    for p in net.populations.values():
        du = np.clip(rnd(p.du * decay_scale) - (decay_scale == 4096), 0, dmax)
        dv = np.clip(rnd(p.dv * decay_scale), 0, dmax)
        vth = rnd(p.vth * S)
        if vth.max() > vth_max:
            raise DoesNotFit(f"population '{p.name}': threshold {vth.max():g} exceeds "
                             f"{limits.threshold_bits} bits; lower v_scale")
        mant, exp = _bias_fixed(p.bias * S * 64, limits)
        p.fixed = {"du": du.astype(int), "dv": dv.astype(int), "vth": vth.astype(int),
                   "bias_mant": mant, "bias_exp": exp}
        report["parameters"][p.name] = {
            "du_max_error": float(np.abs((du + (decay_scale == 4096)) / decay_scale - p.du).max()),
            "dv_max_error": float(np.abs(dv / decay_scale - p.dv).max()),
            "vth_max_error": float(np.abs(vth / S - p.vth).max()),
            "bias_max_error": float(np.abs(mant * 2.0**exp / (64 * S) - p.bias).max()),
        }
        for key in ("du", "dv"):
            values = p.fixed[key]
            if len(set(values.tolist())) > 1:
                report["warnings"].append(f"population '{p.name}': {key} differs across "
                                          "neurons (split into groups on Lava)")
    for c in net.connections:
        c.mant, c.exp, info = _weights_fixed(c.weight * S, limits, rnd)
        info["max_error"] = float(np.abs(c.mant * 2.0**c.exp / S - c.weight).max(initial=0))
        report["parameters"][f"{c.source}->{c.target}"] = info
        if info["saturated"]:
            report["warnings"].append(f"{c.source}->{c.target}: {info['saturated']} weights "
                                      f"saturate at {limits.weight_bits} bits")
    net.quantization = report
    return report


def _weights_fixed(w: np.ndarray, limits: Any, rnd) -> tuple[np.ndarray, int, dict]:
    mixed = (w > 0).any() and (w < 0).any()
    top = 2 ** limits.weight_bits - 1  # 255
    big = float(np.abs(w).max(initial=0))
    exp = max(limits.weight_exp_min, 0)
    while big / 2**exp > top and exp < limits.weight_exp_max:
        exp += 1
    m = rnd(w / 2**exp)
    lo, hi = (-top - 1, top) if mixed else ((-top, 0) if (w <= 0).all() else (0, top))
    saturated = int(((m < lo) | (m > hi)).sum())
    m = np.clip(m, lo, hi)
    if mixed:  # Lava drops the lowest bit of mixed-sign 8-bit weights
        m = (m.astype(np.int64) >> 1) << 1
    return m.astype(np.int64), exp, {"weight_exp": exp, "saturated": saturated, "mixed": mixed}


def _bias_fixed(b: np.ndarray, limits: Any) -> tuple[np.ndarray, np.ndarray]:
    top = 2 ** (limits.bias_mant_bits - 1) - 1
    exp = np.zeros(b.shape, dtype=int)
    for e in range(limits.bias_exp_max + 1):
        exp = np.where(np.abs(b) / 2**exp > top, e, exp)
    mant = np.clip(np.rint(b / 2.0**exp), -top - 1, top).astype(int)
    return mant, exp


def map_to_cores(net: Lowered, limits: Any) -> dict[str, Any]:
    """Cores used (populations packed by neurons and synapses per core) and what does not
    fit. A population's neurons share cores only with themselves."""
    report: dict[str, Any] = {"cores": 0, "populations": {}, "problems": []}
    fan_in = {p: 0 for p in net.populations}
    syn = {p: 0 for p in net.populations}
    for c in net.connections:
        fan_in[c.target] += c.weight.shape[1]
        syn[c.target] += int(np.count_nonzero(c.weight))
    for name, p in net.populations.items():
        by_n = math.ceil(p.size / limits.neurons_per_core) if limits.neurons_per_core else 1
        by_s = math.ceil(syn[name] / limits.synapses_per_core) if limits.synapses_per_core else 1
        cores = max(by_n, by_s, 1)
        report["populations"][name] = {"neurons": p.size, "synapses": syn[name],
                                       "fan_in": fan_in[name], "cores": cores}
        report["cores"] += cores
    if limits.cores and report["cores"] > limits.cores:
        report["problems"].append(f"needs {report['cores']} cores, the target has "
                                  f"{limits.cores}")
    return report
