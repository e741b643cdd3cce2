"""Lowering NIR graphs to neuron populations and connections, and float -> Loihi fixed point.

Lowering rules are registered by NIR node type: ``NEURON_RULES`` turn neuron nodes into
populations, ``LINEAR_RULES`` turn synapse-like nodes (Affine, Linear, Scale, Conv2d,
SumPool2d, AvgPool2d, Flatten) into sparse matrices, and every chain of such nodes between
two populations (or from the Input) is multiplied into one connection (one ``Dense`` on
Lava). ``Delay`` nodes split a chain by delay value. A node type without a rule raises
:class:`CompileError` naming the node. Every connection delivers one step late on Lava;
backends that emulate it report ``delay_steps`` per population.

Discretisation with step ``dt`` (forward Euler, Lava's LIF form
``u' = u (1 - du) + a_in``, ``v' = v (1 - dv) + u + bias``):
    LIF:       du = 1, dv = dt/tau, input scale r dt/tau, bias dt/tau (v_leak + r b)
    CubaLIF:   du = dt/tau_syn, dv = dt/tau_mem, input scale w_in r dt/tau_syn dt/tau_mem
    IF:        du = 1, dv = 0, input scale r
    LI, CubaLI, I: as LIF, CubaLIF, IF without spikes (read out through v)
    Delay:     y(t) = x(t - delay), delay rounded to whole steps of dt
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp

from hal.backend import Option
from hal.compilers import register_rule
from hal.errors import CompileError, DoesNotFit, ValidationError
from hal.snn.learning import check_lowered, learning_format, rule_of


@dataclass
class Population:
    """A group of current-based LIF neurons in Lava's form (per-neuron parameters).

    ``spiking=False`` marks a leaky integrator (no threshold): its output is v.
    """

    name: str
    size: int
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray
    bias: np.ndarray
    fixed: dict[str, Any] | None = None  # du, dv, vth, bias_mant, bias_exp (ints)
    spiking: bool = True
    shape: tuple[int, ...] = ()


@dataclass
class Connection:
    """Weights from ``source`` (``"input"`` or a population) to ``target``, delivered
    ``delay`` steps later than a plain Dense.

    Stored sparse (scipy CSR, shaped (n_target, n_source)) so a network of 10**5 neurons
    fits in memory; :attr:`weight` and :attr:`mant` are dense copies for backends that
    need them (Lava's ``Dense``, torch). Mantissas keep the narrowest integer type that
    holds them.
    """

    source: str
    target: str
    matrix: sp.csr_matrix  # float, input scale folded in
    mant_matrix: sp.csr_matrix | None = None  # int weights after quantization
    exp: int = 0
    delay: int = 0
    rule: Any = None  # a hal.snn.learning.STDP: the connection learns (plastic)

    def __post_init__(self) -> None:
        self.weight, self.mant = self.matrix, self.mant_matrix  # to CSR, narrow ints

    @property
    def weight(self) -> np.ndarray:
        """Dense float weights (n_target, n_source); assigning a dense or sparse matrix
        stores it as CSR."""
        return self.matrix.toarray()

    @weight.setter
    def weight(self, w: Any) -> None:
        self.matrix = _pruned(w)

    @property
    def mant(self) -> np.ndarray | None:
        """Dense integer mantissas (n_target, n_source) as int64, or None before
        quantization; assigning stores them as CSR at their narrowest width."""
        return None if self.mant_matrix is None else self.mant_matrix.toarray().astype(np.int64)

    @mant.setter
    def mant(self, m: Any) -> None:
        if m is None:
            self.mant_matrix = None
            return
        m = sp.csr_matrix(m)
        m.eliminate_zeros()
        lo, hi = (float(m.data.min()), float(m.data.max())) if m.nnz else (0.0, 0.0)
        self.mant_matrix = m.astype(int_width(lo, hi))


def int_width(lo: float, hi: float) -> type:
    """The narrowest signed numpy integer type holding every value in [lo, hi]."""
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return t
    return np.int64


def row_abs_sum(m: sp.spmatrix) -> np.ndarray:
    """Sum of absolute values per row, as float64 (no overflow at narrow widths)."""
    return np.asarray(abs(m.astype(np.float64)).sum(axis=1)).ravel()


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
    #: faults drawn while it runs (hal.faults), e.g. {"spike_drop": {"rate", "seed",
    #: "populations"}}; only backends whose ``runtime_faults`` name them take the network
    runtime_faults: dict[str, Any] = field(default_factory=dict)

    @property
    def num_neurons(self) -> int:
        return sum(p.size for p in self.populations.values())


def _arr(node: Any, attr: str, n: int) -> np.ndarray:
    value = np.asarray(getattr(node, attr), dtype=np.float64).reshape(-1)
    if value.size == 1:
        value = np.full(n, value[0])
    return value


NEURON_RULES: dict[type, Callable[[str, Any, float], tuple[Population, np.ndarray]]] = {}
LINEAR_RULES: dict[type, Callable[[str, Any, tuple[int, ...]], LinearMap]] = {}


def neuron_rule(*types: type):
    """Register a lowering rule ``rule(name, node, dt) -> (Population, input_scale)``."""
    return register_rule(NEURON_RULES, types)


def linear_rule(*types: type):
    """Register a rule ``rule(name, node, in_shape) -> LinearMap`` for a synapse node."""
    return register_rule(LINEAR_RULES, types)


def _size(node: Any, attr: str) -> tuple[int, ...]:
    return tuple(int(d) for d in np.shape(getattr(node, attr)))


@neuron_rule(nir.LIF, nir.LI)
def _lif(name: str, node: Any, dt: float) -> tuple[Population, np.ndarray]:
    shape = _size(node, "tau")
    n = math.prod(shape)
    tau, r = _arr(node, "tau", n), _arr(node, "r", n)
    _positive(name, tau=tau, r=r)
    k = dt / tau
    spiking = isinstance(node, nir.LIF)
    vth = _arr(node, "v_threshold", n) if spiking else np.full(n, np.inf)
    return Population(name, n, np.ones(n), k, vth, k * _arr(node, "v_leak", n),
                      spiking=spiking, shape=shape), r * k


@neuron_rule(nir.CubaLIF, nir.CubaLI)
def _cubalif(name: str, node: Any, dt: float) -> tuple[Population, np.ndarray]:
    shape = _size(node, "tau_mem")
    n = math.prod(shape)
    ts, tm = _arr(node, "tau_syn", n), _arr(node, "tau_mem", n)
    r, w_in = _arr(node, "r", n), _arr(node, "w_in", n)
    _positive(name, tau_syn=ts, tau_mem=tm, r=r)
    ks, km = dt / ts, dt / tm
    spiking = isinstance(node, nir.CubaLIF)
    vth = _arr(node, "v_threshold", n) if spiking else np.full(n, np.inf)
    return Population(name, n, ks, km, vth, km * _arr(node, "v_leak", n), spiking=spiking,
                      shape=shape), w_in * r * ks * km


@neuron_rule(nir.IF, nir.I)
def _if(name: str, node: Any, dt: float) -> tuple[Population, np.ndarray]:
    shape = _size(node, "r")
    n = math.prod(shape)
    _positive(name, r=_arr(node, "r", n))
    spiking = isinstance(node, nir.IF)
    vth = _arr(node, "v_threshold", n) if spiking else np.full(n, np.inf)
    return Population(name, n, np.ones(n), np.zeros(n), vth, np.zeros(n), spiking=spiking,
                      shape=shape), _arr(node, "r", n)


def _positive(name: str, **values: np.ndarray) -> None:
    for key, v in values.items():
        if np.any(v <= 0):
            raise ValidationError(f"node '{name}': {key} must be > 0 "
                                  f"(found {float(v.min()):g})")


@dataclass
class LinearMap:
    """``y = matrix @ x + bias`` with the output's shape."""

    matrix: sp.csr_matrix
    bias: np.ndarray | None
    shape: tuple[int, ...]


def _mismatch(name: str, what: str, in_shape: tuple[int, ...]) -> ValidationError:
    return ValidationError(f"shape mismatch: '{name}' expects {what}, but its input "
                           f"delivers shape {in_shape}")


@linear_rule(nir.Affine, nir.Linear)
def _affine(name: str, node: Any, in_shape: tuple[int, ...]) -> LinearMap:
    w = sp.csr_matrix(node.weight, dtype=np.float64) if sp.issparse(node.weight) else \
        np.asarray(node.weight, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != math.prod(in_shape):
        raise _mismatch(name, f"{w.shape[1] if w.ndim == 2 else w.shape} inputs "
                        f"(weight {w.shape})", in_shape)
    bias = np.asarray(node.bias, float).reshape(-1) if isinstance(node, nir.Affine) else None
    return LinearMap(sp.csr_matrix(w), bias, (w.shape[0],))


@linear_rule(nir.Scale)
def _scale(name: str, node: Any, in_shape: tuple[int, ...]) -> LinearMap:
    n = math.prod(in_shape)
    s = np.broadcast_to(np.asarray(node.scale, float).reshape(-1), (n,)) \
        if np.size(node.scale) in (1, n) else None
    if s is None:
        raise _mismatch(name, f"{np.size(node.scale)} inputs", in_shape)
    return LinearMap(sp.diags(s).tocsr(), None, in_shape)


@linear_rule(nir.Flatten)
def _flatten(name: str, node: Any, in_shape: tuple[int, ...]) -> LinearMap:
    n = math.prod(in_shape)
    return LinearMap(sp.identity(n, format="csr"), None, (n,))


def _pair(v: Any) -> tuple[int, int]:
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[-1]))


