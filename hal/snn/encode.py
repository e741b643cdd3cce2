"""Spike encoders and decoders: analog values to spike trains on the host before a run, and
spike trains (or membrane voltages) back to numbers and class labels after it.

Encoding happens in numpy on the host, so the same seed gives the same spikes on every
target. Each sample (row) draws from its own random stream seeded ``(seed, row)``: the first
k rows of a data set encode exactly as they did inside the whole.

``hal.encode`` and ``hal.decode`` are registries by name, callable and dotted alike:

Example:
    >>> import numpy as np
    >>> from hal.snn.encode import encode, decode         # also hal.encode, hal.decode
    >>> x = np.array([[0.0, 0.5, 1.0]])                   # (B, n) intensities in [0, 1]
    >>> s = encode("rate", x, steps=400, seed=0)          # (B, T, n) 0/1 spikes
    >>> s.shape, float(s[0, :, 2].mean()), float(s[0, :, 0].sum())
    ((1, 400, 3), 1.0, 0.0)
    >>> encode.latency(x, steps=11)[0].argmax(axis=0).tolist()   # first spike steps
    [0, 5, 0]
    >>> decode("count", s).tolist()                       # spikes per output neuron
    [[0, 193, 400]]
    >>> decode.labels("count", s).tolist()                # class label per sample
    [2]
    >>> sorted(encode), sorted(decode)
    (['delta', 'latency', 'population', 'rate'], ['count', 'first_spike', 'membrane', 'rate'])

Peers: snnTorch ``spikegen`` (rate, latency, delta), Lava ``lava.proc.io.encoder``,
Bohte et al. 2002 (population coding by Gaussian receptive fields).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hal.errors import ValidationError

__all__ = ["ENCODERS", "DECODERS", "encode", "decode"]


class Registry(dict):
    """Functions by name; ``reg(name, ...)`` calls one, ``reg.name`` is one, and an unknown
    name raises a :class:`ValidationError` listing the known ones."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str, **meta: Any) -> Callable[[Callable], Callable]:
        """Decorator adding ``fn`` under ``name``; ``meta`` becomes attributes of ``fn``."""
        def add(fn: Callable) -> Callable:
            for k, v in meta.items():
                setattr(fn, k, v)
            self[name] = fn
            return fn
        return add

    def get_fn(self, name: str | Callable) -> Callable:
        """The function called ``name`` (a callable passes through)."""
        if callable(name):
            return name
        if name not in self:
            raise ValidationError(f"unknown {self.kind} '{name}'; known {self.kind}s: "
                                  f"{', '.join(sorted(self))}")
        return self[name]

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.get_fn(name)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in self:
            return self[name]
        raise AttributeError(f"{self.kind} registry has no '{name}'; known: "
                             f"{', '.join(sorted(self))}")


ENCODERS = Registry("encoder")
DECODERS = Registry("decoder")
#: ``hal.encode``: call ``hal.encode(name, x, steps=..., seed=...)`` or ``hal.encode.rate(...)``
encode = ENCODERS
#: ``hal.decode``: call ``hal.decode(name, spikes)`` or ``hal.decode.count(spikes)``
decode = DECODERS


