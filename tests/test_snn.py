import json
import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest

import hal
from hal.snn.ir import random_network

from .conftest import has_module, leaked_shm, shm_files

lava = pytest.mark.skipif(not has_module("lava") or sys.version_info[:2] != (3, 10),
                          reason="lava-nc needs Python 3.10 and the lava extra")
PAPER = {"v_scale": 256, "rounding": "floor", "decay_scale": 4095}


@pytest.fixture
def lif(benchmarks):
    d = benchmarks / "nir" / "01_lif"
    ref = np.loadtxt(d / "lif_lava_cpu_fixed.csv", delimiter=",")
    exact = np.loadtxt(d / "lif_exact.csv", delimiter=",")
    return hal.load(d / "lif_norse.nir"), ref, exact


def test_cpu_reproduces_lava_fixed_csv(lif):
    g, ref, _ = lif
    res = hal.compile(g, target="cpu", **PAPER).run(ref[:, :1], record="all")
    assert np.flatnonzero(res.spikes["1"][:, 0]).tolist() == [461, 511, 711, 761]
    assert np.array_equal(res.states["1"]["v"][:, 0], ref[:, 1])
    assert res.delay_steps["1"] == 1


def test_cpu_float_compensated_spikes_at_exact_steps(lif):
    g, ref, exact = lif
    res = hal.compile(g, target="cpu-float", compensate_delay=True).run(ref[:, :1])
    assert np.flatnonzero(res.spikes["1"][:, 0]).tolist() == [460, 510, 710, 760]
    assert np.flatnonzero(exact[:, 2]).tolist() == [460, 510, 710, 760]
    assert res.delay_steps["1"] == 0


@lava
def test_lava_fixed_reproduces_csv_and_equals_cpu(lif):
    g, ref, _ = lif
    lava_res = hal.compile(g, target="loihi2-sim", **PAPER).run(ref[:, :1], record="all")
    cpu_res = hal.compile(g, target="cpu", **PAPER).run(ref[:, :1], record="all")
    assert np.flatnonzero(lava_res.spikes["1"][:, 0]).tolist() == [461, 511, 711, 761]
    assert np.array_equal(lava_res.states["1"]["v"][:, 0], ref[:, 1])
    for k in ("v", "u"):
        assert np.array_equal(lava_res.states["1"][k], cpu_res.states["1"][k])


def test_batched_equals_one_stream_at_a_time():
    g = random_network(4, 20, 3, seed=3, recurrent=True)
    x = (np.random.default_rng(0).random((5, 40, 4)) < 0.3).astype(float)
    exe = hal.compile(g, target="cpu")
    batch = exe.run(x)
    for b in range(5):
        assert np.array_equal(batch.spikes["lif1"][b], exe.run(x[b]).spikes["lif1"])


def test_fixed_vs_float_fidelity_report():
    g = random_network(4, 30, 3, seed=5)
    x = (np.random.default_rng(1).random((100, 4)) < 0.3).astype(float)
    rep = hal.compare(hal.compile(g, target="cpu").run(x, record="v"),
                      hal.compile(g, target="cpu-float").run(x, record="v"))
    assert rep.spike_count_agreement > 0.8 and rep.voltage_rmse < 0.02
    shifted = hal.compile(g, target="cpu-float", compensate_delay=True).run(x)
    rep2 = hal.compare(shifted, hal.compile(g, target="cpu-float").run(x))
    assert rep2.delay_steps == {"lif1": -1, "lif2": -2} and rep2.spike_time_agreement > 0.99


