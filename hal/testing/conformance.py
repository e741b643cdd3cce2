"""Checks every backend must pass (in the spirit of ``dimod.testing``).

Use from your own tests::

    from hal.testing import conformance
    conformance.check_target(hal.get_target("my-target"))

Each check raises AssertionError with a message saying what the backend got wrong. A
target whose backend cannot run here raises ``pytest.skip`` with the reason instead.
"""

from __future__ import annotations

from typing import Any

import hal
from hal.backend import (
    Availability,
    Backend,
    LiquidBackend,
    Option,
    QuboBackend,
    SpikingBackend,
)
from hal.target import Target

PROVENANCE_FIELDS = ("target", "backend", "precision", "seed", "options", "fallbacks",
                     "versions")


def check_api_shape(backend: Backend) -> None:
    """Class attributes and methods of the contract are present and typed."""
    assert backend.name, "backend.name is empty"
    assert backend.workloads, (f"backend '{backend.name}' implements no workload contract "
                               "(SpikingBackend, LiquidBackend, QuboBackend)")
    assert isinstance(backend.options, dict), "options must map names to hal.Option"
    for key, opt in backend.options.items():
        assert isinstance(opt, Option), f"option '{key}' must be a hal.Option, got {opt!r}"
        assert opt.doc.strip(), f"option '{key}' has no description"
    avail = backend.availability()
    assert isinstance(avail, Availability), "availability() must return hal.Availability"
    if not avail.ok:
        assert avail.reason, "an unavailable backend must say why"


def check_unknown_option_refused(backend: Backend, target: Target) -> None:
    """An option the backend does not know raises ValidationError naming it."""
    try:
        backend.resolve_options(target, {"no_such_option_xyz": 1})
    except hal.ValidationError as exc:
        assert "no_such_option_xyz" in str(exc)
        return
    raise AssertionError("unknown option was accepted")


def skip_if_unavailable(target: Target) -> Backend:
    """The target's backend, or pytest.skip with the reason it cannot run."""
    import pytest

    backend = hal.get_backend(target.backend)
    avail = backend.availability(target)
    if not avail.ok:
        pytest.skip(f"{target.name}: {avail.describe()}")
    return backend


def _fingerprint(obj: Any) -> Any:
    """What a run produced, without what changes from run to run by itself: wall times
    (keys ending in ``_s``), creation stamps and the echo of the options; arrays become
    digests."""
    import hashlib

    import numpy as np

    if isinstance(obj, np.ndarray):
        return hashlib.sha1(np.ascontiguousarray(obj).tobytes()).hexdigest() + str(obj.shape)
    if isinstance(obj, dict):
        return {k: _fingerprint(v) for k, v in obj.items()
                if not (isinstance(k, str) and (k.endswith("_s") or k in _VOLATILE))}
    if isinstance(obj, (list, tuple)):
        return [_fingerprint(v) for v in obj]
    if hasattr(obj, "__dataclass_fields__"):
        return _fingerprint({k: getattr(obj, k) for k, f in obj.__dataclass_fields__.items()
                             if f.compare})
    return obj


_VOLATILE = {"created", "options", "timing", "tuning"}


def _tiny_run(target: Target, options: dict[str, Any]) -> Any:
    """A small workload of the target's first family, run with ``options``."""
    import numpy as np

    backend = hal.get_backend(target.backend)
    if isinstance(backend, QuboBackend):
        p = hal.AllocationProblem(jobs=["a", "b", "c"], hosts=["h1", "h2"], resources=["cpu"],
                                  demand=[[2], [2], [1]], capacity=[[3], [3]],
                                  cost=[[1, 3], [2, 1], [2, 2]])
        return hal.solve(p, target=target.name, seed=3, fallback=False, **options)
    if isinstance(backend, SpikingBackend):
        from hal.snn.ir import random_network

        x = (np.random.default_rng(3).random((30, 3)) < 0.4).astype(float)
        exe = hal.compile(random_network(3, 6, 2, seed=3), target=target.name,
                          fallback=False, **options)
        return exe.run(x, record="all")
    from hal.liquid.ir import random_cfc

    x = np.random.default_rng(3).normal(size=(20, 3))
    return hal.compile(random_cfc(3, 6, 2, seed=3), target=target.name, fallback=False,
                       **options).run(x)


def family_options(target: Target) -> dict[str, Option]:
    """Options the target's workload family reads itself (compile options), where they
    apply to the target (fixed-point lowering options only on fixed-point targets)."""
    from hal.compilers import snn
    from hal.snn import api

    backend = hal.get_backend(target.backend)
    if not isinstance(backend, SpikingBackend):
        return {}
    return {**api.EXECUTABLE_OPTIONS, **(snn.OPTIONS if target.precision == "fixed" else {})}


def check_options_are_read(target: Target) -> list[str]:
    """Every declared option is documented, accepted at its default, and, set to its
    ``probe`` value, changes the result or its provenance (or raises a HALError, as a
    tiny timeout does). Returns the options the kit could not probe (``probe=None``).
    """
    backend = hal.get_backend(target.backend)
    declared = {**family_options(target), **backend.options}
    for key, opt in declared.items():
        assert isinstance(opt, Option) and opt.doc.strip(), f"option '{key}' is undocumented"
        backend.resolve_options(target, {key: opt.default}, extra=family_options(target))
    fast = {k: o.fast for k, o in declared.items() if o.fast is not None}
    try:
        base = _fingerprint(_tiny_run(target, fast))
    except hal.HALError:  # a fast value this target refuses (e.g. reads on an exact solver)
        fast = {}
        base = _fingerprint(_tiny_run(target, fast))
    effective = backend.resolve_options(target, fast, extra=family_options(target))
    unprobed = []
    for key, opt in declared.items():
        if opt.probe is None or opt.probe == effective[key]:
            unprobed.append(key)
            continue
        try:
            other = _fingerprint(_tiny_run(target, {**fast, key: opt.probe}))
        except hal.HALError:
            continue  # the option changed behaviour: it stopped the run with a clear error
        assert other != base, (f"{target.name}: option '{key}'={opt.probe!r} changed neither "
                               f"the result nor its provenance: is it read?")
    return unprobed


