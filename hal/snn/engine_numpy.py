"""The engine's fallback where numba is missing: the algorithm of :mod:`hal.snn.kernels`
vectorised over streams, one Python iteration per step.

Synaptic input per connection and step: the rows of the sources that are non-zero this
step, summed as a sparse x sparse product (cost grows with spikes x fan-out), or as a dense
product where the connection is stored dense (many sources active). Integer sums are
exact in float64 (every partial sum of 8-bit weights stays far below 2**53); graded inputs
are summed in float64 and truncated, as in the compiled loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from hal.snn import kernels


def _decay(x: np.ndarray, factor: np.ndarray, shift: int) -> np.ndarray:
    prod = x * factor
    return np.sign(prod) * np.right_shift(np.abs(prod), shift)


def step_fixed(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, p: dict, fmt: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One fixed-point neuron update of (B, N) states; returns (u, v, spikes)."""
    shift, align, top = (int(f) for f in fmt)
    unity = 2**shift
    u = _decay(u, unity - (p["du"] + 1), shift) + np.left_shift(a_in, align)
    wrapped = np.where(u > top, u - 2 * top, u)
    u = np.where(wrapped <= -top, u + 2 * top, wrapped)
    v = _decay(v, unity - p["dv"], shift) + u + p["bias"]
    v = np.clip(v, -top + 1, top - 1)
    spk = v > p["vth"]
    v[spk] = 0
    return u, v, spk


def step_float(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, p: dict, fmt: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One float64 neuron update (Lava ``floating_pt``); returns (u, v, spikes)."""
    u = u * (1 - p["du"]) + a_in
    v = v * (1 - p["dv"]) + u + p["bias"]
    spk = v > p["vth"]
    v[spk] = 0
    return u, v, spk


def _weights(engine: Any) -> list[Any]:
    """float64 weights by source per connection: dense rows or CSR (cached)."""
    if getattr(engine, "_np_weights", None) is None:
        engine._np_weights = [m.toarray().astype(np.float64) if d else m.astype(np.float64)
                              for m, d in zip(engine.plan.by_source, engine.plan.dense,
                                              strict=True)]
    return engine._np_weights


def _synaptic(src: np.ndarray, w: Any) -> np.ndarray:
    if isinstance(w, np.ndarray):
        return src @ w
    return (sp.csr_matrix(src) @ w).toarray()


def run_numpy(engine: Any, x: np.ndarray, rec: dict[str, np.ndarray]) -> None:
    """Advance ``engine`` over ``x`` (B, T, n_in), writing into ``rec`` in place."""
    p, B = engine.plan, engine.batch
    step = step_fixed if p.fixed else step_float
    weights = _weights(engine)
    bufs, off = [], 0
    for row in p.conn:
        size = (row[5] + 1) * B * row[3]
        bufs.append(engine.buf[off:off + size].reshape(row[5] + 1, B, row[3]))
        off += size
    for t in range(x.shape[1]):
        now = engine.t + t
        a_in = np.zeros_like(engine.u)
        for row, buf in zip(p.conn, bufs, strict=True):
            a_in[:, row[2]:row[2] + row[3]] += buf[now % (row[5] + 1)]
        engine.u, engine.v, spk = step(engine.u, engine.v, a_in, p.params, p.fmt)
        rec["spikes"][:, t] = spk
        for k in ("v", "u"):
            if rec[k].shape[1]:
                rec[k][:, t] = getattr(engine, k)
        sent = _drop(engine, spk, now) if p.drop_thr.size else spk
        for row, buf, w in zip(p.conn, bufs, weights, strict=True):
            src = x[:, t] if row[0] < 0 else sent[:, row[0]:row[0] + row[1]].astype(np.float64)
            acc = _synaptic(src, w)
            if p.fixed:
                acc = acc.astype(np.int64)  # truncation toward zero, as the compiled loop
                acc = acc << row[4] if row[4] >= 0 else acc >> -row[4]
            buf[now % (row[5] + 1)] = acc


def _drop(engine: Any, spk: np.ndarray, step: int) -> np.ndarray:
    """``spk`` (B, N) less the spikes lost in transit at ``step`` (the compiled loop's draw:
    :func:`hal.snn.kernels.drop_hash`), counted in ``engine.dropped``."""
    p = engine.plan
    b, n = np.nonzero(spk & (p.drop_thr != 0))
    drop_hash = getattr(kernels.drop_hash, "py_func", kernels.drop_hash)  # numpy, not numba
    with np.errstate(over="ignore"):
        lost = drop_hash(p.drop_seed, b.astype(np.uint64), np.uint64(step),
                         n.astype(np.uint64)) < p.drop_thr[n]
    sent = spk.copy()
    sent[b[lost], n[lost]] = False
    np.add.at(engine.dropped, b[lost], 1)
    return sent
