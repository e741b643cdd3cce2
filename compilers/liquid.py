"""Fixed-point lowering of liquid networks (CfC, multi-timescale) for the ``cpu`` and
``loihi2-sim`` targets: integers only, every bit width from the target's limits.

Number formats (F = ``frac_bits`` option, default 16; the value 1.0 is ``2**F``):

- activations and state: signed integers saturated to ``limits.state_bits`` (Loihi 2: 24);
- weights: ``limits.weight_bits`` (8) signed mantissas with one power-of-two exponent per
  matrix, ``w ~ mant * 2**exp``; a matrix-vector product is ``shift(mant @ z, exp)``
  (rounding to nearest); biases and per-neuron constants are plain Q-F integers;
- nonlinearities (``tanh``, ``sigmoid``, ``lecun_tanh``, ``exp(-x)``): lookup tables of
  ``lut_segments`` (256) linear pieces over a fixed range, clamped outside it; ``relu`` is
  exact;
- the multi-timescale decay: ``x' = x + shift((drive - x) * k, -decay_bits)`` with
  ``k = round((1 - exp(-dt/tau)) * 2**decay_bits)`` (12 bits, as Loihi's decays): slow
  bands lose precision, and the report says how much (``tau_effective``).

LTC (a division per step, ``ode_unfolds`` times) has no fixed-point lowering: use a float
target. Fixed-point steps take ``timespan`` 1.0 only. Lowering rules are registered by IR
type in ``LIQUID_RULES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hal.backend import Option
from hal.compilers import register_rule
from hal.errors import CompileError, ValidationError
from hal.liquid.ir import CfCNet, MultiTimescaleNet

LIQUID_RULES: dict[type, Any] = {}


def liquid_rule(*types: type):
    """Register a fixed-point lowering ``rule(net, builder)`` for liquid IR types."""
    return register_rule(LIQUID_RULES, types)


def shift(a: np.ndarray, e: int) -> np.ndarray:
    """``a * 2**e`` on integers: a left shift, or a right shift rounding to nearest."""
    if e >= 0:
        return a << e
    return (a + (1 << (-e - 1))) >> -e


@dataclass
class QAffine:
    """``y = shift(mant @ z, exp) + bias`` with ``z`` and ``y`` in Q-F."""

    mant: np.ndarray
    exp: int
    bias: np.ndarray

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return shift(self.matmul(z), self.exp) + self.bias

    def matmul(self, z: np.ndarray) -> np.ndarray:
        """``z @ mant.T`` exactly, on integers. Through float64 BLAS when no partial sum
        can reach 2**53 (every product and every sum is then an exact integer in float64,
        in any order, so the result is the integer one); numpy's integer loop otherwise.

        Example:
            >>> q = QAffine(np.array([[3, -2]]), 0, np.zeros(1, np.int64))
            >>> q.matmul(np.array([[5, 7]])).tolist(), q.matmul(np.array([[2**60, 0]])).tolist()
            ([[1]], [[3458764513820540928]])
        """
        if self.float_exact(z):
            return (np.asarray(z, np.float64) @ self._float()[0]).astype(np.int64)
        return z @ self.mant.T

    def float_exact(self, z: np.ndarray) -> bool:
        """True when no partial sum of ``z @ mant.T`` can reach 2**53 in magnitude."""
        return int(np.abs(z).max(initial=0)) * self._float()[1] * self.mant.shape[1] < 2**53

    def _float(self) -> tuple[np.ndarray, int]:
        cached = self.__dict__.get("_float_mant")  # not a field: never saved with the program
        if cached is None:
            cached = self.__dict__["_float_mant"] = (
                np.ascontiguousarray(self.mant.T, np.float64),
                int(np.abs(self.mant).max(initial=0)))
        return cached


@dataclass
class Lut:
    """Piecewise-linear table of a function on Q-F integers, clamped outside its range."""

    name: str
    lo: int
    seg_shift: int
    table: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        top = ((len(self.table) - 1) << self.seg_shift) - 1
        off = np.clip(x - self.lo, 0, top)
        i = off >> self.seg_shift
        r = off & ((1 << self.seg_shift) - 1)
        t = self.table
        return t[i] + (((t[i + 1] - t[i]) * r) >> self.seg_shift)


_FUNCS = {  # name: (f, lo, hi) in float units; hi - lo a power of two
    "tanh": (np.tanh, -8.0, 8.0),
    "sigmoid": (lambda x: 0.5 * (1 + np.tanh(0.5 * x)), -16.0, 16.0),
    "lecun_tanh": (lambda x: 1.7159 * np.tanh(0.666 * x), -8.0, 8.0),
    "exp_neg": (lambda x: np.exp(-x), 0.0, 16.0),
}


def make_lut(name: str, frac_bits: int, segments: int) -> tuple[Lut, float]:
    """A table for ``name`` and its worst error (float units) against the exact function,
    in and beyond its range (``exp_neg`` is only ever given x >= 0)."""
    f, lo, hi = _FUNCS[name]
    one = 1 << frac_bits
    seg_shift = int(np.log2((hi - lo) * one / segments))
    if seg_shift < 0 or (hi - lo) * one != segments << seg_shift:
        raise CompileError(f"lut_segments={segments}: must be a power of two no larger than "
                           f"{int((hi - lo) * one)} at frac_bits={frac_bits}")
    xs = lo + np.arange(segments + 1) * (hi - lo) / segments
    lut = Lut(name, int(round(lo * one)), seg_shift, np.round(f(xs) * one).astype(np.int64))
    probe = np.linspace(lo - 1 if lo < 0 else lo, hi + 1, 20001)
    err = np.abs(lut(np.round(probe * one).astype(np.int64)) / one - f(probe)).max()
    return lut, float(err)


@dataclass
class FixedLiquid:
    """A liquid network in integers (see the module docstring), ready for a fixed stepper.

    Attributes:
        kind: ``"cfc"`` or ``"multi_timescale"``.
        layers: per CfC layer a dict of QAffine / Q-F arrays; one dict for multi-timescale.
        luts: the lookup tables by function name.
        report: the quantization report (formats, per-parameter and per-table errors).
    """

    kind: str
    n_in: int
    n_out: int
    state_sizes: list[int]
    frac_bits: int
    state_bits: int
    layers: list[dict[str, Any]]
    readout: QAffine | None
    luts: dict[str, Lut]
    report: dict[str, Any] = field(default_factory=dict)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float inputs to saturated Q-F integers (done on the host)."""
        return self.saturate(np.round(np.asarray(x, np.float64) * (1 << self.frac_bits))
                             .astype(np.int64))

    def saturate(self, a: np.ndarray) -> np.ndarray:
        top = (1 << (self.state_bits - 1)) - 1
        return np.clip(a, -top, top)


