"""On-chip learning: pair-based STDP on plastic connections, as Loihi 2's learning engine
runs it (lava-nc 0.10.0 ``LearningDense`` with ``STDPLoihi``), and the numpy kernel the
cpu targets run (imports no Lava, no backend).

A rule is attached to a NIR ``Affine``/``Linear`` node under the node's metadata key
``nq_hal.plasticity`` (:func:`attach`), so a NIR file carries it; the connection that node
lowers into learns. Per plastic connection, with pre-synaptic spikes ``x0`` and
post-synaptic spikes ``y0`` (the target population's spikes of the same step):

    x1 <- x1 exp(-1/tau_plus)  + x1_impulse on a pre spike      (pre trace)
    y1 <- y1 exp(-1/tau_minus) + y1_impulse on a post spike     (post trace)
    every t_epoch steps:
        dw = lr A_minus x0 y1(t_x) + lr A_plus y0 x1(t_y)
        w  <- w + dw

where ``x1(t_y)`` is the pre trace at the step the post neuron last spiked in the epoch,
and ``lr``, ``A_plus``, ``A_minus`` are each written as ``m * 2**e`` (Lava's
``float_to_literal``: ``1.5`` becomes ``2``). Float targets apply ``dw`` to the float
weights (Lava's float model). Fixed-point targets run Lava's bit-approximate model on the
weight mantissas: the learning rate is scaled by ``v_scale / 2**weight_exp`` so ``dw``
means the same in float units, traces are integers of ``learning_trace_bits`` with
stochastic rounding from numpy generators seeded by ``rng_seed`` (as Lava seeds them),
``dw`` is summed in a ``learning_accumulator_bits`` accumulator and stochastically rounded
to the weight's bits. All widths come from the target's limits.

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> g = attach(random_network(3, 4, 2, seed=1), "fc1", STDP(learning_rate=0.25))
    >>> rule_of(g.nodes["fc1"]).learning_rate
    0.25
    >>> exe = hal.compile(g, target="cpu-float")
    >>> x = (np.random.default_rng(0).random((40, 3)) < 0.5).astype(float)
    >>> res = exe.run(x)
    >>> res.weights["input->lif1"].shape, res.weight_history["input->lif1"].shape
    ((4, 3), (41, 4, 3))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hal.errors import CompileError, ValidationError

#: NIR node metadata key holding a rule (a dict of the :class:`STDP` fields)
META_KEY = "nq_hal.plasticity"
_SIGNS = ("mixed", "excitatory", "inhibitory")
# Lava's encoding of a product's scale (lava-nc 0.10.0 product_series.py, Product and
# _generate_product), used by its float and fixed models alike: s_mantissa * 2**(s_exp - 7)
# with s_mantissa in [-8, 8) and s_exp - 7 in [-7, 9)
_S_EXP_OFFSET, _S_MANT_RANGE, _S_EXP_RANGE = 7, (-8, 8), (-7, 9)


@dataclass(frozen=True)
class STDP:
    """Pair-based STDP in Loihi 2's form (lava-nc ``STDPLoihi``); equations in the module
    docstring.

    Attributes:
        learning_rate: overall scale of dw.
        A_plus: weight change per unit pre trace on a post spike (potentiation).
        A_minus: weight change per unit post trace on a pre spike (depression, < 0).
        tau_plus: decay time constant of the pre trace x1, in steps.
        tau_minus: decay time constant of the post trace y1, in steps.
        x1_impulse: increase of x1 per pre spike.
        y1_impulse: increase of y1 per post spike.
        t_epoch: steps per learning epoch (dw is applied at each epoch's end).
        rng_seed: seed of the fixed-point stochastic rounding.
        sign_mode: ``mixed``, ``excitatory`` (weights stay >= 0) or ``inhibitory``.

    Example:
        >>> STDP(A_plus=2.0).to_metadata()["A_plus"]
        2.0
    """

    learning_rate: float = 1.0
    A_plus: float = 1.0
    A_minus: float = -1.0
    tau_plus: float = 10.0
    tau_minus: float = 10.0
    x1_impulse: float = 16.0
    y1_impulse: float = 16.0
    t_epoch: int = 1
    rng_seed: int = 0
    sign_mode: str = "mixed"

    def __post_init__(self) -> None:
        _check(self, "this rule")

    def to_metadata(self) -> dict[str, Any]:
        """The rule as a plain dict (what :func:`attach` writes under :data:`META_KEY`)."""
        return {"rule": "stdp", **dataclasses.asdict(self)}

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], where: str = "a node") -> STDP:
        """Read a rule written by :meth:`to_metadata`; errors name ``where`` and the field."""
        meta = {k: _plain(v) for k, v in dict(meta).items()}
        kind = meta.pop("rule", "stdp")
        if kind != "stdp":
            raise ValidationError(f"{where}: {META_KEY} rule '{kind}' is unknown; "
                                  "supported: stdp")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(meta) - names)
        if unknown:
            raise ValidationError(f"{where}: {META_KEY} has unknown field(s) "
                                  f"{', '.join(unknown)}; known: {', '.join(sorted(names))}")
        try:
            return cls(**meta)
        except ValidationError as exc:
            raise ValidationError(str(exc).replace("this rule", where)) from None

    def scaled(self, factor: float) -> STDP:
        """The same rule with ``learning_rate * factor`` (float units -> weight mantissas)."""
        return dataclasses.replace(self, learning_rate=self.learning_rate * factor)

    def terms(self) -> list[tuple[str, int, int]]:
        """Lava's product series of dw: ``(dependency, s_mantissa, s_exp)`` per product,
        in Lava's order; a product is ``s_mantissa * 2**(s_exp - 7) * dep * trace``.

        Example:
            >>> STDP(learning_rate=0.5, A_plus=3, A_minus=-1.5).terms()  # -1.5 becomes -2
            [('x0', -1, 7), ('y0', 3, 6)]
        """
        return [("x0", *_product(self.learning_rate, self.A_minus)),
                ("y0", *_product(self.learning_rate, self.A_plus))]


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        v = v.item() if v.size == 1 else v.tolist()
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def _check(rule: STDP, where: str) -> None:
    for key in ("learning_rate", "A_plus", "A_minus", "x1_impulse", "y1_impulse"):
        if not math.isfinite(float(getattr(rule, key))):
            raise ValidationError(f"{where}: {key} must be finite")
    for key in ("tau_plus", "tau_minus"):
        if not float(getattr(rule, key)) > 0:
            raise ValidationError(f"{where}: {key} must be > 0 (steps), got "
                                  f"{getattr(rule, key)}")
    for key in ("x1_impulse", "y1_impulse"):
        if float(getattr(rule, key)) < 0:
            raise ValidationError(f"{where}: {key} must be >= 0")
    if int(rule.t_epoch) != rule.t_epoch or rule.t_epoch < 1:
        raise ValidationError(f"{where}: t_epoch must be an integer >= 1, got {rule.t_epoch}")
    if rule.sign_mode not in _SIGNS:
        raise ValidationError(f"{where}: sign_mode must be one of {', '.join(_SIGNS)}, "
                              f"got '{rule.sign_mode}'")
    for dep, m, e in rule.terms():
        if not (_S_MANT_RANGE[0] <= m < _S_MANT_RANGE[1]
                and _S_EXP_RANGE[0] <= e - _S_EXP_OFFSET < _S_EXP_RANGE[1]):
            raise ValidationError(
                f"{where}: learning_rate * {'A_minus' if dep == 'x0' else 'A_plus'} is "
                f"{m} * 2**{e - 7}, outside Loihi's scaling factor (mantissa in [-8, 8), "
                "exponent in [-7, 9)); change learning_rate or A (the smallest is 2**-7)")


def _literal(x: float) -> tuple[int, int]:
    """``x`` as ``(m, e)`` with ``x ~ m * 2**e`` (lava-nc ``float_to_literal``)."""
    if x == 0:
        return 0, 0
    sign = int(np.sign(x))
    x = abs(float(x))
    mant = max(int(x), 1)
    rem = x / mant
    return sign * mant, 0 if rem == 1 else int(np.round(np.log2(rem)))


def _product(lr: float, a: float) -> tuple[int, int]:
    (m1, e1), (m2, e2) = _literal(lr), _literal(a)
    m, e = m1 * m2, e1 + e2  # lava-nc ProductSeries._generate_product
    while abs(m) > 7 and m % 2 == 0 and e < 8:
        m, e = m // 2, e + 1
    return m, e + _S_EXP_OFFSET


def attach(graph: Any, node: str, rule: STDP) -> Any:
    """Make the connection that NIR node ``node`` (Affine or Linear) lowers into plastic:
    writes ``rule`` into the node's metadata (in place) and returns the graph.

    Example:
        >>> from hal.snn.ir import random_network
        >>> g = attach(random_network(3, 4, 2), "fc2", STDP(t_epoch=2))
        >>> g.nodes["fc2"].metadata[META_KEY]["t_epoch"]
        2
        >>> attach(g, "lif1", STDP())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hal.errors.ValidationError: node 'lif1' is LIF; a learning rule goes on an Affine ...
    """
    import nir

    obj = graph.nodes.get(node)
    if not isinstance(obj, (nir.Affine, nir.Linear)):
        raise ValidationError(f"node '{node}' is {type(obj).__name__ if obj else 'missing'}; "
                              "a learning rule goes on an Affine or Linear node")
    obj.metadata = {**(obj.metadata or {}), META_KEY: rule.to_metadata()}
    return graph


def rule_of(node: Any, name: str = "a node") -> STDP | None:
    """The rule in a NIR node's metadata, or None."""
    meta = getattr(node, "metadata", None) or {}
    return STDP.from_metadata(meta[META_KEY], f"node '{name}'") if META_KEY in meta else None


def random_plastic_network(n_in: int = 4, n_out: int = 2, seed: int = 0,
                           rule: STDP | None = None, *, hidden: int = 0) -> Any:
    """A seeded random network whose connections all learn: input -> Linear -> LIF
    [-> Linear -> LIF when ``hidden`` > 0], positive weights that make the neurons fire
    every few steps at 30 % input spikes (``dt`` = 1e-4, tau = 1 ms, threshold 1).

    Example:
        >>> g = random_plastic_network(3, 2, seed=1)
        >>> sorted(n for n in g.nodes if rule_of(g.nodes[n]) is not None)
        ['fc1']
    """
    import nir

    rng = np.random.default_rng(seed)
    rule = rule or STDP(learning_rate=2 ** -7, x1_impulse=2.0, y1_impulse=2.0, tau_plus=4.0,
                        tau_minus=4.0, rng_seed=seed, sign_mode="excitatory")
    sizes = [n_in, *([hidden] if hidden else []), n_out]
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([n_in]))}
    edges, prev = [], "input"
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1):
        w = rng.uniform(0.5, 1.5, (b, a)) * 10.0 / a
        nodes[f"fc{i}"] = nir.Linear(weight=w.astype(np.float32))
        nodes[f"lif{i}"] = nir.LIF(tau=np.full(b, 1e-3), r=np.ones(b), v_leak=np.zeros(b),
                                   v_threshold=np.ones(b), v_reset=np.zeros(b))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    edges.append((prev, "output"))
    g = nir.NIRGraph(nodes=nodes, edges=edges)
    for i in range(1, len(sizes)):
        attach(g, f"fc{i}", rule)
    return g


