"""NIR graphs beyond LIF chains: every benchmark graph, conv/pool unrolling against an
independent loop, Delay, nested graphs, non-spiking readouts, and round trips."""

import sys

import nir
import numpy as np
import pytest

import hal
from hal.compilers.snn import LINEAR_RULES, lower
from hal.snn.ir import random_network, random_suite

from .conftest import has_module

lava = pytest.mark.skipif(not has_module("lava") or sys.version_info[:2] != (3, 10),
                          reason="lava-nc needs Python 3.10 and the lava extra")

GRAPHS = ["01_lif/lif_norse.nir", "01_lif/debug_spike_representation/two_lif_neurons.nir",
          "02_cnn/cnn_sinabs.nir", "03_rnn/braille_noDelay_bias_zero.nir",
          "03_rnn/braille_noDelay_noBias_subtract.nir"]


def same_graph(a: nir.NIRGraph, b: nir.NIRGraph) -> bool:
    if set(a.nodes) != set(b.nodes) or sorted(a.edges) != sorted(b.edges):
        return False
    for k, na in a.nodes.items():
        nb = b.nodes[k]
        if type(na) is not type(nb):
            return False
        if isinstance(na, nir.NIRGraph):
            if not same_graph(na, nb):
                return False
            continue
        for attr, va in vars(na).items():
            if attr in ("metadata", "input_type", "output_type"):
                continue
            if not np.array_equal(np.asarray(va), np.asarray(vars(nb)[attr])):
                return False
    return True


@pytest.mark.parametrize("rel", GRAPHS)
def test_benchmark_graph_loads_compiles_and_round_trips(benchmarks, rel, tmp_path):
    g = hal.load(benchmarks / "nir" / rel)
    exe = hal.compile(g, target="cpu")
    assert exe.net.num_neurons > 0
    path = tmp_path / "copy.nir"
    nir.write(str(path), g)
    g2 = hal.load(path)
    assert same_graph(g, g2)
    a, b = lower(g), lower(g2)
    assert a.populations.keys() == b.populations.keys()
    for ca, cb in zip(a.connections, b.connections, strict=True):
        assert (ca.source, ca.target) == (cb.source, cb.target)
        assert np.array_equal(ca.weight, cb.weight)


def test_untypeable_graph_says_how_to_load_it(benchmarks):
    path = benchmarks / "nir" / "01_lif" / "lif_rockpool.nir"
    with pytest.raises(hal.ValidationError, match="type_check=False"):
        hal.load(path)
    assert hal.compile(hal.load(path, type_check=False), target="cpu").net.num_neurons == 1


def test_random_network_round_trips(tmp_path):
    g = random_network(5, 30, 4, seed=3, recurrent=True, tau_spread=0.5)
    nir.write(str(tmp_path / "r.nir"), g)
    assert same_graph(g, hal.load(tmp_path / "r.nir"))


def conv_loops(x, w, b, stride, pad, dil, groups):
    """Plain-loop 2-d convolution (torch semantics), the oracle for the unrolled matrix."""
    c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    ho = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    y = np.zeros((c_out, ho, wo))
    for co in range(c_out):
        g = co // (c_out // groups)
        for oy in range(ho):
            for ox in range(wo):
                acc = b[co]
                for ci in range(cg):
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = oy * stride - pad + ky * dil, ox * stride - pad + kx * dil
                            if 0 <= iy < h and 0 <= ix < wd:
                                acc += w[co, ci, ky, kx] * x[g * cg + ci, iy, ix]
                y[co, oy, ox] = acc
    return y


@pytest.mark.parametrize("stride,pad,dil,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2),
                                                   (2, 1, 1, 4)])
def test_conv2d_unrolling_matches_loops(stride, pad, dil, groups):
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(4, 4 // groups, 3, 3)), rng.normal(size=4)
    x = rng.normal(size=(4, 7, 6))
    node = nir.Conv2d(input_shape=(7, 6), weight=w, stride=stride, padding=pad, dilation=dil,
                      groups=groups, bias=b)
    lm = LINEAR_RULES[nir.Conv2d]("c", node, x.shape)
    ref = conv_loops(x, w, b, stride, pad, dil, groups)
    assert lm.shape == ref.shape
    assert np.allclose(lm.matrix @ x.ravel() + lm.bias, ref.ravel())


def test_sumpool_sums_windows():
    x = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    node = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    lm = LINEAR_RULES[nir.SumPool2d]("p", node, x.shape)
    ref = x.reshape(2, 2, 2, 2, 2).sum(axis=(2, 4))
    assert np.array_equal(lm.matrix @ x.ravel(), ref.ravel())


def if_chain(extra_nodes: dict, extra_edges: list, n: int = 3) -> nir.NIRGraph:
    """input -> [extra] -> IF (threshold 0.5): each input spike makes one output spike."""
    nodes = {"input": nir.Input(input_type=np.array([n])),
             "if": nir.IF(r=np.ones(n), v_threshold=np.full(n, 0.5), v_reset=np.zeros(n)),
             "output": nir.Output(output_type=np.array([n])), **extra_nodes}
    return nir.NIRGraph(nodes=nodes, edges=[*extra_edges, ("if", "output")], type_check=False)


def test_delay_shifts_spikes_by_whole_steps():
    x = np.zeros((20, 3))
    x[2] = 1
    g = if_chain({"d": nir.Delay(delay=np.array([0, 3e-4, 5e-4])),
                  "w": nir.Linear(weight=np.eye(3))},
                 [("input", "d"), ("d", "w"), ("w", "if")])
    res = hal.compile(g, target="cpu-float", compensate_delay=True).run(x)
    assert [np.flatnonzero(res.spikes["if"][:, i]).tolist() for i in range(3)] == [[2], [5], [7]]


def test_nested_graph_is_inlined():
    inner = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                                "w": nir.Linear(weight=2 * np.eye(3)),
                                "output": nir.Output(output_type=np.array([3]))},
                         edges=[("input", "w"), ("w", "output")], type_check=False)
    g = if_chain({"sub": inner}, [("input", "sub"), ("sub", "if")])
    net = lower(g)
    assert len(net.connections) == 1 and np.array_equal(net.connections[0].weight, 2 * np.eye(3))


