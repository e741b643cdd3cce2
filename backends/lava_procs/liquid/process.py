"""``LiquidCell``: a liquid network (CfC, LTC, multi-timescale; float or fixed point) as
one Lava Process.

Ports are flat: ``u_in`` carries B x n_in inputs per step and ``y_out`` B x n_out outputs,
delivered in the same step (no Dense in between, so no extra delay).
"""

from __future__ import annotations

from typing import Any

from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess


class LiquidCell(AbstractProcess):
    """Steps a liquid network (``hal.liquid.ir`` CfCNet or LTCNet) for ``batch`` streams."""

    def __init__(self, *, net: Any, batch: int, **kwargs) -> None:
        super().__init__(net=net, batch=batch, **kwargs)
        self.u_in = InPort(shape=(batch * net.n_in,))
        self.y_out = OutPort(shape=(batch * net.n_out,))
