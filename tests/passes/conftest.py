"""Fixtures for the pass tests: the two digits example models (trained when the artefacts exist, else
the preset with BatchNorm statistics excited so that every layer fires), traced and run in float64."""
import pytest

torch = pytest.importorskip("torch")

from digits_models import digits_model as shared_digits_model  # noqa: E402  (tests/ is on pythonpath)


def digits_model(arch: str):
    """(model, inputs [N, 1, 16, 16] float32, trained?)"""
    model, x, _, trained = shared_digits_model(arch)
    return model, x, trained


@pytest.fixture(scope="session", params=["spikformer", "spikingformer"])
def traced(request):
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import trace

    model, x, trained = digits_model(request.param)
    g = trace(model, torch.from_numpy(x[:1]))
    infer_domains(g)
    return request.param, model, g, x
