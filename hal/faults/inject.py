"""Fault kinds, registered by name, applied to a lowered (and quantized) network.

Every network fault is a transform of :class:`hal.compilers.snn.Lowered` applied at compile
time, after quantization and before any backend sees the network, so every target runs
the same faulty network (``cpu`` and ``loihi2-sim`` spike for spike alike). Each kind draws
its victims from its own random stream ``(fault_seed, kind)`` and reports exactly what it
broke. Weights may be dense numpy arrays or scipy.sparse matrices.

Kinds (rate = probability per neuron, synapse or bit; variation = relative std):

- ``dead_neurons``: the neuron never spikes (its input weights and bias are zeroed).
- ``saturated_neurons``: the neuron spikes every step (input cut, bias 1, threshold 0);
  spiking populations only.
- ``dead_synapses``: a stored (nonzero) synapse is zeroed.
- ``weight_bitflips``: each bit of a synapse's stored mantissa flips (fixed-point targets;
  ``weight_bits`` from the quantization report; option ``bitflip_bit`` flips only that bit).
  The stored word is the mantissa's magnitude (one-signed matrices) or the mantissa over 2
  in two's complement (mixed signs, whose lowest bit Loihi drops).
- ``weight_variation``: each synapse's weight times ``1 + N(0, rate)`` (mismatch).
- ``threshold_variation``, ``decay_variation``: each neuron's threshold (du and dv) times
  ``1 + N(0, rate)``, rounded and clipped to the target's widths.
- ``input_noise``, ``adversarial``: perturb the input on the host
  (:mod:`hal.faults.inputs`), identically for every target.
- ``spike_drop``: each spike of a neuron is lost in transit with probability ``rate``
  (all its synapses miss it; the neuron's own record still shows it). Drawn while the
  network runs, not at compile time, from a hash of (fault seed, stream index within the
  run, step, neuron): a whole run and a session stepped through the same input lose the
  same spikes, while a sample moved to another position of a batch meets other losses,
  as it would on another core. Only backends that carry it out take it
  (``runtime_faults``: the cpu engine); results count the losses per stream in
  ``provenance["runtime"]["spikes_dropped"]`` over every simulated step (with
  ``compensate_delay``, the extra steps too).

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> exe = hal.compile(random_network(3, 20, 2, seed=1), target="cpu",
    ...                   faults={"dead_neurons": 0.2}, fault_seed=3)
    >>> sorted(exe.faults.broken["dead_neurons"]["neurons"])
    ['lif1', 'lif2']
    >>> int(exe.net.connections[0].mant[exe.faults.broken["dead_neurons"]["neurons"]
    ...     ["lif1"]].any())
    0
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from hal.compilers.snn import Lowered
from hal.errors import ValidationError


@dataclass(frozen=True)
class FaultOption:
    """An option a fault kind reads from the plan (``bitflip_bit=7``)."""

    doc: str
    check: Callable[[Any], Any]


def _nonneg_int(value: Any) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"faults: expected an integer >= 0, got {value!r}") from None
    if v < 0 or v != float(value):
        raise ValidationError(f"faults: expected an integer >= 0, got {value!r}")
    return v


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValidationError(f"faults: expected true or false, got {value!r}")
        return value.lower() in ("1", "true", "yes")
    return bool(value)


#: options of fault kinds, accepted in a plan beside the rates
OPTIONS: dict[str, FaultOption] = {
    "bitflip_bit": FaultOption("weight_bitflips: flip only this bit of the stored word "
                               "(0 = least significant) with the rate per synapse",
                               _nonneg_int),
    "hit_voters": FaultOption("neuron faults also hit TMR voters (default: voters are "
                              "assumed hardened, as in TMR practice)", _flag),
}


@dataclass
class Context:
    """What a fault transform needs besides the network."""

    rng: np.random.Generator
    rate: float
    fixed: bool
    limits: Any
    options: dict[str, Any]
    populations: list[str]  # the populations neuron faults may hit


@dataclass(frozen=True)
class FaultKind:
    """A registered fault kind.

    Attributes:
        name: its key in a plan.
        doc: one line for ``hal robustness --list`` and error messages.
        stage: ``network`` (a compile-time transform ``apply(net, ctx) -> report``),
            ``input`` (host-side input perturbation, :mod:`hal.faults.inputs`) or
            ``runtime`` (drawn in the backend's step loop: only backends whose
            ``runtime_faults`` name the kind take it).
        precisions: target precisions it applies to.
        seeded: False for deterministic kinds (one seed is enough in a campaign).
    """

    name: str
    doc: str
    apply: Callable[[Lowered, Context], dict[str, Any]] | None = None
    stage: str = "network"
    precisions: tuple[str, ...] = ("fixed", "float")
    seeded: bool = True


#: every fault kind by name
FAULTS: dict[str, FaultKind] = {}


def register_fault(name: str, doc: str, stage: str = "network",
                   precisions: tuple[str, ...] = ("fixed", "float"),
                   seeded: bool = True) -> Callable:
    """Register ``fn(net, ctx) -> report`` as fault kind ``name`` (a decorator)."""
    def deco(fn: Callable | None) -> Callable | None:
        FAULTS[name] = FaultKind(name, doc, fn, stage, precisions, seeded)
        return fn
    return deco


def stream(seed: int, kind: str) -> np.random.Generator:
    """The random stream of ``kind`` under ``seed`` (independent per kind)."""
    return np.random.default_rng([int(seed), zlib.crc32(kind.encode())])


def carries_out(target: Any, kind: str) -> bool:
    """True when ``target``'s backend draws the runtime fault ``kind`` in its loop (False
    for a backend that cannot even be loaded here)."""
    from hal.errors import HALError
    from hal.registry import get_backend

    try:
        backend = get_backend(target.backend)
    except HALError:
        return False
    return kind in getattr(backend, "runtime_faults", frozenset())


def check_kinds(plan: Any, target: Any) -> None:
    """Refuse kinds the target cannot take, naming the targets or precisions that can."""
    from hal.target import list_targets

    for kind in plan.rates:
        fk = FAULTS[kind]
        if fk.stage == "runtime" and not carries_out(target, kind):
            where = ", ".join(t.name for t in list_targets() if carries_out(t, kind))
            raise ValidationError(f"faults: {kind} is drawn while the network runs, and "
                                  f"'{target.name}' (backend {target.backend}) does not do "
                                  f"that; targets that do: {where or 'none'}. Drop it from "
                                  f"the plan for '{target.name}'")
        if target.precision not in fk.precisions:
            raise ValidationError(f"faults: {kind} applies to {'/'.join(fk.precisions)} "
                                  f"targets, '{target.name}' is {target.precision}; use "
                                  "cpu or loihi2-sim")


def apply_network_faults(net: Lowered, plan: Any, target: Any,
                         protected: tuple[str, ...] = ()) -> dict[str, Any]:
    """Apply every network fault of ``plan`` to ``net`` in place (registry order); return
    what each kind broke."""
    check_kinds(plan, target)
    runtime = [k for k in plan.rates if FAULTS[k].stage == "runtime"]
    if runtime and any(c.rule is not None for c in net.connections):
        raise ValidationError(f"faults: {', '.join(runtime)} is drawn by the fast engine, "
                              "which does not learn; compile the plastic network with "
                              "learning=False, or drop it from the plan")
    hit_voters = bool(plan.options.get("hit_voters", False))
    pops = [p for p in net.populations if hit_voters or p not in protected]
    broken: dict[str, Any] = {}
    for name, fk in FAULTS.items():
        if name in plan.rates and fk.stage == "runtime":  # drawn by the backend as it runs
            seed = int(stream(plan.seed, name).integers(2**63))
            net.runtime_faults[name] = {"rate": plan.rates[name], "seed": seed,
                                        "populations": list(pops)}
            broken[name] = {**net.runtime_faults[name], "drawn": "at run time, per "
                            "(stream, step, neuron); counted in provenance['runtime']"}
        if name not in plan.rates or fk.stage != "network":
            continue
        ctx = Context(stream(plan.seed, name), plan.rates[name], net.quantization is not None,
                      target.limits, plan.options, pops)
        broken[name] = fk.apply(net, ctx)
    for c in net.connections:
        if c.mant is not None:
            c.mant = lava_weights(c.mant, net.quantization["format"]["weight_bits"])
    return broken


# -- matrix helpers (dense numpy or scipy.sparse) -----------------------------------------

def _scale_rows(m: Any, keep: np.ndarray) -> Any:
    if m is None:
        return None
    if sp.issparse(m):
        out = (sp.diags(keep.astype(m.dtype)) @ m).tocsr()
        out.eliminate_zeros()
        return out
    return m * keep.astype(m.dtype)[:, None]


def _entries(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the stored (nonzero) entries, row-major."""
    if sp.issparse(m):
        c = sp.csr_matrix(m)
        c.eliminate_zeros()
        c.sort_indices()
        coo = c.tocoo()
        return coo.row.astype(np.int64), coo.col.astype(np.int64)
    r, c = np.nonzero(np.asarray(m))
    return r.astype(np.int64), c.astype(np.int64)


