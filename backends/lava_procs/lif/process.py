"""``HeteroLIF``: Lava's LIF with one du, dv and vth per neuron.

Lava's own ``LIF`` holds one du, dv and vth per process, so a population with many time
constants would need one process (one OS process at run time) per distinct value. This
Process widens those three Vars to the population's shape; its models (``models.py``)
subclass Lava's own LIF models and run Lava's arithmetic unchanged on the wider Vars.

It also sends u and v each step on ``u_out`` and ``v_out`` (after the spike and the
reset, as a Monitor reads them), so a session can stream states through Extractors
instead of reading Vars back. An OutPort left unconnected sends nothing.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.variable import Var
from lava.proc.lif.process import LIF


class HeteroLIF(LIF):
    """LIF neurons whose du, dv and vth may differ from neuron to neuron, with their
    states on ``u_out`` and ``v_out``."""

    def __init__(self, *, shape: tuple[int, ...], du: np.ndarray, dv: np.ndarray,
                 vth: np.ndarray, **kwargs) -> None:
        super().__init__(shape=shape, **kwargs)
        self.du = Var(shape=shape, init=np.asarray(du))
        self.dv = Var(shape=shape, init=np.asarray(dv))
        self.vth = Var(shape=shape, init=np.asarray(vth))
        self.u_out = OutPort(shape=shape)
        self.v_out = OutPort(shape=shape)
