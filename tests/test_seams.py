"""The declared seams: family contracts, the front door, honest options, one result base,
saved executables, logs, plots."""

import json
import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hal
from hal.liquid.ir import random_cfc
from hal.snn.ir import random_network
from hal.testing import conformance

from .conftest import has_module

ROOT = Path(__file__).resolve().parents[1]
LAVA = pytest.mark.skipif(not has_module("lava"), reason="lava-nc needs Python 3.10")


def test_api_modules_neither_probe_backends_nor_sniff_modules():
    for path in (ROOT / "hal").glob("*/api.py"):
        text = path.read_text()
        assert not re.search(r"hasattr|__module__", text), path


def test_no_backend_module_imports_another():
    names = {p.stem for p in (ROOT / "backends").glob("*.py") if p.stem != "__init__"}
    for path in (ROOT / "backends").glob("*.py"):
        imported = set(re.findall(r"hal\.backends\.(\w+)", path.read_text()))
        others = (imported & names) - {path.stem}
        assert not others, f"{path.name} imports backend(s) {others}"


def test_front_door_dispatches_on_type_and_rejects_what_no_family_takes():
    assert hal.workloads.workload_of(random_network(2, 3, 1)).name == "spiking"
    assert hal.workloads.workload_of(random_cfc(2, 3, 1)).name == "liquid"
    with pytest.raises(hal.ValidationError, match="a dict; it takes .*spiking: NIRGraph"):
        hal.compile({"not": "a network"}, target="cpu")


def test_compare_refuses_results_of_different_families():
    x = np.zeros((5, 3))
    spiking = hal.compile(random_network(3, 4, 2, seed=0), target="cpu").run(x)
    liquid = hal.compile(random_cfc(3, 4, 2, seed=0), target="cpu-float").run(x)
    with pytest.raises(hal.ValidationError, match="cannot compare a SimResult with a Liquid"):
        hal.compare(spiking, liquid)


def test_every_result_serialises_to_json():
    x = (np.random.default_rng(0).random((10, 3)) < 0.5).astype(float)
    results = [
        hal.compile(random_network(3, 4, 2, seed=0), target="cpu").run(x, record="all"),
        hal.compile(random_cfc(3, 4, 2, seed=0), target="cpu").run(x),
        hal.solve(hal.AllocationProblem(["a"], ["h"], ["cpu"], [[1]], [[1]], [[1]]),
                  target="highs"),
    ]
    for r in results:
        d = json.loads(json.dumps(r.to_dict()))
        assert {"target", "backend", "precision", "timing", "fallbacks", "provenance"} <= set(d)
        assert d["provenance"]["target"] == r.target


def test_record_is_honest_and_states_absent_unless_asked():
    exe = hal.compile(random_network(3, 6, 2, seed=2), target="cpu")
    x = (np.random.default_rng(1).random((20, 3)) < 0.4).astype(float)
    spikes_only, everything = exe.run(x), exe.run(x, record="all")
    assert spikes_only.states == {} and spikes_only.record == ("spikes",)
    assert set(everything.states["lif1"]) == {"v", "u"}
    for node, s in spikes_only.spikes.items():
        assert np.array_equal(s, everything.spikes[node])
    with pytest.raises(hal.ValidationError, match="record: unknown"):
        exe.run(x, record=("spikes", "w"))
    with exe.open(record=("v",)) as session:
        session.step(x[0])
        assert set(session.states["lif1"]) == {"v"}


