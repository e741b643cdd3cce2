"""Input faults, applied on the host before any backend sees the input, so every target
gets the same perturbed input.

- ``input_noise`` (rate): on 0/1 spike input each bit flips with probability ``rate``; on
  analog input, Gaussian noise of std ``rate`` times the input's largest magnitude. Sample
  ``b`` draws from the stream ``(fault_seed, run seed, crc32 of its input)``, so a sample's
  noise does not depend on how samples are batched. A session cannot see a whole sample
  ahead, so there each step's 0/1 input flips bits drawn from ``(fault_seed, session step,
  stream)`` (:func:`noisy_step`): reproducible from session to session, the run's
  statistics but not its very draw. Analog input noise needs the whole sample (its scale
  is the sample's largest magnitude), so a session refuses it: use ``exe.run``.
- ``adversarial`` (epsilon): a one-step FGSM attack (Goodfellow et al., 2015) on analog
  samples in [0, 1], before encoding: ``x + eps * sign(grad)``, clipped to [0, 1]. The
  gradient is taken on a rate surrogate of the float network: each population's rate is
  ``relu((W r_source + bias) / vth)`` over feed-forward connections in depth
  order (recurrent connections and delays ignored), inputs' rates equal to ``x``; the loss
  raises the best wrong class over the surrogate's own prediction (untargeted, no labels
  needed). It needs analog samples and an encoder (``predict``, ``run(encoder=...)``).

Example:
    >>> import numpy as np
    >>> from hal.faults.inputs import noisy
    >>> x = np.zeros((2, 100, 8))
    >>> y = noisy(x, 0.1, fault_seed=1, seed=0)
    >>> bool(0.05 < y.mean() < 0.15), set(np.unique(y)) <= {0.0, 1.0}
    (True, True)
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from hal.errors import ValidationError


def noisy(x: np.ndarray, rate: float, fault_seed: int, seed: int) -> np.ndarray:
    """``x`` (B, T, n) with input noise of ``rate`` (see the module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    binary = bool(np.isin(x, (0.0, 1.0)).all())
    scale = float(np.abs(x).max(initial=0)) or 1.0
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        rng = np.random.default_rng([int(fault_seed), int(seed), zlib.crc32(b"input_noise"),
                                     zlib.crc32(x[b].tobytes())])
        out[b] = _noise(x[b], rate, rng, binary, scale)
    return out


def noisy_step(x: np.ndarray, rate: float, fault_seed: int, step: int) -> np.ndarray:
    """One session step's 0/1 input (B, n) with each bit flipped with probability ``rate``,
    drawn per stream ``b`` from ``(fault_seed, step, b)``.

    Example:
        >>> y = noisy_step(np.zeros((2, 1000)), 0.1, fault_seed=1, step=0)
        >>> bool(0.05 < y.mean() < 0.15), bool((y[0] != y[1]).any())
        (True, True)
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValidationError("input_noise in a session flips 0/1 spike inputs; analog "
                              "input noise is scaled by the whole sample, so run it with "
                              "exe.run (or encode to spikes first)")
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        rng = np.random.default_rng([int(fault_seed), int(step), zlib.crc32(b"input_noise"),
                                     b])
        out[b] = _noise(x[b], rate, rng, True, 1.0)
    return out


def _noise(x: np.ndarray, rate: float, rng: np.random.Generator, binary: bool,
           scale: float) -> np.ndarray:
    """Bits flipped with probability ``rate`` (0/1 input), or Gaussian noise of std
    ``rate * scale`` (analog input)."""
    if binary:
        return np.where(rng.random(x.shape) < rate, 1.0 - x, x)
    return x + rate * scale * rng.standard_normal(x.shape)


def _forward(net: Any, x: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    order = sorted(net.populations, key=lambda p: net.depth.get(p, 0))
    rates, pre = {"input": x}, {}
    for name in order:
        p = net.populations[name]
        z = np.zeros((x.shape[0], p.size)) + p.bias
        for c in _feed(net, name):
            z = z + rates[c.source] @ _dense(c.weight).T
        vth = np.where(np.isfinite(p.vth) & (p.vth > 0), p.vth, 1.0)
        pre[name] = z / vth
        rates[name] = np.maximum(pre[name], 0.0)
    return rates, pre


def _feed(net: Any, name: str) -> list[Any]:
    d = net.depth.get(name, 0)
    return [c for c in net.connections if c.target == name and
            (c.source == "input" or net.depth.get(c.source, 0) < d)]


def _dense(m: Any) -> np.ndarray:
    return m.toarray() if hasattr(m, "toarray") else np.asarray(m, dtype=np.float64)


def fgsm(net: Any, x: np.ndarray, eps: float, output: str | None = None) -> np.ndarray:
    """One FGSM step of size ``eps`` on analog samples ``x`` (B, n_in) in [0, 1] against
    the float rate surrogate of ``net`` (module docstring); returns the perturbed samples.

    Example:
        >>> import hal, numpy as np
        >>> from hal.snn.ir import random_network
        >>> exe = hal.compile(random_network(4, 16, 3, seed=2), target="cpu-float")
        >>> x = np.random.default_rng(0).random((5, 4))
        >>> bool(np.abs(fgsm(exe.net, x, 0.1) - x).max() <= 0.1 + 1e-12)
        True
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != net.n_in:
        raise ValidationError(f"adversarial: needs analog samples shaped (B, {net.n_in}) "
                              f"before encoding, got {x.shape}; use predict() or "
                              "run(..., encoder=...)")
    out = output or net.outputs[0]
    rates, pre = _forward(net, x)
    z = rates[out]
    own = z.argmax(axis=1)
    wrong = np.where(np.eye(z.shape[1], dtype=bool)[own], -np.inf, z).argmax(axis=1)
    grad = {out: np.eye(z.shape[1])[wrong] - np.eye(z.shape[1])[own]}
    order = sorted(net.populations, key=lambda p: -net.depth.get(p, 0))
    gx = np.zeros_like(x)
    for name in order:
        if name not in grad:
            continue
        p = net.populations[name]
        vth = np.where(np.isfinite(p.vth) & (p.vth > 0), p.vth, 1.0)
        g = grad[name] * (pre[name] > 0) / vth
        for c in _feed(net, name):
            back = g @ _dense(c.weight)
            if c.source == "input":
                gx += back
            else:
                grad[c.source] = grad.get(c.source, 0) + back
    return np.clip(x + eps * np.sign(gx), 0.0, 1.0)
