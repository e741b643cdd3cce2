"""The spiking engine behind the ``cpu`` and ``cpu-float`` targets: event-driven, batched,
and recording only what is asked.

Every population is laid out in one neuron index space; each connection keeps its weights
by source (CSR, or dense rows where it is dense) at the narrowest width that holds them
(:func:`hal.compilers.snn.int_width`). Each step adds the rows of the sources that spiked,
so the cost grows with spikes x fan-out, not N**2. Fixed point stays integer throughout,
so results are bit-exact with Lava's ``fixed_pt`` models by construction (the equations
are in :mod:`hal.backends.cpu_reference`).

The time loop runs compiled (:mod:`hal.snn.kernels`, numba) when numba is installed;
otherwise :mod:`hal.snn.engine_numpy` runs the same algorithm vectorised over streams,
with one Python iteration per step.

Example:
    >>> import hal, numpy as np
    >>> from hal.snn.ir import random_network
    >>> exe = hal.compile(random_network(3, 5, 2, seed=1), target="cpu")
    >>> eng = Engine(exe.net, batch=2, fixed=True, record=frozenset({"spikes", "v"}))
    >>> sorted(eng.run(np.ones((2, 10, 3)))["lif1"])
    ['spikes', 'v']
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from hal.compilers.snn import Lowered, int_width
from hal.errors import ValidationError
from hal.snn import kernels

#: a connection whose weights fill more than this fraction is stored as dense rows
DENSE_FRACTION = 0.3
#: ... unless its dense rows would exceed this many entries
DENSE_MAX_ENTRIES = 1 << 24
KERNELS = ("auto", "numba", "numpy")
SYNAPSES = ("auto", "event", "dense")


@dataclass
class Plan:
    """A lowered network flattened for the engine: per-neuron parameters, connection
    tables (:data:`hal.snn.kernels.TABLE`) and weights by source."""

    fixed: bool
    offsets: dict[str, tuple[int, int]]  # population -> (first neuron, size)
    params: dict[str, Any]
    fmt: np.ndarray
    conn: np.ndarray
    by_source: list[sp.csr_matrix]  # (n_src, n_tgt) per connection, narrow dtype
    dense: list[bool]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    rows: np.ndarray
    drop_thr: np.ndarray  # spike drop: per neuron rate * 2**53 (uint64), empty when off
    drop_seed: np.uint64

    @property
    def size(self) -> int:
        return sum(n for _, n in self.offsets.values())


def plan(net: Lowered, batch: int, fixed: bool, synapses: str = "auto") -> Plan:
    """Flatten ``net`` for ``batch`` streams (``synapses``: auto, event (CSR rows) or
    dense (dense rows))."""
    if synapses not in SYNAPSES:
        raise ValidationError(f"synapses must be one of {SYNAPSES}, got {synapses!r}")
    offsets, start = {}, 0
    for name, p in net.populations.items():
        offsets[name] = (start, p.size)
        start += p.size
    params, fmt = _params(net, fixed)
    mats = [(c.mant_matrix if fixed else c.matrix).T.tocsr() for c in net.connections]
    dtype = _dtype(mats, fixed)
    mats = [m.astype(dtype) for m in mats]
    for m in mats:
        m.sort_indices()
    dense = [_is_dense(m, synapses) for m in mats]
    conn = np.zeros((len(mats), len(kernels.TABLE)), np.int64)
    indptr, indices, data, rows = [], [], [], []
    n_ptr = n_nz = n_rows = n_buf = 0
    for k, (c, m) in enumerate(zip(net.connections, mats, strict=True)):
        src = -1 if c.source == "input" else offsets[c.source][0]
        tgt, n_tgt = offsets[c.target]
        ptr = n_rows if dense[k] else n_ptr
        conn[k] = (src, m.shape[0], tgt, n_tgt, c.exp if fixed else 0, c.delay, dense[k],
                   ptr, n_buf, m.nnz)
        n_buf += (c.delay + 1) * batch * n_tgt
        if dense[k]:
            rows.append(m.toarray().ravel())
            n_rows += m.shape[0] * n_tgt
        else:
            indptr.append(m.indptr.astype(np.int64) + n_nz)
            indices.append(m.indices.astype(np.int32))
            data.append(m.data)
            n_ptr += m.shape[0] + 1
            n_nz += m.nnz

    def cat(parts, dt):
        return np.concatenate(parts).astype(dt, copy=False) if parts else np.zeros(0, dt)

    drop_thr, drop_seed = _spike_drop(net, offsets, start)
    return Plan(fixed, offsets, params, fmt, conn, mats, dense, cat(indptr, np.int64),
                cat(indices, np.int32), cat(data, dtype), cat(rows, dtype), drop_thr, drop_seed)


def _spike_drop(net: Lowered, offsets: dict[str, tuple[int, int]], n: int
                ) -> tuple[np.ndarray, np.uint64]:
    """Per-neuron drop thresholds (``rate * 2**53`` on the populations the fault hits) and
    the seed of a ``spike_drop`` runtime fault; an empty array when there is none."""
    fault = net.runtime_faults.get("spike_drop")
    if not fault:
        return np.zeros(0, np.uint64), np.uint64(0)
    thr = np.zeros(n, np.uint64)
    for name in fault["populations"]:
        a, size = offsets[name]
        thr[a:a + size] = np.uint64(round(float(fault["rate"]) * 2.0**53))
    return thr, np.uint64(fault["seed"])


def _dtype(mats: list[sp.csr_matrix], fixed: bool) -> type:
    if not fixed:
        return np.float64
    lo = min((float(m.data.min()) for m in mats if m.nnz), default=0.0)
    hi = max((float(m.data.max()) for m in mats if m.nnz), default=0.0)
    return int_width(lo, hi)


def _is_dense(m: sp.csr_matrix, synapses: str) -> bool:
    if synapses != "auto":
        return synapses == "dense"
    entries = m.shape[0] * m.shape[1]
    return 0 < entries <= DENSE_MAX_ENTRIES and m.nnz > DENSE_FRACTION * entries


def _params(net: Lowered, fixed: bool) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-neuron du, dv, vth, bias over all populations (fixed: vth << align_bits and
    bias_mant << bias_exp, as Lava computes them) and (decay_bits, align_bits, 2**(S-1))."""
    pops = list(net.populations.values())
    if not fixed:
        cat = {k: np.concatenate([getattr(p, k) for p in pops]).astype(np.float64)
               for k in ("du", "dv", "vth", "bias")}
        return cat, np.zeros(3, np.int64)
    f = net.quantization["format"]
    fx = {k: np.concatenate([p.fixed[k] for p in pops]).astype(np.int64)
          for k in ("du", "dv", "vth", "bias_mant", "bias_exp")}
    e = fx["bias_exp"]
    bias = np.where(e >= 0, np.left_shift(fx["bias_mant"], np.maximum(e, 0)),
                    np.right_shift(fx["bias_mant"], np.maximum(-e, 0)))
    return ({"du": fx["du"], "dv": fx["dv"], "vth": fx["vth"] << f["align_bits"],
             "bias": bias},
            np.array([f["decay_bits"], f["align_bits"], 2 ** (f["state_bits"] - 1)], np.int64))


