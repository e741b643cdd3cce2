"""ProcessModel of ``SpikeRecorder``: each step stores the spikes and repacks only the
words that step touched (O(N) per step, no management phase)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from hal.backends.lava_procs.spike_recorder.process import BITS, SpikeRecorder

_PLACE = (1 << np.arange(BITS, dtype=np.int64))


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
class PySpikeRecorderModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    packed: np.ndarray = LavaPyType(np.ndarray, np.float64)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.n, self.steps = proc_params["shape"][0], proc_params["steps"]
        self.bits = np.zeros(0, bool)

    def run_spk(self):
        s = np.asarray(self.a_in.recv()).reshape(-1) != 0
        t = self.time_step - 1
        if t >= self.steps:
            return
        if self.bits.size == 0:
            self.bits = np.zeros(self.packed.size * BITS, bool)
        lo = t * self.n
        self.bits[lo:lo + self.n] = s
        w0, w1 = lo // BITS, (lo + self.n - 1) // BITS + 1
        self.packed[w0:w1] = self.bits[w0 * BITS:w1 * BITS].reshape(-1, BITS) @ _PLACE
