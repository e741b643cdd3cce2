"""Fault injection, TMR, health monitoring and robustness campaigns (issue 15)."""

import copy
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import hal
from hal.errors import ValidationError
from hal.faults import FaultPlan
from hal.faults.inject import FAULTS, apply_network_faults, lava_weights
from hal.snn.ir import random_network

from .conftest import DIGITS_DATA, DIGITS_MODEL, has_module

lava = pytest.mark.skipif(not has_module("lava") or sys.version_info[:2] != (3, 10),
                          reason="lava-nc needs Python 3.10 and the lava extra")

NET = random_network(4, 12, 3, seed=5, recurrent=True)
X = (np.random.default_rng(0).random((25, 4)) < 0.4).astype(float)

#: one plan per fault kind that Lava takes (every network kind, input noise, TMR)
LAVA_PLANS = [({"dead_neurons": 0.3}, False), ({"saturated_neurons": 0.3}, False),
              ({"dead_synapses": 0.3}, False), ({"weight_bitflips": 0.1}, False),
              ({"weight_bitflips": 0.5, "bitflip_bit": 7}, False),
              ({"weight_variation": 0.2}, False),
              ({"threshold_variation": 0.3}, False), ({"decay_variation": 0.3}, False),
              ({"input_noise": 0.1}, False), ({"dead_neurons": 0.2}, True)]


def _spikes(target, faults=None, tmr=False, seed=1, x=X):
    exe = hal.compile(NET, target=target, faults=faults, fault_seed=seed, tmr=tmr,
                      fallback=False)
    return exe, exe.run(x, seed=0)


# -- plans ---------------------------------------------------------------------------------

def test_plan_parses_strings_and_refuses_unknown_kinds_and_bad_rates():
    plan = FaultPlan.parse("dead_neurons=0.1, weight_bitflips=1e-3,bitflip_bit=7", seed=3)
    assert plan.rates == {"dead_neurons": 0.1, "weight_bitflips": 1e-3}
    assert plan.options == {"bitflip_bit": 7} and plan.seed == 3
    with pytest.raises(ValidationError, match="unknown fault kind 'dead_neuronz'.*dead_neurons"):
        FaultPlan.parse("dead_neuronz=0.1")
    for bad in ("dead_neurons=1.5", "dead_neurons=-0.1", "dead_neurons=nan"):
        with pytest.raises(ValidationError, match=r"outside \[0, 1\]"):
            FaultPlan.parse(bad)
    with pytest.raises(ValidationError, match="not KIND=RATE"):
        FaultPlan.parse("dead_neurons")
    with pytest.raises(ValidationError, match="bitflip_bit=8 but this target stores 8-bit"):
        hal.compile(NET, target="cpu", faults={"weight_bitflips": 0.1, "bitflip_bit": 8})


def test_kinds_a_target_cannot_take_are_refused_naming_who_can():
    from hal.faults.inject import check_kinds  # what compile calls, also where Lava is absent

    for name in ("loihi2-sim", "torch"):
        with pytest.raises(ValidationError, match=f"spike_drop is drawn while the network runs"
                           f", and '{name}'.*targets that do: cpu, cpu-float"):
            check_kinds(FaultPlan.parse({"spike_drop": 0.1}), hal.get_target(name))
    with pytest.raises(ValidationError, match="weight_bitflips applies to fixed"):
        hal.compile(NET, target="cpu-float", faults={"weight_bitflips": 0.1})


def test_sessions_apply_input_noise_per_step_reproducibly():
    """Input noise reaches a session's steps (it used to be skipped there): the stepped
    spikes differ from the clean session's, two sessions draw the same noise, two streams
    fed the same input draw different noise, and analog input is refused (its noise is
    scaled by the whole sample)."""
    noisy = hal.compile(NET, target="cpu", faults={"input_noise": 0.3}, fault_seed=2)
    clean = hal.compile(NET, target="cpu")
    xb = np.stack([X, X])  # the same input on both streams

    def stepped(exe):
        with exe.open(batch=2) as s:
            return np.stack([np.concatenate(list(s.step(xb[:, t]).values()), axis=1)
                             for t in range(len(X))], 1)

    a, b, c = stepped(noisy), stepped(noisy), stepped(clean)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(c[0], c[1]) and not np.array_equal(a[0], a[1])
    with noisy.open() as s, pytest.raises(ValidationError, match="analog input noise"):
        s.step(np.full(4, 0.5))