def check_qubo_target(target: Target, seed: int = 7) -> None:
    """A 3-variable problem with a known optimum: answer, provenance, determinism."""
    import dimod

    bqm = dimod.BinaryQuadraticModel({"a": -1, "b": -1, "c": 2}, {("a", "b"): 2}, 0, "BINARY")
    # optimum: exactly one of a, b set, c unset -> energy -1
    r1 = hal.solve(bqm, target=target.name, seed=seed, fallback=False)
    assert r1.feasible, f"{target.name}: infeasible answer on an unconstrained problem"
    assert abs(r1.objective - (-1.0)) < 1e-9, f"{target.name}: objective {r1.objective} != -1"
    _check_provenance(r1.provenance, target, seed)
    r2 = hal.solve(bqm, target=target.name, seed=seed, fallback=False)
    assert r1.assignment == r2.assignment, f"{target.name}: not deterministic under a seed"


def check_snn_target(target: Target, seed: int = 7) -> None:
    """A small LIF network: spikes shaped right, provenance, determinism, and a session
    stepped by hand gives the spikes of a whole run (one stream; and two streams with
    every state recorded)."""
    import numpy as np

    from hal.snn.ir import random_network

    net = random_network(n_in=3, n_hidden=4, n_out=2, seed=seed)
    x = (np.random.default_rng(seed).random((40, 3)) < 0.3).astype(float)
    exe = hal.compile(net, target=target.name, fallback=False)
    r1 = exe.run(x, steps=40)
    r2 = exe.run(x, steps=40)
    for node, s in r1.spikes.items():
        assert s.shape[0] == 40 and s.dtype == bool, f"{target.name}: spikes[{node}] {s.shape}"
        assert np.array_equal(s, r2.spikes[node]), f"{target.name}: not deterministic"
    _check_provenance(r1.provenance, target, None)
    with exe.open() as session:
        steps = [session.step(x[t]) for t in range(40)]
    for node, s in r1.spikes.items():
        stepped = np.stack([d[node] for d in steps])
        assert np.array_equal(stepped, s), f"{target.name}: session != run for {node}"
    xb = np.stack([x, x[::-1]])  # two streams, every state: a session == a run
    rb = exe.run(xb, record="all")
    with exe.open(batch=2, record="all") as session:
        steps = [(session.step(xb[:, t]), session.states) for t in range(40)]
    for node, s in rb.spikes.items():
        assert np.array_equal(np.stack([d[node] for d, _ in steps], 1), s), \
            f"{target.name}: batched session != batched run for {node}"
        for key in ("u", "v"):
            got = np.stack([st[node][key] for _, st in steps], 1)
            assert np.array_equal(got, rb.states[node][key]), \
                f"{target.name}: session {key} != run {key} for {node}"


def check_liquid_target(target: Target, seed: int = 7) -> None:
    """A small CfC: outputs match the numpy reference (float targets: float64 within 1e-5;
    fixed-point targets: the integer program bit for bit), a session stepped by hand gives
    the same outputs as a whole run, runs are deterministic."""
    import numpy as np

    from hal.liquid.ir import random_cfc
    from hal.liquid.reference import FixedLiquidStepper, LiquidStepper

    net = random_cfc(3, 6, 2, seed=seed)
    x = np.random.default_rng(seed).normal(size=(2, 30, 3))
    exe = hal.compile(net, target=target.name, fallback=False)
    ref_stepper = LiquidStepper(net, 2) if exe.fixed is None else \
        FixedLiquidStepper(exe.fixed, 2)
    tol = 1e-5 if exe.fixed is None else 0.0
    ref = np.stack([ref_stepper.step(x[:, t]) for t in range(30)], axis=1)
    r1 = exe.run(x)
    assert r1.outputs.shape == (2, 30, 2), f"{target.name}: outputs {r1.outputs.shape}"
    err = float(np.abs(r1.outputs - ref).max())
    assert err <= tol, f"{target.name}: differs from the numpy reference by {err:.2e}"
    assert np.array_equal(r1.outputs, exe.run(x).outputs), f"{target.name}: not deterministic"
    with exe.open() as session:
        stepped = np.stack([session.step(x[0, t]) for t in range(30)])
    assert np.abs(stepped - r1.outputs[0]).max() < 1e-6, f"{target.name}: session != run"
    _check_provenance(r1.provenance, target, None)


def _check_provenance(prov: dict[str, Any], target: Target, seed: int | None) -> None:
    missing = [f for f in PROVENANCE_FIELDS if f not in prov]
    assert not missing, f"{target.name}: provenance lacks {missing}"
    assert prov["target"] == target.name, f"provenance target {prov['target']} != {target.name}"
    assert prov["backend"] == target.backend
    if seed is not None:
        assert prov["seed"] == seed
    assert "python" in prov["versions"]


def check_target(target: Target) -> None:
    """Run every check that applies to ``target`` (skips when it cannot run here)."""
    backend = skip_if_unavailable(target)
    check_api_shape(backend)
    check_unknown_option_refused(backend, target)
    check_options_are_read(target)
    if isinstance(backend, QuboBackend):
        check_qubo_target(target)
        return
    check_snn_target(target)
    if isinstance(backend, LiquidBackend):
        check_liquid_target(target)