class _Builder:
    def __init__(self, limits: Any, frac_bits: int, segments: int) -> None:
        self.limits, self.F, self.segments = limits, frac_bits, segments
        self.params: dict[str, dict[str, float]] = {}
        self.luts: dict[str, Lut] = {}
        self.lut_errors: dict[str, float] = {}
        self.tau_effective: dict[float, float] | None = None

    def q(self, a: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(a, np.float64) * (1 << self.F)).astype(np.int64)

    def affine(self, name: str, w: np.ndarray, b: np.ndarray | None) -> QAffine:
        top = (1 << (self.limits.weight_bits - 1)) - 1
        peak = float(np.abs(w).max()) if w.size else 0.0
        exp = int(np.ceil(np.log2(peak / top))) if peak > 0 else 0
        mant = np.clip(np.round(w / 2.0 ** exp), -top, top).astype(np.int64)
        bias = self.q(np.zeros(w.shape[0]) if b is None else b)
        self.params[name] = {"exp": exp, "max_error": float(np.abs(mant * 2.0 ** exp - w).max())
                             if w.size else 0.0}
        return QAffine(mant, exp, bias)

    def lut(self, name: str) -> Lut:
        if name not in self.luts:
            self.luts[name], self.lut_errors[name] = make_lut(name, self.F, self.segments)
        return self.luts[name]

    def activation(self, name: str, act: str) -> str:
        if act == "relu":
            return act
        if act not in _FUNCS:
            raise CompileError(f"{name}: activation '{act}' has no fixed-point table (have "
                               f"relu, {', '.join(k for k in _FUNCS if k != 'exp_neg')}); "
                               "use a float target")
        self.lut(act)
        return act