def test_faults_are_saved_with_the_program_and_old_files_load_without_them(tmp_path):
    import dataclasses

    from hal._archive import pack, unpack
    from hal.snn.learning import random_plastic_network

    exe = hal.compile(NET, target="cpu", faults={"spike_drop": 0.5, "input_noise": 0.2},
                      fault_seed=2, tmr=True)
    exe.save(tmp_path / "drop.nir")
    again = hal.load_executable(tmp_path / "drop.nir")  # input noise still applies
    assert again.faults.to_dict() == exe.faults.to_dict()
    a, b = exe.run(X, seed=1), again.run(X, seed=1)
    assert a.provenance["runtime"] == b.provenance["runtime"]
    assert a.provenance["faults"] == b.provenance["faults"]
    assert a.provenance["runtime"]["spikes_dropped"] > 0
    assert all(np.array_equal(a.spikes[p], b.spikes[p]) for p in a.spikes)
    with pytest.raises(ValidationError, match="does not learn; compile the plastic network"):
        hal.compile(random_plastic_network(3, 2), target="cpu", faults={"spike_drop": 0.1})
    skeleton, arrays = pack(dataclasses.replace(exe.net, runtime_faults={}))
    old = skeleton.replace(', "runtime_faults": {"__dict__": []}', "")  # a file saved before
    assert old != skeleton and unpack(old, arrays).runtime_faults == {}


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
@pytest.mark.parametrize("target", ["cpu", "cpu-float"])
def test_spike_drop_loses_spikes_in_transit_at_its_rate_everywhere_alike(kernel, target):
    """Spikes still show in their own population's record but reach no synapse: at rate
    1 the recurrent layers hear only the input; at 0.3 about 30% are lost; the compiled
    loop and the numpy fallback, and a session and a whole run, lose the same spikes;
    predict() adds up the losses of its chunks."""
    from hal.snn.engine import Engine

    g = random_network(4, 30, 3, seed=5, recurrent=True, density=0.5)
    x = (np.random.default_rng(0).random((3, 80, 4)) < 0.5).astype(float)
    exe = hal.compile(g, target=target, faults={"spike_drop": 0.3}, fault_seed=1)
    res = exe.run(x)
    fired = sum(int(s[:, :80].sum()) for s in res.spikes.values())
    lost = res.provenance["runtime"]["spikes_dropped"]
    assert len(lost) == 3 and 0.25 < sum(lost) / fired < 0.35
    assert exe.faults.broken["spike_drop"]["populations"] == ["lif1", "lif2"]
    eng = Engine(exe.net, 3, target == "cpu", kernel=kernel)
    got = eng.run(x)
    assert all(np.array_equal(got[p]["spikes"], res.spikes[p]) for p in res.spikes)
    assert eng.dropped.tolist() == lost
    with exe.open(batch=3) as s:
        stepped = [s.step(x[:, t]) for t in range(80)]
    assert all(np.array_equal(np.stack([d[p] for d in stepped], 1), res.spikes[p])
               for p in res.spikes)
    pred = exe.predict(np.random.default_rng(1).random((5, 4)), steps=20, encoder="rate",
                       decoder="count", batch_size=2)
    assert len(pred.provenance["runtime"]["spikes_dropped"]) == 5
    clean = hal.compile(g, target=target).run(x)
    all_lost = hal.compile(g, target=target, faults={"spike_drop": 1.0}).run(x)
    assert clean.spikes["lif2"].sum() > 0 and all_lost.spikes["lif2"].sum() == 0
    assert sum(all_lost.provenance["runtime"]["spikes_dropped"]) == \
        sum(int(s.sum()) for s in all_lost.spikes.values())


def test_zero_rates_equal_no_faults():
    _, clean = _spikes("cpu")
    for kind in ("dead_neurons", "dead_synapses", "weight_bitflips", "threshold_variation"):
        exe, res = _spikes("cpu", {kind: 0.0})
        assert exe.faults is None
        assert all(np.array_equal(res.spikes[p], clean.spikes[p]) for p in clean.spikes)


