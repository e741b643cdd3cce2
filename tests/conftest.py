import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("HAL_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))
os.environ.setdefault("HAL_BENCHMARKS", str(BENCH))


#: the digits classifier shipped with the examples and its held-out test split
DIGITS_MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "digits_snn.nir"
DIGITS_DATA = DIGITS_MODEL.parents[1] / "data" / "digits_test.npz"


@pytest.fixture(scope="session")
def digits():
    """(NIR graph, x float64 in [0, 1], y labels) of the shipped digits classifier."""
    import numpy as np

    import hal

    d = np.load(DIGITS_DATA)
    return hal.load(DIGITS_MODEL), d["x"].astype(np.float64), d["y"]


@pytest.fixture
def benchmarks() -> Path:
    if not BENCH.exists():
        pytest.skip(f"benchmark data not found at {BENCH} (set HAL_BENCHMARKS)")
    return BENCH


def has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def shm_files() -> set[str]:
    """Shared-memory segments now on this machine (Lava leaks them if not stopped)."""
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def leaked_shm(before: set[str]) -> set[str]:
    """Segments new since ``before`` that no live process maps: leaked ones. On a machine
    shared with other Lava users, their runtimes' segments come and go in /dev/shm too;
    those are mapped by their processes and not counted."""
    import re

    new = shm_files() - before
    mapped: set[str] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as f:
                mapped |= set(re.findall(r"/dev/shm/(\S+)", f.read()))
        except OSError:
            continue
    return {n for n in new if n not in mapped and os.path.exists(f"/dev/shm/{n}")}
