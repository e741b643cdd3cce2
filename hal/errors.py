"""The exceptions nq-hal raises.

Every error is a :class:`HALError` and also the builtin it resembles, so callers can catch
either. Messages name the culprit (file and line, node, field) and say what to do.
``exit_code`` is what the ``hal`` command exits with when the error reaches it: 2 for bad
input (the default), 1 for a run that finished but failed (an infeasible problem, a
timeout).
"""

from __future__ import annotations


class HALError(Exception):
    """Root of every error raised by nq-hal."""

    exit_code: int = 2


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

    exit_code = 1


class Infeasible(HALError, ValueError):
    """A problem has no feasible answer (proven, not merely none found); the message names
    the constraint group at fault where a cheap check can tell.

    Attributes:
        reasons: one line per reason found (empty when only the solver proved it).
    """

    exit_code = 1

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = list(reasons or [])


class MissingPackage(HALError, ImportError):
    """An optional package a feature needs is not installed; the message says which."""
