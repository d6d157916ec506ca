"""Fixtures for the pass tests: the two digits example models (trained when the artefacts exist, else
the preset with BatchNorm statistics excited so that every layer fires), traced and run in float64."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def digits_model(arch: str):
    """(model, inputs [N, 1, 16, 16] float32, trained?)"""
    from snncompile.examples import presets

    root = os.environ.get("SNNCOMPILE_MODELS") or os.path.join(os.path.dirname(presets.__file__), "models")
    folder = os.path.join(root, f"{arch}-digits")
    ckpt = os.path.join(folder, "checkpoint.pth")
    if os.path.isfile(ckpt) and os.path.isfile(os.path.join(folder, "inputs.npy")):
        model = presets.build_from_checkpoint(ckpt, neuron="own").eval()
        x = np.load(os.path.join(folder, "inputs.npy")).astype(np.float32)
        return model, x, True
    torch.manual_seed(0)
    model = presets.build(arch, "digits", neuron="own").eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(1.0, 4.0)
                m.bias.uniform_(0.0, 1.0)
    rng = np.random.default_rng(0)
    return model, rng.random((8, 1, 16, 16)).astype(np.float32), False


@pytest.fixture(scope="session", params=["spikformer", "spikingformer"])
def traced(request):
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import trace

    model, x, trained = digits_model(request.param)
    g = trace(model, torch.from_numpy(x[:1]))
    infer_domains(g)
    return request.param, model, g, x
