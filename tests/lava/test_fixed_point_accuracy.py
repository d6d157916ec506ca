"""Loihi fixed point against torch on the digits, every family with a shipped trained model (the folders
examples/models/<arch>-digits[-variant], loaded by ``digits_models.load_family``), calibrated on the training
split.

The Lava tests show that Lava computes what the fixed-point executor computes (bit for bit); these tests
show that what both compute is still the trained model.  Issue 11's bound (at most 0.5 point lost) is asserted
on the 1437 training digits, where 0.5 point is 7 images; on the 360 test digits (one image = 0.28 point) the
executor keeps at least the figures measured with this quantiser: every family within one image of torch except
SEW-ResNet IAND, which loses two (357 -> 355, 0.56 point; 0 of 1437 on the training digits).  With 16-bit weights
(``--weight-bits 16``, twice the weight layers' synapses) every family, IAND included, is within the bound on the
test digits too (at most one image lost; IAND 357 -> 357).  Any change to the
quantiser that costs accuracy (e.g. one scale per layer again: spikformer 352, spikingformer 351 of 360)
fails here, though Lava would still equal the executor.  No Lava needed: the executor is the specification of the
fixed-point run.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

# correct images of the 360 test digits (torch, fixed point) and torch/fixed agreement, measured by
# `python benchmarks/fixed_point.py` (benchmarks/fixed_point_results.json; quantiser defaults: per-channel
# scales, exact thresholds, calibrated current bounds, error-compensating weight rounding, bias correction,
# 12-bit input).  With rounding to nearest they were (fixed, agree): spikformer 354/357, spikingformer 353/355,
# sdt 354/357, qkformer 354/355, metaspikeformer 348/347, ilifnet 358/359, add 359/359, and 353/354, iand
# 355/358, spiking_resnet 356/358: 41 disagreements with torch, 33 now (held-out training digits: 58 -> 51).
FIGURES = {
    "spikformer-digits": {"torch": 355, "fixed": 356, "agree": 359},
    "spikingformer-digits": {"torch": 354, "fixed": 353, "agree": 354},
    "sdt-digits": {"torch": 353, "fixed": 354, "agree": 355},
    "qkformer-digits": {"torch": 355, "fixed": 355, "agree": 355},
    "metaspikeformer-digits": {"torch": 345, "fixed": 347, "agree": 350},
    "ilifnet-digits": {"torch": 359, "fixed": 359, "agree": 360},
    "sew_resnet-digits-add": {"torch": 358, "fixed": 358, "agree": 360},
    "sew_resnet-digits-and": {"torch": 353, "fixed": 352, "agree": 357},
    "sew_resnet-digits-iand": {"torch": 357, "fixed": 355, "agree": 358},
    "spiking_resnet-digits": {"torch": 356, "fixed": 355, "agree": 359},
}
# the same at 16-bit weights (--weight-bits 16: every weight layer as two 8-bit synapses, exponents e and e-8),
# measured by `python benchmarks/fixed_point.py --config weight16` (benchmarks/fixed_point_test_weight16.json)
FIGURES_16 = {
    "spikformer-digits": {"fixed": 354, "agree": 359},
    "spikingformer-digits": {"fixed": 353, "agree": 355},
    "sdt-digits": {"fixed": 352, "agree": 357},
    "qkformer-digits": {"fixed": 356, "agree": 358},
    "metaspikeformer-digits": {"fixed": 344, "agree": 350},
    "ilifnet-digits": {"fixed": 358, "agree": 359},
    "sew_resnet-digits-add": {"fixed": 358, "agree": 360},
    "sew_resnet-digits-and": {"fixed": 353, "agree": 358},
    "sew_resnet-digits-iand": {"fixed": 357, "agree": 360},
    "spiking_resnet-digits": {"fixed": 356, "agree": 360},
}
MAX_LOSS = 0.005  # issue 11: at most 0.5 point of accuracy lost to fixed point (on 360 images: one image)
NAMES = sorted(FIGURES)  # folders under examples/models


@pytest.fixture(scope="module")
def digits_split():
    from snncompile.examples.data import load_digits

    split = load_digits(img_size=16)
    return (split.x_train.numpy().astype(np.float32), split.x_test.numpy().astype(np.float32),
            split.y_test.numpy(), split.y_train.numpy())


def _predictions(name, x_train, x_test, weight_bits: int = 8):
    """(torch predictions, fixed-point executor predictions) over ``x_test``, calibrated on ``x_train``."""
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.fixed import QuantConfig

    from digits_models import load_family

    family = load_family(name)
    xs = family.graph_input(x_test)
    low = lower_graph(family.graph, mode="fixed", calibration=family.graph_input(x_train),
                      quant_config=QuantConfig(weight_bits=weight_bits))
    outs, _, _ = run_fixed(low.program, low.step, xs)
    return family.predict(xs), np.array([o[0].reshape(-1).argmax() for o in outs])


@pytest.mark.parametrize("name", NAMES)
def test_fixed_point_keeps_the_measured_test_accuracy(name, digits_split):
    x_train, x_test, y, _ = digits_split
    assert len(y) == 360
    torch_pred, fixed_pred = _predictions(name, x_train, x_test)
    got = {"torch": int((torch_pred == y).sum()), "fixed": int((fixed_pred == y).sum()),
           "agree": int((torch_pred == fixed_pred).sum())}
    want = FIGURES.get(name, {})
    summary = ", ".join(f"{k} {v}/360 (measured: {want.get(k, '-')})" for k, v in got.items())
    if "torch" in want:
        assert got["torch"] == want["torch"], f"{name}: the float model changed: {summary}"
    assert got["fixed"] >= want.get("fixed", 0), f"{name}: fixed point lost accuracy: {summary}"
    assert got["agree"] >= want.get("agree", 0), f"{name}: fixed point drifted from torch: {summary}"


@pytest.mark.parametrize("name", NAMES)
def test_fixed_point_loses_at_most_half_a_point_on_the_training_digits(name, digits_split):
    """The issue's bound on 1437 images (measured, torch -> fixed: spikformer 1428 -> 1429, spikingformer
    1431 -> 1430, sdt 1434 -> 1434, qkformer 1421 -> 1422, metaspikeformer 1426 -> 1420, ilifnet 1437 -> 1437,
    sew_resnet-add 1432 -> 1434, -and 1422 -> 1421, -iand 1424 -> 1424, spiking_resnet 1429 -> 1432)."""
    x_train, _, _, y = digits_split
    torch_pred, fixed_pred = _predictions(name, x_train, x_train)
    n, t, f = len(y), int((torch_pred == y).sum()), int((fixed_pred == y).sum())
    assert f >= t - MAX_LOSS * n, f"{name}: fixed point {f}/{n} loses more than 0.5 point to torch {t}/{n}"


@pytest.mark.parametrize("name", NAMES)
def test_16_bit_weights_lose_at_most_half_a_point_on_the_test_digits(name, digits_split):
    """Issue 11's bound on the 360 test digits (at most one image lost) with every weight layer split into a
    high and a low synapse; the measured figures are floors, as above."""
    x_train, x_test, y, _ = digits_split
    torch_pred, fixed_pred = _predictions(name, x_train, x_test, weight_bits=16)
    t, f, agree = int((torch_pred == y).sum()), int((fixed_pred == y).sum()), int((torch_pred == fixed_pred).sum())
    want = FIGURES_16[name]
    summary = f"torch {t}/360, fixed {f}/360, agree {agree}/360 (measured: {want})"
    assert f >= t - MAX_LOSS * len(y), f"{name}: 16-bit fixed point loses more than 0.5 point: {summary}"
    assert f >= want["fixed"] and agree >= want["agree"], f"{name}: 16-bit fixed point got worse: {summary}"
