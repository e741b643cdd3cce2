"""click parameter types that refuse NaN and infinity (click's FloatRange lets NaN pass)."""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloat(click.ParamType):
    """A finite float, ``>= minimum`` (``>`` when ``exclusive``)."""

    name = "number"

    def __init__(self, minimum: float | None = None, exclusive: bool = False) -> None:
        self.minimum, self.exclusive = minimum, exclusive

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            f = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(f):
            self.fail(f"{value!r} is not finite", param, ctx)
        m = self.minimum
        if m is not None and (f <= m if self.exclusive else f < m):
            self.fail(f"{value!r} must be {'>' if self.exclusive else '>='} {m:g}", param, ctx)
        return f


#: a seed numpy, dimod and Aer all accept
SEED = click.IntRange(0, 2**32 - 1)
#: a count of at least one (steps, reads, reps, instance numbers)
POSITIVE_INT = click.IntRange(min=1)
