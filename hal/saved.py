"""Compiled executables saved to a file and loaded back (``exe.save(path)``,
``hal.load_executable(path)``).

A saved executable holds the lowered (and, on fixed-point targets, quantized) program, the
target it was compiled for (the whole target description, so a user's own target file
need not be present), the options and the package versions. A loaded executable runs
bit-identically: nothing is lowered or quantized again.

* Spiking networks are saved as a NIR file: the graph as compiled, which any NIR tool can
  read, plus the program under the graph's namespaced metadata key ``nq_hal``.
* Liquid networks (not NIR) are saved as a numpy ``.npz`` archive.

Both keep a ``family`` field; :func:`load_executable` hands the file to that family's
``load`` function through the workload registry (:mod:`hal.workloads`).

Example:
    >>> import hal, numpy as np, tempfile, os
    >>> from hal.snn.ir import random_network
    >>> exe = hal.compile(random_network(3, 5, 2, seed=1), target="cpu")
    >>> path = os.path.join(tempfile.mkdtemp(), "net.nir")
    >>> exe.save(path)
    >>> x = (np.random.default_rng(0).random((20, 3)) < 0.3).astype(float)
    >>> again = hal.load_executable(path).run(x)
    >>> bool(np.array_equal(again.spikes["lif2"], exe.run(x).spikes["lif2"]))
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hal._archive import pack, unpack
from hal._atomic import atomic_path, check_writable
from hal.errors import ValidationError

FORMAT = "nq-hal-executable/1"
_FAULTS = "faults."  # prefix of the fault report's arrays beside the program's
META_KEY = "nq_hal"


def describe(family: str, program: Any, target: Any, options: dict[str, Any],
             packages: tuple[str, ...], faults: Any = None
             ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata block and arrays of a saved executable (with the compile's fault report,
    whose input faults still apply at run time, when it had one)."""
    from hal.provenance import package_versions
    from hal.result import jsonable

    skeleton, arrays = pack(program)
    meta = {"format": FORMAT, "family": family, "program": skeleton,
            "target": json.dumps(target.model_dump(mode="json")),
            "options": json.dumps(jsonable(options)),
            "versions": json.dumps(package_versions(("nq-hal", "numpy", "nir", *packages)))}
    if faults is not None:
        meta["faults"], extra = pack(faults)
        arrays.update({_FAULTS + k: v for k, v in extra.items()})
    return meta, arrays


def fault_report(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The saved fault report (:class:`hal.faults.FaultReport`), or None."""
    if "faults" not in meta:
        return None
    return unpack(meta["faults"], {k[len(_FAULTS):]: v for k, v in arrays.items()
                                   if k.startswith(_FAULTS)})


def write_atomically(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``
    (:func:`hal._atomic.atomic_path`): readers never see a partial file, and a failure
    leaves nothing behind. A missing or read-only folder is refused first."""
    check_writable(path, "save")
    with atomic_path(path) as tmp:
        write(str(tmp))


def save_npz(path: str | Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write a non-NIR executable (liquid networks) as ``.npz``."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)

    write_atomically(path, write)


def read(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray], Any]:
    """(metadata, arrays, NIR graph or None) of a saved executable."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic.startswith(b"\x89HDF"):
        import nir

        graph = nir.read(str(path), type_check=False)
        meta = dict(graph.metadata.get(META_KEY, {}))
        arrays = {k: np.asarray(v) for k, v in dict(meta.pop("arrays", {})).items()}
        meta = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in meta.items()}
        return _checked(path, meta), arrays, graph
    if magic.startswith(b"PK"):
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
        return _checked(path, meta), arrays, None
    raise ValidationError(f"{path}: not a saved nq-hal executable (expected a NIR file or "
                          "an .npz written by exe.save)")


def _checked(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    if meta.get("format") != FORMAT:
        raise ValidationError(f"{path}: no nq-hal program in this file (metadata "
                              f"'{META_KEY}' missing or format {meta.get('format')!r}); "
                              "compile it with hal.compile and save with exe.save")
    return meta


def program(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The saved program object."""
    return unpack(meta["program"], arrays)


def target_and_options(meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The saved Target and options."""
    from hal.target import Target

    return Target(**json.loads(meta["target"])), json.loads(meta["options"])


def load_executable(path: str | Path) -> Any:
    """Load an executable written by ``exe.save(path)``; it runs bit-identically.

    Raises:
        ValidationError: the file is missing, not a saved executable, or of a family no
            registered workload loads.
    """
    from hal.workloads import list_workloads

    meta, arrays, graph = read(path)
    for w in list_workloads():
        if w.name == meta["family"] and w.load:
            return w.call("load", meta, arrays, graph)
    raise ValidationError(f"{path}: saved {meta['family']!r} executable, but no registered "
                          "workload family loads it")
