"""Provenance: what ran where, with which versions, seed, options and timings."""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

from hal.backend import Backend
from hal.result import jsonable
from hal.target import Target

_CORE_PACKAGES = ("nq-hal", "numpy", "scipy", "dimod", "nir", "pydantic")


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution in ``names`` (missing ones are left out)."""
    out = {}
    for name in names:
        if (version := _version(name)) is not None:
            out[name] = version
    return out


@functools.cache
def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def make_provenance(
    target: Target,
    backend: Backend,
    *,
    seed: int | None,
    options: dict[str, Any],
    fallbacks: Iterable[Any] = (),
    packages: Iterable[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The provenance block every result carries (versions of the core packages, of the
    backend's declared ``packages`` and of ``packages``)."""
    return {
        "target": target.name,
        "backend": backend.name,
        "kind": target.kind,
        "precision": target.precision,
        "seed": seed,
        "options": jsonable(dict(options)),
        "fallbacks": [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in fallbacks],
        "versions": {
            "python": platform.python_version(),
            **package_versions((*_CORE_PACKAGES, *backend.packages, *packages)),
        },
        "target_file": target.path,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **jsonable(extra),
    }


class Timer:
    """Collects wall time per named stage.

    Example:
        >>> t = Timer()
        >>> with t("compile"):
        ...     pass
        >>> sorted(t.times)
        ['compile_s']
    """

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            key = f"{stage}_s"
            self.times[key] = self.times.get(key, 0.0) + time.perf_counter() - start
