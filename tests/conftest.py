import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("HAL_BENCHMARKS", ROOT.parent / "shared" / "benchmarks"))
os.environ.setdefault("HAL_BENCHMARKS", str(BENCH))


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
