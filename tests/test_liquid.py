"""Liquid (CfC, LTC) networks: ncps import, cpu-float and torch against ncps itself, sessions."""

import sys
import time

import numpy as np
import pytest

import hal
from hal.result import jsonable

from .conftest import has_module, leaked_shm, shm_files

torch = pytest.importorskip("torch", reason="needs the torch extra")
ncps_torch = pytest.importorskip("ncps.torch", reason="needs ncps (torch extra)")
from ncps.wirings import AutoNCP  # noqa: E402

TOL = 1e-5  # ncps runs in float32; cpu-float runs float64 from the same float32 weights
LAVA = has_module("lava") and sys.version_info[:2] == (3, 10)
lava = pytest.mark.skipif(not LAVA, reason="lava-nc needs Python 3.10 and the lava extra")
TARGETS = ("cpu-float", "torch", *(("loihi2-sim-float",) if LAVA else ()))


def models():
    """Thirteen seeded ncps models: CfC in each mode plain and wired (AutoNCP), backbones,
    readout; LTC plain, wired, and with softplus constraints."""
    out = []
    for i, mode in enumerate(("default", "pure", "no_gate")):
        torch.manual_seed(i)
        out.append((f"{mode}", ncps_torch.CfC(5, 16, mode=mode)))
        torch.manual_seed(10 + i)
        out.append((f"{mode}-autoncp", ncps_torch.CfC(5, AutoNCP(20, 3, seed=i), mode=mode)))
    torch.manual_seed(7)
    out.append(("silu-2layer-proj", ncps_torch.CfC(5, 12, proj_size=3, backbone_layers=2,
                                                   backbone_units=32, activation="silu")))
    torch.manual_seed(8)
    out.append(("no-backbone", ncps_torch.CfC(5, 10, backbone_layers=0)))
    torch.manual_seed(9)
    out.append(("gelu", ncps_torch.CfC(5, 8, activation="gelu", mode="no_gate")))
    torch.manual_seed(11)
    out.append(("relu-pure", ncps_torch.CfC(5, 8, activation="relu", mode="pure")))
    torch.manual_seed(12)
    out.append(("ltc", ncps_torch.LTC(5, 12)))
    torch.manual_seed(13)
    out.append(("ltc-autoncp", ncps_torch.LTC(5, AutoNCP(16, 3, seed=1))))
    torch.manual_seed(14)
    out.append(("ltc-softplus-3unfolds", ncps_torch.LTC(5, 10, implicit_param_constraints=True,
                                                        ode_unfolds=3)))
    return out


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).normal(size=(2, 200, 5)).astype(np.float32)


@pytest.mark.parametrize("label,module", models(), ids=[m[0] for m in models()])
def test_matches_ncps_forward(label, module, inputs):
    module.eval()
    with torch.no_grad():
        ref = module(torch.tensor(inputs))[0].numpy()
    net = hal.from_torch(module)
    for target in TARGETS:
        res = hal.compile(net, target=target, fallback=False).run(inputs)
        assert res.outputs.shape == ref.shape
        assert np.abs(res.outputs - ref).max() < TOL, (label, target)
    single = hal.compile(module, target="cpu-float").run(inputs[0]).outputs
    assert np.abs(single - ref[0]).max() < TOL


def test_multi_timescale_module_matches_on_every_target_and_bands_set_memory(inputs):
    from hal.liquid.torch_modules import MultiTimescale

    torch.manual_seed(0)
    module = MultiTimescale(5, 12, bands=(0.01, 0.1, 1.0, 10.0), dt=0.02, output_size=3)
    with torch.no_grad():
        ref = module(torch.tensor(inputs))[0].numpy()
        ts = torch.full((2, 200), 0.5)
        ref_ts = module(torch.tensor(inputs), timespans=ts)[0].numpy()
    net = hal.from_torch(module)
    assert net.tau.tolist() == [0.01, 0.1, 1.0, 10.0] * 3
    for target in TARGETS:
        res = hal.compile(module, target=target, fallback=False).run(inputs)
        assert np.abs(res.outputs - ref).max() < TOL, target
    half = hal.compile(net, target="cpu-float").run(inputs, timespans=0.5).outputs
    assert np.abs(half - ref_ts).max() < TOL
    # closed form, no recurrence: after a unit step held for n steps a neuron sits at
    # (1 - exp(-n dt / tau)) of its drive, whatever dt is
    from hal.liquid.ir import random_multi_timescale

    leaky = random_multi_timescale(1, 4, seed=1, dt=0.05, recurrent=False)
    leaky.w_in[:], leaky.b[:] = 1.0, 0.0
    x = hal.compile(leaky, target="cpu-float").run(np.ones((20, 1))).outputs
    assert np.allclose(x[-1], 1 - np.exp(-20 * 0.05 / leaky.tau), rtol=1e-12)
    assert x[-1, 0] > 0.999 and x[-1, 3] < 0.1  # 10 ms band follows, 10 s band remembers


