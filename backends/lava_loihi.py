"""Loihi 2 hardware through Lava: compiles (mapping, quantization) anywhere, runs only where
Intel's lava-loihi extension and a Loihi 2 system are reachable."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from hal.backend import Availability, Option, SpikingBackend
from hal.target import Target


class LavaLoihiBackend(SpikingBackend):
    """Loihi 2 chip. Availability needs lava-nc, lava-loihi and a Loihi host."""

    name = "lava_loihi"
    requires = ("lava",)
    install_hint = ("Loihi 2 access is through Intel's INRC (lava-loihi is not on PyPI); "
                    "use loihi2-sim for the bit-accurate simulation")
    options = {"timeout_s": Option(120.0, "wall-clock limit of one run on the chip, seconds",
                                   probe=1e-9)}

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

    def simulate(self, net: Any, x: Any, target: Target, options: dict[str, Any],
                 record: frozenset[str] = frozenset({"spikes"})) -> Any:
        """Not reachable today: :meth:`availability` is never ok without lava-loihi, and
        nq-hal has no chip to test a runner against. Says so instead of crashing."""
        from hal.errors import BackendUnavailable

        raise BackendUnavailable("running on Loihi 2 hardware is not implemented in this "
                                 "nq-hal release; use loihi2-sim (bit-accurate simulation)")