def conn_name(c: Any) -> str:
    """How results name a connection: ``source->target``."""
    return f"{c.source}->{c.target}"


def plastic(net: Any) -> list[Any]:
    """The plastic connections of a lowered network."""
    return [c for c in net.connections if getattr(c, "rule", None) is not None]


def effective(net: Any, c: Any, fixed: bool) -> STDP:
    """The rule as the target runs it: on fixed point, learning_rate in weight mantissas
    (times ``v_scale / 2**weight_exp``); errors name the connection."""
    rule = c.rule
    if fixed:
        rule = rule.scaled(net.quantization["v_scale"] / 2.0 ** c.exp)
        _check(rule, f"connection '{conn_name(c)}' on fixed point (learning_rate scaled by "
                     f"v_scale / 2**weight_exp)")
    return rule


def weight_unit(net: Any, c: Any, fixed: bool) -> float:
    """Float weight per stored unit (1 for float; ``2**weight_exp / v_scale`` fixed)."""
    return 2.0 ** c.exp / net.quantization["v_scale"] if fixed else 1.0


def check_lowered(net: Any) -> None:
    """Refuse plastic connections the learning engine cannot run."""
    for c in plastic(net):
        if c.delay:
            raise CompileError(f"connection '{conn_name(c)}' is plastic and has a delay of "
                               f"{c.delay} steps; Lava's LearningDense has no delays: drop "
                               "the Delay node or the rule")