@pytest.mark.parametrize("field,value,match", [
    ("bands", np.array([0.01, -1.0]), "bands: time constants must be finite and > 0"),
    ("band", np.array([0, 1, 2, 7]), r"band: indices must lie in 0\.\.3"),
    ("w_in", np.ones((4, 2)), r"w_in: expected shape \(4, 1\)"),
    ("dt", 0.0, "dt: must be a step length > 0"),
])
def test_multi_timescale_bad_fields_are_named(field, value, match):
    from dataclasses import asdict

    from hal.liquid.ir import MultiTimescaleNet, random_multi_timescale

    fields = {**asdict(random_multi_timescale(1, 4)), field: value}
    with pytest.raises(hal.ValidationError, match=match):
        MultiTimescaleNet(**fields)


def fixed_models():
    """CfC in each mode, wired, and a multi-timescale layer: the nets with a fixed-point
    lowering."""
    from hal.liquid.torch_modules import MultiTimescale

    out = []
    for i, mode in enumerate(("default", "pure", "no_gate")):
        torch.manual_seed(20 + i)
        out.append((mode, ncps_torch.CfC(5, 16, mode=mode)))
    torch.manual_seed(23)
    out.append(("autoncp", ncps_torch.CfC(5, AutoNCP(20, 3, seed=0))))
    torch.manual_seed(24)
    out.append(("multi-timescale", MultiTimescale(5, 12, dt=0.02, output_size=3)))
    return out


@pytest.mark.parametrize("label,module", fixed_models(), ids=[m[0] for m in fixed_models()])
def test_fixed_point_error_is_reported_and_bounded(label, module, inputs):
    """8-bit weights and 256-piece tables cost about 1% of the output range; the Lava
    fixed_pt model runs the same integers as the cpu target, bit for bit."""
    net = hal.from_torch(module)
    ref = hal.compile(net, target="cpu-float").run(inputs)
    exe = hal.compile(net, target="cpu")
    res = exe.run(inputs)
    fid = hal.compare(res, ref, max_error=0.05)
    assert fid.passed and fid.max_abs_error > 0, (label, fid)
    assert fid.relative_rmse < 0.02, (label, fid)
    q = exe.quantization
    assert (q["format"]["frac_bits"], q["format"]["weight_bits"]) == (16, 8)
    assert q["format"]["resolution"] == 2.0 ** -16 and q["format"]["range"] > 127
    assert all(0 < e < 1e-3 for e in q["lut_max_error"].values()), q["lut_max_error"]
    assert res.provenance["quantization"] == jsonable(q)
    assert np.all(np.round(res.outputs * 2 ** 16) == res.outputs * 2 ** 16)  # Q16 values
    if LAVA:
        lava = hal.compile(net, target="loihi2-sim", fallback=False).run(inputs[0, :50])
        assert np.array_equal(lava.outputs, res.outputs[0, :50]), label


def test_fixed_point_multi_timescale_reports_band_precision_and_refuses_frozen_bands():
    from hal.liquid.ir import random_multi_timescale

    exe = hal.compile(random_multi_timescale(2, 8, seed=0, dt=0.01), target="cpu")
    tau = exe.quantization["tau_effective"]  # 12-bit decays: 1 - exp(-dt/tau) on 4096 steps
    assert abs(tau[0.01] / 0.01 - 1) < 1e-3 and 0.02 < tau[10.0] / 10.0 - 1 < 0.03
    with pytest.raises(hal.CompileError, match=r"tau \[10.0\] s at dt=0.001 s .* never move"):
        hal.compile(random_multi_timescale(2, 8, seed=0, dt=0.001), target="cpu")
    with exe.open() as s, pytest.raises(hal.ValidationError, match="timespan 1.0 only"):
        s.step(np.zeros(2), timespan=0.5)


def test_session_steps_equal_run_and_reset_restarts(inputs):
    torch.manual_seed(0)
    exe = hal.compile(ncps_torch.CfC(5, AutoNCP(12, 2, seed=0)), target="cpu-float")
    whole = exe.run(inputs[0, :30]).outputs
    with exe.open() as s:
        stepped = np.stack([s.step(x) for x in inputs[0, :30]])
        assert np.array_equal(stepped, whole) and s.steps == 30
        s.reset()
        assert np.array_equal(s.step(inputs[0, 0]), whole[0])
        with pytest.raises(hal.ValidationError, match=r"shape \(5,\)"):
            s.step(np.zeros(4))
    with pytest.raises(hal.ValidationError, match="closed"):
        s.step(inputs[0, 0])
    batch = exe.open(batch=2)
    assert batch.step(inputs[:, 0]).shape == (2, 2)
    batch.close()
    batch.close()  # twice is fine