def _write_plugin(tmp_path: Path, dead_option: bool) -> str:
    """A third-party package: a spiking backend in its own module, registered through the
    ``hal.backends`` entry point of its own distribution metadata, and a target file."""
    name = "deadsim" if dead_option else "plugsim"
    (tmp_path / f"{name}_pkg.py").write_text(textwrap.dedent(f'''
        import numpy as np
        from hal.backend import Option, SpikingBackend

        class Stepper:
            """Float LIF (Lava's floating_pt equations), one Dense step of delay."""
            def __init__(self, net, batch, gain, record):
                self.net, self.batch, self.gain, self.record = net, batch, gain, record
                self.reset()
            def reset(self):
                pops, B = self.net.populations, self.batch
                self.u = {{n: np.zeros((B, p.size)) for n, p in pops.items()}}
                self.v = {{n: np.zeros((B, p.size)) for n, p in pops.items()}}
                self.buf = [np.zeros((c.delay + 1, B, pops[c.target].size))
                            for c in self.net.connections]
            def step(self, x):
                pops, out = self.net.populations, {{}}
                a = {{n: np.zeros((self.batch, p.size)) for n, p in pops.items()}}
                for c, b in zip(self.net.connections, self.buf):
                    a[c.target] += b[0]
                for n, p in pops.items():
                    self.u[n] = self.u[n] * (1 - p.du) + a[n]
                    v = self.v[n] * (1 - p.dv) + self.u[n] + p.bias
                    s = v > p.vth
                    v[s] = 0
                    self.v[n] = v
                    out[n] = {{"spikes": s, "v": v.copy(), "u": self.u[n].copy()}}
                for i, c in enumerate(self.net.connections):
                    src = x if c.source == "input" else out[c.source]["spikes"]
                    w = np.asarray(c.weight.todense() if hasattr(c.weight, "todense")
                                   else c.weight)
                    self.buf[i] = np.concatenate([self.buf[i][1:],
                                                  (self.gain * src @ w.T)[None]])
                return {{n: {{k: r[k] for k in self.record}} for n, r in out.items()}}
            def close(self):
                pass

        class Backend(SpikingBackend):
            name = "{name}"
            options = {{"gain": Option(1.0, "scales every synaptic input", probe=3.0)}}

            def open_spiking(self, net, batch, target, options, record=frozenset({{"spikes"}})):
                gain = 1.0 if {dead_option} else float(options["gain"])
                return Stepper(net, batch, gain, record)

            def simulate(self, net, x, target, options, record=frozenset({{"spikes"}})):
                st = self.open_spiking(net, x.shape[0], target, options, record)
                steps = [st.step(x[:, t]) for t in range(x.shape[1])]
                return {{n: {{k: np.stack([s[n][k] for s in steps], axis=1) for k in record}}
                        for n in net.populations}}
    '''))
    dist = tmp_path / f"{name}_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[hal.backends]\n{name} = {name}_pkg:Backend\n")
    (tmp_path / f"{name}.yaml").write_text(
        f"name: {name}\nkind: cpu\nbackend: {name}\nprecision: float\nlimits: {{}}\n")
    return name


@pytest.mark.parametrize("dead", [False, True], ids=["honest", "dead-option"])
def test_third_party_backend_through_entry_point_and_conformance(tmp_path, monkeypatch, dead):
    name = _write_plugin(tmp_path, dead)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HAL_TARGETS_PATH", str(tmp_path))
    assert name in hal.list_backends()
    target = hal.get_target(name)
    conformance.check_api_shape(hal.get_backend(name))
    if dead:
        with pytest.raises(AssertionError, match="option 'gain'=3.0 changed neither"):
            conformance.check_options_are_read(target)
    else:
        conformance.check_target(target)


def _saved_roundtrip(tmp_path, exe, x, suffix):
    path = tmp_path / f"exe{suffix}"
    exe.save(path)
    loaded = hal.load_executable(path)
    assert loaded.target.name == exe.target.name and loaded.options == exe.options
    return exe.run(x), loaded.run(x)


@pytest.mark.parametrize("target", ["cpu", "cpu-float", pytest.param("loihi2-sim", marks=LAVA)])
def test_saved_spiking_executable_runs_bit_identically(tmp_path, target):
    g = random_network(4, 12, 3, seed=4)
    x = (np.random.default_rng(4).random((30, 4)) < 0.4).astype(float)
    exe = hal.compile(g, target=target, v_scale=64.0 if target != "cpu-float" else "auto")
    a, b = _saved_roundtrip(tmp_path, exe, x, ".nir")
    for node in a.spikes:
        assert np.array_equal(a.spikes[node], b.spikes[node])
    import nir

    other_tool = nir.read(str(tmp_path / "exe.nir"))
    assert set(other_tool.nodes) == set(g.nodes) and "nq_hal" in other_tool.metadata


