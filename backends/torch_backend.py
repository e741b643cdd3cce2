"""PyTorch backend for spiking networks: Lava's ``floating_pt`` equations in float32 on
CUDA when present (option ``device``), else CPU; batched over input streams."""

from __future__ import annotations

from typing import Any

import numpy as np

from hal.backend import LiquidBackend, Option, SpikingBackend
from hal.compilers.snn import Lowered
from hal.target import Target


class TorchBackend(SpikingBackend, LiquidBackend):
    """Float32 torch simulation of the lowered network (same step as cpu-float)."""

    name = "torch_backend"
    requires = ("torch",)
    install_hint = "pip install 'nq-hal[torch]'"
    packages = ("torch",)
    options = {
        "device": Option("auto", "torch device: auto (CUDA when present, else cpu), cpu, "
                         "cuda, cuda:N (what auto picks depends on the machine, so the "
                         "conformance kit does not probe it)", probe=None),
        "dtype": Option("float32", "torch dtype of state and weights (float32, float64)",
                        probe="float64"),
    }

    def open_liquid(self, net: Any, batch: int, target: Target,
                    options: dict[str, Any]) -> Any:
        """A stepper holding liquid state for ``batch`` streams on the chosen device."""
        import torch

        from hal.liquid.ir import CfCNet, LTCNet, MultiTimescaleNet

        cls = {CfCNet: TorchLiquidStepper, LTCNet: TorchLTCStepper,
               MultiTimescaleNet: TorchMultiTimescaleStepper}[type(net)]
        return cls(net, batch, _device(options["device"]), getattr(torch, options["dtype"]))

    def simulate(self, net: Lowered, x: np.ndarray, target: Target, options: dict[str, Any],
                 record: frozenset[str] = frozenset({"spikes"})
                 ) -> dict[str, dict[str, np.ndarray]]:
        """Run ``x`` (B, T, n_in) through a fresh :class:`TorchSnnStepper`, recording every
        step on the device and copying back once."""
        import torch

        B, T, _ = x.shape
        stepper = self.open_spiking(net, B, target, options, record)
        xt = torch.as_tensor(x, dtype=stepper.dtype, device=stepper.device)
        rec = {n: {k: torch.zeros(B, T, p.size, dtype=stepper.dtype, device=stepper.device)
                   for k in record} for n, p in net.populations.items()}
        with torch.no_grad():
            for t in range(T):
                stepper.step_tensor(xt[:, t])
                for n, r in rec.items():
                    for k, a in r.items():
                        a[:, t] = stepper.vars(n)[k]
        return {n: {k: (a.cpu().numpy() > 0 if k == "spikes" else a.cpu().numpy().astype(float))
                    for k, a in r.items()} for n, r in rec.items()}

    def open_spiking(self, net: Lowered, batch: int, target: Target, options: dict[str, Any],
                     record: frozenset[str] = frozenset({"spikes"})) -> TorchSnnStepper:
        """A stepper holding spiking state for ``batch`` streams on the chosen device."""
        import torch

        return TorchSnnStepper(net, batch, _device(options["device"]),
                               getattr(torch, options["dtype"]), record)


