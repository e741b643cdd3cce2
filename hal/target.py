"""Targets as data: one validated YAML file per target in ``hw_configs/``.

A target says what a backend may use (cores, bit widths, qubits, variables), where each
number comes from, which options it runs with by default, and where to fall back when it
cannot run. Users add their own by dropping ``NAME.yaml`` in a folder listed in the
``HAL_TARGETS_PATH`` environment variable (``os.pathsep``-separated).

Example:
    >>> import hal
    >>> t = hal.get_target("loihi2")
    >>> t.kind, t.limits.cores, t.limits.weight_bits
    ('neuromorphic', 128, 8)
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from hal._yaml import LocatedYAML, pydantic_error_text
from hal.errors import TargetNotFound, ValidationError

Kind = Literal["neuromorphic", "gate", "annealer", "classical", "cpu"]
FAMILY_OF_KIND = {
    "neuromorphic": "snn",
    "cpu": "snn",
    "gate": "qubo",
    "annealer": "qubo",
    "classical": "qubo",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NeuroLimits(_Strict):
    """Limits of a spiking/liquid target. ``None`` means unlimited or not applicable."""

    cores: int | None = Field(None, gt=0)
    neurons_per_core: int | None = Field(None, gt=0)
    synapses_per_core: int | None = Field(None, gt=0)
    max_fan_in: int | None = Field(None, gt=0)
    weight_bits: int | None = Field(None, gt=1, le=32)
    weight_exp_min: int | None = None
    weight_exp_max: int | None = None
    state_bits: int | None = Field(None, gt=1, le=64)
    decay_bits: int | None = Field(None, gt=1, le=32)
    threshold_bits: int | None = Field(None, gt=1, le=32)
    bias_mant_bits: int | None = Field(None, gt=1, le=32)
    bias_exp_max: int | None = None
    spike_bits: int | None = Field(None, gt=0, le=32)
    activation_bits: int | None = Field(None, gt=1, le=32)  # synaptic input per step
    align_bits: int | None = Field(None, ge=0, le=16)  # MSB alignment of vth, input, bias
    # learning engine (plastic connections, fixed point)
    learning_trace_bits: int | None = Field(None, gt=0, le=32)
    learning_trace_frac_bits: int | None = Field(None, ge=0, le=32)  # impulse fraction
    learning_accumulator_bits: int | None = Field(None, gt=0, le=62)  # dw sum, unsigned
    learning_scale_mant_bits: int | None = Field(None, gt=0, le=16)  # dw product's scale


class NoiseSpec(_Strict):
    """Uniform error rates of a fake gate-model device."""

    single_qubit_error: float = Field(ge=0, le=1)
    two_qubit_error: float = Field(ge=0, le=1)
    readout_error: float = Field(ge=0, le=1)
    t1_us: float = Field(gt=0)
    t2_us: float = Field(gt=0)
    single_qubit_time_ns: float = Field(gt=0)
    two_qubit_time_ns: float = Field(gt=0)


class GateLimits(_Strict):
    """Limits of a gate-model target."""

    qubits: int = Field(gt=0)
    basis_gates: list[str] | None = None
    coupling_map: list[tuple[int, int]] | None = None
    noise: NoiseSpec | None = None


class SolverLimits(_Strict):
    """Limits of an annealing or classical solver target."""

    max_variables: int = Field(gt=0)
    max_time_s: float | None = Field(None, gt=0)


class Cost(_Strict):
    """One per-operation figure and where it comes from."""

    value: float = Field(ge=0)
    source: str = Field(min_length=3)


class Costs(_Strict):
    """Per-operation energy and time of a target, for estimates (``hal.snn.metrics``).

    ``values`` are keyed by operation with the unit in the name (``synaptic_op_pj``,
    ``neuron_update_ns``, ``add_pj``, ...); each carries its source. ``model`` picks the
    estimator: ``neuromorphic`` (synaptic ops, neuron updates, spikes, cores, barrier
    sync) or ``conventional`` (adds and multiplies of a CPU or GPU). ``note`` says what the
    figures stand for (for example, that they stand in for unpublished ones).
    """

    model: Literal["neuromorphic", "conventional"]
    note: str = ""
    values: dict[str, Cost]


LIMITS_BY_KIND: dict[str, type[_Strict]] = {
    "neuromorphic": NeuroLimits,
    "cpu": NeuroLimits,
    "gate": GateLimits,
    "annealer": SolverLimits,
    "classical": SolverLimits,
}


class Target(_Strict):
    """A validated hardware or simulator target.

    Attributes:
        name: the target's name (also its file name, without ``.yaml``).
        kind: ``neuromorphic``, ``cpu``, ``gate``, ``annealer`` or ``classical``.
        backend: registered backend that runs it (see ``hal backends``).
        precision: ``fixed`` (bit-accurate Loihi arithmetic), ``float`` or ``exact``.
        limits: kind-specific limits (NeuroLimits, GateLimits or SolverLimits).
        sources: where each number in ``limits`` comes from, keyed by field name.
        options: default backend options (a caller's options override them).
        fallback: targets to try, in order, when this one cannot run the workload.
        costs: per-operation energy and time with sources, for estimates (optional).
        priority: order for ``target="auto"`` (highest first).
        path: the file it was loaded from.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    kind: Kind
    backend: str
    description: str = ""
    precision: Literal["fixed", "float", "exact", "sampled"] = "float"
    limits: NeuroLimits | GateLimits | SolverLimits
    sources: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    fallback: list[str] = Field(default_factory=list)
    costs: Costs | None = None
    priority: int = 0
    path: str | None = None

    @property
    def family(self) -> str:
        """Workload family: ``snn`` (spiking/liquid networks) or ``qubo``."""
        return FAMILY_OF_KIND[self.kind]

    def numbers_without_source(self) -> list[str]:
        """Limit fields that carry a number but no entry in ``sources``."""
        set_fields = self.limits.model_dump(exclude_none=True)
        return sorted(k for k in set_fields if k not in self.sources)

    @classmethod
    def from_file(cls, path: str | Path) -> Target:
        """Load and validate one target file.

        Raises:
            ValidationError: one line per problem, ``file:line: field: message``.
        """
        doc = LocatedYAML.from_path(path)
        return cls.from_located(doc, name_hint=Path(path).stem)

    @classmethod
    def from_located(cls, doc: LocatedYAML, name_hint: str | None = None) -> Target:
        """Validate parsed YAML (see :meth:`from_file`)."""
        data = doc.data
        if not isinstance(data, dict):
            raise ValidationError(f"{doc.source}: a target file must be a mapping of fields")
        kind = data.get("kind")
        limits_model = LIMITS_BY_KIND.get(kind) if isinstance(kind, str) else None
        if limits_model is None:
            kinds = ", ".join(LIMITS_BY_KIND)
            raise ValidationError(f"{doc.where(('kind',))}: kind: must be one of {kinds}")
        try:
            limits = limits_model.model_validate(data.get("limits") or {})
        except PydanticError as exc:
            raise ValidationError(pydantic_error_text(doc, exc, ("limits",))) from None
        try:
            target = cls.model_validate({**data, "limits": limits, "path": doc.source})
        except PydanticError as exc:
            raise ValidationError(pydantic_error_text(doc, exc)) from None
        if name_hint and target.name != name_hint:
            raise ValidationError(
                f"{doc.where(('name',))}: name: '{target.name}' differs from the file name "
                f"'{name_hint}.yaml'; rename one so they match"
            )
        missing = target.numbers_without_source()
        if missing:
            raise ValidationError(
                f"{doc.where(('sources',))}: sources: no source given for limits "
                f"{', '.join(missing)}; add 'sources: {{{missing[0]}: <where it comes from>}}'"
            )
        return target


def target_dirs() -> list[Path]:
    """Folders searched for targets: HAL_TARGETS_PATH entries first, then the shipped ones."""
    extra = [Path(p) for p in os.environ.get("HAL_TARGETS_PATH", "").split(os.pathsep) if p]
    shipped = Path(str(resources.files("hal.hw_configs")))
    return [*extra, shipped]


def target_files() -> dict[str, Path]:
    """Every target name mapped to its file; earlier folders shadow later ones."""
    found: dict[str, Path] = {}
    for folder in reversed(target_dirs()):
        for path in sorted(folder.glob("*.yaml")):
            found[path.stem] = path
    return dict(sorted(found.items()))


@cache
def _load_cached(path: str, mtime: float) -> Target:
    return Target.from_file(path)


def get_target(name: str | Target) -> Target:
    """Return the validated target called ``name`` (a path to a YAML file also works).

    Raises:
        TargetNotFound: no such target; the message lists the known ones.
        ValidationError: the file is malformed.
    """
    if isinstance(name, Target):
        return name
    if name.endswith((".yaml", ".yml")) and Path(name).exists():
        path = Path(name)
    else:
        files = target_files()
        if name not in files:
            known = ", ".join(files)
            raise TargetNotFound(f"unknown target '{name}'; known targets: {known}")
        path = files[name]
    return _load_cached(str(path), path.stat().st_mtime)


def list_targets() -> list[Target]:
    """All targets, validated; a malformed file raises naming the file and field."""
    return [get_target(name) for name in target_files()]
