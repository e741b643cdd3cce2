"""The spiking engine (hal.snn.engine): event-driven == dense rows, compiled loop == numpy
fallback, batched == per stream, sessions == whole runs, record subsets, sparse weights,
and Lava's batch in one runtime == per-stream Lava."""

import sys

import nir
import numpy as np
import pytest
import scipy.sparse as sp

import hal
from hal.snn.engine import Engine
from hal.snn.ir import random_network, random_suite, recurrent_network

from .conftest import has_module

lava = pytest.mark.skipif(not has_module("lava") or sys.version_info[:2] != (3, 10),
                          reason="lava-nc needs Python 3.10 and the lava extra")
numba = pytest.mark.skipif(not has_module("numba"), reason="numba is not installed")
ALL = frozenset({"spikes", "v", "u"})
KERNELS = ["numpy", pytest.param("numba", marks=numba)]


def _suite(n: int = 8, steps: int = 60):
    return [(g, x[None]) for _, g, x in list(random_suite(steps))[:n]]


def _same(a: dict, b: dict, fixed: bool) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys()
        for k in a[name]:
            if fixed or k == "spikes":
                assert np.array_equal(a[name][k], b[name][k]), (name, k)
            else:
                np.testing.assert_allclose(a[name][k], b[name][k], rtol=0, atol=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("target", ["cpu", "cpu-float"])
def test_event_driven_equals_dense_rows(kernel, target):
    fixed = target == "cpu"
    spikes = 0
    for g, x in _suite():
        net = hal.compile(g, target=target).net
        ev = Engine(net, 1, fixed, ALL, kernel=kernel, synapses="event").run(x)
        dense = Engine(net, 1, fixed, ALL, kernel=kernel, synapses="dense").run(x)
        _same(ev, dense, fixed)
        spikes += sum(int(r["spikes"].sum()) for r in ev.values())
    assert spikes > 100  # the networks are active, so the comparison means something


@numba
@pytest.mark.parametrize("target", ["cpu", "cpu-float"])
def test_compiled_loop_equals_numpy_fallback(target):
    fixed = target == "cpu"
    for g, x in _suite():
        net = hal.compile(g, target=target).net
        _same(Engine(net, 1, fixed, ALL, kernel="numba").run(x),
              Engine(net, 1, fixed, ALL, kernel="numpy").run(x), fixed)


@pytest.mark.parametrize("kernel", KERNELS)
def test_graded_input_fixed_point_truncates_like_before(kernel, benchmarks):
    ref = np.loadtxt(benchmarks / "nir" / "01_lif" / "lif_lava_cpu_fixed.csv", delimiter=",")
    g = hal.load(benchmarks / "nir" / "01_lif" / "lif_norse.nir")
    net = hal.compile(g, target="cpu", v_scale=256, rounding="floor", decay_scale=4095).net
    res = Engine(net, 1, True, frozenset({"spikes", "v"}), kernel=kernel).run(ref[None, :, :1])
    assert np.flatnonzero(res["1"]["spikes"][0, :, 0]).tolist() == [461, 511, 711, 761]
    assert np.array_equal(res["1"]["v"][0, :, 0], ref[:, 1])


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("target", ["cpu", "cpu-float"])
def test_engine_batched_equals_per_stream(kernel, target):
    g = random_network(5, 40, 4, seed=9, recurrent=True, density=0.3)
    x = (np.random.default_rng(2).random((4, 50, 5)) < 0.3).astype(float)
    net, fixed = hal.compile(g, target=target).net, target == "cpu"
    batch = Engine(net, 4, fixed, ALL, kernel=kernel).run(x)
    for b in range(4):
        one = Engine(net, 1, fixed, ALL, kernel=kernel).run(x[b:b + 1])
        _same({n: {k: a[b:b + 1] for k, a in r.items()} for n, r in batch.items()}, one, fixed)


PARALLEL_PROBE = """
import numba, numpy as np, hal
from hal.snn.engine import Engine
from hal.snn.ir import random_network
net = hal.compile(random_network(5, 40, 4, seed=9, recurrent=True), target="cpu").net
x = np.ones((2, 5, 5))
Engine(net, 1, True).run(x[:1])  # serial kernel: no thread pool
try:
    numba.threading_layer()
    print("serial kernel started threads")
except ValueError:
    Engine(net, 2, True).run(x)  # batch from the main thread: parallel kernel
    print("threads:", numba.threading_layer())
"""


@numba
def test_parallel_kernel_is_parallel_when_loaded_from_cache():
    """numba's disk cache does not key on ``parallel``: one function compiled both ways
    once loaded the serial code for batches too. Run twice so the second run loads both
    variants from the cache."""
    import subprocess

    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", PARALLEL_PROBE], capture_output=True,
                             text=True, timeout=300)
        assert out.stdout.startswith("threads:"), out.stdout + out.stderr[-2000:]