class TorchSnnStepper:
    """Spiking state for a batch of streams: Lava's ``floating_pt`` equations in torch."""

    def __init__(self, net: Lowered, batch: int, device: str, dtype: Any,
                 record: frozenset[str] = frozenset({"spikes"})) -> None:
        import torch

        self.net, self.batch, self.device, self.dtype = net, batch, device, dtype
        self.record = record
        f = {"dtype": dtype, "device": device}
        self.P = {n: {k: torch.as_tensor(getattr(p, k), **f) for k in ("du", "dv", "vth", "bias")}
                  for n, p in net.populations.items()}
        self.W = [torch.as_tensor(c.weight.T, **f) for c in net.connections]
        self.reset()

    def reset(self) -> None:
        """Zero every state variable and the in-flight (delayed) synaptic input."""
        import torch

        f = {"dtype": self.dtype, "device": self.device}
        pops, B = self.net.populations, self.batch
        self.u = {n: torch.zeros(B, p.size, **f) for n, p in pops.items()}
        self.v = {n: torch.zeros(B, p.size, **f) for n, p in pops.items()}
        self.s = {n: torch.zeros(B, p.size, **f) for n, p in pops.items()}
        self.buf = [torch.zeros(c.delay + 1, B, pops[c.target].size, **f)
                    for c in self.net.connections]

    def step_tensor(self, x_t: Any) -> None:
        """One step on a (B, n_in) tensor; spikes (as 0/1), v and u stay on the device."""
        import torch

        pops = self.net.populations
        a_in = {n: torch.zeros_like(self.u[n]) for n in pops}
        for c, b in zip(self.net.connections, self.buf, strict=True):
            a_in[c.target] += b[0]
        for n in pops:
            p = self.P[n]
            self.u[n] = self.u[n] * (1 - p["du"]) + a_in[n]
            v = self.v[n] * (1 - p["dv"]) + self.u[n] + p["bias"]
            spk = v > p["vth"]
            self.v[n] = torch.where(spk, torch.zeros_like(v), v)
            self.s[n] = spk.to(self.dtype)
        for i, c in enumerate(self.net.connections):
            src = x_t if c.source == "input" else self.s[c.source]
            self.buf[i] = torch.cat([self.buf[i][1:], (src @ self.W[i])[None]])

    def vars(self, n: str) -> dict[str, Any]:
        """Population ``n``'s spikes (0/1), v and u tensors after the last step."""
        return {"spikes": self.s[n], "v": self.v[n], "u": self.u[n]}

    def step(self, x_t: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Advance one step on input (B, n_in); returns per population the recorded keys
        (B, N): spikes as bool, v and u as float."""
        import torch

        with torch.no_grad():
            self.step_tensor(torch.as_tensor(x_t, dtype=self.dtype, device=self.device))
        return {n: {k: (a.cpu().numpy() > 0 if k == "spikes" else a.cpu().numpy().astype(float))
                    for k, a in self.vars(n).items() if k in self.record} for n in self.s}

    def close(self) -> None:
        self.u = self.v = self.s = {}
        self.buf = []


def _device(name: str) -> str:
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def _converter(dtype: Any, device: str):
    """``t(array)`` -> a tensor of ``dtype`` on ``device`` (None stays None)."""
    import torch

    def t(a: Any) -> Any:
        return None if a is None else torch.as_tensor(a, dtype=dtype, device=device)

    return t


class TorchLiquidStepper:
    """CfC state for a batch of streams, stepped with torch (equations in hal.liquid.ir)."""

    def __init__(self, net: Any, batch: int, device: str, dtype: Any) -> None:
        import torch
        import torch.nn.functional as F

        self.net, self.batch, self.device, self.dtype = net, batch, device, dtype
        t = _converter(dtype, device)

        acts = {"lecun_tanh": lambda x: 1.7159 * torch.tanh(0.666 * x), "tanh": torch.tanh,
                "relu": torch.relu, "silu": F.silu, "gelu": F.gelu}
        self.layers = []
        for layer in net.layers:
            mask = layer.mask if layer.mask is not None else 1.0
            p = {"mode": layer.mode, "act": acts[layer.activation],
                 "backbone": [(t(w), t(b)) for w, b in layer.backbone],
                 "w1": t(layer.ff1[0] * mask), "b1": t(layer.ff1[1])}
            if layer.mode == "pure":
                p.update(w_tau=t(np.abs(layer.w_tau)), A=t(layer.A))
            else:
                p.update(w2=t(layer.ff2[0] * mask), b2=t(layer.ff2[1]),
                         wa=t(layer.time_a[0]), ba=t(layer.time_a[1]),
                         wb=t(layer.time_b[0]), bb=t(layer.time_b[1]))
            self.layers.append(p)
        self.readout = None if net.readout is None else (t(net.readout[0]), t(net.readout[1]))
        self.reset()

    def reset(self) -> None:
        import torch

        self.state = [torch.zeros(self.batch, layer.hidden, dtype=self.dtype,
                                  device=self.device) for layer in self.net.layers]

    def step(self, u: Any, ts: float = 1.0) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            x = torch.as_tensor(np.asarray(u), dtype=self.dtype, device=self.device)
            for k, p in enumerate(self.layers):
                z = torch.cat([x, self.state[k]], 1)
                for w, b in p["backbone"]:
                    z = p["act"](F.linear(z, w, b))
                f1 = F.linear(z, p["w1"], p["b1"])
                if p["mode"] == "pure":
                    h = -p["A"] * torch.exp(-ts * (p["w_tau"] + torch.abs(f1))) * f1 + p["A"]
                else:
                    f2 = torch.tanh(F.linear(z, p["w2"], p["b2"]))
                    f1 = torch.tanh(f1)
                    s = torch.sigmoid(F.linear(z, p["wa"], p["ba"]) * ts +
                                      F.linear(z, p["wb"], p["bb"]))
                    h = f1 + s * f2 if p["mode"] == "no_gate" else f1 * (1.0 - s) + s * f2
                self.state[k] = h
                x = h
            if self.readout is not None:
                x = F.linear(x, *self.readout)
        return x.cpu().numpy().astype(np.float64)

    def close(self) -> None:
        self.state = []


class TorchLTCStepper:
    """LTC state for a batch of streams (equations in hal.liquid.ir.LTCNet)."""

    def __init__(self, net: Any, batch: int, device: str, dtype: Any) -> None:
        import torch

        self.net, self.batch, self.device, self.dtype = net, batch, device, dtype
        pos = torch.nn.functional.softplus if net.implicit_constraints else (lambda a: a)
        self.p = {k: torch.as_tensor(v, dtype=dtype, device=device)
                  for k, v in net.params.items()}
        for key in ("sensory_w", "w", "gleak", "cm"):
            self.p[key] = pos(self.p[key])
        self.reset()

    def reset(self) -> None:
        import torch

        self.v = torch.zeros(self.batch, self.net.units, dtype=self.dtype, device=self.device)

    def step(self, u: Any, ts: float = 1.0) -> np.ndarray:
        import torch

        net, p = self.net, self.p
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(u), dtype=self.dtype, device=self.device)
            if net.input_mapping in ("affine", "linear"):
                x = x * p["input_w"]
            if net.input_mapping == "affine":
                x = x + p["input_b"]
            ws = p["sensory_w"] * torch.sigmoid(p["sensory_sigma"] * (x[:, :, None] -
                                                                      p["sensory_mu"]))
            ws = ws * p["sensory_sparsity_mask"]
            num_s, den_s = (ws * p["sensory_erev"]).sum(1), ws.sum(1)
            cm_t = p["cm"] / (ts / net.ode_unfolds)
            v = self.v
            for _ in range(net.ode_unfolds):
                wa = p["w"] * torch.sigmoid(p["sigma"] * (v[:, :, None] - p["mu"]))
                wa = wa * p["sparsity_mask"]
                num = cm_t * v + p["gleak"] * p["vleak"] + (wa * p["erev"]).sum(1) + num_s
                v = num / (cm_t + p["gleak"] + wa.sum(1) + den_s + net.epsilon)
            self.v = v
            y = v[:, :net.motor]
            if net.output_mapping in ("affine", "linear"):
                y = y * p["output_w"]
            if net.output_mapping == "affine":
                y = y + p["output_b"]
        return y.cpu().numpy().astype(np.float64)

    def close(self) -> None:
        self.v = None


class TorchMultiTimescaleStepper:
    """Multi-timescale state for a batch of streams (equations in
    hal.liquid.ir.MultiTimescaleNet)."""

    def __init__(self, net: Any, batch: int, device: str, dtype: Any) -> None:
        self.net, self.batch, self.device, self.dtype = net, batch, device, dtype
        t = _converter(dtype, device)
        self.w_in, self.b, self.w_rec = t(net.w_in), t(net.b), t(net.w_rec)
        self.tau = t(net.tau)
        self.readout = None if net.readout is None else (t(net.readout[0]), t(net.readout[1]))
        self.reset()

    def reset(self) -> None:
        import torch

        self.x = torch.zeros(self.batch, self.net.units, dtype=self.dtype, device=self.device)

    def step(self, u: Any, ts: float = 1.0) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            drive = F.linear(torch.as_tensor(np.asarray(u), dtype=self.dtype,
                                             device=self.device), self.w_in, self.b)
            if self.w_rec is not None:
                drive = drive + F.linear(torch.tanh(self.x), self.w_rec)
            a = torch.exp(-ts * self.net.dt / self.tau)
            self.x = a * self.x + (1.0 - a) * drive
            y = self.x if self.readout is None else F.linear(self.x, *self.readout)
        return y.cpu().numpy().astype(np.float64)

    def close(self) -> None:
        self.x = None