def _window_map(in_shape: tuple[int, ...], c_out: int, kernel: np.ndarray, stride, padding,
                dilation, groups: int, name: str) -> tuple[sp.csr_matrix, tuple[int, ...]]:
    """Unroll a 2-d convolution (torch semantics, weight (C_out, C_in/groups, kh, kw))."""
    if len(in_shape) != 3:
        raise _mismatch(name, "a (C, H, W) input", in_shape)
    c_in, h, w = in_shape
    kh, kw = kernel.shape[2:]
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            ph = pw = 0
        elif padding == "same":
            ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
        else:
            raise ValidationError(f"node '{name}': padding must be 'same', 'valid' or ints")
    else:
        ph, pw = _pair(padding)
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cin_g = kernel.shape[1]
    if cin_g * groups != c_in:
        raise _mismatch(name, f"{cin_g * groups} input channels", in_shape)
    co, ci, ky, kx, oy, ox = np.meshgrid(np.arange(c_out), np.arange(cin_g), np.arange(kh),
                                         np.arange(kw), np.arange(ho), np.arange(wo),
                                         indexing="ij")
    iy, ix = oy * sh - ph + ky * dh, ox * sw - pw + kx * dw
    ch = (co // (c_out // groups)) * cin_g + ci
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    vals = kernel[co, ci, ky, kx]
    ok &= vals != 0
    rows = (co * ho + oy) * wo + ox
    cols = (ch * h + iy) * w + ix
    m = sp.csr_matrix((vals[ok], (rows[ok], cols[ok])), shape=(c_out * ho * wo, c_in * h * w))
    return m, (c_out, ho, wo)


@linear_rule(nir.Conv2d)
def _conv2d(name: str, node: Any, in_shape: tuple[int, ...]) -> LinearMap:
    k = np.asarray(node.weight, dtype=np.float64)
    if k.ndim != 4:
        raise ValidationError(f"node '{name}': Conv2d weight must be 4-d, got {k.shape}")
    m, shape = _window_map(in_shape, k.shape[0], k, node.stride, node.padding,
                           node.dilation, int(node.groups), name)
    bias = np.repeat(np.asarray(node.bias, float).reshape(-1), shape[1] * shape[2]) \
        if node.bias is not None and np.size(node.bias) else None
    return LinearMap(m, bias, shape)


@linear_rule(nir.SumPool2d, nir.AvgPool2d)
def _pool(name: str, node: Any, in_shape: tuple[int, ...]) -> LinearMap:
    if len(in_shape) != 3:
        raise _mismatch(name, "a (C, H, W) input", in_shape)
    kh, kw = _pair(node.kernel_size)
    value = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (kh * kw)
    c = in_shape[0]
    kernel = np.full((c, 1, kh, kw), value)
    m, shape = _window_map(in_shape, c, kernel, node.stride, node.padding, 1, c, name)
    return LinearMap(m, None, shape)


def _edges_checked(graph: nir.NIRGraph) -> None:
    for a, b in graph.edges:
        for end in (a, b):
            if end not in graph.nodes:
                raise ValidationError(f"edge ({a} -> {b}) names node '{end}' that does "
                                      "not exist; add the node or drop the edge")


def _flat(graph: nir.NIRGraph) -> nir.NIRGraph:
    """Inline nested NIRGraph nodes (names become ``outer.inner``)."""
    if not any(isinstance(n, nir.NIRGraph) for n in graph.nodes.values()):
        return graph
    nodes, edges = {}, []
    inner_in, inner_out = {}, {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub = _flat(node)
            _edges_checked(sub)
            ins = [k for k, v in sub.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in sub.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise CompileError(f"nested graph '{name}' needs one Input and one Output")
            inner_in[name], inner_out[name] = f"{name}.{ins[0]}", f"{name}.{outs[0]}"
            for k, v in sub.nodes.items():
                if isinstance(v, (nir.Input, nir.Output)):
                    v = nir.Scale(scale=np.ones(1))  # a pass-through, any shape
                nodes[f"{name}.{k}"] = v
            edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in sub.edges]
        else:
            nodes[name] = node
    edges += [(inner_out.get(a, a), inner_in.get(b, b)) for a, b in graph.edges]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def lower(graph: nir.NIRGraph, dt: float = 1e-4) -> Lowered:
    """Lower a NIR graph (nested graphs inlined) to populations and connections."""
    if not dt > 0:
        raise ValidationError(f"dt must be > 0, got {dt}")
    _edges_checked(graph)
    graph = _flat(graph)
    nodes, edges = graph.nodes, graph.edges
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise CompileError(f"need exactly one Input node, found {inputs}")
    in_shape = tuple(int(d) for d in np.asarray(nodes[inputs[0]].input_type["input"]))
    pops, scale = {}, {}
    for name, node in nodes.items():
        if isinstance(node, (nir.Input, nir.Output, nir.Delay, *LINEAR_RULES)):
            continue
        rule = NEURON_RULES.get(type(node))
        if rule is None:
            known = sorted({t.__name__ for t in (*NEURON_RULES, *LINEAR_RULES, nir.Delay)})
            raise CompileError(f"node '{name}' is a {type(node).__name__}, which has no "
                               f"lowering rule; supported: {', '.join(known)}")
        _check_finite(name, node)
        if np.any(np.asarray(getattr(node, "v_reset", 0.0)) != 0):
            raise CompileError(f"node '{name}': v_reset must be 0 (Loihi resets v to 0)")
        pops[name], scale[name] = rule(name, node, dt)
    for name, node in nodes.items():
        if isinstance(node, (nir.Delay, *LINEAR_RULES)):
            _check_finite(name, node)
            n_in_edges = sum(1 for _, b in edges if b == name)
            if n_in_edges != 1:
                raise CompileError(f"node '{name}' has {n_in_edges} input edges; a "
                                   f"{type(node).__name__} needs exactly one")
    out_edges: dict[str, list[str]] = {}
    for a, b in edges:
        out_edges.setdefault(a, []).append(b)
    conns: dict[tuple[str, str, int], np.ndarray] = {}
    rules: dict[tuple[str, str, int], Any] = {}
    outputs: list[str] = []
    reached: set[str] = set()

    def walk(src: str, node: str, m: sp.csr_matrix, b: np.ndarray, shape, delay: int,
             via: str, path: tuple[str, ...]) -> None:
        reached.add(node)
        obj = nodes[node]
        if isinstance(obj, nir.Output):
            if src in pops and not path:
                outputs.append(src)
            elif path:
                raise CompileError(f"Output '{node}' is fed by '{path[-1]}', not by a neuron "
                                   "node; end the graph with a neuron node (LI for a "
                                   "non-spiking readout)")
            return
        if node in pops:
            p = pops[node]
            if m.shape[0] != p.size:
                raise ValidationError(f"shape mismatch: '{via}' delivers {m.shape[0]} values "
                                      f"(shape {shape}), but '{node}' has {p.size} neurons")
            w = sp.diags(scale[node]) @ m
            key = (src, node, delay)
            _plastic_chain(rules, key, path, nodes, key in conns)
            conns[key] = conns[key] + w if key in conns else w
            p.bias = p.bias + b * scale[node] / p.du
            return
        if node in path:
            raise CompileError(f"cycle through '{node}' contains no neuron node")
        if isinstance(obj, nir.Delay):
            d = np.broadcast_to(np.rint(np.asarray(obj.delay, float).reshape(-1) / dt),
                                (m.shape[0],))
            if np.any(d < 0):
                raise ValidationError(f"node '{node}': delay must be >= 0")
            for value in np.unique(d):
                mask = sp.diags((d == value).astype(float))
                for nxt in out_edges.get(node, []):
                    walk(src, nxt, mask @ m, mask @ b, shape, delay + int(value), node,
                         (*path, node))
            return
        lm = LINEAR_RULES[type(obj)](node, obj, shape)
        m2 = (lm.matrix @ m).tocsr()
        b2 = lm.matrix @ b + (lm.bias if lm.bias is not None else 0.0)
        for nxt in out_edges.get(node, []):
            walk(src, nxt, m2, b2, lm.shape, delay, node, (*path, node))

    sources = {inputs[0]: in_shape, **{k: p.shape or (p.size,) for k, p in pops.items()}}
    for src, shape in sources.items():
        n = math.prod(shape)
        for nxt in out_edges.get(src, []):
            key = "input" if src == inputs[0] else src
            walk(key, nxt, sp.identity(n, format="csr"), np.zeros(n), shape, 0, src, ())
    for name, node in nodes.items():
        if name not in reached and not isinstance(node, nir.Input) and name not in pops:
            raise CompileError(f"node '{name}' is not reachable from the Input or a neuron "
                               "node; connect it or remove it")
    for src, dst, _ in conns:
        if src in pops and not pops[src].spiking:
            raise CompileError(f"'{src}' is a non-spiking {type(nodes[src]).__name__} and "
                               f"feeds '{dst}'; only spiking nodes can drive connections")
    connections = [Connection(s, d, _pruned(w), delay=delay, rule=rules.get((s, d, delay)))
                   for (s, d, delay), w in conns.items()]
    outputs = list(dict.fromkeys(outputs)) or list(pops)
    net = Lowered(math.prod(in_shape), pops, connections, outputs, dt)
    net.depth = _depths(net)
    check_lowered(net)
    return net


def _plastic_chain(rules: dict, key: tuple, path: tuple[str, ...], nodes: dict,
                   merged: bool) -> None:
    """Record the learning rule of a chain whose Affine/Linear node carries one; a plastic
    chain must be the only one between its two ends (one LearningDense)."""
    found = [(n, r) for n in path if (r := rule_of(nodes[n], n)) is not None]
    if len(found) > 1:
        raise CompileError(f"nodes {', '.join(n for n, _ in found)} each carry a learning "
                           "rule on one connection; keep one")
    if (found or key in rules) and merged:
        raise CompileError(f"'{key[0]}' -> '{key[1]}' gets several paths and one is plastic; "
                           "a plastic connection must be the only path between two "
                           "populations (merge them into one Affine node)")
    if found:
        rules[key] = found[0][1]


def _pruned(w: Any) -> sp.csr_matrix:
    w = sp.csr_matrix(w, dtype=np.float64)
    w.eliminate_zeros()
    w.sort_indices()
    return w


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
_FIXED_LIMITS = ("weight_bits", "weight_exp_min", "weight_exp_max", "state_bits",
                 "decay_bits", "threshold_bits", "bias_mant_bits", "bias_exp_max",
                 "activation_bits", "align_bits")


#: options of the spiking lowering (defaults here only; ``hal.compile(..., v_scale=...)``)
OPTIONS = {
    "v_scale": Option("auto", "voltage scale to integers: auto (largest power of two that "
                      "keeps thresholds and one step's input in range) or a number",
                      probe=64.0),
    "rounding": Option("nearest", "rounding of parameters to integers: nearest or floor",
                       probe="floor"),
    "decay_scale": Option("auto", "decay fraction scale: auto (2**decay_bits, exact) or an "
                          "integer (4095 as in the NIR paper's script)", probe=4095),
    "learning": Option(True, "plastic connections learn (STDP, hal.snn.learning); False "
                       "runs them with their compiled weights, for inference (changes only "
                       "networks with a learning rule, so the conformance kit's network "
                       "cannot probe it; tests/test_learning.py does)", probe=None),
}


def quantize(net: Lowered, limits: Any, v_scale: float | str = "auto",
             rounding: str = "nearest", decay_scale: int | str = "auto") -> dict[str, Any]:
    """Fix every parameter to Loihi's integer formats in place; return the report.

    Every bit width comes from the target's ``limits``. Voltages are scaled by ``v_scale``
    (``auto``: the largest power of two that keeps thresholds within ``threshold_bits``
    and one step's input within ``activation_bits``). ``decay_scale`` ``auto`` is
    ``2**decay_bits``, where du gets Loihi's implicit +1. The NIR paper's script
    corresponds to ``v_scale=256, rounding="floor", decay_scale=4095``.
    """
    missing = [k for k in _FIXED_LIMITS if getattr(limits, k, None) is None]
    if missing:
        raise ValidationError(f"a fixed-point target needs limits {', '.join(missing)}; "
                              "add them to its hw_configs file")
    rnd = np.floor if rounding == "floor" else np.rint
    align = 2 ** limits.align_bits
    unity = 2 ** limits.decay_bits
    decay_scale = unity if decay_scale == "auto" else int(decay_scale)
    vth_max = 2 ** limits.threshold_bits - 1
    spiking = [p for p in net.populations.values() if p.spiking]
    if v_scale == "auto":
        max_vth = max((float(p.vth.max()) for p in spiking), default=1.0)
        rows = [row_abs_sum(c.matrix).max(initial=0) for c in net.connections]
        act_max = 2 ** (limits.activation_bits - 1) - 1
        bound = min(vth_max / max(max_vth, 1e-9), act_max / max(max(rows, default=0), 1e-9))
        v_scale = float(2 ** math.floor(math.log2(bound)))
    S = float(v_scale)
    report: dict[str, Any] = {
        "v_scale": S, "rounding": rounding, "decay_scale": decay_scale,
        "format": {"state_bits": limits.state_bits, "decay_bits": limits.decay_bits,
                   "align_bits": limits.align_bits, "activation_bits": limits.activation_bits,
                   "weight_bits": limits.weight_bits},
        "parameters": {}, "warnings": []}
    dmax = unity - 1
    offset = int(decay_scale == unity)  # du + 1 on Loihi: du = 4095 means 4096/4096
    for p in net.populations.values():
        du = np.clip(rnd(p.du * decay_scale) - offset, 0, dmax)
        dv = np.clip(rnd(p.dv * decay_scale), 0, dmax)
        if p.spiking:
            vth = rnd(p.vth * S)
            if vth.max() > vth_max:
                raise DoesNotFit(f"population '{p.name}': threshold {vth.max():g} exceeds "
                                 f"{limits.threshold_bits} bits; lower v_scale")
        else:
            vth = np.full(p.size, float(vth_max))
            report["warnings"].append(
                f"population '{p.name}' does not spike: threshold set to the largest "
                f"{limits.threshold_bits}-bit value; it still spikes if v comes within "
                f"{align} of the {limits.state_bits}-bit limit")
        mant, exp = _bias_fixed(p.bias * S * align, limits)
        p.fixed = {"du": du.astype(int), "dv": dv.astype(int), "vth": vth.astype(int),
                   "bias_mant": mant, "bias_exp": exp}
        report["parameters"][p.name] = {
            "du_max_error": float(np.abs((du + offset) / decay_scale - p.du).max()),
            "dv_max_error": float(np.abs(dv / decay_scale - p.dv).max()),
            "vth_max_error": float(np.abs(vth / S - p.vth).max()) if p.spiking else 0.0,
            "bias_max_error": float(np.abs(mant * 2.0**exp / (align * S) - p.bias).max()),
        }
    drive = {name: np.zeros(p.size) for name, p in net.populations.items()}
    if any(c.rule is not None for c in net.connections):
        report["format"].update(learning_format(limits))
    for c in net.connections:
        c.mant_matrix, c.exp, info = _weights_fixed(c.matrix * S, limits, rnd,
                                                    c.rule.sign_mode if c.rule else None)
        err = c.mant_matrix.astype(np.float64) * 2.0**c.exp / S - c.matrix
        info["max_error"] = float(abs(err).max()) if err.nnz else 0.0
        report["parameters"][f"{c.source}->{c.target}"] = info
        if info["saturated"]:
            report["warnings"].append(f"{c.source}->{c.target}: {info['saturated']} weights "
                                      f"saturate at {limits.weight_bits} bits")
        drive[c.target] += row_abs_sum(c.mant_matrix) * 2.0**c.exp * align
    state_max = 2 ** (limits.state_bits - 1)
    for name, p in net.populations.items():
        # u settles at drive / (effective du): the largest |u| all-ones input can build
        u_peak = float((drive[name] * unity / (p.fixed["du"] + offset + 1e-9)).max(initial=0))
        if u_peak >= state_max:
            report["warnings"].append(
                f"population '{name}': u can reach {u_peak:.3g} with every input spiking, "
                f"beyond the {limits.state_bits}-bit state; it wraps around (lower v_scale)")
    net.quantization = report
    return report


def _weights_fixed(w: sp.csr_matrix, limits: Any, rnd,
                   sign: str | None = None) -> tuple[sp.csr_matrix, int, dict]:
    """Lava's 8-bit weights of a sparse matrix: mantissas at their narrowest width. A
    plastic connection keeps its rule's ``sign`` mode (weights may change sign when mixed)."""
    if sign == "excitatory":
        w = w.maximum(0).tocsr()
    elif sign == "inhibitory":
        w = w.minimum(0).tocsr()
    d = w.data
    mixed = bool((d > 0).any() and (d < 0).any()) if sign is None else sign == "mixed"
    top = 2 ** limits.weight_bits - 1  # 255
    big = float(np.abs(d).max(initial=0))
    exp = max(limits.weight_exp_min, 0)
    while big / 2**exp > top and exp < limits.weight_exp_max:
        exp += 1
    m = rnd(d / 2**exp)
    lo, hi = (-top - 1, top) if mixed else ((-top, 0) if (d <= 0).all() else (0, top))
    saturated = int(((m < lo) | (m > hi)).sum())
    m = np.clip(m, lo, hi).astype(np.int64)
    if mixed:  # Lava drops the lowest bit of mixed-sign 8-bit weights
        m = (m >> 1) << 1
    out = sp.csr_matrix((m.astype(int_width(lo, hi)), w.indices.copy(), w.indptr.copy()),
                        shape=w.shape)
    out.eliminate_zeros()
    return out, exp, {"weight_exp": exp, "saturated": saturated, "mixed": mixed}


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
        fan_in[c.target] += c.matrix.shape[1]
        syn[c.target] += int(c.matrix.nnz)
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
