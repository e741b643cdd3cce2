"""The README's Python tour runs as written (so the README stays true)."""

import os
import subprocess
import sys

import pytest

from .conftest import ROOT, has_module

NEEDS = ("lava", "torch", "ncps", "dimod", "dwave.samplers")


@pytest.mark.timeout(300)
@pytest.mark.skipif(sys.version_info[:2] != (3, 10) or not all(map(has_module, NEEDS)),
                    reason="the tour visits every family: needs Python 3.10 with the lava, "
                           "torch and annealing extras")
def test_the_readme_tour_runs(tmp_path, benchmarks):
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n", text.index("## Tour")) + len("```python\n")
    code = text[start:text.index("```", start)]
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the tour's relative paths
    (tmp_path / "tour.py").write_text(code + "\nprint('tour done', sorted(mon.report()))\n")
    out = subprocess.run([sys.executable, "tour.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=280,
                         env={**os.environ, "HAL_BENCHMARKS": str(benchmarks)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "tour done ['saturated', 'silent', 'steps']" in out.stdout
    assert out.stdout.count("passed=True") == 2  # both hal.compare reports pass