def learning_format(limits: Any) -> dict[str, int]:
    """The learning engine's widths from a target's limits (fixed point)."""
    keys = ("learning_trace_bits", "learning_trace_frac_bits", "learning_accumulator_bits",
            "learning_scale_mant_bits", "weight_bits")
    missing = [k for k in keys if getattr(limits, k, None) is None]
    if missing:
        raise ValidationError(f"plastic connections on a fixed-point target need limits "
                              f"{', '.join(missing)}; add them to its hw_configs file")
    return {k: int(getattr(limits, k)) for k in keys}


# -- the kernel ----------------------------------------------------------------------------
class _Rng:
    """Lava's TraceRandom / ConnVarRandom: numpy generators seeded as lava-nc seeds them."""

    def __init__(self, seed: int, kind: str, trace_bits: int = 7) -> None:
        self.kind, self.hi = kind, 2 ** trace_bits
        if kind == "trace":
            self.g_decay = np.random.default_rng(seed)
            self.g_imp = np.random.default_rng(seed + 1)
        else:
            self.g_decay = np.random.default_rng(seed)
        self.advance()

    def advance(self) -> None:
        self.decay = self.g_decay.random(1)[0]
        if self.kind == "trace":
            self.impulse = self.g_imp.integers(0, self.hi, size=1, dtype=int)[0]


