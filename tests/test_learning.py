"""Issue 17: plastic connections (STDP) in the IR, in NIR files, on cpu and on Lava."""

import math
import sys

import nir
import numpy as np
import pytest

import hal
from hal.snn.ir import random_network
from hal.snn.learning import (
    META_KEY,
    STDP,
    Learner,
    attach,
    random_plastic_network,
    rule_of,
)

from .conftest import has_module

lava = pytest.mark.skipif(not has_module("lava") or sys.version_info[:2] != (3, 10),
                          reason="lava-nc needs Python 3.10 and the lava extra")
RULE = STDP(learning_rate=2 ** -7, x1_impulse=2.0, y1_impulse=2.5, tau_plus=4.0,
            tau_minus=5.0, t_epoch=3, rng_seed=11, sign_mode="mixed")


def _spikes(seed: int, steps: int, n: int, rate: float) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, n)) < rate).astype(float)


def test_rule_round_trips_through_a_nir_file(tmp_path):
    g = attach(random_network(3, 4, 2, seed=1), "fc2", RULE)
    path = tmp_path / "plastic.nir"
    nir.write(str(path), g)
    back = hal.load(path)
    assert rule_of(back.nodes["fc2"], "fc2") == RULE
    assert rule_of(back.nodes["fc1"]) is None
    exe = hal.compile(path, target="cpu-float")
    [c] = [c for c in exe.net.connections if c.rule is not None]
    assert (c.source, c.target, c.rule) == ("lif1", "lif2", RULE)


def test_saved_executable_keeps_the_rule_and_learns_identically(tmp_path):
    exe = hal.compile(random_plastic_network(3, 2, seed=4, rule=RULE), target="cpu")
    exe.save(tmp_path / "exe.nir")
    again = hal.load_executable(tmp_path / "exe.nir")
    x = _spikes(0, 30, 3, 0.5)
    a, b = exe.run(x).weight_history["input->lif1"], again.run(x).weight_history["input->lif1"]
    assert np.array_equal(a, b) and not np.array_equal(a[0], a[-1])


@pytest.mark.parametrize("meta,match", [
    ({"tau_plus": 0.0}, "tau_plus must be > 0"),
    ({"t_epoch": 0}, "t_epoch must be an integer >= 1"),
    ({"learning_rate": 2 ** -9}, "outside Loihi's scaling factor"),
    ({"sign_mode": "both"}, "sign_mode must be one of"),
    ({"bogus": 1}, "unknown field"),
    ({"rule": "bcm"}, "rule 'bcm' is unknown"),
])
def test_bad_rules_name_the_node_and_field(meta, match):
    g = random_network(3, 4, 2, seed=1)
    g.nodes["fc1"].metadata = {META_KEY: {**STDP().to_metadata(), **meta}}
    with pytest.raises(hal.ValidationError, match=match) as err:
        hal.compile(g, target="cpu-float")
    assert "fc1" in str(err.value)


def test_a_plastic_connection_with_a_delay_is_refused():
    g = random_network(2, 3, 1, seed=0)
    g.nodes["delay"] = nir.Delay(delay=np.full(3, 2e-4))
    g.edges.remove(("fc1", "lif1"))
    g.edges += [("fc1", "delay"), ("delay", "lif1")]
    attach(g, "fc1", STDP())
    with pytest.raises(hal.CompileError, match="plastic and has a delay of 2 steps"):
        hal.compile(g, target="cpu")


def test_lava_literals_quantize_the_constants():
    # lava-nc float_to_literal: 1.5 -> 2, 0.3 -> 2**-2; 12 -> 6 * 2**1 (values Lava prints)
    assert STDP(learning_rate=0.5, A_plus=3, A_minus=-1.5).terms() == [("x0", -1, 7),
                                                                        ("y0", 3, 6)]
    assert STDP(A_plus=0.3, A_minus=-12).terms() == [("x0", -6, 8), ("y0", 1, 5)]


def test_float_kernel_equals_the_stdp_equations_on_one_pair():
    r = STDP(learning_rate=0.5, A_plus=1.0, A_minus=-0.5, tau_plus=3.0, tau_minus=7.0,
             x1_impulse=4.0, y1_impulse=8.0)
    lrn = Learner(r, np.zeros((1, 1)), batch=1, fixed=False)
    pre, post, none = np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 1))
    lrn.spikes(pre, none)   # pre at step 1: depression uses y1 = 0
    lrn.spikes(none, none)
    lrn.spikes(none, post)  # post at step 3: potentiation by x1 decayed twice
    x1 = 4.0 * math.exp(-1 / 3) ** 2
    assert lrn.w[0, 0, 0] == pytest.approx(0.5 * 1.0 * x1, abs=1e-12)
    lrn.spikes(pre, none)   # pre at step 4: depression by y1 decayed once
    y1 = 8.0 * math.exp(-1 / 7)
    assert lrn.w[0, 0, 0] == pytest.approx(0.5 * x1 - 0.5 * 0.5 * y1, abs=1e-12)


