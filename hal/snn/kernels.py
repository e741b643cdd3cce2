"""The spiking engine's inner time loop as plain-Python loops that numba compiles
(:func:`compiled` jits them lazily; ``import hal`` never imports numba).

One call runs ``T`` steps of ``B`` streams without returning to Python. Per stream and
step, in Lava's order (the equations are in :mod:`hal.backends.cpu_reference`):

1. every connection delivers its ring-buffer slot ``step % (delay + 1)`` to its targets;
2. every neuron updates (fixed point: 24-bit wrap of u, saturation of v; float: Lava's
   ``floating_pt`` form) and spikes;
3. every connection adds the weight rows of its sources that are non-zero this step (a
   spike that was not dropped in transit, or a graded input value) into the same slot,
   to be read ``delay + 1`` steps later. Rows are CSR by source, or dense rows where a
   connection is dense (contiguous adds, no index reads). Fixed point sums integers
   exactly (graded inputs in float64, truncated to integers, as Lava's Dense does), then
   shifts by the weight exponent.

Connection tables (one entry per connection k): ``src`` (-1 for the input, else the
first neuron of the source population), ``n_src``, ``tgt`` (first target neuron),
``n_tgt``, ``exp``, ``delay``, ``dense`` (1: dense rows), ``ptr`` (offset into
``indptr`` or ``rows``), ``boff`` (offset of its (delay+1, B, n_tgt) ring buffer).

Spike drop (a runtime fault, :mod:`hal.faults.inject`): ``drop_thr`` holds per neuron
``rate * 2**53`` (0: never dropped; an empty array: no drop at all); neuron ``n``'s spike of
stream ``b`` at ``step`` is lost when ``drop_hash(seed, b, step, n) < drop_thr[n]``, and
``dropped[b]`` counts the losses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

prange = range  # numba.prange once compiled

TABLE = ("src", "n_src", "tgt", "n_tgt", "exp", "delay", "dense", "ptr", "boff", "nz")


_M1, _M2, _M3 = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03, 0xCA5A826395121157
_M4, _M5 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def drop_hash(seed, b, step, n):
    """53 uniform bits per (seed, stream, step, neuron): splitmix64's finaliser on a
    weighted sum of the four, all in uint64 (works on numpy arrays too)."""
    z = (np.uint64(seed) + np.uint64(b) * np.uint64(_M1) + np.uint64(step) * np.uint64(_M2)
         + np.uint64(n) * np.uint64(_M3))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M4)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M5)
    return (z ^ (z >> np.uint64(31))) >> np.uint64(11)


def _drop(b, step, spk, sent, drop_thr, drop_seed, dropped):
    """``sent`` = ``spk`` less the spikes lost in transit this step."""
    for n in range(spk.shape[0]):
        sent[n] = spk[n]
        if spk[n] != 0 and drop_thr[n] != 0 and \
                drop_hash(drop_seed, b, step, n) < drop_thr[n]:
            sent[n] = 0
            dropped[b] += 1


def _deliver(k, conn, b, B, step, buf, a):
    n_tgt, tgt, boff = conn[k, 3], conn[k, 2], conn[k, 8]
    base = boff + ((step % (conn[k, 5] + 1)) * B + b) * n_tgt
    for i in range(n_tgt):
        a[tgt + i] += buf[base + i]
    return base


def _accumulate(k, conn, src_vals, indptr, indices, data, rows, acc):
    """acc[:n_tgt] = sum over non-zero sources j of src_vals[j] * row_j."""
    n_src, n_tgt, ptr = conn[k, 1], conn[k, 3], conn[k, 7]
    for i in range(n_tgt):
        acc[i] = 0
    for j in range(n_src):
        s = src_vals[j]
        if s == 0:
            continue
        if conn[k, 6]:
            r = ptr + j * n_tgt
            for i in range(n_tgt):
                acc[i] += s * rows[r + i]
        else:
            for p in range(indptr[ptr + j], indptr[ptr + j + 1]):
                acc[indices[p]] += s * data[p]


def _stream_fixed(b, x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data, rows,
                  buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped):
    """Stream ``b``, fixed point. ``fmt`` = (decay_bits, align_bits, 2**(state_bits-1));
    ``rec_v`` and ``rec_u`` have zero steps when not recorded."""
    B, T, _ = x.shape
    N, K = u.shape[1], conn.shape[0]
    shift, align, top = fmt[0], fmt[1], fmt[2]
    unity = 1 << shift
    nmax = 1
    for k in range(K):
        nmax = max(nmax, conn[k, 3])
    a = np.zeros(N, np.int64)
    spk = np.zeros(N, np.int64)
    sent = np.zeros(N, np.int64) if drop_thr.shape[0] else spk
    acc = np.zeros(nmax, np.float64)
    iacc = np.zeros(nmax, np.int64)
    for t in range(T):
        step = t0 + t
        a[:] = 0
        for k in range(K):
            _deliver(k, conn, b, B, step, buf, a)
        for n in range(N):
            p = u[b, n] * (unity - du[n] - 1)
            uu = (p >> shift) if p >= 0 else -((-p) >> shift)
            uu += a[n] << align
            if uu > top:
                uu -= 2 * top
            elif uu <= -top:
                uu += 2 * top
            p = v[b, n] * (unity - dv[n])
            vv = ((p >> shift) if p >= 0 else -((-p) >> shift)) + uu + bias[n]
            vv = min(max(vv, -top + 1), top - 1)
            spk[n] = 1 if vv > vth[n] else 0
            if spk[n]:
                vv = 0
            u[b, n], v[b, n] = uu, vv
            rec_s[b, t, n] = spk[n] != 0
        if rec_v.shape[1]:
            rec_v[b, t] = v[b]
        if rec_u.shape[1]:
            rec_u[b, t] = u[b]
        if drop_thr.shape[0]:
            _drop(b, step, spk, sent, drop_thr, drop_seed, dropped)
        for k in range(K):
            n_tgt, e = conn[k, 3], conn[k, 4]
            base = conn[k, 8] + ((step % (conn[k, 5] + 1)) * B + b) * n_tgt
            if conn[k, 0] < 0:
                _accumulate(k, conn, x[b, t], indptr, indices, data, rows, acc)
                for i in range(n_tgt):
                    iacc[i] = np.int64(acc[i])  # truncation toward zero
            else:
                s0 = conn[k, 0]
                _accumulate(k, conn, sent[s0:s0 + conn[k, 1]], indptr, indices, data,
                            rows, iacc)
            for i in range(n_tgt):
                buf[base + i] = (iacc[i] << e) if e >= 0 else (iacc[i] >> -e)


def _stream_float(b, x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data, rows,
                  buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped):
    """Stream ``b``, float64, Lava's ``floating_pt`` equations (``fmt`` unused)."""
    B, T, _ = x.shape
    N, K = u.shape[1], conn.shape[0]
    nmax = 1
    for k in range(K):
        nmax = max(nmax, conn[k, 3])
    a = np.zeros(N, np.float64)
    spk = np.zeros(N, np.float64)
    sent = np.zeros(N, np.float64) if drop_thr.shape[0] else spk
    acc = np.zeros(nmax, np.float64)
    for t in range(T):
        step = t0 + t
        a[:] = 0
        for k in range(K):
            _deliver(k, conn, b, B, step, buf, a)
        for n in range(N):
            uu = u[b, n] * (1 - du[n]) + a[n]
            vv = v[b, n] * (1 - dv[n]) + uu + bias[n]
            spk[n] = 1.0 if vv > vth[n] else 0.0
            if vv > vth[n]:
                vv = 0.0
            u[b, n], v[b, n] = uu, vv
            rec_s[b, t, n] = spk[n] > 0
        if rec_v.shape[1]:
            rec_v[b, t] = v[b]
        if rec_u.shape[1]:
            rec_u[b, t] = u[b]
        if drop_thr.shape[0]:
            _drop(b, step, spk, sent, drop_thr, drop_seed, dropped)
        for k in range(K):
            n_tgt = conn[k, 3]
            base = conn[k, 8] + ((step % (conn[k, 5] + 1)) * B + b) * n_tgt
            s0 = conn[k, 0]
            src = x[b, t] if s0 < 0 else sent[s0:s0 + conn[k, 1]]
            _accumulate(k, conn, src, indptr, indices, data, rows, acc)
            for i in range(n_tgt):
                buf[base + i] = acc[i]


