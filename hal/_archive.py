"""Lossless packing of hal's compiled programs (dataclasses of numpy arrays, scipy sparse
matrices, dicts, lists) into a JSON skeleton plus named arrays, and back.

Only dataclasses defined in ``hal`` modules are rebuilt (nothing else is instantiated from
a file), and arrays keep their dtype, so a loaded program runs bit-identically.

Example:
    >>> import numpy as np
    >>> skeleton, arrays = pack({"w": np.arange(3, dtype=np.int16), 1.5: (None, "x")})
    >>> out = unpack(skeleton, arrays)
    >>> out["w"].dtype, out[1.5]
    (dtype('int16'), (None, 'x'))
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from typing import Any

import numpy as np

from hal.errors import ValidationError


def pack(obj: Any) -> tuple[str, dict[str, np.ndarray]]:
    """``obj`` as (JSON skeleton, arrays by name)."""
    arrays: dict[str, np.ndarray] = {}

    def ref(a: np.ndarray) -> dict[str, Any]:
        key = f"a{len(arrays)}"
        a = np.asarray(a)
        arrays[key] = a.reshape(1) if a.ndim == 0 else a  # HDF5 compresses no 0-d data
        return {"__array__": key, "0d": True} if a.ndim == 0 else {"__array__": key}

    def walk(o: Any) -> Any:
        if o is None or isinstance(o, (bool, str)):
            return o
        if isinstance(o, int) and not isinstance(o, np.integer):
            return o
        if isinstance(o, float):
            return o if math.isfinite(o) else {"__float__": repr(o)}
        if isinstance(o, (np.ndarray, np.generic)):
            return ref(o) if isinstance(o, np.ndarray) else {"__scalar__": ref(np.asarray(o))}
        if _is_sparse(o):
            m = o.tocsr()
            return {"__sparse__": list(m.shape), "data": ref(m.data),
                    "indices": ref(m.indices), "indptr": ref(m.indptr)}
        if isinstance(o, tuple):
            return {"__tuple__": [walk(v) for v in o]}
        if isinstance(o, list):
            return [walk(v) for v in o]
        if isinstance(o, dict):
            return {"__dict__": [[walk(k), walk(v)] for k, v in o.items()]}
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            cls = type(o)
            return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}",
                    "fields": {f.name: walk(getattr(o, f.name)) for f in dataclasses.fields(o)}}
        raise ValidationError(f"cannot save a {type(o).__name__} in a compiled program")

    return json.dumps(walk(obj)), arrays


def unpack(skeleton: str, arrays: dict[str, np.ndarray]) -> Any:
    """Rebuild what :func:`pack` packed."""

    def walk(o: Any) -> Any:
        if isinstance(o, list):
            return [walk(v) for v in o]
        if not isinstance(o, dict):
            return o
        if "__array__" in o:
            a = np.asarray(arrays[o["__array__"]])
            return a.reshape(()) if o.get("0d") else a
        if "__scalar__" in o:
            return walk(o["__scalar__"])[()]
        if "__float__" in o:
            return float(o["__float__"])
        if "__sparse__" in o:
            import scipy.sparse as sp

            return sp.csr_matrix((walk(o["data"]), walk(o["indices"]), walk(o["indptr"])),
                                 shape=tuple(o["__sparse__"]))
        if "__tuple__" in o:
            return tuple(walk(v) for v in o["__tuple__"])
        if "__dict__" in o:
            return {_key(walk(k)): walk(v) for k, v in o["__dict__"]}
        if "__dataclass__" in o:
            return _dataclass(o["__dataclass__"], {k: walk(v) for k, v in o["fields"].items()})
        raise ValidationError(f"corrupt compiled program: unexpected entry {sorted(o)[:3]}")

    return walk(json.loads(skeleton))


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def _dataclass(path: str, fields: dict[str, Any]) -> Any:
    module, _, qual = path.partition(":")
    if module.split(".")[0] != "hal":
        raise ValidationError(f"refusing to rebuild {path}: saved programs hold hal types only")
    cls: Any = importlib.import_module(module)
    for part in qual.split("."):
        cls = getattr(cls, part)
    obj = cls.__new__(cls)  # no __post_init__: the saved values are already validated
    for f in dataclasses.fields(cls):  # a field added since the file was saved
        if f.name not in fields and f.default_factory is not dataclasses.MISSING:
            object.__setattr__(obj, f.name, f.default_factory())
        elif f.name not in fields and f.default is not dataclasses.MISSING:
            object.__setattr__(obj, f.name, f.default)
    for k, v in fields.items():
        object.__setattr__(obj, k, v)
    return obj


def _is_sparse(o: Any) -> bool:
    mod = type(o).__module__
    if not mod.startswith("scipy.sparse"):
        return False
    import scipy.sparse as sp

    return sp.issparse(o)
