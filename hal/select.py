"""Choosing where a workload runs, with a recorded fallback chain (as JAX's backend pick).

Rules:
    * ``target="auto"`` tries every target whose backend implements the workload's
      contract (:data:`hal.backend.CONTRACTS`), highest ``priority`` first, skipping the
      ones that cannot run here or that the workload does not fit.
    * A named target that does not fit the workload falls back along its ``fallback:``
      list (recursively), records why, and warns.
    * A named target whose backend is unavailable raises :class:`BackendUnavailable`,
      unless the caller passed ``fallback=True``; ``fallback=False`` never falls back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

from hal.backend import CONTRACTS, Backend
from hal.errors import BackendUnavailable, DoesNotFit, ValidationError
from hal.logs import get_logger
from hal.registry import get_backend
from hal.target import Target, get_target, list_targets

log = get_logger("hal.select")


class FallbackWarning(UserWarning):
    """A workload ran on another target than the one asked for."""


@dataclass(frozen=True)
class Skip:
    """A target that was tried and skipped, and why."""

    target: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


FitCheck = Callable[[Target], "str | None"]


def fallback_chain(target: Target) -> list[Target]:
    """``target`` followed by its fallbacks, breadth first, each once."""
    chain, queue, seen = [], [target], set()
    while queue:
        t = queue.pop(0)
        if t.name in seen:
            continue
        seen.add(t.name)
        chain.append(t)
        queue.extend(get_target(n) for n in t.fallback)
    return chain


def _runs(target: Target, workload: str) -> str | None:
    """None when ``target``'s backend implements ``workload``'s contract, else why not."""
    try:
        backend = get_backend(target.backend)
    except BackendUnavailable as exc:
        return str(exc)
    if isinstance(backend, CONTRACTS[workload]):
        return None
    runs = ", ".join(backend.workloads) or "nothing"
    return f"backend '{backend.name}' runs {runs} workloads, not {workload}"


def select(
    target: str | Target,
    workload: str,
    fits: FitCheck | None = None,
    fallback: bool | None = None,
) -> tuple[Target, Backend, list[Skip]]:
    """Pick the target and backend that will run a workload.

    Args:
        target: a target name, a Target, or ``"auto"``.
        workload: the workload family (``spiking``, ``liquid``, ``qubo``: a key of
            :data:`hal.backend.CONTRACTS`); targets whose backend does not implement its
            contract are refused (named) or skipped (in a fallback chain).
        fits: returns None when the workload fits a target, else the reason it does not.
        fallback: None falls back only when the workload does not fit; True also when a
            backend is unavailable; False never.

    Returns:
        The chosen target, its backend, and the targets skipped with their reasons.
    """
    if workload not in CONTRACTS:
        raise ValidationError(f"unknown workload '{workload}'; known: {sorted(CONTRACTS)}")
    if target == "auto":
        chain = sorted((t for t in list_targets() if _runs(t, workload) is None),
                       key=lambda t: -t.priority)
        fallback = True
    else:
        if target is None or not isinstance(target, (str, Target)):
            raise ValidationError(f"target must be a target name, a Target or 'auto', got "
                                  f"{target!r}; see 'hal targets'")
        first = get_target(target)
        if (why := _runs(first, workload)) is not None:
            raise ValidationError(f"target '{first.name}': {why}; see 'hal targets' for the "
                                  "targets of each kind")
        chain = fallback_chain(first)
    skips: list[Skip] = []
    for i, cand in enumerate(chain):
        if (why := _runs(cand, workload)) is not None:
            skips.append(Skip(cand.name, why))
            continue
        backend = get_backend(cand.backend)
        avail = backend.availability(cand)
        reason = None if avail.ok else f"unavailable: {avail.describe()}"
        if reason and i == 0 and fallback is not True:
            raise BackendUnavailable(
                f"target '{cand.name}' cannot run here: {avail.describe()}. "
                "Pass fallback=True (CLI: --fallback) to use its fallback chain "
                f"{[t.name for t in chain[1:]]}"
            )
        if reason is None and fits is not None:
            reason = fits(cand)
            if reason and i == 0 and fallback is False:
                raise DoesNotFit(f"target '{cand.name}': {reason}")
        if reason is None:
            for s in skips:
                log.warning("skipped target %s: %s", s.target, s.reason,
                            extra={"target": s.target, "reason": s.reason,
                                   "workload": workload})
                warnings.warn(FallbackWarning(f"skipped target '{s.target}': {s.reason}"),
                              stacklevel=3)
            return cand, backend, skips
        skips.append(Skip(cand.name, reason))
    tried = "; ".join(f"{s.target}: {s.reason}" for s in skips)
    raise DoesNotFit(f"no target can run this {workload} workload ({tried})")
