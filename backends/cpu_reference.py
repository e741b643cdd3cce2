"""numpy reference for spiking networks: Loihi fixed point bit-exact with Lava's
``fixed_pt`` models (``cpu``), or float64 with Lava's ``floating_pt`` equations
(``cpu-float``). Batched: many input streams run at once. Imports no Lava.

Liquid networks (CfC, LTC, multi-timescale) step here too: in float64 (``cpu-float``), or
as the integer program :mod:`hal.compilers.liquid` lowers them to (``cpu``; Lava's
``fixed_pt`` LiquidCell model runs the same functions).

Fixed-point step (copied from lava-nc 0.10.0 ``PyLifModelBitAcc`` and
``PyDenseModelBitAcc``, not from their precision labels), with S = state_bits,
D = 2**decay_bits, A = align_bits, all read from the target through the quantization
report (Loihi 2: S = 24, D = 4096, A = 6):
    u' = wrapS(trunc((u * (D - du - 1)) / D) + (a_in << A))
    v' = clipS(trunc((v * (D - dv)) / D) + u' + (bias_mant << bias_exp))
    spike = v' > vth << A, then v' = 0
    a_in(t+1+delay) = shift(W_mant @ s(t), weight_exp)      (one step late per Dense)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from hal.backend import Backend
from hal.compilers.liquid import FixedLiquid, shift
from hal.compilers.snn import Lowered
from hal.liquid.ir import CfCNet, LiquidNet, LTCNet, MultiTimescaleNet
from hal.target import Target


class CpuReferenceBackend(Backend):
    """Runs a lowered network with numpy, fixed or float by the target's precision."""

    name = "cpu_reference"
    family = "snn"
    requires = ("numpy",)
    install_hint = "pip install numpy"
    packages = ("numpy",)
    options = {"compensate_delay": False,
               "v_scale": "auto", "rounding": "nearest", "decay_scale": "auto",
               "frac_bits": 16, "lut_segments": 256}

    def simulate(self, net: Lowered, x: np.ndarray, target: Target,
                 opts: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
        """Run ``x`` shaped (B, T, n_in); returns per population spikes, v, u (B, T, N)."""
        fixed = target.precision == "fixed"
        return simulate(net, x, fixed)

    def snn_open(self, net: Lowered, batch: int, target: Target,
                 opts: dict[str, Any]) -> SnnStepper:
        """A stepper holding spiking state for ``batch`` streams."""
        return SnnStepper(net, batch, target.precision == "fixed")

    def liquid_open(self, net: Any, batch: int, target: Target,
                    opts: dict[str, Any]) -> LiquidStepper | FixedLiquidStepper:
        """A stepper holding liquid state for ``batch`` streams: float64 for a liquid IR
        net, integers for a lowered :class:`FixedLiquid` (fixed-point targets)."""
        if isinstance(net, FixedLiquid):
            return FixedLiquidStepper(net, batch)
        return LiquidStepper(net, batch)


class FixedLiquidStepper:
    """A :class:`hal.compilers.liquid.FixedLiquid` stepped in integers for a batch of
    streams. :meth:`step_int` is the whole arithmetic (Lava's ``fixed_pt`` LiquidCell model
    runs it too); :meth:`step` quantizes inputs and scales outputs on the host."""

    def __init__(self, net: FixedLiquid, batch: int) -> None:
        self.net, self.batch = net, batch
        self.reset()

    def reset(self) -> None:
        self.state = [np.zeros((self.batch, n), np.int64) for n in self.net.state_sizes]

    def step(self, u: np.ndarray, ts: float = 1.0) -> np.ndarray:
        if ts != 1.0:
            from hal.errors import ValidationError

            raise ValidationError("fixed-point liquid targets step with timespan 1.0 only; "
                                  "use a float target for irregular time steps")
        y = self.step_int(self.net.quantize(u))
        return y / float(1 << self.net.frac_bits)

    def step_int(self, u: np.ndarray) -> np.ndarray:
        """One step on Q-format integer inputs (B, n_in); returns Q-format outputs."""
        net = self.net
        if net.kind == "cfc":
            x = _cfc_fixed(net, self.state, u)
        else:
            x = _mts_fixed(net, self.state, u)
        return x if net.readout is None else net.saturate(net.readout(x))

    def close(self) -> None:
        self.state = []


class LiquidStepper:
    """Liquid state (CfC, LTC, multi-timescale) for a batch of streams, advanced one step
    per :meth:`step`."""

    def __init__(self, net: LiquidNet, batch: int) -> None:
        self.net, self.batch = fold_constant_parameters(net), batch
        self._step = STEPS[type(net)]
        self.reset()

    def reset(self) -> None:
        self.state = [np.zeros((self.batch, n)) for n in self.net.state_sizes]

    def step(self, u: np.ndarray, ts: float = 1.0) -> np.ndarray:
        return self._step(self.net, self.state, np.asarray(u, np.float64), ts)

    def close(self) -> None:
        self.state = []


class SnnStepper:
    """Spiking state for a batch of streams, advanced one step per :meth:`step` (the
    reference step loop of the module docstring; :func:`simulate` runs it over a sequence).
    """

    def __init__(self, net: Lowered, batch: int, fixed: bool) -> None:
        self.net, self.batch, self.fixed = net, batch, fixed
        self.dtype = np.int64 if fixed else np.float64
        fmt = net.quantization["format"] if fixed else {}
        self.params = {n: _params(p, fixed, fmt) for n, p in net.populations.items()}
        self._mats: dict[tuple[int, bool], np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Zero every state variable and the in-flight (delayed) synaptic input."""
        pops, B, dtype = self.net.populations, self.batch, self.dtype
        self.state = {n: {"u": np.zeros((B, p.size), dtype), "v": np.zeros((B, p.size), dtype)}
                      for n, p in pops.items()}
        # one slot per step of delay: buf[i][0] arrives now, buf[i][-1] in 1 + delay steps
        self.buf = [np.zeros((c.delay + 1, B, pops[c.target].size), dtype)
                    for c in self.net.connections]

    def _matrix(self, i: int, src_max: float) -> np.ndarray:
        c = self.net.connections[i]
        exact_in_float = not self.fixed or (
            float(np.abs(c.mant).sum(axis=1).max(initial=0)) * src_max < 2.0**52)
        key = (i, exact_in_float)
        if key not in self._mats:
            self._mats[key] = _matrix(c, self.fixed, exact_in_float)
        return self._mats[key]

    def step(self, x_t: np.ndarray) -> dict[str, np.ndarray]:
        """Advance one step on input (B, n_in); returns spikes (B, N) per population (and
        leaves u and v in :attr:`state`)."""
        net, pops = self.net, self.net.populations
        a_in = {n: np.zeros((self.batch, p.size), self.dtype) for n, p in pops.items()}
        for c, b in zip(net.connections, self.buf, strict=True):
            a_in[c.target] += b[0]
        step = _step_fixed if self.fixed else _step_float
        spikes = {n: step(self.state[n], a_in[n], self.params[n]) for n in pops}
        xin = x_t.astype(self.dtype)
        x_max = float(np.abs(xin).max(initial=0))
        for i, c in enumerate(net.connections):
            src = xin if c.source == "input" else spikes[c.source]
            mat = self._matrix(i, x_max if c.source == "input" else 1.0)
            acc = src.astype(mat.dtype) @ mat
            if self.fixed:
                acc = acc.astype(np.int64)
                acc = np.left_shift(acc, c.exp) if c.exp > 0 else np.right_shift(acc, -c.exp)
            if c.delay:
                self.buf[i][:-1] = self.buf[i][1:]
            self.buf[i][-1] = acc
        return spikes

    def close(self) -> None:
        self.state, self.buf = {}, []


def simulate(net: Lowered, x: np.ndarray, fixed: bool) -> dict[str, dict[str, np.ndarray]]:
    """Run ``x`` (B, T, n_in) through a fresh :class:`SnnStepper`, recording every step."""
    B, T, _ = x.shape
    stepper = SnnStepper(net, B, fixed)
    out = {n: {k: np.zeros((B, T, p.size), bool if k == "spikes" else stepper.dtype)
               for k in ("spikes", "v", "u")} for n, p in net.populations.items()}
    for t in range(T):
        spikes = stepper.step(x[:, t])
        for n, rec in out.items():
            rec["spikes"][:, t] = spikes[n]
            rec["v"][:, t] = stepper.state[n]["v"]
            rec["u"][:, t] = stepper.state[n]["u"]
    return out


def _matrix(c, fixed: bool, exact_in_float: bool) -> np.ndarray:
    """The connection's (n_source, n_target) matrix. Integer sums are done by BLAS in
    float64 where every partial sum stays below 2**52 (so they are exact), else in int64."""
    if not fixed:
        return c.weight.T
    return c.mant.T.astype(np.float64 if exact_in_float else np.int64)


def _params(p, fixed: bool, fmt: dict[str, int]) -> dict[str, Any]:
    if not fixed:
        return {"du": p.du, "dv": p.dv, "vth": p.vth, "bias": p.bias}
    f = p.fixed
    bias = np.where(f["bias_exp"] >= 0, np.left_shift(f["bias_mant"], f["bias_exp"]),
                    np.right_shift(f["bias_mant"], -f["bias_exp"]))
    return {"du": f["du"], "dv": f["dv"], "vth": f["vth"].astype(np.int64) << fmt["align_bits"],
            "bias": bias.astype(np.int64), "align": fmt["align_bits"],
            "shift": fmt["decay_bits"], "max": 2 ** (fmt["state_bits"] - 1)}


def _decay(x: np.ndarray, factor: np.ndarray, shift: int) -> np.ndarray:
    prod = x * factor
    return np.sign(prod) * np.right_shift(np.abs(prod), shift)


def _step_fixed(s: dict, a_in: np.ndarray, p: dict) -> np.ndarray:
    unity, top = 2 ** p["shift"], p["max"]
    u = _decay(s["u"], unity - (p["du"] + 1), p["shift"]) + np.left_shift(a_in, p["align"])
    wrapped = np.where(u > top, u - 2 * top, u)
    u = np.where(wrapped <= -top, u + 2 * top, wrapped)
    v = _decay(s["v"], unity - p["dv"], p["shift"]) + u + p["bias"]
    v = np.clip(v, -top + 1, top - 1)
    spk = v > p["vth"]
    v[spk] = 0
    s["u"], s["v"] = u, v
    return spk


def _step_float(s: dict, a_in: np.ndarray, p: dict) -> np.ndarray:
    u = s["u"] * (1 - p["du"]) + a_in
    v = s["v"] * (1 - p["dv"]) + u + p["bias"]
    spk = v > p["vth"]
    v[spk] = 0
    s["u"], s["v"] = u, v
    return spk


# -- liquid networks (float64) --------------------------------------------------------------
_ACT = {
    "lecun_tanh": lambda x: 1.7159 * np.tanh(0.666 * x),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0))),
}


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def fold_constant_parameters(net: LiquidNet) -> LiquidNet:
    """An equivalent net whose per-step constants are computed once: CfC wiring masks
    multiplied into ff1/ff2, LTC softplus constraints applied to w, sensory_w, gleak, cm."""
    if isinstance(net, MultiTimescaleNet):
        return net
    if isinstance(net, LTCNet):
        if not net.implicit_constraints:
            return net
        params = dict(net.params)
        for key in ("w", "sensory_w", "gleak", "cm"):
            params[key] = _softplus(params[key])
        return replace(net, params=params, implicit_constraints=False)
    layers = [layer if layer.mask is None else replace(
        layer, ff1=(layer.ff1[0] * layer.mask, layer.ff1[1]),
        ff2=None if layer.ff2 is None else (layer.ff2[0] * layer.mask, layer.ff2[1]),
        mask=None) for layer in net.layers]
    return replace(net, layers=layers)


def cfc_step(net: Any, state: list[np.ndarray], u: np.ndarray, ts: float = 1.0) -> np.ndarray:
    """One CfC step (equations in :mod:`hal.liquid.ir`); updates ``state`` in place and
    returns the output, shapes (B, n_in) -> (B, n_out)."""
    x = u
    for k, layer in enumerate(net.layers):
        z = np.concatenate([x, state[k]], axis=1)
        act = _ACT[layer.activation]
        for w, b in layer.backbone:
            z = act(z @ w.T + b)
        w1 = layer.ff1[0] if layer.mask is None else layer.ff1[0] * layer.mask
        f1 = z @ w1.T + layer.ff1[1]
        if layer.mode == "pure":
            h = -layer.A * np.exp(-ts * (np.abs(layer.w_tau) + np.abs(f1))) * f1 + layer.A
        else:
            w2 = layer.ff2[0] if layer.mask is None else layer.ff2[0] * layer.mask
            f2 = np.tanh(z @ w2.T + layer.ff2[1])
            f1 = np.tanh(f1)
            ta = z @ layer.time_a[0].T + layer.time_a[1]
            tb = z @ layer.time_b[0].T + layer.time_b[1]
            s = _sigmoid(ta * ts + tb)
            h = f1 + s * f2 if layer.mode == "no_gate" else f1 * (1.0 - s) + s * f2
        state[k] = h
        x = h
    return x if net.readout is None else x @ net.readout[0].T + net.readout[1]


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def ltc_step(net: Any, state: list[np.ndarray], u: np.ndarray, ts: float = 1.0) -> np.ndarray:
    """One LTC step (equations in :class:`hal.liquid.ir.LTCNet`); updates ``state[0]``."""
    p = net.params
    pos = _softplus if net.implicit_constraints else (lambda a: a)
    if net.input_mapping in ("affine", "linear"):
        u = u * p["input_w"]
    if net.input_mapping == "affine":
        u = u + p["input_b"]
    ws = pos(p["sensory_w"]) * _sigmoid(p["sensory_sigma"] * (u[:, :, None] - p["sensory_mu"]))
    ws = ws * p["sensory_sparsity_mask"]
    num_s = (ws * p["sensory_erev"]).sum(axis=1)
    den_s = ws.sum(axis=1)
    cm_t = pos(p["cm"]) / (ts / net.ode_unfolds)
    w, gleak = pos(p["w"]), pos(p["gleak"])
    v = state[0]
    for _ in range(net.ode_unfolds):
        wa = w * _sigmoid(p["sigma"] * (v[:, :, None] - p["mu"])) * p["sparsity_mask"]
        num = cm_t * v + gleak * p["vleak"] + (wa * p["erev"]).sum(axis=1) + num_s
        den = cm_t + gleak + wa.sum(axis=1) + den_s
        v = num / (den + net.epsilon)
    state[0] = v
    y = v[:, :net.motor]
    if net.output_mapping in ("affine", "linear"):
        y = y * p["output_w"]
    if net.output_mapping == "affine":
        y = y + p["output_b"]
    return y


def mts_step(net: Any, state: list[np.ndarray], u: np.ndarray, ts: float = 1.0) -> np.ndarray:
    """One multi-timescale step (equations in :class:`hal.liquid.ir.MultiTimescaleNet`)."""
    x = state[0]
    drive = u @ net.w_in.T + net.b
    if net.w_rec is not None:
        drive = drive + np.tanh(x) @ net.w_rec.T
    a = net.decay(ts)
    x = a * x + (1.0 - a) * drive
    state[0] = x
    return x if net.readout is None else x @ net.readout[0].T + net.readout[1]


STEPS = {CfCNet: cfc_step, LTCNet: ltc_step, MultiTimescaleNet: mts_step}


def _cfc_fixed(net: FixedLiquid, state: list[np.ndarray], u: np.ndarray) -> np.ndarray:
    """One CfC step in Q-F integers (equations in :mod:`hal.liquid.ir`)."""
    F, sat, lut = net.frac_bits, net.saturate, net.luts
    one = 1 << F
    x = u
    for k, p in enumerate(net.layers):
        z = np.concatenate([x, state[k]], axis=1)
        act = (lambda a: np.maximum(a, 0)) if p["act"] == "relu" else lut[p["act"]]
        for aff in p["backbone"]:
            z = act(sat(aff(z)))
        f1 = sat(p["ff1"](z))
        if p["mode"] == "pure":
            e = lut["exp_neg"](p["w_tau"] + np.abs(f1))
            h = -shift(shift(p["A"] * e, -F) * f1, -F) + p["A"]
        else:
            f2 = lut["tanh"](sat(p["ff2"](z)))
            f1 = lut["tanh"](f1)
            s = lut["sigmoid"](sat(p["time_a"](z) + p["time_b"](z)))
            gated = shift(s * f2, -F)
            h = f1 + gated if p["mode"] == "no_gate" else shift(f1 * (one - s), -F) + gated
        state[k] = x = sat(h)
    return x


def _mts_fixed(net: FixedLiquid, state: list[np.ndarray], u: np.ndarray) -> np.ndarray:
    """One multi-timescale step in Q-F integers: ``x += (drive - x) k >> decay_bits``."""
    p, x = net.layers[0], state[0]
    drive = p["w_in"](u)
    if p["w_rec"] is not None:
        drive = drive + p["w_rec"](net.luts["tanh"](x))
    x = net.saturate(x + shift((net.saturate(drive) - x) * p["k"], -p["decay_bits"]))
    state[0] = x
    return x
