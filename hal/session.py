"""Sessions: a compiled program stepped from a host loop (hardware in the loop).

``session = exe.open()`` holds the program's state on its backend (numpy arrays, torch
tensors, or a running Lava network); ``session.step(x_t)`` advances one step and returns
that step's outputs; ``reset`` zeroes the state; ``close`` releases it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hal._checks import finite_array
from hal.errors import HALTimeoutError, ValidationError


def _first(y: Any) -> Any:
    """Stream 0 of every array in ``y`` (arrays, or dicts of them, nested)."""
    return {k: _first(v) for k, v in y.items()} if isinstance(y, dict) else y[0]


class Session:
    """State kept between :meth:`step` calls. Use as a context manager, or call
    :meth:`close`.

    Attributes:
        batch: number of streams, or None for one unbatched stream.
        steps: steps taken since the session opened or was last reset.
    """

    def __init__(self, stepper: Any, n_in: int, batch: int | None) -> None:
        self._stepper, self.n_in, self.batch, self.steps = stepper, n_in, batch, 0

    def _input(self, x_t: Any) -> np.ndarray:
        if self._stepper is None:
            raise ValidationError("session is closed; open a new one with exe.open()")
        x = finite_array(x_t, "step input")
        want = (self.n_in,) if self.batch is None else (self.batch, self.n_in)
        if x.shape != want:
            raise ValidationError(f"step input must have shape {want}, got {x.shape}")
        return x.reshape(-1, self.n_in)

    def _advance(self, x_t: Any, *args: Any) -> Any:
        """One step of the stepper on a checked input, unbatched as it came. A step that
        times out leaves the session closed (its backend has already released it)."""
        x = self._input(x_t)
        try:
            y = self._stepper.step(x, *args)
        except HALTimeoutError:
            self._stepper = None
            raise
        self.steps += 1
        if self.batch is not None:
            return y
        return _first(y)

    def reset(self) -> None:
        """Zero the state; the next step starts as from a fresh session."""
        if self._stepper is not None:
            self._stepper.reset()
        self.steps = 0

    def close(self) -> None:
        """Release the state (and, on Lava, stop the runtime). Safe to call twice."""
        if self._stepper is not None:
            stepper, self._stepper = self._stepper, None
            stepper.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
