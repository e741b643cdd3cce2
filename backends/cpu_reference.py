"""numpy reference for spiking networks: Loihi fixed point bit-exact with Lava's
``fixed_pt`` models (``cpu``), or float64 with Lava's ``floating_pt`` equations
(``cpu-float``). Batched: many input streams run at once. Imports no Lava.

Fixed-point step (copied from lava-nc 0.10.0 ``PyLifModelBitAcc`` and
``PyDenseModelBitAcc``, not from their precision labels):
    u' = wrap24(trunc((u * (4096 - du - 1)) / 4096) + (a_in << 6))
    v' = clip24(trunc((v * (4096 - dv)) / 4096) + u' + (bias_mant << bias_exp))
    spike = v' > vth << 6, then v' = 0
    a_in(t+1) = shift(W_mant @ s(t), weight_exp)            (one step late per Dense)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hal.backend import Backend
from hal.compilers.snn import Lowered
from hal.target import Target

_MAX = 2**23


class CpuReferenceBackend(Backend):
    """Runs a lowered network with numpy, fixed or float by the target's precision."""

    name = "cpu_reference"
    family = "snn"
    requires = ("numpy",)
    install_hint = "pip install numpy"
    packages = ("numpy",)
    options = {"compensate_delay": False,
               "v_scale": "auto", "rounding": "nearest", "decay_scale": 4096}

    def simulate(self, net: Lowered, x: np.ndarray, target: Target,
                 opts: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
        """Run ``x`` shaped (B, T, n_in); returns per population spikes, v, u (B, T, N)."""
        fixed = target.precision == "fixed"
        return simulate(net, x, fixed)


def simulate(net: Lowered, x: np.ndarray, fixed: bool) -> dict[str, dict[str, np.ndarray]]:
    """The reference step loop (see module docstring)."""
    B, T, _ = x.shape
    dtype = np.int64 if fixed else np.float64
    pops = net.populations
    state = {n: {"u": np.zeros((B, p.size), dtype), "v": np.zeros((B, p.size), dtype)}
             for n, p in pops.items()}
    buf = [np.zeros((B, len(pops[c.target].du)), dtype) for c in net.connections]
    out = {n: {k: np.zeros((B, T, p.size), bool if k == "spikes" else dtype)
               for k in ("spikes", "v", "u")} for n, p in pops.items()}
    params = {n: _params(p, fixed) for n, p in pops.items()}
    mats = [(c.mant.T.astype(np.int64) if fixed else c.weight.T) for c in net.connections]
    xin = x.astype(np.int64) if fixed else x.astype(np.float64)
    spikes = {n: np.zeros((B, p.size), bool) for n, p in pops.items()}
    for t in range(T):
        a_in = {n: np.zeros((B, p.size), dtype) for n, p in pops.items()}
        for c, b in zip(net.connections, buf, strict=True):
            a_in[c.target] += b
        for n in pops:
            step = _step_fixed if fixed else _step_float
            spikes[n] = step(state[n], a_in[n], params[n])
            out[n]["spikes"][:, t] = spikes[n]
            out[n]["v"][:, t] = state[n]["v"]
            out[n]["u"][:, t] = state[n]["u"]
        for i, c in enumerate(net.connections):
            src = xin[:, t] if c.source == "input" else spikes[c.source].astype(dtype)
            acc = src @ mats[i]
            if fixed:
                acc = np.left_shift(acc, c.exp) if c.exp > 0 else np.right_shift(acc, -c.exp)
            buf[i] = acc
    return out


def _params(p, fixed: bool) -> dict[str, np.ndarray]:
    if not fixed:
        return {"du": p.du, "dv": p.dv, "vth": p.vth, "bias": p.bias}
    f = p.fixed
    bias = np.where(f["bias_exp"] >= 0, np.left_shift(f["bias_mant"], f["bias_exp"]),
                    np.right_shift(f["bias_mant"], -f["bias_exp"]))
    return {"du": f["du"], "dv": f["dv"], "vth": f["vth"].astype(np.int64) << 6,
            "bias": bias.astype(np.int64)}


def _decay(x: np.ndarray, factor: np.ndarray) -> np.ndarray:
    prod = x * factor
    return np.sign(prod) * np.right_shift(np.abs(prod), 12)


def _step_fixed(s: dict, a_in: np.ndarray, p: dict) -> np.ndarray:
    u = _decay(s["u"], 4096 - (p["du"] + 1)) + np.left_shift(a_in, 6)
    wrapped = np.where(u > _MAX, u - 2 * _MAX, u)
    u = np.where(wrapped <= -_MAX, u + 2 * _MAX, wrapped)
    v = _decay(s["v"], 4096 - p["dv"]) + u + p["bias"]
    v = np.clip(v, -_MAX + 1, _MAX - 1)
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
