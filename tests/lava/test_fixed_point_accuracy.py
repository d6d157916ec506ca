"""Loihi fixed point against torch on the digits, every family with a shipped trained model
(examples/models/<arch>-digits[-variant]), calibrated on the training split.

The Lava tests show that Lava computes what the fixed-point executor computes (bit for bit); these tests
show that what both compute is still the trained model: on the 360 test digits the executor loses at most
one image to torch (≤ 0.5 point, issue 11) and keeps at least the figures measured with this quantiser, and
on the 1437 training digits (a sample four times larger) it loses at most 0.5 point.  Any change to the
quantiser that costs accuracy (e.g. one scale per layer again: spikformer 352, spikingformer 351 of 360)
fails here, though Lava would still equal the executor.  No Lava needed: the executor is the specification of the
fixed-point run.
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# correct images of the 360 test digits (torch, fixed point) and torch/fixed agreement, measured by
# `python benchmarks/fixed_point.py` (benchmarks/fixed_point_results.json; quantiser defaults: per-channel
# scales, exact thresholds, calibrated current bounds, bias correction, 12-bit input)
FIGURES = {
    "spikformer": {"torch": 355, "fixed": 354, "agree": 357},
    "spikingformer": {"torch": 354, "fixed": 353, "agree": 355},
    "sew_resnet-add": {"torch": 358, "fixed": 359, "agree": 359},
    "spiking_resnet": {"torch": 356, "fixed": 356, "agree": 358},
}
# families whose lowering lands with another branch (issue 11); `reason` names what they wait for
PENDING = {
    "sew_resnet-and": "spike×spike products (branch products)",
    "sew_resnet-iand": "spike×spike products (branch products)",
    "metaspikeformer": "fold of consecutive weight layers (branch foldpart)",
    "ilifnet": "graded-spike neurons (branch graded)",
}
MAX_LOSS = 0.005  # issue 11: at most 0.5 point of accuracy lost to fixed point (on 360 images: one image)
ARCHS = sorted(FIGURES) + sorted(PENDING)


@pytest.fixture(scope="module")
def digits_split():
    from snncompile.examples.data import load_digits

    split = load_digits(img_size=16)
    return (split.x_train.numpy().astype(np.float32), split.x_test.numpy().astype(np.float32),
            split.y_test.numpy(), split.y_train.numpy())


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


def _param(arch):
    from snncompile.errors import SnnCompileError

    if arch not in PENDING:
        return arch
    return pytest.param(arch, marks=pytest.mark.xfail(raises=SnnCompileError, strict=False,
                                                      reason=f"lowers after the merge of {PENDING[arch]}"))


@pytest.mark.parametrize("arch", [_param(a) for a in ARCHS])
def test_fixed_point_keeps_the_measured_test_accuracy(arch, digits_split):
    x_train, x_test, y, _ = digits_split
    assert len(y) == 360
    torch_pred, fixed_pred = _predictions(arch, x_train, x_test)
    got = {"torch": int((torch_pred == y).sum()), "fixed": int((fixed_pred == y).sum()),
           "agree": int((torch_pred == fixed_pred).sum())}
    want = FIGURES.get(arch, {})
    summary = ", ".join(f"{k} {v}/360 (measured: {want.get(k, '-')})" for k, v in got.items())
    if "torch" in want:
        assert got["torch"] == want["torch"], f"{arch}: the float model changed: {summary}"
    assert got["fixed"] >= got["torch"] - int(MAX_LOSS * len(y)), f"{arch}: loses more than 0.5 point: {summary}"
    assert got["fixed"] >= want.get("fixed", 0), f"{arch}: fixed point lost accuracy: {summary}"
    assert got["agree"] >= want.get("agree", 0), f"{arch}: fixed point drifted from torch: {summary}"


@pytest.mark.parametrize("arch", [_param(a) for a in ARCHS])
def test_fixed_point_loses_at_most_half_a_point_on_the_training_digits(arch, digits_split):
    """The issue's bound on 1437 images (measured: spikformer 1428 -> 1429, spikingformer 1431 -> 1431,
    sew_resnet-add 1432 -> 1431, spiking_resnet 1429 -> 1432)."""
    x_train, _, _, y = digits_split
    torch_pred, fixed_pred = _predictions(arch, x_train, x_train)
    n, t, f = len(y), int((torch_pred == y).sum()), int((fixed_pred == y).sum())
    assert f >= t - MAX_LOSS * n, f"{arch}: fixed point {f}/{n} loses more than 0.5 point to torch {t}/{n}"
