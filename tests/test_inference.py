"""Encoders, decoders, activity metrics, estimates and inference on the digits model
(issue 14)."""

import json
import sys
from pathlib import Path

import nir
import numpy as np
import pytest
import scipy.sparse as sp

import hal
from hal.errors import ValidationError
from hal.snn import metrics
from hal.snn.encode import decode, encode
from hal.snn.inference import predict
from hal.snn.ir import random_network

from .conftest import DIGITS_DATA, DIGITS_MODEL, has_module

ROOT = Path(__file__).resolve().parents[1]
MODEL, DATA = DIGITS_MODEL, DIGITS_DATA
lava = pytest.mark.skipif(not has_module("lava") or sys.version_info[:2] != (3, 10),
                          reason="lava-nc needs Python 3.10 and the lava extra")


# -- encoders ----------------------------------------------------------------------------

@pytest.mark.parametrize("method, expect", [("bernoulli", lambda x: x),
                                            ("poisson", lambda x: 1 - np.exp(-x))])
def test_rate_code_fires_at_the_intensity(method, expect):
    x = np.array([[0.0, 0.1, 0.5, 0.9, 1.0]])
    s = encode.rate(x, steps=4000, seed=3, method=method)
    p = expect(x[0])
    tol = 4 * np.sqrt(p * (1 - p) / 4000) + 1e-12  # 4 sigma of a binomial mean
    assert np.all(np.abs(s[0].mean(axis=0) - p) <= tol)
    assert set(np.unique(s)) <= {0.0, 1.0}


def test_rate_code_is_seeded_and_rows_do_not_depend_on_the_batch():
    x = np.random.default_rng(0).random((6, 8))
    a, b = encode("rate", x, steps=50, seed=7), encode("rate", x, steps=50, seed=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, encode("rate", x, steps=50, seed=8))
    assert np.array_equal(encode("rate", x[:3], steps=50, seed=7), a[:3])
    assert np.array_equal(encode("rate", x[0], steps=50, seed=7), a[0])


@pytest.mark.parametrize("method", ["linear", "log"])
def test_latency_code_preserves_first_spike_order(method):
    x = np.random.default_rng(1).random(40)
    s = encode.latency(x, steps=64, method=method, threshold=0.05)
    assert np.all(s.sum(axis=0) == (x >= 0.05))                  # one spike, or none
    t = decode.first_spike(s)
    fired = np.flatnonzero(x >= 0.05)
    order = fired[np.argsort(-x[fired], kind="stable")]           # brightest first
    assert np.all(np.diff(t[order]) >= 0)
    assert t[np.argmax(x)] == t[fired].min() and t[fired].max() > t[fired].min()


def test_delta_events_reconstruct_the_signal():
    t = np.arange(400)
    sig = np.stack([np.sin(t / 20), 0.5 * np.cos(t / 35)], axis=1)  # slopes < 0.05/step
    thr = 0.05
    s = encode.delta(sig, threshold=thr, start="first")
    on, off = s[:, :2], s[:, 2:]
    recon = sig[0] + thr * np.cumsum(on - off, axis=0)
    assert np.abs(recon - sig).max() < thr
    assert on.sum() > 10 and off.sum() > 10 and not np.any(on * off)
    assert encode.delta(sig, threshold=thr, off_channels=False).shape == (400, 2)


def test_population_code_peaks_at_the_nearest_field():
    x = np.array([0.0, 0.33, 0.62, 1.0])
    s = encode.population(x, steps=3000, neurons=6, seed=0)
    rates = s.mean(axis=0).reshape(4, 6)
    centres = np.linspace(0, 1, 6)
    assert rates.argmax(axis=1).tolist() == [int(np.abs(centres - v).argmin()) for v in x]
    lat = encode.population(x, steps=20, neurons=6, code="latency")
    assert lat.shape == (20, 24) and np.all(lat.sum(axis=0) <= 1)


def test_encoder_errors_name_the_fix():
    with pytest.raises(ValidationError, match="known encoders: delta, latency"):
        encode("morse", np.zeros(3), steps=4)
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        encode.rate(np.array([0.5, 1.5]), steps=4)
    with pytest.raises(ValidationError, match="known decoders"):
        decode("vote", np.zeros((3, 2)))


