"""Input arrays shared by the spiking and liquid executables."""

from __future__ import annotations

from typing import Any

import numpy as np

from hal._checks import count, finite_array
from hal.errors import ValidationError


def as_batch(inputs: Any, n_in: int, steps: int | None) -> tuple[np.ndarray, bool, int]:
    """``inputs`` (T, n_in) or (B, T, n_in) -> (B, steps, n_in) float64 (zero-padded or cut
    to ``steps``), whether it was a single stream, and the step count.

    Raises:
        ValidationError: ragged, non-numeric, complex, NaN or inf inputs, a wrong shape,
            or ``steps`` that is not a positive integer.
    """
    x = finite_array(inputs, "inputs")
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != n_in:
        raise ValidationError(f"inputs must be (T, {n_in}) or (B, T, {n_in}), got "
                              f"{np.shape(inputs)}")
    if x.shape[0] == 0:
        raise ValidationError("inputs: batch of 0 streams; give at least one")
    steps = count(x.shape[1] if steps is None else steps, "steps")
    if steps > x.shape[1]:
        x = np.concatenate([x, np.zeros((x.shape[0], steps - x.shape[1], n_in))], axis=1)
    return x[:, :steps], single, steps
