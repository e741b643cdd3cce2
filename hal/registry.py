"""Backend registry: built-ins and plug-ins both register through the ``hal.backends``
entry-point group; classes are imported only when first asked for.

A third-party package registers a backend with, in its ``pyproject.toml``::

    [project.entry-points."hal.backends"]
    my_sim = "my_package.backend:MySimBackend"

Example:
    >>> import hal
    >>> "dimod_samplers" in hal.list_backends()
    True
"""

from __future__ import annotations

from importlib.metadata import entry_points

from hal.backend import Backend
from hal.errors import BackendUnavailable, UnknownBackend

GROUP = "hal.backends"
_runtime: dict[str, type[Backend]] = {}
_instances: dict[str, Backend] = {}


def register_backend(name: str, cls: type[Backend]) -> None:
    """Register a backend class at run time (entry points are the usual route)."""
    _runtime[name] = cls
    _instances.pop(name, None)


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def list_backends() -> list[str]:
    """Names of every registered backend, sorted."""
    return sorted(set(_entry_points()) | set(_runtime))


def get_backend(name: str) -> Backend:
    """The backend instance registered as ``name`` (imported on first use).

    Raises:
        UnknownBackend: no such name; the message lists the known ones.
    """
    if name in _instances:
        return _instances[name]
    if name in _runtime:
        cls = _runtime[name]
    else:
        eps = _entry_points()
        if name not in eps:
            known = ", ".join(list_backends()) or "(none: is nq-hal installed?)"
            raise UnknownBackend(f"unknown backend '{name}'; registered backends: {known}")
        try:
            cls = eps[name].load()
        except Exception as exc:  # a plug-in that fails to import must not break the CLI
            raise BackendUnavailable(
                f"backend '{name}' ({eps[name].value}) failed to load: {exc}") from exc
    instance = cls()
    _instances[name] = instance
    return instance