@pytest.mark.parametrize("target", ["cpu", "cpu-float"])
def test_batched_equals_per_stream_and_session_equals_run(target):
    g = random_network(5, 40, 4, seed=9, recurrent=True, density=0.3)
    x = (np.random.default_rng(2).random((4, 50, 5)) < 0.3).astype(float)
    exe = hal.compile(g, target=target)
    batch = exe.run(x, record="all")
    for b in range(4):
        one = exe.run(x[b], record="all")
        for n in one.spikes:
            assert np.array_equal(batch.spikes[n][b], one.spikes[n])
            np.testing.assert_allclose(batch.states[n]["v"][b], one.states[n]["v"], rtol=0,
                                       atol=0 if target == "cpu" else 1e-9)
    sess = exe.open(batch=4, record=("spikes", "u"))
    for t in range(50):
        got = sess.step(x[:, t])
        assert np.array_equal(got["lif1"], batch.spikes["lif1"][:, t])
        np.testing.assert_allclose(sess.states["lif1"]["u"], batch.states["lif1"]["u"][:, t],
                                   rtol=0, atol=0 if target == "cpu" else 1e-9)
    assert int(batch.spikes["lif1"].sum()) > 0


@pytest.mark.parametrize("record", [("spikes",), ("spikes", "v"), ("u",), "all"])
def test_record_subsets(record):
    g = random_network(3, 12, 2, seed=4)
    x = np.ones((2, 15, 3))
    exe = hal.compile(g, target="cpu")
    res = exe.run(x, record=record)
    states = {"v", "u"} if record == "all" else set(record) - {"spikes"}
    assert set(res.states.get("lif1", {})) == states
    raw = exe.backend.simulate(exe.net, x, exe.target, exe.options,
                               frozenset(states | {"spikes"}))
    assert set(raw["lif1"]) == states | {"spikes"}
    full = exe.run(x, record="all")
    for k in states:
        assert np.array_equal(res.states["lif1"][k], full.states["lif1"][k])


def test_weights_stored_sparse_at_their_width():
    net = hal.compile(random_network(4, 30, 3, seed=1, recurrent=True, density=0.2),
                      target="cpu").net
    for c in net.connections:
        assert sp.issparse(c.mant_matrix) and c.mant_matrix.dtype == np.int16
        assert c.mant_matrix.nnz == np.count_nonzero(c.mant)
    eng = Engine(net, 1, True)
    assert eng.plan.data.dtype == np.int16  # 9-bit mantissas, no wider
    assert not any(eng.plan.dense)  # 20% dense: sparse rows


def test_sparse_nir_weights_lower_like_dense():
    dense = recurrent_network(40, n_in=8, p_in=0.5, density=0.2, seed=3)
    sparse = recurrent_network(40, n_in=8, p_in=0.5, density=0.2, seed=3, sparse=True)
    assert sp.issparse(sparse.nodes["rec"].weight)
    assert isinstance(dense.nodes["rec"].weight, np.ndarray)
    x = (np.random.default_rng(0).random((80, 8)) < 0.2).astype(float)
    a = hal.compile(dense, target="cpu", dt=1e-3).run(x, record="all")
    b = hal.compile(sparse, target="cpu", dt=1e-3).run(x, record="all")
    assert np.array_equal(a.spikes["lif"], b.spikes["lif"]) and a.spikes["lif"].any()
    assert np.array_equal(a.states["lif"]["v"], b.states["lif"]["v"])


def test_event_driven_scales_with_fan_out_not_n_squared():
    g = recurrent_network(20_000, fan_out=10, seed=0, sparse=True)
    net = hal.compile(g, target="cpu").net
    rec = next(c for c in net.connections if c.source == "lif")
    assert rec.mant_matrix.nnz <= 20_000 * 10 and rec.matrix.shape == (20_000, 20_000)
    eng = Engine(net, 1, True)
    assert eng.plan.indices.nbytes + eng.plan.data.nbytes < 20_000 * 10 * 8
    assert isinstance(g.nodes["input"], nir.Input)


@lava
def test_lava_batch_in_one_runtime_equals_per_stream():
    g = random_network(4, 12, 3, seed=6, recurrent=True, density=0.5)
    x = (np.random.default_rng(5).random((3, 30, 4)) < 0.4).astype(float)
    exe = hal.compile(g, target="loihi2-sim")
    batch = exe.run(x, record="all")
    cpu = hal.compile(g, target="cpu").run(x, record="all")
    one = exe.run(x[1], record="all")
    for n in batch.spikes:
        assert np.array_equal(batch.spikes[n], cpu.spikes[n])
        assert np.array_equal(batch.spikes[n][1], one.spikes[n])
        for k in ("v", "u"):
            assert np.array_equal(batch.states[n][k], cpu.states[n][k])
    assert batch.spikes["lif1"].any()