def test_dead_and_saturated_neurons_do_what_they_say_and_are_recorded():
    exe, res = _spikes("cpu", {"dead_neurons": 0.3}, seed=4)
    dead = exe.faults.broken["dead_neurons"]["neurons"]
    assert dead and res.provenance["faults"]["broken"]["dead_neurons"]["neurons"] == dead
    assert res.provenance["faults"]["plan"] == {"rates": {"dead_neurons": 0.3},
                                               "options": {}, "seed": 4}
    for pop, idx in dead.items():
        assert not res.spikes[pop][:, idx].any()
    exe, res = _spikes("cpu", {"saturated_neurons": 0.3}, seed=4)
    for pop, idx in exe.faults.broken["saturated_neurons"]["neurons"].items():
        assert res.spikes[pop][:, idx].all()
    # the same seed picks the same victims; another seed others
    again, _ = _spikes("cpu", {"saturated_neurons": 0.3}, seed=4)
    other, _ = _spikes("cpu", {"saturated_neurons": 0.3}, seed=5)
    assert again.faults.broken == exe.faults.broken != other.faults.broken


def _word(m, mixed):
    """The stored 8-bit word of a mantissa: m / 2 in two's complement, or |m|."""
    return (m >> 1) & 255 if mixed else abs(m)


def test_bitflips_change_exactly_the_reported_bits():
    clean = hal.compile(NET, target="cpu").net
    exe = hal.compile(NET, target="cpu", faults={"weight_bitflips": 0.05}, fault_seed=2)
    rep = exe.faults.broken["weight_bitflips"]
    assert rep["bits_flipped"] > 0 and rep["weight_bits"] == 8
    for c0, c1 in zip(clean.connections, exe.net.connections, strict=True):
        got = rep["synapses"].get(f"{c0.source}->{c0.target}")
        changed = np.argwhere(c0.mant != c1.mant)
        if got is None:
            assert not len(changed)
            continue
        assert sorted(map(tuple, changed)) == sorted(zip(got["row"], got["col"], strict=True))
        mixed = (c0.mant < 0).any() and (c0.mant > 0).any()
        for r, c, bits, before, after in zip(got["row"], got["col"], got["bits"],
                                             got["before"], got["after"], strict=True):
            assert c0.mant[r, c] == before and c1.mant[r, c] == after
            assert _word(before, mixed) ^ _word(after, mixed) == sum(1 << b for b in bits)


def test_transforms_give_the_same_network_on_dense_and_sparse_weights():
    target = hal.get_target("cpu")
    base = hal.compile(NET, target="cpu").net
    plan = FaultPlan.parse({"dead_neurons": 0.2, "dead_synapses": 0.2,
                            "weight_bitflips": 0.05}, seed=7)
    dense, sparse = copy.deepcopy(base), copy.deepcopy(base)
    for c in sparse.connections:
        c.weight, c.mant = sp.csr_matrix(c.weight), sp.csr_matrix(c.mant)
    r1 = apply_network_faults(dense, plan, target)
    r2 = apply_network_faults(sparse, plan, target)
    assert r1 == r2
    for a, b in zip(dense.connections, sparse.connections, strict=True):
        # Connection stores CSR whatever was assigned; .mant/.weight are dense copies
        assert sp.issparse(b.mant_matrix) and np.array_equal(a.mant, b.mant)
        assert np.allclose(a.weight, b.weight)


def test_lava_weights_copy_lavas_sign_modes():
    assert lava_weights(np.array([[3, -5]]), 8).tolist() == [[2, -6]]  # mixed: drop bit 0
    assert lava_weights(np.array([[3, 300]]), 8).tolist() == [[3, 255]]
    assert lava_weights(np.array([[-3, -300]]), 8).tolist() == [[-3, -255]]


@lava
@pytest.mark.parametrize("plan, tmr", LAVA_PLANS,
                         ids=[",".join(p) + ("+tmr" if t else "") for p, t in LAVA_PLANS])
def test_cpu_and_lava_spike_identically_under_the_same_plan(plan, tmr):
    _, clean = _spikes("cpu")
    exe, a = _spikes("cpu", plan, tmr)
    _, b = _spikes("loihi2-sim", plan, tmr)
    assert b.backend == "lava_sim"
    assert all(np.array_equal(a.spikes[p], b.spikes[p]) for p in a.spikes)
    kind = next(k for k in plan if k in FAULTS)
    assert exe.faults.broken.get(kind) or FAULTS[kind].stage == "input"
    assert any(not np.array_equal(a.spikes[p], clean.spikes[p]) for p in clean.spikes)


# -- campaigns on the digits classifier ------------------------------------------------------

MODEL, DATA = DIGITS_MODEL, DIGITS_DATA


