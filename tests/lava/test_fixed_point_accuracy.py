"""Loihi fixed point against torch on the whole digits test split (360 images), both shipped models.

The Lava tests show that Lava computes what the fixed-point executor computes (bit for bit); these tests
show that what both compute is still the trained model: the executor's predictions agree with torch's and
its accuracy is at least the README's figure.  Any change to the quantiser that costs accuracy (e.g. weights
rounded by floor instead of to nearest: 96.94 % / 95.28 %) fails here, though Lava would still equal the
executor.  No Lava needed: the executor is the specification of the fixed-point run.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

# (arch, torch accuracy, fixed-point accuracy, torch/fixed agreement): correct images out of 360, as the
# README states them (98.61 % -> 97.78 %, 98.33 % -> 97.50 %), and the agreement measured with them.
FIGURES = {
    "spikformer": {"torch": 355, "fixed": 352, "agree": 355},
    "spikingformer": {"torch": 354, "fixed": 351, "agree": 351},
}


@pytest.fixture(scope="module")
def digits_split():
    from snncompile.examples.data import load_digits

    split = load_digits(img_size=16)
    return split.x_train.numpy(), split.x_test.numpy().astype(np.float32), split.y_test.numpy()


def _predictions(arch, x_train, x_test):
    """(torch predictions, fixed-point executor predictions) over ``x_test``, calibrated on ``x_train``."""
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.frontends.torch import trace
    from snncompile.backends.reference.fixed import run_fixed

    from digits_models import digits_model

    model, _, _, trained = digits_model(arch)
    assert trained, f"the shipped {arch}-digits model is missing"
    with torch.no_grad():
        torch_pred = model(torch.from_numpy(x_test)).argmax(1).numpy()
    graph = trace(model, torch.from_numpy(x_test[:1]))
    infer_domains(graph)
    low = lower_graph(graph, mode="fixed", calibration=x_train)
    outs, _, _ = run_fixed(low.program, low.step, x_test)
    return torch_pred, np.array([o[0].argmax() for o in outs])


@pytest.mark.parametrize("arch", sorted(FIGURES))
def test_fixed_point_keeps_the_trained_accuracy(arch, digits_split):
    x_train, x_test, y = digits_split
    assert len(y) == 360
    torch_pred, fixed_pred = _predictions(arch, x_train, x_test)
    want = FIGURES[arch]
    got = {"torch": int((torch_pred == y).sum()), "fixed": int((fixed_pred == y).sum()),
           "agree": int((torch_pred == fixed_pred).sum())}
    summary = ", ".join(f"{k} {v}/360 (README/measured: {want[k]})" for k, v in got.items())
    assert got["torch"] == want["torch"], f"{arch}: the float model changed: {summary}"
    assert got["fixed"] >= want["fixed"], f"{arch}: fixed point lost accuracy: {summary}"
    assert got["agree"] >= want["agree"], f"{arch}: fixed point drifted from torch: {summary}"
