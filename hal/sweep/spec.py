"""A sweep described as data: workloads x targets x axes, expanded to a grid of jobs.

A sweep file (YAML) names the workloads, the targets, and the axes to vary::

    name: smoke
    time_limit_s: 120            # per job
    axes: {seed: [0, 1]}         # every job; seed also seeds random networks and inputs
    workloads:
      - name: tiny-snn
        random_network: {n_in: 3, n_hidden: 8, n_out: 2}
        steps: 30
        axes: {n_hidden: [8, 16]}   # workload parameters
      - name: placement
        problem: ../placement.yaml  # paths are relative to this file
    targets:
      - cpu
      - {name: dimod-sa, options: {num_reads: 20}, axes: {num_reads: [10, 40]}}

Each workload pairs with every target whose backend runs its family (spiking networks with
``cpu``/``loihi2-sim``, problems with ``dimod-sa``/``highs``...). A job's id hashes what
it computes (workload parameters, file contents, target, options, seed), so a rerun
recognises the jobs already done.

Example:
    >>> spec = load_sweep_text('''
    ... name: demo
    ... axes: {seed: [0, 1]}
    ... workloads:
    ...   - {name: net, random_network: {n_in: 2, n_hidden: 3, n_out: 1}, steps: 5}
    ... targets: [cpu]
    ... ''')
    >>> jobs = expand(spec)
    >>> [(j.workload, j.target, j.seed) for j in jobs]
    [('net', 'cpu', 0), ('net', 'cpu', 1)]
    >>> jobs[0].job_id == expand(spec)[0].job_id, len(jobs[0].job_id)
    (True, 16)
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic import ValidationError as PydanticError

from hal._yaml import LocatedYAML, pydantic_error_text
from hal.errors import HALError, ValidationError

Scalar = str | int | float | bool | None


class RandomNetworkSpec(BaseModel):
    """Parameters of :func:`hal.snn.ir.random_network` (its ``seed`` is the job's)."""

    model_config = ConfigDict(extra="forbid")
    n_in: int = Field(3, ge=1)
    n_hidden: int = Field(8, ge=1)
    n_out: int = Field(2, ge=1)
    recurrent: bool = False
    density: float = Field(1.0, gt=0, le=1)
    bias: bool = True
    tau_spread: float = Field(0.0, ge=0)


class WorkloadSpec(BaseModel):
    """One workload: exactly one of ``random_network``, ``nir`` or ``problem``."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    random_network: RandomNetworkSpec | None = None
    nir: str | None = None
    problem: str | None = None
    instance: int | None = Field(None, ge=1, description="instance in a GAP file")
    steps: int = Field(50, ge=1, description="spiking: steps per run")
    input_rate: float = Field(0.2, ge=0, le=1, description="spiking: input spike probability")
    dt: float = Field(1e-4, gt=0, description="spiking: time step (s) for NIR graphs")
    options: dict[str, Scalar] = Field(default_factory=dict)
    axes: dict[str, list[Scalar]] = Field(default_factory=dict)


class TargetSpec(BaseModel):
    """A target with fixed ``options`` and option ``axes``."""

    model_config = ConfigDict(extra="forbid")
    name: str
    options: dict[str, Scalar] = Field(default_factory=dict)
    axes: dict[str, list[Scalar]] = Field(default_factory=dict)


class SweepSpec(BaseModel):
    """A whole sweep file. ``axes`` apply to every job: ``seed``, or an option every
    target of the sweep declares."""

    model_config = ConfigDict(extra="forbid")
    name: str
    workloads: list[WorkloadSpec] = Field(min_length=1)
    targets: list[str | TargetSpec] = Field(min_length=1)
    axes: dict[str, list[Scalar]] = Field(default_factory=dict)
    time_limit_s: float = Field(600.0, gt=0, description="wall-clock limit of one job")
    recycle_after: int = Field(20, ge=0, description="restart a Dask worker after this "
                               "many Lava (neuromorphic) jobs; 0: never")
    _source: str = PrivateAttr("<string>")
    _base_dir: str = PrivateAttr(".")

    @property
    def source(self) -> str:
        """The file the sweep was read from."""
        return self._source

    @property
    def base_dir(self) -> str:
        """The folder relative paths resolve against (the sweep file's)."""
        return self._base_dir


@dataclass(frozen=True)
class Job:
    """One cell of the grid: a workload run once on one target.

    Attributes:
        job_id: 16 hex digits hashing ``params``, ``target``, ``options``, ``seed`` and the
            contents of any file the job reads.
        sweep: the sweep's name.
        workload: the workload's name.
        family: ``spiking`` or ``qubo``.
        target: the target's name.
        seed: the job's seed.
        params: what the workload is (kind, its parameters, paths as written).
        options: compile and backend options.
        axes: the values of the axes that vary in this sweep, by axis name.
        files: path as written -> absolute path, for the worker.
        kind: the target's kind (``neuromorphic`` jobs start Lava processes).
    """

    job_id: str
    sweep: str
    workload: str
    family: str
    target: str
    seed: int | None
    params: dict[str, Any]
    options: dict[str, Any]
    axes: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    kind: str = ""


SPIKING_PARAMS = ("steps", "input_rate", "dt")


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; errors name the file, line and field."""
    doc = LocatedYAML.from_path(path)
    return _validate(doc, str(Path(path).resolve().parent))


def load_sweep_text(text: str, source: str = "<string>", base_dir: str = ".") -> SweepSpec:
    """Like :func:`load_sweep` for YAML text; relative paths resolve against ``base_dir``."""
    return _validate(LocatedYAML.from_text(text, source), base_dir)


def _validate(doc: LocatedYAML, base_dir: str) -> SweepSpec:
    if not isinstance(doc.data, dict):
        raise ValidationError(f"{doc.source}: a sweep file is a mapping with name, "
                              "workloads, targets (and axes)")
    try:
        spec = SweepSpec.model_validate(doc.data)
    except PydanticError as exc:
        raise ValidationError(pydantic_error_text(doc, exc)) from None
    spec._source, spec._base_dir = doc.source, base_dir
    _check(spec, doc)
    return spec


def _family(w: WorkloadSpec) -> str:
    return "qubo" if w.problem is not None else "spiking"


def _check(spec: SweepSpec, doc: LocatedYAML) -> None:
    """Semantic checks the schema cannot make, each naming the file and line."""
    for i, w in enumerate(spec.workloads):
        given = [k for k in ("random_network", "nir", "problem") if getattr(w, k) is not None]
        if len(given) != 1:
            raise ValidationError(f"{doc.where(('workloads', i))}: workloads.{i}: give "
                                  "exactly one of random_network, nir or problem"
                                  f"{' (got ' + ', '.join(given) + ')' if given else ''}")
        for axis, values in w.axes.items():
            _check_axis(doc, ("workloads", i, "axes", axis), values)
            if axis not in _workload_fields(w):
                raise ValidationError(f"{doc.where(('workloads', i, 'axes', axis))}: "
                                      f"workloads.{i}.axes.{axis}: not a parameter of this "
                                      f"workload; vary one of {sorted(_workload_fields(w))} "
                                      "(options vary under targets[].axes)")
        for key in ("nir", "problem"):
            paths = w.axes.get(key, [getattr(w, key)] if getattr(w, key) else [])
            for p in paths:
                if not _resolve(spec, str(p)).is_file():
                    loc = ("workloads", i, "axes", key) if key in w.axes else ("workloads", i)
                    raise ValidationError(f"{doc.where(loc)}: workloads.{i}.{key}: no such "
                                          f"file {p} (paths are relative to the sweep file)")
    for axis, values in spec.axes.items():
        _check_axis(doc, ("axes", axis), values)
    for i, _ in enumerate(spec.targets):
        _check_target(spec, doc, i)
    names = [workload_name(w, i) for i, w in enumerate(spec.workloads)]
    if len(set(names)) != len(names):
        raise ValidationError(f"{doc.where(('workloads',))}: workloads: names must differ "
                              f"(got {names}); give each a name:")


def _check_axis(doc: LocatedYAML, loc: tuple, values: list[Any]) -> None:
    if not values:
        raise ValidationError(f"{doc.where(loc)}: {'.'.join(map(str, loc))}: an axis needs "
                              "at least one value")


def _workload_fields(w: WorkloadSpec) -> set[str]:
    if w.random_network is not None:
        return set(RandomNetworkSpec.model_fields) | set(SPIKING_PARAMS)
    if w.nir is not None:
        return {"nir", *SPIKING_PARAMS}
    return {"problem", "instance"}


def _check_target(spec: SweepSpec, doc: LocatedYAML, i: int) -> None:
    import hal

    t = target_spec(spec.targets[i])
    loc = ("targets", i)
    try:
        target = hal.get_target(t.name)
        backend = hal.get_backend(target.backend)
    except HALError as exc:
        raise ValidationError(f"{doc.where(loc)}: targets.{i}: {exc}") from None
    families = [_family(w) for w in spec.workloads if _family(w) in backend.workloads]
    if not families:
        raise ValidationError(f"{doc.where(loc)}: targets.{i}: {t.name} runs "
                              f"{'/'.join(backend.workloads)} workloads and this sweep has "
                              "none; add one or remove the target")
    for axis, values in t.axes.items():
        _check_axis(doc, (*loc, "axes", axis), values)
    global_opts = {k: v[0] for k, v in spec.axes.items() if k != "seed"}
    for fam in set(families):
        for w_i, w in enumerate(spec.workloads):
            if _family(w) != fam:
                continue
            opts = {**w.options, **global_opts, **t.options,
                    **{k: v[0] for k, v in t.axes.items()}}
            try:
                backend.resolve_options(target, opts, extra=_family_options(fam))
            except HALError as exc:
                raise ValidationError(f"{doc.where(loc)}: targets.{i} ({t.name}) with "
                                      f"workloads.{w_i}: {exc}") from None


def _family_options(family: str) -> dict[str, Any]:
    if family == "spiking":
        from hal.compilers.snn import OPTIONS
        from hal.snn.api import EXECUTABLE_OPTIONS

        return {**OPTIONS, **EXECUTABLE_OPTIONS}
    return {}


def target_spec(t: str | TargetSpec) -> TargetSpec:
    """A target entry as a :class:`TargetSpec` (a bare name has no options)."""
    return TargetSpec(name=t) if isinstance(t, str) else t


def workload_name(w: WorkloadSpec, i: int) -> str:
    """The workload's name, or a default from what it is."""
    if w.name:
        return w.name
    if w.random_network is not None:
        return f"random-{i}"
    return Path(w.nir or w.problem or f"workload-{i}").stem


def _resolve(spec: SweepSpec, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(spec.base_dir) / p


def _grid(axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(axes)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _digest(path: Path) -> str:
    st = path.stat()
    return _digest_of(str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _digest_of(path: str, mtime_ns: int, size: int) -> str:
    """SHA-256 of a file, read once per version (a grid names the same file many times)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _params(spec: SweepSpec, w: WorkloadSpec, values: dict[str, Any]
            ) -> tuple[dict[str, Any], dict[str, str]]:
    """A job's workload parameters (with workload-axis ``values`` applied) and its files."""
    if w.random_network is not None:
        net = {**w.random_network.model_dump(),
               **{k: v for k, v in values.items() if k in RandomNetworkSpec.model_fields}}
        params: dict[str, Any] = {"kind": "random_network", **net}
    elif w.nir is not None:
        params = {"kind": "nir", "nir": values.get("nir", w.nir)}
    else:
        params = {"kind": "problem", "problem": values.get("problem", w.problem),
                  "instance": values.get("instance", w.instance)}
    if params["kind"] != "problem":
        params.update({k: values.get(k, getattr(w, k)) for k in SPIKING_PARAMS})
    files = {}
    for key in ("nir", "problem"):
        if key in params:
            path = _resolve(spec, str(params[key]))
            files[str(params[key])] = str(path.resolve())
            params[f"{key}_sha256"] = _digest(path)
    return params, files


def job_id(params: dict[str, Any], target: str, options: dict[str, Any],
           seed: int | None) -> str:
    """16 hex digits of the SHA-256 of a job's canonical JSON (sorted keys).

    Example:
        >>> job_id({"kind": "x"}, "cpu", {}, 0) == job_id({"kind": "x"}, "cpu", {}, 0)
        True
        >>> job_id({"kind": "x"}, "cpu", {}, 0) == job_id({"kind": "x"}, "cpu", {}, 1)
        False
    """
    canon = json.dumps({"params": params, "target": target, "options": options,
                        "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def expand(spec: SweepSpec) -> list[Job]:
    """The grid of jobs, in a stable order: workloads, then targets, then axes."""
    import hal

    jobs: list[Job] = []
    seeds = spec.axes.get("seed", [0])
    global_axes = {k: v for k, v in spec.axes.items() if k != "seed"}
    for i, w in enumerate(spec.workloads):
        family = _family(w)
        for entry in spec.targets:
            t = target_spec(entry)
            target = hal.get_target(t.name)
            if family not in hal.get_backend(target.backend).workloads:
                continue
            axes = {"seed": seeds, **w.axes, **global_axes, **t.axes}
            for values in _grid(axes):
                params, files = _params(spec, w, values)
                opts = {**w.options, **t.options,
                        **{k: values[k] for k in (*global_axes, *t.axes)}}
                seed = values["seed"]
                jobs.append(Job(job_id(params, t.name, opts, seed), spec.name,
                                workload_name(w, i), family, t.name, seed, params, opts,
                                values, files, target.kind))
    return _dedup(jobs)


def _dedup(jobs: list[Job]) -> list[Job]:
    seen: set[str] = set()
    out = []
    for job in jobs:
        if job.job_id not in seen:
            seen.add(job.job_id)
            out.append(job)
    return out