def test_dead_neuron_curve_starts_at_the_clean_accuracy_and_tmr_helps(digits):
    from hal.faults.campaign import base, curve
    from hal.snn.inference import predict

    graph, x, y = digits
    plain = base(graph, "cpu")
    clean = predict(hal.compile(graph, target="cpu"), x, y, steps=32, seed=0,
                    batch_size=len(x)).accuracy
    c = curve(plain, x, y, "dead_neurons", rates=(0.0, 0.1), seeds=5)
    assert c["accuracy"][0] == [clean] * 5
    assert c["mean"][1] < clean  # 10% dead neurons cost accuracy
    t = curve(base(graph, "cpu", tmr=True), x, y, "dead_neurons", rates=(0.1,), seeds=5)
    assert t["mean"][0] >= c["mean"][1]


# -- scenarios and the CLI -------------------------------------------------------------------

def test_six_presets_ship_as_data_and_bad_files_name_the_key(tmp_path):
    from hal.faults.scenarios import PRESETS, load, presets

    assert [s.name for s in presets()] == list(PRESETS) and len(PRESETS) == 6
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\nfaults: {dead_neuronz: 0.1}\n")
    with pytest.raises(ValidationError, match="mine.yaml: faults: unknown fault kind"):
        load(bad)
    bad.write_text("name: mine\nfautls: {}\n")
    with pytest.raises(ValidationError, match="unknown key\\(s\\) fautls"):
        load(bad)


