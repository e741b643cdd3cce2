"""The small contract every backend implements (in the spirit of dimod's ``Sampler``).

A backend says whether it can run here (:meth:`Backend.availability`), which options it
takes, and turns a workload plus a target into something that runs. Spiking/liquid
backends (``family = "snn"``) return an executable from :meth:`Backend.compile` whose
``run`` gives a :class:`hal.snn.SimResult`; QUBO backends (``family = "qubo"``) implement
:meth:`Backend.solve` which gives a :class:`hal.qubo.SolveResult`.

Example:
    >>> import hal
    >>> b = hal.get_backend("cpu_reference")
    >>> b.availability().ok
    True
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hal.errors import ValidationError

if TYPE_CHECKING:
    from hal.target import Target


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here, and if not, why and how to fix it."""

    ok: bool
    reason: str = ""
    hint: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def describe(self) -> str:
        """One line for tables and error messages."""
        if self.ok:
            return "available"
        return f"{self.reason} ({self.hint})" if self.hint else self.reason


class Backend:
    """Base class of every backend.

    Subclasses set the class attributes and override :meth:`compile` (``snn``) or
    :meth:`solve` (``qubo``). :meth:`availability` by default checks that every module in
    ``requires`` can be imported, without importing it.

    Attributes:
        name: registry name (the entry point name).
        family: ``snn`` or ``qubo``.
        requires: importable modules the backend needs.
        install_hint: what to install when one is missing.
        options: option names mapped to their defaults; others are refused.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}

    def availability(self, target: Target | None = None) -> Availability:
        """Report whether this backend can run ``target`` here (default: any target)."""
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return Availability(False, f"python package '{module}' is not installed",
                                    self.install_hint)
        return Availability(True)

    def resolve_options(self, target: Target, given: dict[str, Any] | None) -> dict[str, Any]:
        """Merge defaults < target options < caller's options; refuse unknown names."""
        merged = dict(self.options)
        for source, opts in (("target " + target.name, target.options), ("caller", given or {})):
            unknown = sorted(set(opts) - set(self.options))
            if unknown:
                known = ", ".join(sorted(self.options)) or "(none)"
                raise ValidationError(
                    f"backend '{self.name}': unknown option(s) {', '.join(unknown)} "
                    f"from {source}; known options: {known}"
                )
            merged.update(opts)
        return merged

    def compile(self, workload: Any, target: Target, **options: Any) -> Any:
        """Lower ``workload`` for ``target``; spiking/liquid backends override this."""
        raise NotImplementedError(f"backend '{self.name}' does not compile networks")

    def solve(self, problem: Any, target: Target, **options: Any) -> Any:
        """Solve a QUBO-family problem; QUBO backends override this."""
        raise NotImplementedError(f"backend '{self.name}' does not solve problems")