# -- decoders ----------------------------------------------------------------------------

def test_spike_decoders_on_hand_trains():
    s = np.zeros((2, 10, 3))
    s[0, [2, 5, 7], 1] = 1
    s[0, 4, 0] = 1
    s[1, [1, 2], 2] = 1
    assert decode.count(s).tolist() == [[1, 3, 0], [0, 0, 2]]
    assert decode("rate", s, dt=1e-3).tolist() == [[100.0, 300.0, 0.0], [0.0, 0.0, 200.0]]
    assert decode.first_spike(s).tolist() == [[4, 2, 10], [10, 10, 1]]
    assert decode.labels("count", s).tolist() == [1, 2]
    assert decode.labels("first_spike", s).tolist() == [1, 2]


def _li_readout() -> nir.NIRGraph:
    n = 2
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([2])),
        "fc": nir.Linear(weight=np.array([[0.2, 0.0], [0.0, 1.0]], np.float32)),
        "out": nir.LI(tau=np.full(n, 1e-3, np.float32), r=np.ones(n, np.float32),
                      v_leak=np.zeros(n, np.float32)),
        "output": nir.Output(output_type=np.array([n]))},
        edges=[("input", "fc"), ("fc", "out"), ("out", "output")])


@pytest.mark.parametrize("target", ["cpu-float", "cpu"])
def test_membrane_decoder_reads_the_output_voltage(target):
    exe = hal.compile(_li_readout(), target=target)
    x = np.array([[1.0, 0.3], [0.1, 0.9]])
    p = predict(exe, x, encoder="rate", decoder="membrane", steps=40, seed=0,
                batch_size=2)
    res = exe.run(x, 40, seed=0, record=("spikes", "v"), encoder="rate")
    v = res.voltage("out")
    assert np.allclose(p.outputs, v.max(axis=1))
    assert p.labels.tolist() == [1, 1]  # input 1 has 5x the weight of input 0
    with pytest.raises(hal.ValidationError, match="'membrane' reads voltages, got spikes"):
        hal.decode.labels("membrane", res.spikes["out"])


# -- activity ----------------------------------------------------------------------------

def _hand_count(net, fixed, spikes, x):
    """Synaptic ops by explicit loops: every nonzero input or spike, times the nonzero
    weights in its column."""
    acs = macs = 0
    binary = np.isin(x, (0, 1)).all()
    for c in net.connections:
        w = c.mant if fixed else c.weight
        src = x if c.source == "input" else spikes[c.source]
        for b in range(src.shape[0]):
            for t in range(src.shape[1]):
                for j in range(src.shape[2]):
                    if src[b, t, j] != 0:
                        n = sum(1 for i in range(w.shape[0]) if w[i, j] != 0)
                        if c.source == "input" and not binary:
                            macs += n
                        else:
                            acs += n
    return acs, macs


@pytest.mark.parametrize("target, analog", [("cpu", False), ("cpu-float", True)])
def test_synaptic_ops_equal_a_hand_count(target, analog):
    g = random_network(5, 12, 4, seed=11, recurrent=True, density=0.4)
    rng = np.random.default_rng(4)
    x = rng.random((3, 30, 5)) * (rng.random((3, 30, 5)) < 0.4)
    x = x if analog else (x > 0).astype(float)
    exe = hal.compile(g, target=target)
    res = exe.run(x)
    acs, macs = _hand_count(exe.net, target == "cpu", res.spikes, x)
    so = res.activity["synaptic_operations"]
    assert acs > 0 and so["effective_acs"] * 3 == pytest.approx(acs, abs=1e-9)
    assert so["effective_macs"] * 3 == pytest.approx(macs, abs=1e-9)
    assert (macs > 0) == analog
    dense = sum(c.weight.size for c in exe.net.connections) * 30
    assert so["dense"] == dense
    n_spk = sum(int(res.spikes[p].sum()) for p in ("lif1", "lif2"))
    assert res.activity["activation_sparsity"] == pytest.approx(1 - n_spk / (3 * 30 * 16))
    zeros = sum(int((c.weight == 0).sum()) for c in exe.net.connections)
    assert res.activity["connection_sparsity"] == pytest.approx(zeros / (dense / 30))
    # the same counts when connections hold scipy.sparse matrices (the event engine's form)
    for c in exe.net.connections:
        c.weight = sp.csr_matrix(c.weight)
        c.mant = None if c.mant is None else sp.csr_matrix(c.mant)
    again = metrics.activity(exe.net, exe.target, res.spikes, x)["synaptic_operations"]
    assert again == so


