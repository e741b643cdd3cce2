"""Every registered target and backend passes the conformance kit (or skips with why)."""

import pytest

import hal
from hal.testing import conformance


@pytest.mark.parametrize("name", hal.list_backends())
def test_backend_api_shape(name):
    conformance.check_api_shape(hal.get_backend(name))


def test_target_conformance(hal_target):
    conformance.check_target(hal_target)