@liquid_rule(CfCNet)
def _cfc(net: CfCNet, b: _Builder) -> tuple[str, list[dict], QAffine | None]:
    b.lut("tanh")
    layers = []
    for k, layer in enumerate(net.layers):
        name = f"{net.name}.layers[{k}]"
        mask = 1.0 if layer.mask is None else layer.mask
        p: dict[str, Any] = {"mode": layer.mode,
                             "act": b.activation(name, layer.activation),
                             "backbone": [b.affine(f"{name}.backbone[{i}]", w, bb)
                                          for i, (w, bb) in enumerate(layer.backbone)],
                             "ff1": b.affine(f"{name}.ff1", layer.ff1[0] * mask, layer.ff1[1])}
        if layer.mode == "pure":
            b.lut("exp_neg")
            p.update(w_tau=b.q(np.abs(layer.w_tau)), A=b.q(layer.A))
        else:
            b.lut("sigmoid")
            p.update(ff2=b.affine(f"{name}.ff2", layer.ff2[0] * mask, layer.ff2[1]),
                     time_a=b.affine(f"{name}.time_a", *layer.time_a),
                     time_b=b.affine(f"{name}.time_b", *layer.time_b))
        layers.append(p)
    readout = None if net.readout is None else b.affine(f"{net.name}.readout", *net.readout)
    return "cfc", layers, readout


@liquid_rule(MultiTimescaleNet)
def _mts(net: MultiTimescaleNet, b: _Builder) -> tuple[str, list[dict], QAffine | None]:
    D = 1 << b.limits.decay_bits
    keep = net.decay(1.0)
    k = np.round((1.0 - keep) * D).astype(np.int64)
    if (k == 0).any():
        slow = sorted({float(t) for t in net.tau[k == 0]})
        raise CompileError(f"{net.name}.bands: tau {slow} s at dt={net.dt} s decays by less "
                           f"than one part in {D} per step ({b.limits.decay_bits}-bit decays) "
                           "and would never move; use a larger dt or a float target")
    tau_eff = -net.dt / np.log(1.0 - k / D)
    b.params[f"{net.name}.tau"] = {"max_relative_error":
                                   float(np.abs(tau_eff / net.tau - 1).max())}
    b.tau_effective = {float(t): float(tau_eff[net.tau == t][0]) for t in net.bands
                       if (net.tau == t).any()}
    p = {"w_in": b.affine(f"{net.name}.w_in", net.w_in, net.b), "k": k,
         "decay_bits": b.limits.decay_bits,
         "w_rec": None if net.w_rec is None else b.affine(f"{net.name}.w_rec", net.w_rec, None)}
    if net.w_rec is not None:
        b.lut("tanh")
    readout = None if net.readout is None else b.affine(f"{net.name}.readout", *net.readout)
    return "multi_timescale", [p], readout


#: options of the fixed-point liquid lowering (defaults here only)
OPTIONS = {
    "frac_bits": Option(16, "fractional bits of the Q-format state and inputs", probe=12),
    "lut_segments": Option(256, "linear pieces per lookup table (tanh, sigmoid, exp)",
                           probe=64),
}


def quantize_liquid(net: Any, limits: Any, frac_bits: int = 16,
                    lut_segments: int = 256) -> FixedLiquid:
    """Lower a liquid net to integers for a fixed-point target (see the module docstring).

    Raises:
        CompileError: for networks without a fixed-point lowering (LTC, silu/gelu).
        ValidationError: for ``frac_bits`` the target's state cannot hold.
    """
    rule = LIQUID_RULES.get(type(net))
    if rule is None:
        raise CompileError(f"{getattr(net, 'name', type(net).__name__)}: "
                           f"{type(net).__name__} has no fixed-point lowering (LTC divides "
                           "every solver step); use cpu-float, torch or loihi2-sim-float")
    frac_bits, lut_segments = int(frac_bits), int(lut_segments)
    if not 4 <= frac_bits <= limits.state_bits - 4:
        raise ValidationError(f"frac_bits={frac_bits}: must lie in 4..{limits.state_bits - 4} "
                              f"for a {limits.state_bits}-bit state")
    b = _Builder(limits, frac_bits, lut_segments)
    kind, layers, readout = rule(net, b)
    top = (1 << (limits.state_bits - 1)) - 1
    report = {"format": {"frac_bits": frac_bits, "state_bits": limits.state_bits,
                         "weight_bits": limits.weight_bits, "decay_bits": limits.decay_bits,
                         "lut_segments": lut_segments, "range": top / (1 << frac_bits),
                         "resolution": 1.0 / (1 << frac_bits)},
              "parameters": b.params, "lut_max_error": b.lut_errors}
    if b.tau_effective is not None:
        report["tau_effective"] = b.tau_effective
    return FixedLiquid(kind, net.n_in, net.n_out, list(net.state_sizes), frac_bits,
                       limits.state_bits, layers, readout, b.luts, report)
