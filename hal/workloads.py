"""The front door: ``hal.compile``, ``hal.compare`` and ``hal.solve`` dispatch on the type
of what they are given, through a registry each workload family fills in.

A family (spiking networks, liquid networks, QUBO problems, or a third party's) declares a
:class:`Workload`: the types it takes, the file suffixes it reads, its result type and
the functions that compile, compare or solve. Families register through the
``hal.workloads`` entry-point group (as backends do through ``hal.backends``), so adding
one edits no other family's module. Types are named as ``"module:QualName"`` and resolved
only when their module is already imported, so ``import hal`` stays light and a torch
module is recognised without importing torch first.

Example:
    >>> import hal
    >>> from hal.snn.ir import random_network
    >>> workload_of(random_network(3, 5, 2, seed=1)).name
    'spiking'
    >>> sorted(w.name for w in list_workloads())
    ['liquid', 'qubo', 'spiking']
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from hal.errors import ValidationError

GROUP = "hal.workloads"


@dataclass(frozen=True)
class Workload:
    """One workload family's declaration.

    Attributes:
        name: the family (a key of :data:`hal.backend.CONTRACTS`).
        accepts: ``"module:QualName"`` of every type ``compile``/``solve`` takes.
        suffixes: file suffixes read as this family's input (``.nir``; ``*``: any file).
        results: ``"module:QualName"`` of the result type(s) ``compare`` takes.
        compile: ``"module:function"`` that compiles an accepted object, or None.
        compare: ``"module:function"`` comparing two results, or None.
        solve: ``"module:function"`` that solves an accepted object, or None.
        load: ``"module:function"`` rebuilding an executable saved with ``exe.save``
            from ``(metadata, arrays, nir_graph_or_None)`` (see :mod:`hal.saved`).
    """

    name: str
    accepts: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    compile: str | None = None
    compare: str | None = None
    solve: str | None = None
    load: str | None = None

    def takes(self, obj: Any) -> bool:
        """Whether ``obj`` is one of the types (or a file with a suffix) this family takes."""
        if isinstance(obj, (str, Path)):
            return "*" in self.suffixes or Path(obj).suffix.lower() in self.suffixes
        return _isinstance(obj, self.accepts)

    def produced(self, result: Any) -> bool:
        """Whether ``result`` is one of this family's result types."""
        return _isinstance(result, self.results)

    def call(self, role: str, *args: Any, **kwargs: Any) -> Any:
        """Call this family's ``compile``, ``compare``, ``solve`` or ``load`` function."""
        path = getattr(self, role)
        module, _, name = path.partition(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)


def _resolve(spec: str) -> type | None:
    module, _, qual = spec.partition(":")
    if module not in sys.modules:
        return None  # nobody can hold an instance of a type whose module is not imported
    obj: Any = sys.modules[module]
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def _isinstance(obj: Any, specs: tuple[str, ...]) -> bool:
    return any((cls := _resolve(s)) is not None and isinstance(obj, cls) for s in specs)


@functools.cache
def _entry_point_workloads() -> tuple[Workload, ...]:
    found = []
    for ep in entry_points(group=GROUP):
        w = ep.load()
        if not isinstance(w, Workload):
            raise ValidationError(f"entry point {GROUP}:{ep.name} ({ep.value}) is not a "
                                  "hal.workloads.Workload")
        found.append(w)
    return tuple(found)


_runtime: dict[str, Workload] = {}


def register_workload(workload: Workload) -> None:
    """Register a family at run time (the ``hal.workloads`` entry point is the usual
    route)."""
    _runtime[workload.name] = workload


def list_workloads() -> list[Workload]:
    """Every registered family (run-time registrations override entry points)."""
    named = {w.name: w for w in _entry_point_workloads()}
    named.update(_runtime)
    return list(named.values())


def workload_of(obj: Any, role: str = "compile") -> Workload:
    """The family whose ``role`` (``compile`` or ``solve``) takes ``obj``.

    Raises:
        ValidationError: no family takes it; the message lists what each one takes.
    """
    families = [w for w in list_workloads() if getattr(w, role)]
    for w in families:
        if w.takes(obj):
            return w
    takes = "; ".join(f"{w.name}: {', '.join(s.split(':')[-1] for s in w.accepts)}"
                      + (f" or {'/'.join(w.suffixes)} files" if w.suffixes else "")
                      for w in families)
    what = f"file '{obj}'" if isinstance(obj, (str, Path)) else type(obj).__name__
    raise ValidationError(f"hal.{role} cannot take a {what}; it takes {takes}")


def compile(workload: Any, target: Any = "cpu", **options: Any) -> Any:
    """Compile a network for ``target``: a NIR graph or ``.nir`` file, a liquid net
    (``CfCNet``, ``LTCNet``, ``MultiTimescaleNet``) or a torch module ``hal.from_torch``
    reads, or any type a registered family takes. See :func:`hal.snn.api.compile` and
    :func:`hal.liquid.api.compile` for the options."""
    return workload_of(workload).call("compile", workload, target, **options)


def solve(problem: Any, target: Any = "highs", **options: Any) -> Any:
    """Solve a problem on ``target`` (see :func:`hal.qubo.api.solve`)."""
    return workload_of(problem, "solve").call("solve", problem, target, **options)


def compare(result: Any, reference: Any, **thresholds: Any) -> Any:
    """Compare two runs of the same workload on the same input (a fixed-point target
    against a float one, Lava against cpu). Both must come from the same family."""
    for w in list_workloads():
        if w.compare and w.produced(result):
            if not w.produced(reference):
                raise ValidationError(f"cannot compare a {type(result).__name__} with a "
                                      f"{type(reference).__name__}: run the same workload "
                                      "on both targets")
            return w.call("compare", result, reference, **thresholds)
    raise ValidationError(f"hal.compare takes results of hal runs, not "
                          f"{type(result).__name__}")
