"""Checks of numbers a user hands to the API: arrays, counts, seeds.

Each raises :class:`hal.errors.ValidationError` naming the argument (``what``) and the
first bad value, so no numpy error reaches the user raw.

Example:
    >>> import numpy as np
    >>> finite_array([[0, 1], [1, 0]], "inputs").dtype
    dtype('float64')
    >>> count(3, "steps")
    3
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from hal.errors import ValidationError

#: seeds numpy, dimod and Aer all accept
SEED_MAX = 2**32 - 1


def finite_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array; refuses ragged, non-numeric, complex, NaN and inf."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        arr = value.astype(np.float64, copy=False)
    else:
        try:
            raw = np.asarray(value)
        except ValueError:
            raise ValidationError(f"{what}: ragged nested sequence (rows of different "
                                  "lengths); give a rectangular array") from None
        if raw.dtype.kind == "c":
            raise ValidationError(f"{what}: complex values are not accepted; pass the real "
                                  "part (np.real) if that is what you mean")
        if raw.dtype.kind not in "biuf":
            raise ValidationError(f"{what}: must be numbers, got {_first_non_number(raw)} "
                                  f"(array dtype {raw.dtype})")
        arr = raw.astype(np.float64)
    if not np.isfinite(arr).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValidationError(f"{what}: non-finite value {arr[idx]} at index {idx}; "
                              "replace NaN/inf before running")
    return arr


def _first_non_number(raw: np.ndarray) -> str:
    for v in raw.reshape(-1)[:1000]:
        if not isinstance(v, numbers.Real):
            return repr(v.item() if isinstance(v, np.generic) else v)[:80]
    return "a non-numeric value"


def number(value: Any, what: str, minimum: float | None = None,
           exclusive: bool = False) -> float:
    """A finite real number (not a bool), optionally ``>= minimum`` (``>`` if exclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{what}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValidationError(f"{what}: must be finite, got {value}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise ValidationError(f"{what}: must be {'>' if exclusive else '>='} {minimum:g}, "
                              f"got {value}")
    return float(value)


def count(value: Any, what: str, minimum: int = 1) -> int:
    """An integer (numpy integers too, not bools or floats) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{what}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValidationError(f"{what}: must be >= {minimum}, got {value}")
    return int(value)


def seed(value: Any) -> int | None:
    """None or an integer seed in 0 .. 2**32 - 1."""
    if value is None:
        return None
    s = count(value, "seed", minimum=0)
    if s > SEED_MAX:
        raise ValidationError(f"seed: must be <= {SEED_MAX} (2**32 - 1), got {s}")
    return s


def graph_numbers(graph: Any, source: str = "graph") -> None:
    """Refuse a NIR graph (nested graphs included) with a parameter array that is not
    numeric or holds NaN or inf, naming the node and the field."""
    stack = [("", graph)]
    while stack:
        prefix, g = stack.pop()
        for name, node in getattr(g, "nodes", {}).items():
            if hasattr(node, "nodes"):
                stack.append((f"{prefix}{name}.", node))
                continue
            for field, value in vars(node).items():
                if not isinstance(value, np.ndarray) or field.endswith("_type"):
                    continue
                if value.dtype.kind not in "biuf":
                    raise ValidationError(f"{source}: node '{prefix}{name}': {field} must be "
                                          f"numbers, got dtype {value.dtype}")
                if not np.isfinite(value).all():
                    raise ValidationError(f"{source}: node '{prefix}{name}': {field} holds "
                                          "NaN or inf; fix the exported model")