def test_isi_cv_and_rates_on_hand_trains():
    s = np.zeros((1, 40, 3), bool)
    s[0, ::4, 0] = True                      # regular: CV 0
    s[0, [0, 2, 6, 8, 12], 1] = True         # ISIs 2, 4, 2, 4: CV 1/3
    assert metrics._isi_cv(s[..., :1]) == 0.0
    assert metrics._isi_cv(s[..., 1:2]) == pytest.approx(1 / 3)
    assert metrics._isi_cv(s[..., 2:]) is None  # silent


def test_footprint_at_target_widths():
    g = random_network(3, 5, 2, seed=0)
    fixed = hal.compile(g, target="cpu")
    fp = metrics.footprint(fixed.net, fixed.target)
    assert fp["weights"] == (3 * 5 + 5 * 2) * 8 // 8      # 8-bit weights
    assert fp["neuron_state"] == 7 * 2 * 24 // 8          # u, v at 24 bits
    flt = hal.compile(g, target="cpu-float")
    assert metrics.footprint(flt.net, flt.target)["weights"] == 25 * 8  # float64


# -- estimates ---------------------------------------------------------------------------

def test_loihi_estimate_is_the_sum_of_its_parts():
    g = random_network(4, 10, 3, seed=5)
    t = hal.get_target("loihi2-sim")
    exe = hal.compile(g, target="cpu")                   # same fixed-point network
    x = (np.random.default_rng(2).random((2, 25, 4)) < 0.5).astype(float)
    res = exe.run(x)
    counts = metrics.step_counts(exe.net, t, res.spikes, x)
    est = metrics.estimate(exe.net, t, counts)
    v = {k: c.value for k, c in t.costs.values.items()}
    acs = res.activity["synaptic_operations"]["effective_acs"]
    spikes = {p: res.spikes[p].sum() / 2 for p in res.spikes}
    want = (acs * v["synaptic_op_pj"] + 13 * 25 * v["neuron_update_pj"]
            + spikes["lif1"] * (v["spike_out_pj"] + v["tile_hop_pj"]))  # lif2 feeds nothing
    assert est["estimate"] is True
    assert est["energy_pj"]["per_inference"] == pytest.approx(want)
    assert est["energy_pj"]["per_step"] == pytest.approx(want / 25)
    lat = est["latency_ns"]
    assert lat["barrier_sync_per_step"] == v["barrier_1_tile_ns"]     # 2 cores, 1 tile
    assert lat["per_step"] >= 10 * v["neuron_update_ns"] + lat["barrier_sync_per_step"]
    assert lat["per_inference"] == pytest.approx(lat["per_step"] * 25)
    assert "Davies" in est["sources"]["synaptic_op_pj"]
    assert "no per-operation" in t.costs.note or "no published" in t.costs.note.lower()


def test_every_cost_needs_a_source(tmp_path):
    text = (ROOT / "hw_configs" / "torch.yaml").read_text()
    bad = tmp_path / "torch.yaml"
    bad.write_text(text.replace(', source: "torch float32', ', note: "torch float32'))
    with pytest.raises(ValidationError, match="source"):
        hal.target.Target.from_file(bad)


# -- the digits model --------------------------------------------------------------------

def test_digits_accuracy_float_and_fixed(digits):
    g, x, y = digits
    kw = {"encoder": "rate", "decoder": "count", "steps": 32, "seed": 0, "batch_size": 360}
    flt = predict(hal.compile(g, target="cpu-float"), x, y, **kw)
    fix = predict(hal.compile(g, target="cpu"), x, y, **kw)
    assert len(y) == 360 and x.min() >= 0 and x.max() <= 1
    assert flt.accuracy >= 0.9
    assert abs(fix.accuracy - flt.accuracy) <= 0.01
    assert fix.estimate["energy_pj"]["per_inference"] > 0


