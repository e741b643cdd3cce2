"""pytest plugin: ``pytest --hal-target=NAME`` runs tests that use the ``hal_target``
fixture on that target (repeat the option for several). Without the option the fixture
is parametrised over every target of the test's family that is registered.

Targets that cannot run here are skipped with their reason, never reported as passed.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hal")
    group.addoption("--hal-target", action="append", default=[], dest="hal_targets",
                    help="run hal_target tests on this target (repeatable)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hal_target" not in metafunc.fixturenames:
        return
    import hal

    names = metafunc.config.getoption("hal_targets") or [t.name for t in hal.list_targets()]
    metafunc.parametrize("hal_target_name", names, ids=names)


@pytest.fixture
def hal_target(hal_target_name: str):
    """The Target to test on; skips when its backend cannot run here."""
    import hal
    from hal.testing.conformance import skip_if_unavailable

    target = hal.get_target(hal_target_name)
    skip_if_unavailable(target)
    return target
