"""Fixtures for the Loihi backend tests (models in :mod:`lava_models`)."""
import pytest

from lava_models import Case

_CASES = {}


def _case(arch: str) -> Case:
    if arch not in _CASES:
        _CASES[arch] = Case(arch)
    return _CASES[arch]


@pytest.fixture(scope="session", params=["spikformer", "spikingformer"])
def case(request):
    return _case(request.param)


@pytest.fixture(scope="session")
def spikformer_case():
    """The Spikformer digits case alone, for paths one architecture covers (shared with ``case``)."""
    return _case("spikformer")
