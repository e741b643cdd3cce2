"""One result base for every workload family: where it ran, how long it took, what fell
back, and provenance, serialised the same way.

Example:
    >>> import json, numpy as np
    >>> r = Result(target="cpu", backend="cpu_reference", precision="fixed",
    ...            timing={"run_s": np.float64(0.5)})
    >>> json.loads(json.dumps(r.to_dict()))["timing"]
    {'run_s': 0.5}
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(kw_only=True)
class Result:
    """Fields every result carries. Family results subclass it and add their payload in
    :meth:`_payload`; build them with keywords.

    Attributes:
        target: the target that produced the answer (after any fallback).
        backend: that target's backend.
        precision: ``fixed``, ``float``, ``exact`` or ``sampled``.
        timing: seconds per stage (``compile_s``, ``run_s``, ``solve_s``, ...).
        fallbacks: targets skipped on the way, each ``{"target", "reason"}``.
        provenance: versions, seed, options, target file, created.
    """

    target: str
    backend: str
    precision: str
    timing: dict[str, float] = field(default_factory=dict)
    fallbacks: list[dict[str, str]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def _payload(self) -> dict[str, Any]:
        """The family's own fields for :meth:`to_dict` (summaries, not bulk arrays)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """A dict that ``json.dumps`` always accepts (the CLI's ``--json``)."""
        base = {"target": self.target, "backend": self.backend, "precision": self.precision,
                **self._payload(), "timing": self.timing, "fallbacks": self.fallbacks,
                "provenance": self.provenance}
        return jsonable(base)


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays, tuples, sets, paths and dataclasses turned
    into JSON types; NaN and infinities become None (JSON has no such numbers).

    Example:
        >>> jsonable({"a": np.bool_(True), "b": (1, np.int64(2)), "c": float("nan")})
        {'a': True, 'b': [1, 2], 'c': None}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [jsonable(v) for v in items]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    return repr(obj)
