"""The exceptions nq-hal raises.

Every error is a :class:`HALError` and also the builtin it resembles, so callers can catch
either. Messages name the culprit (file and line, node, field) and say what to do.
"""

from __future__ import annotations


class HALError(Exception):
    """Root of every error raised by nq-hal."""


class ValidationError(HALError, ValueError):
    """User input (a file, a network, a problem, an option) is malformed."""


class TargetNotFound(HALError, LookupError):
    """No target of that name exists in hw_configs/ or HAL_TARGETS_PATH."""


class UnknownBackend(HALError, LookupError):
    """No backend of that name is registered."""


class BackendUnavailable(HALError, RuntimeError):
    """The backend cannot run here (missing SDK, no hardware); the message says why."""


class DoesNotFit(HALError, ValueError):
    """The workload exceeds a limit of the target (cores, qubits, variables, bits)."""


class CompileError(HALError, ValueError):
    """A workload cannot be lowered to the target (no rule for a node type, say)."""


class HALTimeoutError(HALError, TimeoutError):
    """A backend run exceeded its time limit."""


class MissingPackage(HALError, ImportError):
    """An optional package a feature needs is not installed; the message says which."""
