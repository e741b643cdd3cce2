"""The declared contracts every backend implements (in the spirit of dimod's ``Sampler``).

:class:`Backend` is what every backend shares: whether it can run here
(:meth:`Backend.availability`), the options it takes (each an :class:`Option` with a default
and a description), and the packages its provenance names. A backend then implements one
family contract per workload it runs, and the front door (``hal.compile``, ``hal.solve``)
calls exactly the methods these contracts declare, nothing else:

* :class:`SpikingBackend`: ``simulate`` a lowered spiking network over a batch of input
  streams, and ``open_spiking`` a :class:`Stepper` for a host loop.
* :class:`LiquidBackend`: ``open_liquid`` a :class:`Stepper` for a liquid network (CfC, LTC,
  multi-timescale); ``run`` steps it over a sequence.
* :class:`QuboBackend`: ``fits`` and ``solve`` a compiled QUBO-family problem.

Example:
    >>> import hal
    >>> b = hal.get_backend("cpu_reference")
    >>> b.availability().ok
    True
    >>> isinstance(b, SpikingBackend) and isinstance(b, LiquidBackend)
    True
    >>> hal.get_backend("lava_sim").options["timeout_s"].default
    300.0
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from hal.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np

    from hal.target import Target

#: what a spiking run can record per population; ``"spikes"`` is the default
RECORDABLE = ("spikes", "v", "u")

#: key of ``simulate``'s result holding, for networks with plastic connections, each one's
#: weights at every learning epoch's end: ``{"source->target": (B, epochs + 1, N, M)}`` in
#: float units, row 0 the compiled weights (:mod:`hal.snn.learning`)
WEIGHTS_KEY = "@weights"
#: key of a simulate() result holding what the backend counted while running (e.g.
#: ``{"spikes_dropped": n}``), reported in the result's provenance under ``runtime``
RUNTIME_KEY = "@runtime"


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


@dataclass(frozen=True)
class Option:
    """One backend option: its default, what it does, and a value other than the default
    that the conformance kit sets to prove the option is read (``probe``; None: the kit
    cannot pick one, e.g. a device name, and says so). ``fast``: a cheaper value (fewer
    reads, shots or iterations) that the kit uses for its own small runs where the target
    accepts it, so proving every option stays quick.

    Example:
        >>> Option(100, "samples drawn per call", probe=3).default
        100
    """

    default: Any
    doc: str
    probe: Any = None
    minimum: float | None = None  # smallest value accepted (counts: 1)
    fast: Any = None

    def check(self, name: str, value: Any) -> None:
        """Refuse a value a numeric option cannot take: not a finite number, not an
        integer where the default is one, negative where the default is not, or below
        ``minimum``. Non-numeric options are left to their backend."""
        d = self.default
        if value is None or isinstance(d, bool) or not isinstance(d, (int, float)):
            return
        from hal._checks import count, number

        if isinstance(d, int):
            count(value, f"option {name}", int(self.minimum if self.minimum is not None
                                               else 0 if d >= 0 else -2**63))
        else:
            low = self.minimum if self.minimum is not None else 0.0 if d >= 0 else None
            number(value, f"option {name}", low)


@runtime_checkable
class Stepper(Protocol):
    """State held on a backend between host-loop steps (what ``exe.open()`` wraps).

    ``step`` takes a (B, n_in) input (liquid steppers also a timespan) and returns that
    step's outputs for the B streams; ``reset`` zeroes the state; ``close`` releases it.
    """

    def step(self, x: np.ndarray, *args: Any) -> Any: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class Backend:
    """What every backend declares.

    Subclasses set the class attributes and implement one or more family contracts
    (:class:`SpikingBackend`, :class:`LiquidBackend`, :class:`QuboBackend`).
    :meth:`availability` by default checks that every module in ``requires`` can be
    imported, without importing it.

    Attributes:
        name: registry name (the entry point name).
        requires: importable modules the backend needs.
        install_hint: what to install when one is missing.
        packages: distributions whose versions go into every result's provenance.
        options: option name -> :class:`Option`; any other name is refused.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""
    packages: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Option]] = {}

    @property
    def workloads(self) -> tuple[str, ...]:
        """The workload families this backend runs (from the contracts it implements)."""
        return tuple(w for w, base in CONTRACTS.items() if isinstance(self, base))

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

    def resolve_options(self, target: Target, given: dict[str, Any] | None,
                        extra: dict[str, Option] | None = None) -> dict[str, Any]:
        """Merge defaults < target options < caller's options; refuse unknown names.

        ``extra`` adds the options a workload family reads itself (its compiler's, such as
        ``v_scale``), so one call checks and defaults every option a caller may pass.
        """
        declared = {**(extra or {}), **self.options}
        merged = {k: o.default for k, o in declared.items()}
        for source, opts in (("target " + target.name, target.options), ("caller", given or {})):
            unknown = sorted(set(opts) - set(declared))
            if unknown:
                known = ", ".join(sorted(declared)) or "(none)"
                raise ValidationError(
                    f"backend '{self.name}': unknown option(s) {', '.join(unknown)} "
                    f"from {source}; known options: {known}"
                )
            merged.update(opts)
        for key, value in (given or {}).items():  # input validation
            declared[key].check(key, value)
        return merged