class Engine:
    """Spiking state of ``batch`` streams, advanced by :meth:`run` (many steps in one
    call) or :meth:`step` (one); both give the same results.

    Args:
        net: a lowered network (quantized when ``fixed``).
        batch: number of independent streams.
        fixed: Loihi fixed point (bit-exact with Lava) or float64.
        record: keys to record, a subset of ``{"spikes", "v", "u"}``.
        kernel: ``numba`` (compiled loop), ``numpy`` (the fallback) or ``auto``.
        synapses: ``event`` (CSR rows), ``dense`` (dense rows) or ``auto`` (by density).
    """

    def __init__(self, net: Lowered, batch: int, fixed: bool,
                 record: frozenset[str] = frozenset({"spikes"}), kernel: str = "auto",
                 synapses: str = "auto") -> None:
        if kernel not in KERNELS:
            raise ValidationError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        self.net, self.batch, self.fixed, self.record = net, batch, fixed, record
        self.plan = plan(net, batch, fixed, synapses)
        self.dtype = np.int64 if fixed else np.float64
        name = "run_fixed" if fixed else "run_float"
        # threads per stream only from the main thread: numba's default threading layer
        # must not be entered from two threads at once (a sweep's or a user's threads)
        parallel = batch > 1 and threading.current_thread() is threading.main_thread()
        fn = None if kernel == "numpy" else kernels.compiled(name, parallel)
        if fn is None and kernel == "numba":
            raise ValidationError("kernel='numba' needs numba: pip install numba")
        self._kernel = fn
        self.kernel = "numba" if fn is not None else "numpy"
        self.reset()

    def reset(self) -> None:
        """Zero every state variable and the in-flight (delayed) synaptic input."""
        n, B = self.plan.size, self.batch
        self.u = np.zeros((B, n), self.dtype)
        self.v = np.zeros((B, n), self.dtype)
        c = self.plan.conn
        self.buf = np.zeros(int(((c[:, 5] + 1) * c[:, 3]).sum()) * B, self.dtype)
        self.t = 0
        self.dropped = np.zeros(B, np.int64)  # spikes lost in transit (spike_drop), per stream

    def run(self, x: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Advance ``x`` (B, T, n_in) steps; returns per population the recorded keys,
        each (B, T, N)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        B, T, _ = x.shape
        n = self.plan.size
        rec = {"spikes": np.empty((B, T, n), bool)}  # every entry is written
        for k in ("v", "u"):
            rec[k] = np.zeros((B, T if k in self.record else 0, n), self.dtype)
        if self._kernel is not None:
            p = self.plan
            self._kernel(x, self.t, self.u, self.v, p.params["du"], p.params["dv"],
                         p.params["vth"], p.params["bias"], p.fmt, p.conn, p.indptr,
                         p.indices, p.data, p.rows, self.buf, rec["spikes"], rec["v"], rec["u"],
                         p.drop_thr, p.drop_seed, self.dropped)
        else:
            from hal.snn.engine_numpy import run_numpy

            run_numpy(self, x, rec)
        self.t += T
        return {name: {k: rec[k][:, :, a:a + size] for k in self.record}
                for name, (a, size) in self.plan.offsets.items()}

    def step(self, x_t: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Advance one step on input (B, n_in); returns per population the recorded keys,
        each (B, N)."""
        out = self.run(np.asarray(x_t)[:, None, :])
        return {p: {k: a[:, 0] for k, a in rec.items()} for p, rec in out.items()}