def _static(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim not in (1, 2):
        raise ValidationError(f"encoder '{name}': x must be (n,) or (B, n) values, got shape "
                              f"{a.shape}")
    if not np.isfinite(a).all():
        raise ValidationError(f"encoder '{name}': x contains NaN or infinity")
    return a


def _unit(a: np.ndarray, name: str) -> None:
    if a.size and (a.min() < 0 or a.max() > 1):
        raise ValidationError(f"encoder '{name}': values must lie in [0, 1] (found "
                              f"{a.min():g} to {a.max():g}); scale the data first")


def _steps(steps: Any, name: str) -> int:
    if steps is None or int(steps) < 1:
        raise ValidationError(f"encoder '{name}' needs steps >= 1 (got {steps})")
    return int(steps)


def _rngs(seed: int, rows: int) -> list[np.random.Generator]:
    return [np.random.default_rng([int(seed), r]) for r in range(rows)]


@ENCODERS.register("rate")
def rate(x: Any, steps: int, seed: int = 0, gain: float = 1.0,
         method: str = "bernoulli") -> np.ndarray:
    """Rate code: each step a channel spikes with a probability set by its intensity.

    Args:
        x: intensities in [0, 1], shaped (n,) or (B, n).
        steps: time steps T.
        seed: random seed; row ``b`` draws from the stream seeded ``(seed, b)``.
        gain: scales the rate (``gain * x``, clipped to 1 for ``bernoulli``).
        method: ``bernoulli`` (P = gain x per step) or ``poisson`` (events of a Poisson
            process with gain x events per step; a step spikes if it holds at least one:
            P = 1 - exp(-gain x)).

    Returns:
        0/1 float array (T, n) or (B, T, n).

    Example:
        >>> s = rate(np.full(4, 0.25), steps=2000, seed=1)
        >>> s.shape, bool(abs(s.mean() - 0.25) < 0.02)
        ((2000, 4), True)
    """
    a = _static(x, "rate")
    _unit(a, "rate")
    T = _steps(steps, "rate")
    if method == "bernoulli":
        p = np.clip(gain * a, 0.0, 1.0)
    elif method == "poisson":
        p = 1.0 - np.exp(-gain * a)
    else:
        raise ValidationError(f"encoder 'rate': method must be 'bernoulli' or 'poisson', got "
                              f"'{method}'")
    rows = np.atleast_2d(p)
    out = np.stack([g.random((T, rows.shape[1])) < row for g, row in
                    zip(_rngs(seed, len(rows)), rows, strict=True)]).astype(np.float64)
    return out[0] if a.ndim == 1 else out


@ENCODERS.register("latency")
def latency(x: Any, steps: int, seed: int = 0, threshold: float = 0.01,
            method: str = "linear", tau: float = 1.0) -> np.ndarray:
    """Time-to-first-spike code: one spike per channel, earlier for larger values.

    Args:
        x: intensities in [0, 1], shaped (n,) or (B, n).
        steps: time steps T.
        seed: unused (the code is deterministic); accepted for a uniform signature.
        threshold: values below it never spike.
        method: ``linear``: spike at step round((1 - x) (T - 1)); ``log``: an RC neuron
            charged by x, spiking at t = tau ln(x / (x - threshold)) (snnTorch's
            ``spikegen.latency``), scaled so the largest finite time maps to T - 1.
        tau: RC time constant for ``log``.

    Returns:
        0/1 float array (T, n) or (B, T, n) with at most one spike per channel.

    Example:
        >>> latency(np.array([1.0, 0.5, 0.0]), steps=5).argmax(axis=0).tolist()
        [0, 2, 0]
    """
    a = _static(x, "latency")
    _unit(a, "latency")
    T = _steps(steps, "latency")
    fires = a >= max(threshold, 1e-12)
    if method == "linear":
        t = np.rint((1.0 - a) * (T - 1))
    elif method == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            t = tau * np.log(a / np.maximum(a - threshold, 1e-12))
        t = np.where(fires & (a > threshold), t, np.inf)
        top = np.max(t[np.isfinite(t)], initial=0.0)
        t = np.rint(np.where(np.isfinite(t), t / top if top > 0 else 0.0, 1.0) * (T - 1))
    else:
        raise ValidationError(f"encoder 'latency': method must be 'linear' or 'log', got "
                              f"'{method}'")
    t = np.clip(t, 0, T - 1).astype(int)
    out = (np.arange(T)[:, None] == t[..., None, :]) & fires[..., None, :]
    return out.astype(np.float64)


@ENCODERS.register("delta")
def delta(x: Any, steps: int | None = None, seed: int = 0, threshold: float = 0.1,
          off_channels: bool = True, start: float | str = 0.0) -> np.ndarray:
    """Delta (send-on-change) code of a signal: an ON spike when it has risen by
    ``threshold`` since the last event, an OFF spike when it has fallen by as much.

    At most one event per channel per step: the reference level moves one threshold per
    event, so the reconstruction ``ref0 + threshold * cumsum(on - off)`` stays within
    ``threshold`` of the signal wherever it moves less than ``threshold`` per step.

    Args:
        x: a signal (T, n) or (B, T, n); values need not lie in [0, 1].
        steps: T (None: the signal's length; longer pads with its last value).
        seed: unused (deterministic).
        threshold: the change that triggers an event (> 0).
        off_channels: append OFF channels (output (.., T, 2n): ON then OFF); False keeps
            ON events only (n channels; falling signals are then lost).
        start: the initial reference level, a number or ``"first"`` (the first sample).

    Returns:
        0/1 float array (T, 2n) or (B, T, 2n) (n channels without ``off_channels``).

    Example:
        >>> s = delta(np.array([[0.0], [0.25], [0.5], [0.25]]), threshold=0.25)
        >>> s[:, 0].tolist(), s[:, 1].tolist()                      # ON, OFF
        ([0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0])
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim not in (2, 3):
        raise ValidationError(f"encoder 'delta': x must be a signal (T, n) or (B, T, n), got "
                              f"shape {a.shape}")
    if not threshold > 0:
        raise ValidationError(f"encoder 'delta': threshold must be > 0, got {threshold}")
    b = a if a.ndim == 3 else a[None]
    T = b.shape[1] if steps is None else _steps(steps, "delta")
    if T > b.shape[1]:
        b = np.concatenate([b, np.repeat(b[:, -1:], T - b.shape[1], axis=1)], axis=1)
    b = b[:, :T]
    ref = b[:, 0].copy() if start == "first" else np.full(b[:, 0].shape, float(start))
    on, off = np.zeros(b.shape), np.zeros(b.shape)
    for t in range(T):
        up = b[:, t] - ref >= threshold
        down = ref - b[:, t] >= threshold
        on[:, t], off[:, t] = up, down
        ref += threshold * (up.astype(float) - down)
    out = np.concatenate([on, off], axis=2) if off_channels else on
    return out if a.ndim == 3 else out[0]


@ENCODERS.register("population")
def population(x: Any, steps: int, seed: int = 0, neurons: int = 8, sigma: float | None = None,
               low: float = 0.0, high: float = 1.0, code: str = "rate") -> np.ndarray:
    """Population code: each value drives ``neurons`` channels with Gaussian receptive
    fields centred evenly on [low, high] (Bohte et al. 2002); each channel's response
    exp(-(x - c)^2 / (2 sigma^2)) in [0, 1] is then rate or latency coded.

    Args:
        x: values shaped (n,) or (B, n), in [low, high].
        steps: time steps T.
        seed: random seed of the rate code.
        neurons: receptive fields per value (>= 2).
        sigma: field width (default: the spacing of the centres).
        low, high: the value range covered by the centres.
        code: ``rate`` or ``latency``.

    Returns:
        0/1 float array (T, n * neurons) or (B, T, n * neurons); channel ``i * neurons + j``
        is field ``j`` of value ``i``.

    Example:
        >>> s = population(np.array([0.0, 1.0]), steps=500, neurons=3, seed=0)
        >>> (s.mean(axis=0) > 0.5).astype(int).tolist()    # fields near each value fire most
        [1, 1, 0, 0, 1, 1]
    """
    a = _static(x, "population")
    if neurons < 2:
        raise ValidationError(f"encoder 'population': neurons must be >= 2, got {neurons}")
    if a.size and (a.min() < low or a.max() > high):
        raise ValidationError(f"encoder 'population': values must lie in [{low}, {high}] "
                              f"(found {a.min():g} to {a.max():g}); set low/high")
    centres = np.linspace(low, high, neurons)
    width = sigma if sigma is not None else (high - low) / (neurons - 1)
    resp = np.exp(-((a[..., None] - centres) ** 2) / (2 * width**2))
    resp = resp.reshape(*a.shape[:-1], a.shape[-1] * neurons)
    if code == "rate":
        return rate(resp, steps, seed=seed)
    if code == "latency":
        return latency(resp, steps, seed=seed)
    raise ValidationError(f"encoder 'population': code must be 'rate' or 'latency', got "
                          f"'{code}'")


# -- decoders ----------------------------------------------------------------------------

def _trains(s: Any, name: str) -> np.ndarray:
    a = np.asarray(s)
    if a.ndim not in (2, 3):
        raise ValidationError(f"decoder '{name}': expected (T, N) or (B, T, N), got shape "
                              f"{a.shape}")
    return a


@DECODERS.register("count", needs="spikes", pick="max")
def count(spikes: Any) -> np.ndarray:
    """Spikes per neuron over the run: (T, N) -> (N,), (B, T, N) -> (B, N) ints.

    Labels pick the neuron with the most spikes (ties: the lowest index).

    Example:
        >>> count(np.array([[1, 0], [1, 1], [0, 0]])).tolist()
        [2, 1]
    """
    return _trains(spikes, "count").sum(axis=-2).astype(np.int64)


@DECODERS.register("rate", needs="spikes", pick="max")
def rate_decode(spikes: Any, dt: float | None = None) -> np.ndarray:
    """Mean firing rate per neuron: spikes per step, or in Hz when ``dt`` (s) is given.

    Example:
        >>> rate_decode(np.array([[1, 0], [1, 1], [0, 0], [0, 0]]), dt=1e-3).tolist()
        [500.0, 250.0]
    """
    s = _trains(spikes, "rate")
    r = s.mean(axis=-2, dtype=np.float64)
    return r / dt if dt else r


@DECODERS.register("first_spike", needs="spikes", pick="min")
def first_spike(spikes: Any) -> np.ndarray:
    """Step of each neuron's first spike; T (one past the end) for a silent neuron.

    Labels pick the earliest neuron (ties: the lowest index).

    Example:
        >>> first_spike(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0]])).tolist()
        [1, 2, 3]
    """
    s = _trains(spikes, "first_spike").astype(bool)
    T = s.shape[-2]
    return np.where(s.any(axis=-2), s.argmax(axis=-2), T).astype(np.int64)


@DECODERS.register("membrane", needs="v", pick="max")
def membrane(v: Any, reduce: str = "max") -> np.ndarray:
    """Membrane readout of an output population from its voltage trace (T, N) or
    (B, T, N): the ``max`` (default), ``mean`` or ``last`` value over time.

    Use it with a non-spiking output (NIR ``LI``) or any population whose ``v`` is
    recorded (``record=("spikes", "v")``).

    Example:
        >>> membrane(np.array([[0.1, 0.5], [0.3, 0.2]]), reduce="last").tolist()
        [0.3, 0.2]
    """
    a = _trains(v, "membrane")
    if a.dtype == bool:
        raise ValidationError("decoder 'membrane' reads voltages, got spikes (bool); pass "
                              "res.states[POP]['v'] from a run with record=('spikes', 'v'), "
                              "or use the count, rate or first_spike decoder")
    a = a.astype(np.float64)
    ops = {"max": lambda: a.max(axis=-2), "mean": lambda: a.mean(axis=-2),
           "last": lambda: a[..., -1, :]}
    if reduce not in ops:
        raise ValidationError(f"decoder 'membrane': reduce must be one of {sorted(ops)}")
    return ops[reduce]()


def labels(name: str | Callable, data: Any, **options: Any) -> np.ndarray:
    """Class labels from decoder ``name`` applied to ``data`` (spikes, or v for
    ``membrane``): the neuron with the largest value, or the earliest for ``first_spike``.

    Example:
        >>> labels("first_spike", np.array([[0, 0], [0, 1], [1, 0]])).tolist()
        1
    """
    fn = DECODERS.get_fn(name)
    values = fn(data, **options)
    pick = getattr(fn, "pick", "max")
    return np.argmin(values, axis=-1) if pick == "min" else np.argmax(values, axis=-1)


DECODERS.labels = labels  # type: ignore[attr-defined]
