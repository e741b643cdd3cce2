"""``-o key=value`` backend options on the command line (``hal solve``, ``hal run``).

Values are read as YAML scalars, so ``-o num_sweeps=500 -o tune_penalties=false
-o initial_angles=[0.1,0.2] -o method=statevector`` give an int, a bool, a list and a
string, as they would in a hw_configs file.

Example:
    >>> parse_options(("num_reads=10", "repair=false", "penalty=2.5", "sampler=tabu"))
    {'num_reads': 10, 'repair': False, 'penalty': 2.5, 'sampler': 'tabu'}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from hal.errors import ValidationError

#: help text for the option, shared by every command that takes it
HELP = ("Backend option KEY=VALUE (repeatable; values read as YAML: 500, false, [0.1, 0.2]); "
        "`hal check TARGET` lists a target's options.")


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """``key=value`` strings -> options dict; a later key overrides an earlier one.

    Raises:
        ValidationError: an item without ``=`` or with an empty key, naming it.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValidationError(f"-o {item!r}: expected KEY=VALUE, e.g. -o num_reads=200")
        try:
            out[key] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            out[key] = text
    return out