def test_quantization_report_and_saturation():
    g = random_network(3, 5, 2, seed=0)
    g.nodes["fc2"].weight[0, 0] = 1e6  # far beyond 8 bits at any shared scale
    from hal.snn.api import check

    rep = check(g, "loihi2", v_scale=64)
    q = rep["quantization"]
    assert rep["fits"] and rep["mapping"]["cores"] == 2
    assert q["parameters"]["lif1->lif2"]["saturated"] == 1
    assert q["parameters"]["lif1->lif2"]["max_error"] > 1e3
    assert any("saturate at 8 bits" in w for w in q["warnings"])
    assert not any("wraps around" in w for w in q["warnings"])  # LIF: du = 1, u = input
    slow = nir.NIRGraph(nodes={  # a slow synapse integrates 100 steps of full input
        "input": nir.Input(input_type=np.array([4])), "w": nir.Linear(weight=np.ones((1, 4))),
        "n": nir.CubaLIF(tau_syn=np.array([1e-2]), tau_mem=np.array([1e-3]), r=np.ones(1),
                         v_leak=np.zeros(1), v_threshold=np.ones(1), v_reset=np.zeros(1),
                         w_in=np.full(1, 50.0)),
        "output": nir.Output(output_type=np.array([1]))},
        edges=[("input", "w"), ("w", "n"), ("n", "output")], type_check=False)
    assert any("wraps around" in w for w in check(slow, "loihi2")["quantization"]["warnings"])
    clean = check(random_network(3, 5, 2, seed=0), "loihi2")["quantization"]
    assert clean["warnings"] == [] and clean["format"]["state_bits"] == 24
    assert clean["parameters"]["input->lif1"]["max_error"] < 0.01


