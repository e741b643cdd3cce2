"""nq-hal: one API for neuromorphic and quantum/annealing backends.

Example:
    >>> import hal
    >>> sorted(t.name for t in hal.list_targets())[:3]
    ['aer-mps', 'aer-noisy', 'aer-statevector']

``import hal`` imports no backend SDK (lava, qiskit, dwave, torch): backends load lazily.
"""

from __future__ import annotations

from importlib import metadata

from hal.backend import Availability, Backend
from hal.errors import (
    BackendUnavailable,
    CompileError,
    DoesNotFit,
    HALError,
    HALTimeoutError,
    Infeasible,
    TargetNotFound,
    UnknownBackend,
    ValidationError,
)
from hal.registry import get_backend, list_backends, register_backend
from hal.select import FallbackWarning, Skip, select
from hal.target import Target, get_target, list_targets

try:
    __version__ = metadata.version("nq-hal")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

# Workload-family entry points, imported on first use so `import hal` stays light.
_LAZY = {
    "load": "hal.snn.api",
    "compile": "hal.workloads",
    "from_torch": "hal.liquid.torch_import",
    "compare": "hal.workloads",
    "SimResult": "hal.snn.result",
    "FidelityReport": "hal.snn.fidelity",
    "LiquidResult": "hal.liquid.api",
    "LiquidFidelity": "hal.liquid.api",
    "solve": "hal.workloads",
    "Workload": "hal.workloads",
    "load_executable": "hal.saved",
    "encode": "hal.snn.encode",
    "decode": "hal.snn.encode",
    "predict": "hal.snn.inference",
    "Prediction": "hal.snn.inference",
    "register_workload": "hal.workloads",
    "Stepper": "hal.backend",
    "Option": "hal.backend",
    "SpikingBackend": "hal.backend",
    "LiquidBackend": "hal.backend",
    "QuboBackend": "hal.backend",
    "AllocationProblem": "hal.qubo.problem",
    "MaxCutProblem": "hal.qubo.problem",
    "SolveResult": "hal.qubo.result",
    "Sampler": "hal.qubo.sampler",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hal' has no attribute '{name}'")


__all__ = [
    "Availability", "Backend", "BackendUnavailable", "CompileError", "DoesNotFit",
    "FallbackWarning", "HALError", "HALTimeoutError", "Infeasible", "Skip", "Target",
    "TargetNotFound",
    "UnknownBackend", "ValidationError", "get_backend", "get_target", "list_backends",
    "list_targets", "register_backend", "select", *_LAZY,
]
