"""ProcessModels for ``LiquidCell``: ``floating_pt`` (float64) and ``fixed_pt`` (Q-format
integers). The equations are the reference kernels' (``hal.liquid.reference``: one
definition of the maths, so the fixed model is bit-exact with the ``cpu`` target by
construction); Lava supplies the process, its ports and the runtime that steps it."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from hal.backends.lava_procs.liquid.process import LiquidCell
from hal.liquid.reference import FixedLiquidStepper, LiquidStepper


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


@implements(proc=LiquidCell, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLiquidCellModelFixed(PyLoihiProcessModel):
    """Integer model: ports carry Q-format values (integers; Lava's Injector and Extractor
    channels are float, which holds them exactly up to 2**53)."""

    u_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    y_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.net = proc_params["net"]
        self.stepper = FixedLiquidStepper(self.net, proc_params["batch"])

    def run_spk(self) -> None:
        u = self.u_in.recv().reshape(self.stepper.batch, self.net.n_in).astype(np.int64)
        self.y_out.send(self.stepper.step_int(u).reshape(-1).astype(float))