class SpikingBackend(Backend):
    """Runs lowered spiking networks (:class:`hal.compilers.snn.Lowered`).

    Attributes:
        learns: runs plastic connections (:mod:`hal.snn.learning`); a backend that does
            not is refused a network with a learning rule at compile time.
        runtime_faults: fault kinds drawn during the run (``spike_drop``) that it
            carries out (:attr:`hal.compilers.snn.Lowered.runtime_faults`); a plan with
            any other runtime kind is refused at compile time.
    """

    learns: ClassVar[bool] = False
    runtime_faults: ClassVar[frozenset[str]] = frozenset()

    def simulate(self, net: Any, x: np.ndarray, target: Target, options: dict[str, Any],
                 record: frozenset[str] = frozenset({"spikes"})) -> dict[str, dict[str, Any]]:
        """Run ``x`` shaped (B, T, n_in) from zero state.

        Returns:
            population -> {key: array (B, T, N)} for each key in ``record`` (a subset of
            :data:`RECORDABLE`): ``spikes`` as bool, ``v`` and ``u`` as the backend's
            numbers (integers for fixed point). Keys not asked for may be left out. A
            network with plastic connections also returns their weight histories under
            :data:`WEIGHTS_KEY`.
        """
        raise NotImplementedError

    def open_spiking(self, net: Any, batch: int, target: Target, options: dict[str, Any],
                     record: frozenset[str] = frozenset({"spikes"})) -> Stepper:
        """A :class:`Stepper` for ``batch`` streams whose ``step`` returns, per population,
        a dict of the recorded keys shaped (B, N). Backends that cannot be stepped from
        the host raise :class:`hal.CompileError` saying which targets can."""
        from hal.errors import CompileError

        raise CompileError(f"backend '{self.name}' cannot be stepped from the host; use "
                           "cpu, cpu-float, torch or a loihi2-sim target")


class LiquidBackend(Backend):
    """Runs liquid networks: float IR nets, and on fixed-point targets the integer program
    :func:`hal.compilers.liquid.quantize_liquid` lowers them to."""

    def open_liquid(self, net: Any, batch: int, target: Target,
                    options: dict[str, Any]) -> Stepper:
        """A :class:`Stepper` for ``batch`` streams: ``step(u (B, n_in), timespan)``
        returns outputs (B, n_out)."""
        raise NotImplementedError


class QuboBackend(Backend):
    """Samples or solves a compiled QUBO-family problem (:class:`hal.compilers.qubo.Compiled`).

    ``variable_types`` names the dimod vartypes the backend takes (QUBO samplers take
    integers through a binary encoding; only exact MILP solvers take ``REAL``).
    """

    variable_types: ClassVar[tuple[str, ...]] = ("BINARY", "SPIN", "INTEGER")

    def fits(self, compiled: Any, target: Target) -> str | None:
        """None when ``compiled`` fits ``target``, else the reason it does not."""
        return None

    def solve(self, compiled: Any, target: Target, seed: int | None = None,
              **options: Any) -> Any:
        """Return a :class:`hal.qubo.result.Samples` (a dimod SampleSet and backend facts)."""
        raise NotImplementedError


#: workload family -> the contract a backend implements to run it
CONTRACTS: dict[str, type[Backend]] = {
    "spiking": SpikingBackend,
    "liquid": LiquidBackend,
    "qubo": QuboBackend,
}
