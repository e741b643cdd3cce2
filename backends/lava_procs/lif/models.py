"""ProcessModels for ``HeteroLIF``. The current and voltage updates are inherited from
Lava's abstract LIF models (lava.proc.lif.models) unchanged; only du, dv and vth are typed
as per-neuron arrays, and the threshold lines of Lava's ``PyLifModelFloat`` and
``PyLifModelBitAcc`` are repeated (Lava forbids subclassing a model that already
implements another Process). After Lava's step, u and v go out on ``u_out``/``v_out``
(a no-op where nothing is connected)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed, AbstractPyLifModelFloat

from hal.backends.lava_procs.lif.process import HeteroLIF


@implements(proc=HeteroLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyHeteroLifModelFloat(AbstractPyLifModelFloat):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: np.ndarray = LavaPyType(np.ndarray, float)
    vth: np.ndarray = LavaPyType(np.ndarray, float)

    def spiking_activation(self):
        return self.v > self.vth

    def run_spk(self):
        super().run_spk()
        self.u_out.send(self.u)
        self.v_out.send(self.v)


@implements(proc=HeteroLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyHeteroLifModelBitAcc(AbstractPyLifModelFixed):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    du: np.ndarray = LavaPyType(np.ndarray, np.uint16, precision=12)
    dv: np.ndarray = LavaPyType(np.ndarray, np.uint16, precision=12)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.effective_vth = 0

    def scale_threshold(self):
        self.effective_vth = np.left_shift(self.vth, self.vth_shift)
        self.isthrscaled = True

    def spiking_activation(self):
        return self.v > self.effective_vth

    def run_spk(self):
        super().run_spk()
        self.u_out.send(self.u)
        self.v_out.send(self.v)