def _values(m: Any, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    if sp.issparse(m):
        return np.asarray(sp.csr_matrix(m)[r, c]).ravel()
    return np.asarray(m)[r, c]


def _assign(m: Any, r: np.ndarray, c: np.ndarray, v: np.ndarray) -> Any:
    if m is None or not len(r):
        return m
    if sp.issparse(m):
        out = sp.csr_matrix(m, copy=True).tolil()
        out[r, c] = v
        out = out.tocsr()
        out.eliminate_zeros()
        return out
    out = np.array(m, copy=True)
    out[r, c] = v
    return out


def lava_weights(m: Any, bits: int) -> Any:
    """The mantissas Lava's fixed-point ``Dense`` delivers for ``m`` (its sign mode, clip
    and, for mixed signs, the dropped lowest bit), so the cpu targets use the same."""
    if sp.issparse(m):
        m = sp.csr_matrix(m)
    data = m.data if sp.issparse(m) else np.asarray(m)
    if not data.size:
        return m
    lo, hi = int(data.min(initial=0)), int(data.max(initial=0))
    top = 2 ** bits
    if lo < 0 < hi:
        new = (np.clip(data, -top, top - 1).astype(np.int64) >> 1) << 1
    elif lo < 0:
        new = -np.clip(-data, 0, top - 1).astype(np.int64)
    else:
        new = np.clip(data, 0, top - 1).astype(np.int64)
    if sp.issparse(m):
        out = sp.csr_matrix((new, m.indices.copy(), m.indptr.copy()), shape=m.shape)
        out.eliminate_zeros()
        return out
    return new


def _fmt(net: Lowered) -> dict[str, int]:
    return net.quantization["format"]


def _incoming(net: Lowered, pop: str):
    return [c for c in net.connections if c.target == pop]


# -- neuron faults ------------------------------------------------------------------------

def _victims(net: Lowered, ctx: Context, spiking_only: bool) -> dict[str, np.ndarray]:
    out = {}
    for name in ctx.populations:  # one draw per neuron of every population, in order
        p = net.populations[name]
        hit = np.flatnonzero(ctx.rng.random(p.size) < ctx.rate)
        if len(hit) and (p.spiking or not spiking_only):
            out[name] = hit
    return out


def _cut_input(net: Lowered, pop: str, idx: np.ndarray) -> None:
    keep = np.ones(net.populations[pop].size)
    keep[idx] = 0
    for c in _incoming(net, pop):
        c.weight, c.mant = _scale_rows(c.weight, keep), _scale_rows(c.mant, keep)


@register_fault("dead_neurons", "a neuron never spikes (input weights and bias zeroed)")
def dead_neurons(net: Lowered, ctx: Context) -> dict[str, Any]:
    """Silence a fraction ``rate`` of neurons: no input, no bias, so v stays 0."""
    victims = _victims(net, ctx, spiking_only=False)
    for name, idx in victims.items():
        p = net.populations[name]
        _cut_input(net, name, idx)
        p.bias = p.bias.copy()
        p.bias[idx] = 0.0
        if p.fixed is not None:
            p.fixed = {**p.fixed, "bias_mant": p.fixed["bias_mant"].copy()}
            p.fixed["bias_mant"][idx] = 0
    return _neuron_report(victims)


@register_fault("saturated_neurons", "a neuron spikes every step (stuck at 1)")
def saturated_neurons(net: Lowered, ctx: Context) -> dict[str, Any]:
    """Make a fraction ``rate`` of spiking neurons fire every step: input cut, threshold
    0 and bias 1 (v = 1 > 0 after every reset)."""
    victims = _victims(net, ctx, spiking_only=True)
    for name, idx in victims.items():
        p = net.populations[name]
        _cut_input(net, name, idx)
        p.bias, p.vth = p.bias.copy(), p.vth.copy()
        p.bias[idx], p.vth[idx] = 1.0, 0.0
        if p.fixed is not None:
            f = {k: np.array(v, copy=True) for k, v in p.fixed.items()}
            f["bias_mant"][idx], f["bias_exp"][idx], f["vth"][idx] = 1, 0, 0
            p.fixed = f
    return _neuron_report(victims)


def _neuron_report(victims: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"neurons": {k: v.tolist() for k, v in victims.items()},
            "count": int(sum(len(v) for v in victims.values()))}


# -- synapse faults -----------------------------------------------------------------------

def _conn_name(c: Any) -> str:
    return f"{c.source}->{c.target}" + (f"@{c.delay}" if c.delay else "")


@register_fault("dead_synapses", "a stored (nonzero) synapse is zeroed")
def dead_synapses(net: Lowered, ctx: Context) -> dict[str, Any]:
    """Zero each stored synapse with probability ``rate``."""
    report, total = {}, 0
    for c in net.connections:
        r, col = _entries(c.mant if ctx.fixed else c.weight)
        hit = ctx.rng.random(len(r)) < ctx.rate
        r, col = r[hit], col[hit]
        if len(r):
            zero = np.zeros(len(r))
            c.weight = _assign(c.weight, r, col, zero)
            c.mant = _assign(c.mant, r, col, zero.astype(np.int64))
            report[_conn_name(c)] = {"row": r.tolist(), "col": col.tolist()}
            total += len(r)
    return {"synapses": report, "count": total}


@register_fault("weight_bitflips", "each bit of a stored weight mantissa flips",
                precisions=("fixed",))
def weight_bitflips(net: Lowered, ctx: Context) -> dict[str, Any]:
    """Flip bits of the stored words of every synapse: each of ``weight_bits`` bits with
    probability ``rate``, or only ``bitflip_bit`` with probability ``rate`` per synapse."""
    bits = int(_fmt(net)["weight_bits"])
    only = ctx.options.get("bitflip_bit")
    if only is not None and only >= bits:
        raise ValidationError(f"faults: bitflip_bit={only} but this target stores "
                              f"{bits}-bit weights; choose 0..{bits - 1}")
    report, total = {}, 0
    scale = net.quantization["v_scale"]
    for c in net.connections:
        r, col = _entries(c.mant)
        before = _values(c.mant, r, col).astype(np.int64)
        if only is None:
            flips = ctx.rng.random((len(r), bits)) < ctx.rate
        else:
            flips = np.zeros((len(r), bits), bool)
            flips[:, only] = ctx.rng.random(len(r)) < ctx.rate
        hit = flips.any(axis=1)
        if not hit.any():
            continue
        mixed = bool((before < 0).any() and (before > 0).any())
        mask = (flips[hit] * (1 << np.arange(bits))).sum(axis=1)
        after = _flip(before[hit], mask, bits, mixed)
        rr, cc = r[hit], col[hit]
        c.mant = _assign(c.mant, rr, cc, after)
        c.weight = _assign(c.weight, rr, cc, after * 2.0 ** c.exp / scale)
        where = np.nonzero(flips[hit])
        report[_conn_name(c)] = {"row": rr.tolist(), "col": cc.tolist(),
                                 "bits": [np.flatnonzero(f).tolist() for f in flips[hit]],
                                 "before": before[hit].tolist(), "after": after.tolist()}
        total += len(where[0])
    return {"synapses": report, "bits_flipped": total, "weight_bits": bits}


def _flip(m: np.ndarray, mask: np.ndarray, bits: int, mixed: bool) -> np.ndarray:
    if mixed:  # word = m / 2 in `bits`-bit two's complement
        word = (m >> 1) & ((1 << bits) - 1)
        word ^= mask
        word = np.where(word >= 1 << (bits - 1), word - (1 << bits), word)
        return word << 1
    sign = np.where(m < 0, -1, 1)
    return sign * (np.abs(m) ^ mask)


# -- parameter variation ------------------------------------------------------------------

def _factors(net: Lowered, ctx: Context, name: str) -> np.ndarray:
    return 1.0 + ctx.rate * ctx.rng.standard_normal(net.populations[name].size)


@register_fault("threshold_variation", "each threshold times 1 + N(0, rate)")
def threshold_variation(net: Lowered, ctx: Context) -> dict[str, Any]:
    """Scale each spiking neuron's threshold by ``1 + N(0, rate)`` (clipped at 0 and the
    target's ``threshold_bits``)."""
    report = {}
    for name in ctx.populations:
        p = net.populations[name]
        if not p.spiking:
            continue
        k = _factors(net, ctx, name)
        p.vth = np.maximum(p.vth * k, 0.0)
        if p.fixed is not None:
            top = 2 ** int(ctx.limits.threshold_bits) - 1
            p.fixed = {**p.fixed, "vth": np.clip(np.rint(p.fixed["vth"] * k), 0, top)
                       .astype(int)}
        report[name] = np.round(k, 6).tolist()
    return {"factors": report}


@register_fault("decay_variation", "each du and dv times 1 + N(0, rate)")
def decay_variation(net: Lowered, ctx: Context) -> dict[str, Any]:
    """Scale each neuron's current and voltage decay by ``1 + N(0, rate)`` (independent
    draws; clipped to [0, 1], or to ``decay_bits`` in fixed point)."""
    report = {}
    for name in ctx.populations:
        p = net.populations[name]
        ku, kv = _factors(net, ctx, name), _factors(net, ctx, name)
        p.du, p.dv = np.clip(p.du * ku, 0, 1), np.clip(p.dv * kv, 0, 1)
        if p.fixed is not None:
            top = 2 ** int(_fmt(net)["decay_bits"]) - 1
            p.fixed = {**p.fixed,
                       "du": np.clip(np.rint(p.fixed["du"] * ku), 0, top).astype(int),
                       "dv": np.clip(np.rint(p.fixed["dv"] * kv), 0, top).astype(int)}
        report[name] = {"du": np.round(ku, 6).tolist(), "dv": np.round(kv, 6).tolist()}
    return {"factors": report}


@register_fault("weight_variation", "each synapse's weight times 1 + N(0, rate)")
def weight_variation(net: Lowered, ctx: Context) -> dict[str, Any]:
    """Scale each stored synapse by ``1 + N(0, rate)`` (mismatch of synaptic efficacy);
    fixed point: the mantissa is rounded and clipped as Lava's ``Dense`` stores it."""
    report, total = {}, 0
    for c in net.connections:
        r, col = _entries(c.mant if ctx.fixed else c.weight)
        k = 1.0 + ctx.rate * ctx.rng.standard_normal(len(r))
        c.weight = _assign(c.weight, r, col, _values(c.weight, r, col) * k)
        if ctx.fixed:
            c.mant = _assign(c.mant, r, col, np.rint(_values(c.mant, r, col) * k)
                             .astype(np.int64))
        report[_conn_name(c)] = {"row": r.tolist(), "col": col.tolist(),
                                 "factor": np.round(k, 6).tolist()}
        total += len(r)
    return {"synapses": report, "count": total}


register_fault("input_noise", "each input spike bit flips (analog input: + N(0, rate))",
               stage="input")(None)
register_fault("adversarial", "FGSM input perturbation of size rate on the float model's "
               "rate surrogate (analog input with an encoder)", stage="input")(None)
register_fault("spike_drop", "each neuron spike is lost in transit (drawn at run time)",
               stage="runtime")(None)
