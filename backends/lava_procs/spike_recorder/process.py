"""``SpikeRecorder``: records the spikes on its InPort, packed ``BITS`` to a float64 word.

Why: reading a Var back from a Lava process sends one channel message per element
(``PyLoihiProcessModel._get_var`` iterates over the array), so a Monitor or sink
RingBuffer holding N x T spikes costs N x T messages after the run (about 6 s for
N = 1000, T = 200 here), most of a recorded run's time. Packed, the same spikes take
N x T / 48 messages.
"""

from __future__ import annotations

import math

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

#: spikes per float64 word (exact integers below 2**53)
BITS = 48


class SpikeRecorder(AbstractProcess):
    """Spikes of ``shape`` neurons over ``steps`` steps; :func:`unpack` reads them."""

    def __init__(self, *, shape: tuple[int, ...], steps: int, **kwargs) -> None:
        super().__init__(shape=shape, steps=steps, **kwargs)
        n = math.prod(shape)
        self.a_in = InPort(shape=shape)
        self.packed = Var(shape=(max(1, math.ceil(n * steps / BITS)),), init=0)
        self.n, self.steps = n, steps

    def spikes(self) -> np.ndarray:
        """The recorded spikes, (steps, N) bool (call after the run, before stop)."""
        return unpack(np.asarray(self.packed.get()), self.n, self.steps)


def unpack(packed: np.ndarray, n: int, steps: int) -> np.ndarray:
    """Words of ``BITS`` spikes (lowest bit first) -> (steps, n) bool."""
    words = packed.astype(np.int64)[:, None]
    bits = (words >> np.arange(BITS, dtype=np.int64)) & 1
    return bits.ravel()[:n * steps].reshape(steps, n).astype(bool)
