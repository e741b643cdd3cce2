"""Loihi 2 hardware through Lava: compiles (mapping, quantization) anywhere, runs only where
Intel's lava-loihi extension and a Loihi 2 system are reachable."""

from __future__ import annotations

import importlib.util
import os

from hal.backend import Availability, Backend
from hal.target import Target


class LavaLoihiBackend(Backend):
    """Loihi 2 chip. Availability needs lava-nc, lava-loihi and a Loihi host."""

    name = "lava_loihi"
    family = "snn"
    requires = ("lava",)
    install_hint = ("Loihi 2 access is through Intel's INRC (lava-loihi is not on PyPI); "
                    "use loihi2-sim for the bit-accurate simulation")
    options = {"timeout_s": 120, "compensate_delay": False}

    def availability(self, target: Target | None = None) -> Availability:
        try:
            found = importlib.util.find_spec("lava.magma.compiler.subcompilers.nc") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return Availability(False, "no Loihi hardware: Intel's lava-loihi extension is "
                                "not installed", self.install_hint)
        if not (os.environ.get("LOIHI_GEN") or os.environ.get("PARTITION")):
            return Availability(False, "lava-loihi found but no Loihi system is configured "
                                "(LOIHI_GEN/PARTITION unset)", self.install_hint)
        return Availability(True)
