"""Fixtures for the Loihi backend tests (models in :mod:`lava_models`)."""
import pytest

from lava_models import Case

_CASES = {}


@pytest.fixture(scope="session", params=["spikformer", "spikingformer"])
def case(request):
    if request.param not in _CASES:
        _CASES[request.param] = Case(request.param)
    return _CASES[request.param]