class Learner:
    """One plastic connection's learning state for ``batch`` streams (float or fixed).

    Call :meth:`spikes` once per step with that step's pre and post spikes (B, n_pre),
    (B, n_post), after the weights were used; it applies dw at each epoch's end.
    ``w`` holds (B, n_post, n_pre) weights as the target stores them.
    """

    def __init__(self, rule: STDP, w0: np.ndarray, batch: int, fixed: bool,
                 fmt: dict[str, int] | None = None) -> None:
        self.rule, self.fixed, self.fmt = rule, fixed, fmt or {}
        self.terms = rule.terms()
        n_post, n_pre = w0.shape
        self.t = 0
        B = batch
        self.w = np.repeat(np.asarray(w0)[None], B, 0).astype(np.int64 if fixed else float)
        dt = np.int64 if fixed else float
        self.x1, self.y1 = np.zeros((B, n_pre), dt), np.zeros((B, n_post), dt)
        self.tx = np.zeros((B, n_pre), int)
        self.ty = np.zeros((B, n_post), int)
        if fixed:
            tb, fb = self.fmt["learning_trace_bits"], self.fmt["learning_trace_frac_bits"]
            self.tmax = 2 ** tb - 1
            self.imp = {k: (int(np.floor(v)), int(np.round((v - np.floor(v)) * 2 ** fb)))
                        for k, v in (("x", rule.x1_impulse), ("y", rule.y1_impulse))}
            s = int(rule.rng_seed)
            # one generator set per stream, as each Lava run seeds its own
            self.rx = [_Rng(s, "trace", tb) for _ in range(B)]
            self.ry = [_Rng(s + 2, "trace", tb) for _ in range(B)]
            self.rc = [_Rng(2, "conn") for _ in range(B)]  # lava-nc ConnVarRandom() seed 2
            if rule.sign_mode == "mixed":  # truncate_weights drops the lowest bit
                self.w = (self.w >> 1) << 1

    def spikes(self, pre: np.ndarray, post: np.ndarray) -> None:
        """Record one step's spikes; at the epoch's end, update traces and weights."""
        self.t += 1
        te = int(self.rule.t_epoch)
        ts = self.t % te or te
        pre, post = pre.astype(bool), post.astype(bool)
        if self.fixed:
            self._fixed_spikes(pre, post, ts)
        else:
            multi = (self.tx > 0) & pre
            self.x1[multi] += self.rule.x1_impulse
            multi = (self.ty > 0) & post
            self.y1[multi] += self.rule.y1_impulse
        self.tx[pre] = ts
        self.ty[post] = ts
        if self.t % te == 0:
            for b in range(self.w.shape[0]):
                self._epoch(b)
            self.tx[:] = 0
            self.ty[:] = 0

    # float: lava-nc LearningConnectionModelFloat
    def _history(self, b: int, v0: np.ndarray, tau: float, t_spk: np.ndarray, imp: float,
                 rng: Any = None) -> np.ndarray:
        te = int(self.rule.t_epoch)
        h = np.zeros((te + 1, v0.size), np.int64 if self.fixed else float)
        h[0] = v0
        for t in range(1, te + 1):
            if self.fixed:
                ip = np.exp(-1 / tau) * h[t - 1]
                frac = ip % 1
                h[t] = (np.floor(ip) + (rng.decay < frac)).astype(int)
                ids = t_spk == t
                h[t, ids] = self._add(h[t, ids], rng.impulse, *imp)
            else:
                h[t] = np.exp(-1 / tau) * h[t - 1]
                h[t, t_spk == t] += imp
        return h

    def _add(self, v: np.ndarray, r: int, i_int: int, i_frac: int) -> np.ndarray:
        return np.clip(v + i_int + (r < i_frac), 0, self.tmax)

    def _epoch(self, b: int) -> None:
        r = self.rule
        tx, ty = self.tx[b], self.ty[b]
        if self.fixed:
            self.rc[b].advance()
            hx = self._history(b, self.x1[b], r.tau_plus, tx, self.imp["x"], self.rx[b])
            hy = self._history(b, self.y1[b], r.tau_minus, ty, self.imp["y"], self.ry[b])
        else:
            hx = self._history(b, self.x1[b], r.tau_plus, tx, r.x1_impulse)
            hy = self._history(b, self.y1[b], r.tau_minus, ty, r.y1_impulse)
        self.x1[b], self.y1[b] = hx[-1], hy[-1]
        x0, y0 = (tx > 0)[None, :], (ty > 0)[:, None]
        y1_x0 = hy[tx].T          # (post, pre): y1 when each pre last spiked
        x1_y0 = hx[ty]            # (post, pre): x1 when each post last spiked
        factor = {"x0": (x0, y1_x0), "y0": (y0, x1_y0)}
        if self.fixed:
            self.w[b] = self._fixed_dw(self.w[b], factor, b)
            return
        dw = None
        for dep, m, e in self.terms:
            d, f = factor[dep]
            term = m * 2. ** (e - _S_EXP_OFFSET) * d * f
            dw = term if dw is None else dw + term
        w = self.w[b] + dw
        if r.sign_mode == "excitatory":
            w = np.maximum(0, w)
        elif r.sign_mode == "inhibitory":
            w = np.minimum(0, w)
        self.w[b] = w

    # fixed: lava-nc LearningConnectionModelBitApproximate
    def _fixed_spikes(self, pre: np.ndarray, post: np.ndarray, ts: int) -> None:
        for b in range(pre.shape[0]):
            multi = (self.tx[b] > 0) & pre[b]
            self.x1[b, multi] = self._add(self.x1[b, multi], 0, *self.imp["x"])
            self.rx[b].advance()
            self.ry[b].advance()
            multi = (self.ty[b] > 0) & post[b]
            self.y1[b, multi] = self._add(self.y1[b, multi], self.ry[b].impulse,
                                          *self.imp["y"])
            self.rx[b].advance()
            self.ry[b].advance()

    def _fixed_dw(self, w: np.ndarray, factor: dict, b: int) -> np.ndarray:
        f = self.fmt
        acc_u, w_u, tb = f["learning_accumulator_bits"], f["weight_bits"], \
            f["learning_trace_bits"]
        shift = (acc_u + 1) - (w_u + 1)
        lo, hi = -(2 ** acc_u) - 1, 2 ** acc_u - 1
        res = w.astype(np.int64) << shift
        for dep, m, e in self.terms:
            d, val = factor[dep]
            cur = np.ones(w.shape, np.int64) * d
            cur = cur * np.clip(val, -(2 ** tb), 2 ** tb - 1).astype(np.int64)
            cur = cur * m
            cur = np.right_shift(cur, max(0, tb + f["learning_scale_mant_bits"] - acc_u))
            cur = np.left_shift(cur, e) if e >= 0 else np.right_shift(cur, -e)
            res = np.clip(res + np.clip(cur, lo, hi), lo, hi)
        sign = self.rule.sign_mode
        if sign == "excitatory":
            res = np.maximum(0, res)
        elif sign == "inhibitory":
            res = np.minimum(0, res)
        unit = 2 ** (acc_u - w_u)
        ip = res / unit
        frac = ip % 1
        ip = (np.floor(ip) + (self.rc[b].decay < frac)).astype(np.int64)
        res = (ip * unit) >> shift
        top = 2 ** w_u
        if sign == "mixed":
            return np.clip(res, -top, top - 1)
        if sign == "excitatory":
            return np.clip(res, 0, top - 1)
        return -np.clip(-res, 0, top - 1)


