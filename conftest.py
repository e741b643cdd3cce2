"""Root conftest: docstring examples in hal/ and compilers/ run as doctests (pyproject's
``--doctest-modules``); modules whose SDK is not installed here are not collected."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("hal/liquid/torch_modules.py")