def test_too_big_network_does_not_fit(tmp_path, monkeypatch):
    from hal.snn.api import check

    text = (Path(hal.get_target("loihi2").path).read_text()
            .replace("name: loihi2", "name: loihi2-tiny").replace("cores: 128", "cores: 2"))
    (tmp_path / "loihi2-tiny.yaml").write_text(text)
    monkeypatch.setenv("HAL_TARGETS_PATH", str(tmp_path))
    g = random_network(2, 9000, 2, seed=0, density=0.001)
    rep = check(g, "loihi2-tiny")
    assert rep["mapping"]["populations"]["lif1"]["cores"] == 2
    assert not rep["fits"] and rep["mapping"]["problems"] == ["needs 3 cores, the target has 2"]
    path = tmp_path / "big.nir"
    nir.write(str(path), g)
    out = subprocess.run([sys.executable, "-m", "hal", "check", str(path), "-t", "loihi2-tiny"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "needs 3 cores" in out.stdout


@pytest.mark.parametrize("mutate,match", [
    (lambda g: g.nodes["fc1"].weight.__setitem__((0, 0), np.nan), "fc1.*NaN"),
    (lambda g: setattr(g.nodes["fc2"], "weight", np.ones((2, 7), np.float32)),
     "shape mismatch.*fc2"),
    (lambda g: g.edges.append(("lif2", "ghost")), "ghost"),
])
def test_bad_networks_give_clear_errors(mutate, match):
    g = random_network(3, 5, 2, seed=0)
    mutate(g)
    with pytest.raises(hal.HALError, match=match):
        hal.compile(g, target="cpu")


def test_cli_run_json_and_bad_files(lif, tmp_path):
    g, ref, _ = lif
    x = tmp_path / "x.npy"
    np.save(x, ref[:, :1])
    model = str(tmp_path / "m.nir")
    import nir

    nir.write(model, g)
    out = subprocess.run([sys.executable, "-m", "hal", "run", model, "-t", "cpu", "--input",
                          str(x), "--compare", "cpu-float", "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["spike_counts"]["1"] == [4] and d["fidelity"]["passed"]
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    for args in (["run", str(bad), "--input", str(x)], ["run", "missing.nir", "--input", str(x)]):
        r = subprocess.run([sys.executable, "-m", "hal", *args], capture_output=True, text=True)
        assert r.returncode == 2 and "Traceback" not in r.stderr


def test_loihi2_hardware_compiles_but_cannot_run_here(lif):
    g, _, _ = lif
    from hal.snn.api import check

    assert check(g, "loihi2")["fits"]
    with pytest.raises(hal.BackendUnavailable, match="Loihi"):
        hal.compile(g, target="loihi2")
    with pytest.warns(hal.FallbackWarning):
        exe = hal.compile(g, target="loihi2", fallback=True)
    assert exe.target.name in ("loihi2-sim", "cpu")


def test_cpu_session_steps_equal_run_batched_and_reset():
    g = random_network(4, 20, 3, seed=3, recurrent=True)
    x = (np.random.default_rng(0).random((3, 30, 4)) < 0.3).astype(float)
    exe = hal.compile(g, target="cpu")
    ref = exe.run(x)
    with exe.open(batch=3) as s:
        assert s.delays == {"lif1": 1, "lif2": 2}
        for _ in range(2):  # the second pass checks reset
            got = [s.step(x[:, t]) for t in range(30)]
            for pop in ("lif1", "lif2"):
                assert np.array_equal(np.stack([g[pop] for g in got], 1), ref.spikes[pop])
            s.reset()
        with pytest.raises(hal.ValidationError, match=r"shape \(3, 4\)"):
            s.step(np.zeros(4))


@lava
@pytest.mark.timeout(240)
def test_lava_session_equals_cpu_run_and_leaves_no_shared_memory():
    g = random_network(3, 12, 2, seed=7, recurrent=True)
    x = (np.random.default_rng(2).random((40, 3)) < 0.4).astype(float)
    ref = hal.compile(g, target="cpu").run(x)
    exe = hal.compile(g, target="loihi2-sim", fallback=False)
    before = shm_files()
    with exe.open() as s:
        for _ in range(2):
            got = [s.step(x[t]) for t in range(40)]
            assert np.array_equal(np.stack([g["lif2"] for g in got]), ref.spikes["lif2"])
            assert np.array_equal(np.stack([g["lif1"] for g in got]), ref.spikes["lif1"])
            s.reset()
        with pytest.raises(hal.ValidationError, match="0/1"):
            s.step(np.full(3, 0.5))
    for _ in range(20):  # the runtime starts at the first step
        with exe.open() as s:
            assert np.array_equal(s.step(x[0])["lif1"], ref.spikes["lif1"][0])
    assert leaked_shm(before) == set()


@lava
@pytest.mark.timeout(240)
@pytest.mark.parametrize("target,ref_target", [("loihi2-sim", "cpu"),
                                               ("loihi2-sim-float", "cpu-float")])
def test_lava_batched_session_streams_states_like_cpu(target, ref_target):
    """B streams side by side in one Lava runtime, u and v streamed through HeteroLIF's
    state ports: the same spikes and states as the cpu engine's whole run."""
    from hal.snn.learning import STDP, attach

    g = random_network(3, 12, 2, seed=7, recurrent=True)
    x = (np.random.default_rng(3).random((3, 30, 3)) < 0.4).astype(float)
    ref = hal.compile(g, target=ref_target).run(x, record="all")
    exe = hal.compile(g, target=target, fallback=False)
    with exe.open(batch=3, record="all") as s:
        steps = []
        for t in range(30):
            spikes = s.step(x[:, t])
            steps.append((spikes, {n: dict(st) for n, st in s.states.items()}))
    for pop in ("lif1", "lif2"):
        assert np.array_equal(np.stack([sp[pop] for sp, _ in steps], 1), ref.spikes[pop])
        for key in ("u", "v"):
            got = np.stack([st[pop][key] for _, st in steps], 1)
            if target == "loihi2-sim":
                assert np.array_equal(got, ref.states[pop][key]), (pop, key)
            else:
                np.testing.assert_allclose(got, ref.states[pop][key], rtol=0, atol=1e-9)
    assert min(ref.spikes[p].sum() for p in ("lif1", "lif2")) > 3  # both layers spike
    plastic = hal.compile(attach(random_network(3, 4, 2, seed=1), "fc2", STDP()),
                          target=target, fallback=False)
    with pytest.raises(hal.ValidationError, match="learns per stream"):
        plastic.open(batch=2)