@runtime_checkable
class PlasticStepper(Protocol):
    """A stepper of a network with plastic connections: ``weights()`` returns the current
    weights per plastic connection in float units, (B, n_post, n_pre)."""

    def weights(self) -> dict[str, np.ndarray]: ...


class LearningStepper:
    """A whole plastic network in plain numpy for ``batch`` streams: the cpu targets' neuron
    and Dense equations (see :mod:`hal.backends.cpu_reference`) with weights that learn.

    ``history`` keeps each plastic connection's weights at every epoch's end (float units).
    """

    def __init__(self, net: Any, batch: int, fixed: bool,
                 record: frozenset[str] = frozenset({"spikes"}), learning: bool = True) -> None:
        self.net, self.batch, self.fixed, self.record = net, batch, fixed, record
        self.learning = learning
        self.fmt = net.quantization["format"] if fixed else {}
        self.reset()

    def reset(self) -> None:
        """Zero states, traces and in-flight input; weights back to their compiled values."""
        net, B = self.net, self.batch
        dt = np.int64 if self.fixed else float
        self.state = {n: {"u": np.zeros((B, p.size), dt), "v": np.zeros((B, p.size), dt)}
                      for n, p in net.populations.items()}
        self.buf = [np.zeros((c.delay + 1, B, net.populations[c.target].size), dt)
                    for c in net.connections]
        self.learners: dict[int, Learner] = {}
        self.static: dict[int, np.ndarray] = {}  # dense (n_source, n_target), taken once
        for i, c in enumerate(net.connections):
            w = c.mant if self.fixed else c.weight
            if getattr(c, "rule", None) is not None and self.learning:
                self.learners[i] = Learner(effective(net, c, self.fixed), w, B, self.fixed,
                                           self.fmt)
            else:
                self.static[i] = np.ascontiguousarray(np.asarray(w).T)
        self.history = {conn_name(net.connections[i]): [self._float(i)]
                        for i in self.learners}

    def _float(self, i: int) -> np.ndarray:
        c = self.net.connections[i]
        return self.learners[i].w * weight_unit(self.net, c, self.fixed)

    def weights(self) -> dict[str, np.ndarray]:
        """Current weights per plastic connection, float units, (B, n_post, n_pre)."""
        return {conn_name(self.net.connections[i]): self._float(i) for i in self.learners}

    def step(self, x_t: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Advance one step on input (B, n_in); returns the recorded keys per population."""
        net = self.net
        a_in = {n: np.zeros_like(s["u"]) for n, s in self.state.items()}
        for c, b in zip(net.connections, self.buf, strict=True):
            a_in[c.target] += b[0]
        spk = {n: self._neurons(n, a_in[n]) for n in net.populations}
        xin = np.asarray(x_t)
        for i, c in enumerate(net.connections):
            src = xin if c.source == "input" else spk[c.source]
            if i in self.learners:
                w = self.learners[i].w  # (B, post, pre)
                acc = np.einsum("bij,bj->bi", w, src.astype(w.dtype))
            else:
                w = self.static[i]
                acc = src.astype(w.dtype) @ w
            if self.fixed:
                acc = acc.astype(np.int64)
                acc = np.left_shift(acc, c.exp) if c.exp > 0 else np.right_shift(acc, -c.exp)
            if c.delay:
                self.buf[i][:-1] = self.buf[i][1:]
            self.buf[i][-1] = acc
        for i, lrn in self.learners.items():
            c = net.connections[i]
            lrn.spikes(xin if c.source == "input" else spk[c.source], spk[c.target])
            if lrn.t % int(lrn.rule.t_epoch) == 0:
                self.history[conn_name(c)].append(self._float(i))
        return {n: {k: spk[n] if k == "spikes" else self.state[n][k] for k in self.record}
                for n in spk}

    def _neurons(self, name: str, a_in: np.ndarray) -> np.ndarray:
        p, s = self.net.populations[name], self.state[name]
        if not self.fixed:
            u = s["u"] * (1 - p.du) + a_in
            v = s["v"] * (1 - p.dv) + u + p.bias
            spk = v > p.vth
        else:
            f, fmt = p.fixed, self.fmt
            sh, top, al = fmt["decay_bits"], 2 ** (fmt["state_bits"] - 1), fmt["align_bits"]
            unity = 2 ** sh
            bias = np.where(f["bias_exp"] >= 0, np.left_shift(f["bias_mant"], f["bias_exp"]),
                            np.right_shift(f["bias_mant"], -f["bias_exp"])).astype(np.int64)
            u = _decay(s["u"], unity - (f["du"] + 1), sh) + np.left_shift(a_in, al)
            wrapped = np.where(u > top, u - 2 * top, u)
            u = np.where(wrapped <= -top, u + 2 * top, wrapped)
            v = _decay(s["v"], unity - f["dv"], sh) + u + bias
            v = np.clip(v, -top + 1, top - 1)
            spk = v > (f["vth"].astype(np.int64) << al)
        v[spk] = 0
        s["u"], s["v"] = u, v
        return spk

    def close(self) -> None:
        self.state, self.buf = {}, []


def _decay(x: np.ndarray, factor: np.ndarray, shift: int) -> np.ndarray:
    prod = x * factor
    return np.sign(prod) * np.right_shift(np.abs(prod), shift)


def simulate(net: Any, x: np.ndarray, fixed: bool, record: frozenset[str],
             learning: bool = True) -> dict[str, Any]:
    """Run ``x`` (B, T, n_in) through a fresh :class:`LearningStepper`; returns the
    :meth:`hal.backend.SpikingBackend.simulate` dict, plus under
    :data:`hal.backend.WEIGHTS_KEY` each plastic connection's weight history
    (B, epochs + 1, n_post, n_pre) in float units."""
    from hal.backend import WEIGHTS_KEY

    B, T, _ = x.shape
    st = LearningStepper(net, B, fixed, record, learning)
    dt = np.int64 if fixed else float
    out: dict[str, Any] = {n: {k: np.zeros((B, T, p.size), bool if k == "spikes" else dt)
                               for k in record} for n, p in net.populations.items()}
    for t in range(T):
        got = st.step(x[:, t])
        for n, rec in out.items():
            for k, a in rec.items():
                a[:, t] = got[n][k]
    out[WEIGHTS_KEY] = {k: np.stack(v, axis=1) for k, v in st.history.items()}
    return out
