"""Lowering rules, registered by IR type (``compilers.snn``: NIR nodes; ``compilers.liquid``:
liquid nets to fixed point; ``compilers.qubo``/``qaoa``/``milp``: allocation problems)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def register_rule(table: dict[type, Any], types: tuple[type, ...]) -> Callable:
    """A decorator that files its function in ``table`` under each of ``types``."""
    def deco(fn):
        for t in types:
            table[t] = fn
        return fn
    return deco
