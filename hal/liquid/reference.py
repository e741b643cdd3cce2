"""Reference kernels for liquid networks, shared by every backend that runs them: float64
steps for CfC, LTC and multi-timescale nets (``cpu-float``; Lava's ``floating_pt``
LiquidCell model), and the integer program :mod:`hal.compilers.liquid` lowers them to
(``cpu``; Lava's ``fixed_pt`` LiquidCell model, bit-exact by construction). Imports no
backend SDK: backends import this module, never each other.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from hal.compilers.liquid import FixedLiquid, shift
from hal.liquid.ir import CfCNet, LiquidNet, LTCNet, MultiTimescaleNet


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