# Serial and parallel drivers are separate functions on purpose: numba's on-disk cache
# keys a function by its source location and signature, not by ``parallel``, so one
# function compiled both ways would load whichever variant was cached first.
def run_fixed(x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data, rows, buf,
              rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped):
    """Fixed point, streams one after another."""
    for b in range(x.shape[0]):
        _stream_fixed(b, x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data,
                      rows, buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped)


def run_fixed_parallel(x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data, rows,
                       buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped):
    """Fixed point, streams spread over numba's threads (they share nothing)."""
    for b in prange(x.shape[0]):
        _stream_fixed(b, x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data,
                      rows, buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped)


def run_float(x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data, rows, buf,
              rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped):
    """Float64, streams one after another."""
    for b in range(x.shape[0]):
        _stream_float(b, x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data,
                      rows, buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped)


def run_float_parallel(x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data, rows,
                       buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped):
    """Float64, streams spread over numba's threads."""
    for b in prange(x.shape[0]):
        _stream_float(b, x, t0, u, v, du, dv, vth, bias, fmt, conn, indptr, indices, data,
                      rows, buf, rec_s, rec_v, rec_u, drop_thr, drop_seed, dropped)


_COMPILED: dict[str, Callable] = {}
_HELPERS = ("drop_hash", "_drop", "_deliver", "_accumulate", "_stream_fixed",
            "_stream_float")


def compiled(name: str, parallel: bool = False) -> Callable | None:
    """The numba-compiled ``run_fixed`` or ``run_float`` (their ``_parallel`` variants when
    ``parallel``: streams spread over numba's threads, same results), or None where numba
    is missing. Compiled on first use and cached on disk by numba. Throughput against a
    numpy loop and Lava: ``bench/snn_throughput.py``."""
    name = f"{name}_parallel" if parallel else name
    if name not in _COMPILED:
        try:
            import numba
        except ImportError:
            return None
        g = globals()
        g["prange"] = numba.prange
        for helper in _HELPERS:
            if not hasattr(g[helper], "py_func"):
                g[helper] = numba.njit(cache=True, nogil=True)(g[helper])
        _COMPILED[name] = numba.njit(cache=True, nogil=True, parallel=parallel)(g[name])
    return _COMPILED[name]