def test_hal_robustness_json_reports_six_scenarios_with_latency_percentiles(tmp_path):
    import json

    from click.testing import CliRunner

    from hal.cli import main

    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\nfaults: {dead_neurons: 0.5}\nseeds: 2\n")
    r = CliRunner().invoke(main, ["robustness", str(MODEL), "--data", str(DATA), "--limit",
                                  "40", "--kinds", "dead_synapses", "--rates", "0,0.3",
                                  "--seeds", "2", "--tmr-kinds", "", "--latency-samples",
                                  "3", "--plot", str(tmp_path / "c.png"), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert [s["name"] for s in rep["scenarios"]][0] == "normal_operation"
    assert len(rep["scenarios"]) == 6 and (tmp_path / "c.png").stat().st_size > 0
    for s in rep["scenarios"]:
        for side in ("tmr_off", "tmr_on"):
            assert 0 <= s[side]["accuracy"] <= 1
            lat = s[side]["latency_ms"]
            assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert rep["scenarios"][0]["tmr_off"]["accuracy"] == rep["clean_accuracy"]
    assert rep["curves"]["dead_synapses"]["mean"][0] == rep["clean_accuracy"]
    assert rep["tmr_cost"]["on"]["neurons"] == 4 * rep["tmr_cost"]["off"]["neurons"]
    r = CliRunner().invoke(main, ["robustness", str(MODEL), "--data", str(DATA), "--limit",
                                  "40", "--no-curves", "--scenario", str(mine), "--json"])
    assert json.loads(r.output)["scenarios"][0]["tmr_off"]["broken"]["dead_neurons"] > 0


def test_hal_run_takes_a_fault_plan_and_names_a_bad_key(tmp_path):
    import json

    from click.testing import CliRunner

    from hal.cli import main

    r = CliRunner().invoke(main, ["run", str(MODEL), "--data", str(DATA), "--limit", "20",
                                  "--batch-size", "20", "--faults", "dead_neurons=0.2",
                                  "--fault-seed", "3", "--tmr", "--json"])
    assert r.exit_code == 0, r.output
    faults = json.loads(r.output)["provenance"]["faults"]
    assert faults["plan"]["seed"] == 3 and faults["tmr"]["voters"] == ["lif1", "lif2"]
    assert faults["broken"]["dead_neurons"]["count"] > 0
    r = CliRunner().invoke(main, ["run", str(MODEL), "--data", str(DATA), "--faults",
                                  "dead_neuronz=0.1"])
    assert r.exit_code == 2 and "dead_neuronz" in r.output and "dead_neurons" in r.output


# -- health monitoring -----------------------------------------------------------------------

def test_health_monitor_detects_injected_dead_and_saturated_neurons(digits):
    from hal.faults.health import HealthMonitor, profile, score
    from hal.snn.encode import encode

    graph, x, _ = digits
    s = encode.rate(x[:60], 32, seed=0)
    prof = profile(hal.compile(graph, target="cpu").run(s[:30]))
    clean = HealthMonitor(prof)
    clean.observe(hal.compile(graph, target="cpu").run(s[30:]))
    assert clean.report()["silent"] == {} and clean.report()["saturated"] == {}  # no alarms
    rates = {"silent": [], "saturated": []}
    for seed in range(3):
        bad = hal.compile(graph, target="cpu", faults={"dead_neurons": 0.1,
                                                       "saturated_neurons": 0.05},
                          fault_seed=seed)
        mon = HealthMonitor(prof)
        with bad.open(batch=30) as session:  # a live session, step by step
            for t in range(32):
                mon.update(session.step(s[30:, t]))
        got = score(mon, {"silent": bad.faults.broken["dead_neurons"]["neurons"],
                          "saturated": bad.faults.broken["saturated_neurons"]["neurons"]})
        for k in rates:
            assert got[k]["detectable"] > 0
            rates[k].append(got[k]["detection_rate"])
            assert all(p == "lif2" for p, _ in got[k]["other_flagged"])  # downstream only
    assert np.mean(rates["silent"]) == 1.0 and np.mean(rates["saturated"]) == 1.0


# -- liquid networks -------------------------------------------------------------------------

def test_liquid_faults_give_the_same_faulty_net_on_every_liquid_target():
    from hal.liquid.ir import random_cfc

    net = random_cfc(3, 10, 2, seed=0)
    u = np.random.default_rng(1).normal(size=(2, 30, 3))
    clean = hal.compile(net, target="cpu-float").run(u).outputs
    same = hal.compile(net, target="cpu-float", faults={"dead_neurons": 0.0}).run(u).outputs
    assert np.array_equal(clean, same)
    plan = {"dead_neurons": 0.3, "weight_variation": 0.1}
    a = hal.compile(net, target="cpu-float", faults=plan, fault_seed=2)
    assert a.faults.broken["dead_neurons"]["count"] > 0
    out = a.run(u).outputs
    assert not np.allclose(out, clean)
    fixed = hal.compile(net, target="cpu", faults=plan, fault_seed=2).run(u).outputs
    assert np.abs(fixed - out).max() < 0.05  # the same faulty net, quantized
    with pytest.raises(ValidationError, match="liquid networks take dead_neurons"):
        hal.compile(net, target="cpu-float", faults={"saturated_neurons": 0.1})
    with pytest.raises(ValidationError, match="weight_bitflips applies to fixed-point"):
        hal.compile(net, target="cpu-float", faults={"weight_bitflips": 0.1})


def test_liquid_weight_bitflips_flip_the_lowered_integers_alike_on_fixed_targets(tmp_path):
    from hal.liquid.ir import random_cfc

    net = random_cfc(3, 10, 2, seed=0)
    u = np.random.default_rng(1).normal(size=(2, 30, 3))
    clean = hal.compile(net, target="cpu")
    exe = hal.compile(net, target="cpu", faults={"weight_bitflips": 0.05}, fault_seed=4)
    flips = exe.faults.broken["weight_bitflips"]
    assert flips["weight_bits"] == 8 and flips["bits_flipped"] > 0
    hit = flips["matrices"]["layers[0].ff1"]  # the report's "after" is what the program holds
    assert exe.fixed.layers[0]["ff1"].mant.reshape(-1)[hit["index"]].tolist() == hit["after"]
    assert all(-128 <= a <= 127 for m in flips["matrices"].values() for a in m["after"])
    out = exe.run(u).outputs
    assert not np.array_equal(out, clean.run(u).outputs)
    assert np.array_equal(out, hal.compile(net, target="cpu", faults={"weight_bitflips": 0.05},
                                           fault_seed=4).run(u).outputs)  # seeded
    exe.save(tmp_path / "cfc.npz")
    back = hal.load_executable(tmp_path / "cfc.npz")
    assert np.array_equal(back.run(u).outputs, out)
    assert back.faults.to_dict() == exe.faults.to_dict()
    one = hal.compile(net, target="cpu", faults={"weight_bitflips": 0.5, "bitflip_bit": 7},
                      fault_seed=4).faults.broken["weight_bitflips"]
    pairs = [(b, a) for m in one["matrices"].values()
             for b, a in zip(m["before"], m["after"], strict=True)]
    assert pairs and all(a == (b - 128 if b >= 0 else b + 128) for b, a in pairs)  # sign bit
    if has_module("lava") and sys.version_info[:2] == (3, 10):
        lava_out = hal.compile(net, target="loihi2-sim", faults={"weight_bitflips": 0.05},
                               fault_seed=4, fallback=False).run(u).outputs
        assert np.array_equal(lava_out, out)