def test_run_encodes_analog_input_like_hal_encode(digits):
    g, x, _ = digits
    exe = hal.compile(g, target="cpu")
    a = exe.run(x[:4], 32, seed=5, encoder="rate")
    b = exe.run(encode.rate(x[:4], 32, seed=5))
    assert all(np.array_equal(a.spikes[p], b.spikes[p]) for p in a.spikes)
    assert a.activity["synaptic_operations"] == b.activity["synaptic_operations"]


def test_cli_run_data_json_and_check_estimate(digits):
    from click.testing import CliRunner

    from hal.cli import main

    r = CliRunner().invoke(main, ["run", str(MODEL), "--data", str(DATA), "--encode", "rate",
                                  "--steps", "32", "--decode", "count", "--target", "cpu",
                                  "--limit", "40", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["samples"] == 40 and 0.8 <= out["accuracy"] <= 1
    assert set(out["latency_ms"]) >= {"p50", "p95", "p99"}
    assert out["activity"]["synaptic_operations"]["effective_acs"] > 0
    assert out["estimate"]["estimate"] is True and out["estimate"]["sources"]
    r = CliRunner().invoke(main, ["check", str(MODEL), "--target", "loihi2", "--json"])
    assert r.exit_code == 0, r.output
    est = json.loads(r.output)["estimate"]
    assert est["estimate"] is True and est["energy_pj"]["per_inference"] > 0
    assert est["latency_ns"]["per_step"] > 0 and "Davies" in json.dumps(est["sources"])


@lava
def test_digits_identical_predictions_cpu_and_loihi2_sim(digits):
    g, x, y = digits
    kw = {"encoder": "rate", "decoder": "count", "steps": 32, "seed": 0}
    cpu = predict(hal.compile(g, target="cpu"), x[:8], y[:8], **kw)
    sim = predict(hal.compile(g, target="loihi2-sim"), x[:8], y[:8], **kw)
    assert np.array_equal(cpu.outputs, sim.outputs)          # spike counts, bit-exact
    assert np.array_equal(cpu.labels, sim.labels)
    assert cpu.activity["synaptic_operations"] == sim.activity["synaptic_operations"]


# -- NeuroBench --------------------------------------------------------------------------

def test_synaptic_ops_equal_neurobench(digits):
    pytest.importorskip("torch", reason="NeuroBench needs torch (not in the core install)")
    pytest.importorskip("neurobench", reason="neurobench is not installed (pip install "
                        "neurobench snntorch); it is an optional cross-check")
    import torch
    from neurobench.metrics.workload import SynapticOperations
    from neurobench.models import TorchModel

    g, x, _ = digits
    exe = hal.compile(g, target="cpu")
    xs = encode.rate(x[:16], 32, seed=0)
    res = exe.run(xs)
    w = {c.target: c.mant for c in exe.net.connections}

    class Replay(torch.nn.Module):
        """hal's layers as torch Linear layers, fed the spikes hal's run produced."""

        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(64, 64)
            self.fc2 = torch.nn.Linear(64, 10)
            with torch.no_grad():
                self.fc1.weight.copy_(torch.tensor(w["lif1"], dtype=torch.float32))
                self.fc2.weight.copy_(torch.tensor(w["lif2"], dtype=torch.float32))
            self.s1 = torch.tensor(res.spikes["lif1"], dtype=torch.float32)

        def forward(self, batch):
            for t in range(batch.shape[1]):
                self.fc1(batch[:, t])
                self.fc2(self.s1[:, t])
            return torch.zeros(batch.shape[0])

    model = TorchModel(Replay())
    model.register_hooks()
    metric = SynapticOperations()
    batch = torch.tensor(xs, dtype=torch.float32)
    nb = metric(model, model(batch), (batch, torch.zeros(len(batch))))
    so = res.activity["synaptic_operations"]
    assert nb["Effective_ACs"] == pytest.approx(so["effective_acs"])
    assert nb["Effective_MACs"] == so["effective_macs"] == 0
    assert nb["Dense"] == pytest.approx(so["dense"])