def test_learning_switch_and_session_weights():
    g = random_plastic_network(4, 3, seed=2, rule=RULE, hidden=3)
    x = _spikes(2, 45, 4, 0.5)
    res = hal.compile(g, target="cpu").run(x)
    hist = res.weight_history["input->lif1"]
    assert hist.shape == (16, 3, 4) and not np.array_equal(hist[0], hist[-1])
    summary = res.to_dict()["learning"]["input->lif1"]
    assert summary["epochs"] == 15
    assert summary["max_abs_change"] == float(np.abs(hist[-1] - hist[0]).max()) > 0
    frozen = hal.compile(g, target="cpu", learning=False).run(x)
    plain = hal.compile(random_plastic_network(4, 3, seed=2, rule=RULE, hidden=3),
                        target="cpu", learning=False)
    assert frozen.weights == {}
    assert not all(np.array_equal(res.spikes[p], frozen.spikes[p]) for p in res.spikes)
    with plain.open() as s:  # frozen nets run on the plain cpu stepper, same spikes
        assert np.array_equal(np.array([s.step(xt)["lif2"] for xt in x]), frozen.spikes["lif2"])
    with hal.compile(g, target="cpu").open() as s:
        seen = []
        for t, xt in enumerate(x, 1):
            s.step(xt)
            if t % RULE.t_epoch == 0:
                seen.append(s.weights["input->lif1"])
    assert np.array_equal(np.array(seen), hist[1:])


def test_batched_streams_learn_each_on_their_own():
    g = random_plastic_network(3, 2, seed=6, rule=RULE)
    x = np.stack([_spikes(1, 30, 3, 0.5), _spikes(2, 30, 3, 0.5)])
    exe = hal.compile(g, target="cpu")
    both = exe.run(x).weights["input->lif1"]
    assert np.array_equal(both[1], exe.run(x[1]).weights["input->lif1"])
    assert not np.array_equal(both[0], both[1])


@lava
@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed,t_epoch", [(1, 1), (5, 4)])
def test_cpu_learning_equals_lava_float_and_bit_approximate(seed, t_epoch):
    rule = STDP(learning_rate=2 ** -7, x1_impulse=2.0, y1_impulse=2.5, tau_plus=4.0,
                tau_minus=5.0, t_epoch=t_epoch, rng_seed=seed, sign_mode="mixed")
    g = random_plastic_network(4, 2, seed=seed, rule=rule, hidden=3)
    x = _spikes(seed, 40, 4, 0.6)
    h = {t: hal.compile(g, target=t).run(x).weight_history
         for t in ("cpu-float", "loihi2-sim-float", "cpu", "loihi2-sim")}
    for name in ("input->lif1", "lif1->lif2"):
        a, b = h["cpu-float"][name], h["loihi2-sim-float"][name]
        assert a.shape == b.shape == (40 // t_epoch + 1, *a.shape[1:])
        assert np.abs(a - b).max() <= 1e-9
        assert np.array_equal(h["cpu"][name], h["loihi2-sim"][name])
        assert not np.array_equal(h["cpu"][name][0], h["cpu"][name][-1])


@pytest.mark.skipif(not has_module("torch"), reason="torch is not installed")
def test_a_backend_without_learning_refuses_a_plastic_network():
    g = random_plastic_network(3, 2, seed=0)
    with pytest.raises(hal.CompileError, match="does not run learning rules.*learning=False"):
        hal.compile(g, target="torch", fallback=False)
    assert hal.compile(g, target="torch", fallback=False, learning=False).run(
        _spikes(0, 5, 3, 0.5)).weights == {}


@lava
@pytest.mark.timeout(240)
def test_lava_session_learns_as_the_cpu_run_does():
    g = random_plastic_network(3, 2, seed=1, rule=STDP(learning_rate=2 ** -6, x1_impulse=4.0,
                                                       y1_impulse=4.0, rng_seed=1))
    x = _spikes(1, 30, 3, 0.5)
    ref = hal.compile(g, target="cpu").run(x)
    frozen = hal.compile(g, target="cpu", learning=False).run(x)
    assert not np.array_equal(ref.spikes["lif1"], frozen.spikes["lif1"])
    with hal.compile(g, target="loihi2-sim", fallback=False).open() as s:
        got = np.array([s.step(xt)["lif1"] for xt in x])
        with pytest.raises(hal.CompileError, match="cannot read weights while stepping"):
            s.weights  # noqa: B018
    assert np.array_equal(got, ref.spikes["lif1"])
