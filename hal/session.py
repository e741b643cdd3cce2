"""Sessions: a compiled program stepped from a host loop (hardware in the loop).

``session = exe.open()`` holds the program's state on its backend (numpy arrays, torch
tensors, or a running Lava network); ``session.step(x_t)`` advances one step and returns
that step's outputs; ``reset`` zeroes the state; ``close`` releases it;
``session.latency()`` gives the measured wall time per step (p50/p95/p99, deadline
overruns).

A session the caller forgets to close is closed when it is garbage collected and, at the
latest, at interpreter exit (before multiprocessing waits for its children, so a forgotten
Lava session cannot keep Python from exiting). Ctrl-C during a step closes the session,
then the KeyboardInterrupt propagates.
"""

from __future__ import annotations

import array
import atexit
import time
import weakref
from typing import Any

import numpy as np

from hal._checks import finite_array
from hal.errors import HALTimeoutError, ValidationError

#: at interpreter exit, a backend gets this long to release a session before it forces
EXIT_GRACE_S = 2.0
_SESSIONS: weakref.WeakSet[Session] = weakref.WeakSet()
_state = {"exiting": False, "registered": False}


def exiting() -> bool:
    """True while open sessions are being closed at interpreter exit."""
    return _state["exiting"]


def _close_all() -> None:
    _state["exiting"] = True
    for session in list(_SESSIONS):
        session.close_quietly()


def _register_exit_hook() -> None:
    # atexit hooks run last-registered first: registering when the first session opens
    # (after its backend imported multiprocessing) closes sessions before
    # multiprocessing joins its children, which a running Lava network would block.
    if not _state["registered"]:
        atexit.register(_close_all)
        _state["registered"] = True


def _release(box: list) -> None:
    """Close the stepper in ``box`` once; errors are swallowed (GC and exit cannot report
    them usefully)."""
    stepper, box[0] = box[0], None
    if stepper is not None:
        try:
            stepper.close()
        except Exception:  # noqa: BLE001, S110 - nothing to report to at GC or exit
            pass


def _first(y: Any) -> Any:
    """Stream 0 of every array in ``y`` (arrays, or dicts of them, nested)."""
    return {k: _first(v) for k, v in y.items()} if isinstance(y, dict) else y[0]


class Session:
    """State kept between :meth:`step` calls. Use as a context manager, or call
    :meth:`close`.

    Attributes:
        batch: number of streams, or None for one unbatched stream.
        steps: steps taken since the session opened or was last reset.
        perturb: None, or ``(x (B, n_in), step) -> x`` applied to each checked input
            before the backend sees it (a faulty executable's input noise,
            :func:`hal.faults.inputs.noisy_step`).
    """

    def __init__(self, stepper: Any, n_in: int, batch: int | None) -> None:
        self._box = [stepper]  # shared with the finalizer, which must not hold self
        self.n_in, self.batch, self.steps = n_in, batch, 0
        self.perturb: Any = None
        self._step_s = array.array("d")  # wall time of each step, 8 bytes a step
        self._finalizer = weakref.finalize(self, _release, self._box)
        _SESSIONS.add(self)
        _register_exit_hook()

    @property
    def _stepper(self) -> Any:
        return self._box[0]

    @_stepper.setter
    def _stepper(self, value: Any) -> None:
        self._box[0] = value

    def close_quietly(self) -> None:
        """Close, swallowing errors (for GC and interpreter exit)."""
        self._finalizer()

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
        if self.perturb is not None:
            x = self.perturb(x, self.steps)
        t0 = time.perf_counter()
        try:
            y = self._stepper.step(x, *args)
            self._step_s.append(time.perf_counter() - t0)
        except HALTimeoutError:  # the overrun counts in latency()
            self._step_s.append(time.perf_counter() - t0)
            self._stepper = None
            raise
        except KeyboardInterrupt:  # Ctrl-C: release the backend, then let it propagate
            self.close_quietly()
            raise
        self.steps += 1
        if self.batch is not None:
            return y
        return _first(y)

    def latency(self, deadline_s: float | None = None) -> dict[str, Any]:
        """Measured host wall time of the steps since the session opened or was reset
        (the backend's step with its transfers, and a step that timed out; the session's
        shape checks excluded), in microseconds:
        count, mean, p50, p95, p99 and max; with ``deadline_s``, how many steps overran
        it. A measurement on this host, not an estimate for the hardware.

        Example:
            >>> import hal, numpy as np
            >>> from hal.snn.ir import random_network
            >>> exe = hal.compile(random_network(3, 5, 2, seed=1), target="cpu-float")
            >>> with exe.open() as s:
            ...     _ = [s.step(np.ones(3)) for _ in range(10)]
            ...     lat = s.latency(deadline_s=1.0)
            >>> lat["count"], lat["over_deadline"], lat["p50_us"] <= lat["p99_us"]
            (10, 0, True)
        """
        t = np.array(self._step_s, np.float64) * 1e6
        out: dict[str, Any] = {"count": int(t.size), "unit": "us", "measured": "host wall"}
        for key, q in (("p50_us", 50), ("p95_us", 95), ("p99_us", 99)):
            out[key] = float(np.percentile(t, q)) if t.size else None
        out["mean_us"] = float(t.mean()) if t.size else None
        out["max_us"] = float(t.max()) if t.size else None
        if deadline_s is not None:
            out["deadline_us"] = deadline_s * 1e6
            out["over_deadline"] = int((t > deadline_s * 1e6).sum())
        return out

    def reset(self) -> None:
        """Zero the state; the next step starts as from a fresh session."""
        if self._stepper is not None:
            self._stepper.reset()
        self.steps = 0
        self._step_s = array.array("d")

    def close(self) -> None:
        """Release the state (and, on Lava, stop the runtime). Safe to call twice."""
        if self._stepper is not None:
            stepper, self._stepper = self._stepper, None
            self._finalizer.detach()
            stepper.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
