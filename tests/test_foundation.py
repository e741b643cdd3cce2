import json
import subprocess
import sys
import warnings

import pytest

import hal

EXPECTED = {"loihi2", "loihi2-sim", "loihi2-sim-float", "cpu", "cpu-float", "torch",
            "aer-statevector", "aer-mps", "aer-noisy", "dimod-sa", "dimod-tabu",
            "dimod-steepest", "dimod-exact", "highs"}


def hal_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hal", *args], capture_output=True,
                          text=True, env=env)


def test_every_shipped_target_loads_with_sources():
    targets = {t.name: t for t in hal.list_targets()}
    assert EXPECTED <= set(targets)
    for t in targets.values():
        assert t.numbers_without_source() == []
        for name in t.fallback:
            assert hal.get_target(name).family == t.family
    assert targets["loihi2"].limits.cores == 128
    assert targets["loihi2"].limits.neurons_per_core == 8192
    assert targets["aer-noisy"].limits.noise.two_qubit_error > 0


def test_import_hal_pulls_no_backend_sdk():
    code = ("import hal, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'lava','qiskit','qiskit_aer','torch','dwave'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_targets_json_reports_availability():
    out = hal_cli("targets", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["loihi2"]["available"] is False and "Loihi" in rows["loihi2"]["reason"]
    for name in ("dimod-sa", "highs", "cpu", "cpu-float"):
        assert rows[name]["available"], rows[name]


def test_broken_target_file_names_file_line_and_field(tmp_path, monkeypatch):
    bad = tmp_path / "mychip.yaml"
    bad.write_text("name: mychip\nkind: neuromorphic\nbackend: lava_sim\n"
                   "limits:\n  cores: eight\nsources: {cores: me}\n")
    env = {**__import__("os").environ, "HAL_TARGETS_PATH": str(tmp_path)}
    out = hal_cli("check", "mychip", env=env)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{bad}:5" in out.stderr and "limits.cores" in out.stderr


def test_number_without_source_is_refused(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("name: t\nkind: annealer\nbackend: dimod_samplers\n"
                 "limits: {max_variables: 10}\n")
    with pytest.raises(hal.ValidationError, match="no source given for limits max_variables"):
        hal.Target.from_file(p)


def write_annealer_target(folder, name: str, backend: str, extra: str) -> None:
    """A valid annealer target file NAME.yaml in ``folder``, plus ``extra`` YAML lines."""
    (folder / f"{name}.yaml").write_text(
        f"name: {name}\nkind: annealer\nbackend: {backend}\n"
        "limits: {max_variables: 50}\nsources: {max_variables: test}\n" + extra)


def test_user_target_dir_adds_a_target(tmp_path, monkeypatch):
    write_annealer_target(tmp_path, "my-sa", "dimod_samplers", "options: {num_reads: 5}\n")
    monkeypatch.setenv("HAL_TARGETS_PATH", str(tmp_path))
    assert hal.get_target("my-sa").options["num_reads"] == 5


def test_unknown_names_list_the_known_ones():
    with pytest.raises(hal.TargetNotFound, match="highs"):
        hal.get_target("no-such-target")
    with pytest.raises(hal.UnknownBackend, match="dimod_samplers"):
        hal.get_backend("no_such_backend")


def test_errors_inherit_builtins():
    assert issubclass(hal.ValidationError, ValueError)
    assert issubclass(hal.BackendUnavailable, RuntimeError)
    assert issubclass(hal.TargetNotFound, LookupError)


def test_unknown_option_is_refused():
    with pytest.raises(hal.ValidationError, match="num_readz"):
        hal.solve(hal.AllocationProblem(["a"], ["h"], ["cpu"], [[1]], [[1]], [[1]]),
                  target="dimod-sa", num_readz=3)


class _Offline(hal.QuboBackend):
    name = "offline_sim"
    requires = ("no_such_module_for_hal_tests",)
    install_hint = "pip install nothing"


def test_unavailable_named_target_raises_unless_fallback(tmp_path, monkeypatch):
    write_annealer_target(tmp_path, "offline", "offline_sim", "fallback: [highs]\n")
    monkeypatch.setenv("HAL_TARGETS_PATH", str(tmp_path))
    hal.register_backend("offline_sim", _Offline)
    p = hal.AllocationProblem(["a"], ["h"], ["cpu"], [[1]], [[1]], [[1]])
    with pytest.raises(hal.BackendUnavailable, match="no_such_module_for_hal_tests"):
        hal.solve(p, target="offline")
    with pytest.warns(hal.FallbackWarning, match="offline"):
        res = hal.solve(p, target="offline", fallback=True)
    assert res.target == "highs"
    assert res.fallbacks[0]["target"] == "offline"
    assert "no_such_module_for_hal_tests" in res.fallbacks[0]["reason"]


def test_does_not_fit_falls_back_and_records_why():
    p = hal.AllocationProblem.from_file("examples/placement.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hal.FallbackWarning)
        res = hal.solve(p, target="aer-statevector", seed=1)
    assert res.target == "dimod-sa"
    assert res.fallbacks[0]["target"] == "aer-statevector"
    assert "qubits" in res.fallbacks[0]["reason"]
    with pytest.raises(hal.DoesNotFit, match="qubits"):
        hal.solve(p, target="aer-statevector", fallback=False)


def test_cli_basics():
    assert hal_cli("--help").returncode == 0
    assert "nq-hal" in hal_cli("version").stdout
    rows = json.loads(hal_cli("backends", "--json").stdout)
    assert {"dimod_samplers", "classical_milp", "qiskit_aer"} <= {r["name"] for r in rows}
    out = hal_cli("check", "loihi2", "--json")
    assert json.loads(out.stdout)["limits"]["cores"] == 128
