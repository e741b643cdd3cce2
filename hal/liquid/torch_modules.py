"""Liquid torch modules of hal's own, trainable with torch and read by ``hal.from_torch``.

Importing this module imports torch (``import hal`` does not).

Example:
    >>> import torch, hal                                            # doctest: +SKIP
    >>> from hal.liquid.torch_modules import MultiTimescale          # doctest: +SKIP
    >>> model = MultiTimescale(3, 16, output_size=2)                 # doctest: +SKIP
    >>> y, h = model(torch.zeros(1, 50, 3))                          # doctest: +SKIP
    >>> exe = hal.compile(hal.from_torch(model), target="cpu-float")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class MultiTimescale(nn.Module):
    """A layer of leaky liquid neurons over a bank of time-constant bands
    (:class:`hal.liquid.ir.MultiTimescaleNet` has the equations), ncps-style interface:
    ``forward(x, hx=None, timespans=None)`` on ``(B, T, n_in)`` (or ``(T, n_in)``)
    returns ``(outputs, h)``.

    Args:
        input_size: inputs per step.
        units: liquid neurons.
        bands: time constants in seconds; neurons are spread over them evenly unless
            ``band`` gives each neuron's index.
        dt: seconds per step.
        band: per-neuron band index (length ``units``).
        recurrent: add ``W_rec tanh(x)`` to the drive.
        output_size: a linear readout to this many outputs (None: the state itself).
    """

    def __init__(self, input_size: int, units: int,
                 bands: Sequence[float] = (0.01, 0.1, 1.0, 10.0), dt: float = 0.01,
                 band: Sequence[int] | None = None, recurrent: bool = True,
                 output_size: int | None = None) -> None:
        super().__init__()
        self.input_size, self.units, self.dt = input_size, units, float(dt)
        self.register_buffer("bands", torch.as_tensor(bands, dtype=torch.float64))
        idx = torch.arange(units) % len(bands) if band is None else torch.as_tensor(band)
        self.register_buffer("band", idx.long())
        self.input_map = nn.Linear(input_size, units)
        self.recurrent = nn.Linear(units, units, bias=False) if recurrent else None
        if self.recurrent is not None:
            nn.init.normal_(self.recurrent.weight, 0.0, 0.9 / math.sqrt(units))
        self.fc = nn.Linear(units, output_size) if output_size else nn.Identity()

    def decay(self, ts: torch.Tensor | float = 1.0) -> torch.Tensor:
        """``exp(-ts dt / tau)`` per neuron (broadcasts over a (B, 1) ``ts``)."""
        tau = self.bands[self.band].to(self.input_map.weight.dtype)
        return torch.exp(-ts * self.dt / tau)

    def cell(self, u: torch.Tensor, x: torch.Tensor, ts: torch.Tensor | float = 1.0
             ) -> torch.Tensor:
        """One step from state ``x`` (B, units) on input ``u`` (B, input_size)."""
        drive = self.input_map(u)
        if self.recurrent is not None:
            drive = drive + self.recurrent(torch.tanh(x))
        a = self.decay(ts)
        return a * x + (1.0 - a) * drive

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None,
                timespans: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        single = x.dim() == 2
        if single:
            x = x[None]
        B, T, _ = x.shape
        h = x.new_zeros(B, self.units) if hx is None else hx
        outs = []
        for t in range(T):
            ts = 1.0 if timespans is None else timespans[:, t].reshape(B, 1)
            h = self.cell(x[:, t], h, ts)
            outs.append(self.fc(h))
        y = torch.stack(outs, 1)
        return (y[0], h[0]) if single else (y, h)
