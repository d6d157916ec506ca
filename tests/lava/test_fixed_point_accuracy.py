"""Loihi fixed point against torch on the whole digits test split (360 images), every family with a shipped
trained model (examples/models/<arch>-digits[-variant]), calibrated on the training split.

The Lava tests show that Lava computes what the fixed-point executor computes (bit for bit); these tests
show that what both compute is still the trained model: the executor's accuracy loses at most one image of
360 to torch (≤ 0.5 point, issue 11) and is at least the figure measured with this quantiser (per-channel
scales, 12-bit input).  Any change to the quantiser that costs accuracy (e.g. one scale per layer again:
spikformer 352, spikingformer 351) fails here, though Lava would still equal the executor.  No Lava needed:
the executor is the specification of the fixed-point run.
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# correct images of 360 (torch, fixed point) and torch/fixed agreement, measured by
# `python benchmarks/fixed_point.py` (benchmarks/fixed_point_results.json)
FIGURES = {
    "spikformer": {"torch": 355, "fixed": 355, "agree": 356},
    "spikingformer": {"torch": 354, "fixed": 353, "agree": 355},
    "sew_resnet-add": {"torch": 358, "fixed": 357, "agree": 359},
    "spiking_resnet": {"torch": 356, "fixed": 357, "agree": 359},
    "sdt": {"torch": 353, "fixed": 352, "agree": 355},
    "qkformer": {"torch": 355, "fixed": 356, "agree": 358},
}
# families whose lowering lands with another branch (issue 11): held to the bound only (at most one
# image lost) until measured; `reason` names what they wait for
PENDING = {
    "sew_resnet-and": "spike×spike products (branch products)",
    "sew_resnet-iand": "spike×spike products (branch products)",
    "metaspikeformer": "fold of consecutive weight layers (branch foldpart)",
    "ilifnet": "graded-spike neurons (branch graded)",
}
MAX_LOST = 1  # images of 360: 0.28 point ≤ 0.5 point


@pytest.fixture(scope="module")
def digits_split():
    from snncompile.examples.data import load_digits

    split = load_digits(img_size=16)
    return (split.x_train.numpy().astype(np.float32), split.x_test.numpy().astype(np.float32),
            split.y_test.numpy())


def _predictions(arch, x_train, x_test):
    """(torch predictions, fixed-point executor predictions) over ``x_test``, calibrated on ``x_train``."""
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.reference.fixed import run_fixed

    from trained_models import as_inputs, folder, load_traced, torch_predictions

    if not os.path.isfile(os.path.join(folder(arch), "checkpoint.pth")):
        pytest.fail(f"the shipped {arch}-digits model is missing ({folder(arch)})")
    model, graph, meta = load_traced(arch)
    xs = as_inputs(x_test, meta)
    low = lower_graph(graph, mode="fixed", calibration=as_inputs(x_train, meta))
    outs, _, _ = run_fixed(low.program, low.step, xs)
    return torch_predictions(model, xs, meta), np.array([o[0].reshape(-1).argmax() for o in outs])


def _pending(arch):
    from snncompile.errors import SnnCompileError

    return pytest.param(arch, marks=pytest.mark.xfail(raises=SnnCompileError, strict=False,
                                                      reason=f"lowers after the merge of {PENDING[arch]}"))


@pytest.mark.parametrize("arch", sorted(FIGURES) + [_pending(a) for a in sorted(PENDING)])
def test_fixed_point_keeps_the_trained_accuracy(arch, digits_split):
    x_train, x_test, y = digits_split
    assert len(y) == 360
    torch_pred, fixed_pred = _predictions(arch, x_train, x_test)
    got = {"torch": int((torch_pred == y).sum()), "fixed": int((fixed_pred == y).sum()),
           "agree": int((torch_pred == fixed_pred).sum())}
    want = FIGURES.get(arch, {})
    summary = ", ".join(f"{k} {v}/360 (measured: {want.get(k, '-')})" for k, v in got.items())
    if "torch" in want:
        assert got["torch"] == want["torch"], f"{arch}: the float model changed: {summary}"
    assert got["fixed"] >= got["torch"] - MAX_LOST, f"{arch}: fixed point loses more than 0.5 point: {summary}"
    assert got["fixed"] >= want.get("fixed", 0), f"{arch}: fixed point lost accuracy: {summary}"
    assert got["agree"] >= want.get("agree", 0), f"{arch}: fixed point drifted from torch: {summary}"
