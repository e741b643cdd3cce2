"""PyTorch backend for spiking networks: Lava's ``floating_pt`` equations in float32 on
CUDA when present (option ``device``), else CPU; batched over input streams."""

from __future__ import annotations

from typing import Any

import numpy as np

from hal.backend import Backend
from hal.compilers.snn import Lowered
from hal.target import Target


class TorchBackend(Backend):
    """Float32 torch simulation of the lowered network (same step as cpu-float)."""

    name = "torch_backend"
    family = "snn"
    requires = ("torch",)
    install_hint = "pip install 'nq-hal[torch]'"
    packages = ("torch",)
    options = {"device": "auto", "compensate_delay": False}

    def simulate(self, net: Lowered, x: np.ndarray, target: Target,
                 opts: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
        import torch

        dev = opts["device"]
        dev = ("cuda" if torch.cuda.is_available() else "cpu") if dev == "auto" else dev
        f32 = {"dtype": torch.float32, "device": dev}
        B, T, _ = x.shape
        xt = torch.as_tensor(x, **f32)
        pops = net.populations
        P = {n: {k: torch.as_tensor(getattr(p, k), **f32) for k in ("du", "dv", "vth", "bias")}
             for n, p in pops.items()}
        W = [torch.as_tensor(c.weight.T, **f32) for c in net.connections]
        u = {n: torch.zeros(B, p.size, **f32) for n, p in pops.items()}
        v = {n: torch.zeros(B, p.size, **f32) for n, p in pops.items()}
        s = {n: torch.zeros(B, p.size, **f32) for n, p in pops.items()}
        buf = [torch.zeros(c.delay + 1, B, pops[c.target].size, **f32)
               for c in net.connections]
        rec = {n: {k: torch.zeros(B, T, p.size, **f32) for k in ("spikes", "v", "u")}
               for n, p in pops.items()}
        with torch.no_grad():
            for t in range(T):
                a_in = {n: torch.zeros(B, p.size, **f32) for n, p in pops.items()}
                for c, b in zip(net.connections, buf, strict=True):
                    a_in[c.target] += b[0]
                for n in pops:
                    p = P[n]
                    u[n] = u[n] * (1 - p["du"]) + a_in[n]
                    v[n] = v[n] * (1 - p["dv"]) + u[n] + p["bias"]
                    spk = v[n] > p["vth"]
                    v[n] = torch.where(spk, torch.zeros_like(v[n]), v[n])
                    s[n] = spk.to(torch.float32)
                    rec[n]["spikes"][:, t], rec[n]["v"][:, t], rec[n]["u"][:, t] = s[n], v[n], u[n]
                for i, c in enumerate(net.connections):
                    src = xt[:, t] if c.source == "input" else s[c.source]
                    buf[i] = torch.cat([buf[i][1:], (src @ W[i])[None]])
        return {n: {k: (a.cpu().numpy() > 0 if k == "spikes" else a.cpu().numpy().astype(float))
                    for k, a in r.items()} for n, r in rec.items()}