def test_saved_liquid_executable_runs_bit_identically(tmp_path):
    x = np.random.default_rng(0).normal(size=(25, 3))
    for target in ("cpu", "cpu-float"):
        exe = hal.compile(random_cfc(3, 8, 2, seed=1), target=target)
        a, b = _saved_roundtrip(tmp_path, exe, x, ".npz")
        assert np.array_equal(a.outputs, b.outputs)


def test_load_executable_names_the_file_when_it_is_not_one(tmp_path):
    bad = tmp_path / "plain.nir"
    import nir

    nir.write(str(bad), random_network(2, 2, 1))
    with pytest.raises(hal.ValidationError, match="plain.nir: no nq-hal program"):
        hal.load_executable(bad)


def test_library_logs_through_the_hal_logger(caplog):
    with caplog.at_level(logging.INFO, logger="hal"):
        hal.compile(random_network(3, 4, 2), target="cpu").run(np.zeros((5, 3)))
    ran = [r for r in caplog.records if r.name == "hal.snn" and r.message.startswith("ran")]
    assert ran and ran[0].target == "cpu" and ran[0].steps == 5


def test_cli_log_json_and_version_json():
    out = subprocess.run([sys.executable, "-m", "hal", "--log-level", "INFO", "--log-json",
                          "version", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["nq-hal"] == hal.__version__


@pytest.mark.skipif(not has_module("matplotlib"), reason="matplotlib not installed")
def test_run_plot_writes_a_png_with_one_axis_per_population(tmp_path):
    import nir

    model, xfile, png = tmp_path / "m.nir", tmp_path / "x.npy", tmp_path / "raster.png"
    nir.write(str(model), random_network(3, 6, 2, seed=1))
    np.save(xfile, (np.random.default_rng(1).random((40, 3)) < 0.5).astype(float))
    out = subprocess.run([sys.executable, "-m", "hal", "run", str(model), "-t", "cpu",
                          "--input", str(xfile), "--record", "spikes,v", "--plot", str(png),
                          "-o", "v_scale=64"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    from PIL import Image

    with Image.open(png) as im:
        assert im.size[0] >= 600 and im.size[1] >= 300
    from hal.snn.cli import raster_figure

    res = hal.compile(random_network(3, 6, 2, seed=1), target="cpu").run(
        np.ones((10, 3)), record="v")
    fig = raster_figure(res)
    assert len(fig.axes) == len(res.spikes) + 1
    assert [ax.get_ylabel() for ax in fig.axes] == ["lif1\nneuron", "lif2\nneuron", "v (lif1)"]
    assert fig.axes[-1].get_xlabel() == "step" and "cpu" in fig.axes[0].get_title()
    spikes_only = raster_figure(hal.compile(random_network(3, 6, 2, seed=1), target="cpu")
                                .run(np.ones((2, 10, 3))))
    assert len(spikes_only.axes) == len(res.spikes)


def test_session_latency_counts_each_step_and_deadline_overruns():
    exe = hal.compile(random_network(3, 6, 2, seed=1), target="cpu-float")
    with exe.open(batch=2) as s:
        assert s.latency()["count"] == 0 and s.latency()["p99_us"] is None
        for _ in range(7):
            s.step(np.zeros((2, 3)))
        lat = s.latency(deadline_s=0.0)
        assert lat["count"] == 7 and lat["over_deadline"] == 7  # every step takes > 0 s
        assert 0 < lat["p50_us"] <= lat["p95_us"] <= lat["p99_us"] <= lat["max_us"]
        assert s.latency(deadline_s=60.0)["over_deadline"] == 0
        s.reset()
        assert s.latency()["count"] == 0
