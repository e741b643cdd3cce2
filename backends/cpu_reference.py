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

from typing import Any

import numpy as np

from hal.backend import LiquidBackend, Option, SpikingBackend
from hal.compilers.liquid import FixedLiquid
from hal.compilers.snn import Lowered
from hal.liquid.reference import FixedLiquidStepper, LiquidStepper
from hal.snn import learning
from hal.snn.learning import plastic
from hal.target import Target


class CpuReferenceBackend(SpikingBackend, LiquidBackend):
    """Runs a lowered network with numpy, fixed or float by the target's precision."""

    name = "cpu_reference"
    requires = ("numpy",)
    install_hint = "pip install numpy"
    packages = ("numpy",)
    learns = True  # plastic connections: hal.snn.learning's numpy stepper
    options: dict[str, Option] = {}

    def simulate(self, net: Lowered, x: np.ndarray, target: Target, options: dict[str, Any],
                 record: frozenset[str] = frozenset({"spikes"})
                 ) -> dict[str, dict[str, np.ndarray]]:
        """Run ``x`` shaped (B, T, n_in); returns per population the recorded keys
        (B, T, N)."""
        if plastic(net):  # issue 17: learning runs in hal.snn.learning's numpy stepper
            return learning.simulate(net, x, target.precision == "fixed", record)
        return simulate(net, x, target.precision == "fixed", record)

    def open_spiking(self, net: Lowered, batch: int, target: Target, options: dict[str, Any],
                     record: frozenset[str] = frozenset({"spikes"})) -> SnnStepper:
        """A stepper holding spiking state for ``batch`` streams."""
        if plastic(net):  # issue 17
            return learning.LearningStepper(net, batch, target.precision == "fixed", record)
        return SnnStepper(net, batch, target.precision == "fixed", record)

    def open_liquid(self, net: Any, batch: int, target: Target,
                    options: dict[str, Any]) -> LiquidStepper | FixedLiquidStepper:
        """A stepper holding liquid state for ``batch`` streams: float64 for a liquid IR
        net, integers for a lowered :class:`FixedLiquid` (fixed-point targets)."""
        if isinstance(net, FixedLiquid):
            return FixedLiquidStepper(net, batch)
        return LiquidStepper(net, batch)


class SnnStepper:
    """Spiking state for a batch of streams, advanced one step per :meth:`step` (the
    reference step loop of the module docstring; :func:`simulate` runs it over a sequence).
    """

    def __init__(self, net: Lowered, batch: int, fixed: bool,
                 record: frozenset[str] = frozenset({"spikes"})) -> None:
        self.net, self.batch, self.fixed, self.record = net, batch, fixed, record
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

    def step(self, x_t: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Advance one step on input (B, n_in); returns per population the recorded keys
        (``spikes``, ``v``, ``u``), each (B, N)."""
        spikes = self._advance(x_t)
        return {n: {k: spikes[n] if k == "spikes" else self.state[n][k] for k in self.record}
                for n in spikes}

    def _advance(self, x_t: np.ndarray) -> dict[str, np.ndarray]:
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


def simulate(net: Lowered, x: np.ndarray, fixed: bool,
             record: frozenset[str] = frozenset({"spikes"})) -> dict[str, dict[str, np.ndarray]]:
    """Run ``x`` (B, T, n_in) through a fresh :class:`SnnStepper`, recording the keys in
    ``record`` at every step."""
    B, T, _ = x.shape
    stepper = SnnStepper(net, B, fixed, record)
    out = {n: {k: np.zeros((B, T, p.size), bool if k == "spikes" else stepper.dtype)
               for k in record} for n, p in net.populations.items()}
    for t in range(T):
        got = stepper.step(x[:, t])
        for n, rec in out.items():
            for k, a in rec.items():
                a[:, t] = got[n][k]
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