def test_leaky_integrator_readout_does_not_spike_and_decays():
    n = 2
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([n])), "w": nir.Linear(weight=np.eye(n)),
        "li": nir.LI(tau=np.full(n, 1e-3), r=np.ones(n), v_leak=np.zeros(n)),
        "output": nir.Output(output_type=np.array([n]))},
        edges=[("input", "w"), ("w", "li"), ("li", "output")], type_check=False)
    x = np.zeros((30, n))
    x[0] = 1
    res = hal.compile(g, target="cpu-float").run(x, record="v")
    v = res.states["li"]["v"][:, 0]
    assert not res.spikes["li"].any()
    k = 0.1  # dt / tau
    assert v[1] == pytest.approx(k) and v[10] == pytest.approx(k * (1 - k) ** 9)
    fixed = hal.compile(g, target="cpu")
    assert any("does not spike" in w for w in fixed.net.quantization["warnings"])
    assert not fixed.run(x).spikes["li"].any()


@pytest.mark.parametrize("bad,match", [
    ({"t": nir.Threshold(threshold=np.ones(3))}, "no lowering rule"),
    ({"li": nir.LI(tau=np.full(3, -1.0), r=np.ones(3), v_leak=np.zeros(3))}, "tau must be > 0"),
])
def test_unsupported_or_invalid_nodes(bad, match):
    name = next(iter(bad))
    g = if_chain(bad, [("input", name), (name, "if")])
    with pytest.raises(hal.HALError, match=match):
        hal.compile(g, target="cpu")


# -- cpu is bit-exact with Lava on many networks --------------------------------------------
@lava
def test_cpu_is_bit_exact_with_lava_on_twenty_networks():
    suite = list(random_suite())
    assert len(suite) >= 20
    sizes = [sum(p.size for p in lower(g).populations.values()) for _, g, _ in suite]
    assert min(sizes) == 10 and max(sizes) == 1990
    for label, g, x in suite:
        a = hal.compile(g, target="cpu").run(x, record="all")
        b = hal.compile(g, target="loihi2-sim").run(x, record="all")
        assert sum(int(s.sum()) for s in a.spikes.values()) > 0, label
        for node in a.spikes:
            assert np.array_equal(a.spikes[node], b.spikes[node]), (label, node)
            for k in ("v", "u"):
                assert np.array_equal(a.states[node][k], b.states[node][k]), (label, node, k)


@lava
def test_delay_and_conv_are_bit_exact_with_lava():
    rng = np.random.default_rng(0)
    nodes = {"input": nir.Input(input_type=np.array([2, 6, 6])),
             "conv": nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 0.6, (3, 2, 3, 3)),
                                stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3)),
             "if1": nir.IF(r=np.ones((3, 6, 6)), v_threshold=np.ones((3, 6, 6)),
                           v_reset=np.zeros((3, 6, 6))),
             "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                   padding=np.array([0, 0])),
             "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}),
             "delay": nir.Delay(delay=rng.integers(0, 4, 27) * 1e-4),
             "fc": nir.Affine(weight=rng.normal(0, 0.5, (5, 27)), bias=np.full(5, 0.01)),
             "if2": nir.IF(r=np.ones(5), v_threshold=np.ones(5), v_reset=np.zeros(5)),
             "output": nir.Output(output_type=np.array([5]))}
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:], strict=True))
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    x = (rng.random((40, 72)) < 0.3).astype(float)
    a = hal.compile(g, target="cpu").run(x, record="all")
    b = hal.compile(g, target="loihi2-sim").run(x, record="all")
    assert a.spikes["if2"].sum() > 0
    for node in a.spikes:
        assert np.array_equal(a.spikes[node], b.spikes[node])
        assert np.array_equal(a.states[node]["v"], b.states[node]["v"])