def test_unsupported_targets_and_modules_say_why():
    torch.manual_seed(0)
    ltc = hal.from_torch(ncps_torch.LTC(3, 4))
    for name in ("cpu", "loihi2-sim"):
        with pytest.raises(hal.DoesNotFit, match="LTCNet has no fixed-point lowering"):
            hal.compile(ltc, target=name)
    with pytest.raises(hal.CompileError, match="activation 'silu' has no fixed-point table"):
        hal.compile(ncps_torch.CfC(3, 4, activation="silu"), target="cpu")
    with pytest.raises(hal.CompileError, match="mixed_memory"):
        hal.from_torch(ncps_torch.CfC(3, 4, mixed_memory=True))
    with pytest.raises(hal.CompileError, match="LSTM|not supported"):
        hal.from_torch(torch.nn.LSTM(3, 4))


@lava
@pytest.mark.timeout(240)
def test_lava_sessions_open_and_close_200_times_leave_no_shared_memory():
    torch.manual_seed(0)
    exe = hal.compile(ncps_torch.CfC(3, 4, backbone_units=8), target="loihi2-sim-float",
                      fallback=False)
    x = np.ones(3)
    with exe.open() as s:
        first = s.step(x)
    before = shm_files()
    for _ in range(200):
        with exe.open() as s:
            assert np.array_equal(s.step(x), first)
    assert leaked_shm(before) == set()


@lava
@pytest.mark.timeout(120)
def test_lava_step_that_overruns_its_timeout_raises_closes_and_leaves_no_shared_memory():
    torch.manual_seed(0)
    net = hal.from_torch(ncps_torch.LTC(3, 1200))  # about 0.3 s per step on this machine
    before = shm_files()
    session = hal.compile(net, target="loihi2-sim-float", timeout_s=0.05).open()
    start = time.monotonic()
    with pytest.raises(hal.HALTimeoutError, match="no output .* within timeout_s=0.05"):
        session.step(np.ones(3))
    assert time.monotonic() - start < 30
    with pytest.raises(hal.ValidationError, match="session is closed"):
        session.step(np.ones(3))
    deadline = time.monotonic() + 30  # the runtime finishes its step, then stops
    while shm_files() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leaked_shm(before) == set()


@lava
def test_lava_session_matches_cpu_step_by_step_and_resets(inputs):
    torch.manual_seed(3)
    net = hal.from_torch(ncps_torch.LTC(5, 6))
    lava_s = hal.compile(net, target="loihi2-sim-float", fallback=False).open()
    cpu_s = hal.compile(net, target="cpu-float").open()
    try:
        for x in inputs[0, :20]:
            assert np.abs(lava_s.step(x) - cpu_s.step(x)).max() < 1e-12
        lava_s.reset()
        cpu_s.reset()
        assert np.abs(lava_s.step(inputs[0, 0]) - cpu_s.step(inputs[0, 0])).max() < 1e-12
    finally:
        lava_s.close()
        cpu_s.close()


def test_closed_loop_example_gives_the_same_trajectory_on_every_target():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "closed_loop.py"
    spec = importlib.util.spec_from_file_location("closed_loop", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    diffs = example.main()
    assert {"cpu-float", "torch"} <= set(diffs)
    assert diffs["torch"] < 1e-5  # float32 against float64
    if "loihi2-sim-float" in diffs:
        assert diffs["loihi2-sim-float"] == 0.0  # same float64 equations inside Lava


def test_fixed_point_matmul_through_blas_is_the_integer_one():
    """QAffine sums in float64 BLAS only where that is exact: the same integers as numpy's
    integer matmul, at the edge of Loihi's 24-bit state and 8-bit weights, and past 2**53
    (where it must take the integer loop)."""
    from hal.compilers.liquid import QAffine

    rng = np.random.default_rng(0)
    mant = rng.integers(-128, 128, size=(64, 200))
    q = QAffine(mant, 0, np.zeros(64, np.int64))
    for top, blas in ((2 ** 23, True), (2 ** 40, False)):  # 200 * 2**7 * 2**40 > 2**53
        z = rng.integers(-top, top, size=(33, 200))
        z[0] = top - 1
        assert q.float_exact(z) is blas
        assert np.array_equal(q.matmul(z), z @ mant.T)
