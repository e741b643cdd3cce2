"""Float ProcessModel for ``LiquidCell``. The equations are the cpu backend's
(``hal.backends.cpu_reference.cfc_step`` / ``ltc_step``: one definition of the maths);
Lava supplies the process, its ports and the runtime that steps it."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from hal.backends.cpu_reference import LiquidStepper
from hal.backends.lava_procs.liquid.process import LiquidCell


@implements(proc=LiquidCell, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLiquidCellModelFloat(PyLoihiProcessModel):
    u_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    y_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.net = proc_params["net"]
        self.stepper = LiquidStepper(self.net, proc_params["batch"])

    def run_spk(self) -> None:
        u = self.u_in.recv().reshape(self.stepper.batch, self.net.n_in)
        self.y_out.send(np.asarray(self.stepper.step(u)).reshape(-1))
