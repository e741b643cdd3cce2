"""``-o key=value`` backend and compile options on the command line.

Values are read as YAML scalars (``3`` is an int, ``0.5`` a float, ``true`` a bool,
``null`` None, anything else a string), so the CLI sets the same types a YAML target file
or the Python API does.

Example:
    >>> parse_options(("num_reads=5", "sampler=tabu", "repair=false"))
    {'num_reads': 5, 'sampler': 'tabu', 'repair': False}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from hal.errors import ValidationError


def parse_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``("key=value", ...)`` -> ``{key: value}``; a pair without ``=`` is refused."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"-o {pair!r}: expected key=value (e.g. -o num_reads=50)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)):
            raise ValidationError(f"-o {key}: give a single value, not {type(value).__name__}")
        out[key.strip()] = value
    return out
