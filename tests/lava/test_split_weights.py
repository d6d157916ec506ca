"""Split weights (snncompile/loihi/split_weights.py): a weight layer as a high and a low 8-bit synapse with
exponents e and e − 8.  Lava-free tests of the decomposition and of the fixed-point executor's two planes; one
Lava test (marked ``lava``) that Lava runs a split network bit for bit as the executor specifies."""
import tempfile

import numpy as np
import pytest

from snncompile.ir.graph import Graph, Node
from snncompile.loihi.registers import quantise_weights, shift
from snncompile.loihi.rounding import second_moment
from snncompile.loihi.split_weights import LOW_SHIFT, quantise_split, weight_planes


def _weights(rng, mode, shape=(6, 9)):
    w = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3)
    return {"mixed": w, "excitatory": np.abs(w), "inhibitory": -np.abs(w)}[mode]


@pytest.mark.nolava
@pytest.mark.parametrize("mode", ["mixed", "excitatory", "inhibitory"])
def test_both_planes_are_loihi_8_bit_mantissas_in_the_layers_sign_mode(mode):
    rng = np.random.default_rng(0)
    for _ in range(50):
        w = _weights(rng, mode)
        s = quantise_split(w)
        assert s.mode == mode and s.low_exp == s.exp - LOW_SHIFT
        assert (s.exp, s.mode) == quantise_weights(w)[1:]  # the 8-bit layer's exponent and sign mode
        for plane in (s.high, s.low):
            assert np.all(plane == np.round(plane))
            if mode == "mixed":  # Lava's final form: an 8-bit mantissa times 2
                assert np.all(plane % 2 == 0) and plane.min() >= -256 and plane.max() <= 254
            elif mode == "excitatory":
                assert plane.min() >= 0 and plane.max() <= 255
            else:
                assert plane.max() <= 0 and plane.min() >= -255


@pytest.mark.nolava
@pytest.mark.parametrize("mode", ["mixed", "excitatory", "inhibitory"])
def test_the_pair_is_a_16_bit_mantissa_rounded_to_nearest(mode):
    """Without second moments the realised weight is the nearest point of the grid 2^(e−7) (mixed) or
    2^(e−8) (one sign): error at most half a grid step, 256 times finer than the 8-bit layer's."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        w = _weights(rng, mode)
        s = quantise_split(w)
        step = 2.0 ** (s.exp + 1 - LOW_SHIFT) if mode == "mixed" else 2.0 ** (s.exp - LOW_SHIFT)
        assert np.abs(s.value() - w).max() <= step / 2 * (1 + 1e-9)
        q8, e8, _ = quantise_weights(w)
        assert np.abs(s.value() - w).max() <= np.abs(q8 * 2.0 ** e8 - w).max() / 100 + 1e-300


@pytest.mark.nolava
def test_compensated_split_lowers_the_current_error_on_unseen_inputs():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(16, 40))
    x = (rng.random((600, 40)) < 0.2).astype(np.float64)  # spikes
    H = second_moment(x[None, :300])
    err = {}
    for name, moments in (("nearest", None), ("compensated", H)):
        s = quantise_split(w, moments)
        err[name] = float((((s.value() - w) @ x[300:].T) ** 2).mean())
    assert err["compensated"] < err["nearest"]


@pytest.mark.nolava
def test_the_executor_sums_two_floored_planes():
    """A split linear layer in the fixed-point executor: shift(W_hi·x, e) + shift(W_lo·x, e − 8), each floored."""
    from snncompile.backends.reference.fixed import FixedStepExecutor

    rng = np.random.default_rng(4)
    s = quantise_split(rng.normal(size=(5, 7)) * 3)
    g = Graph()
    g.add_constant("w", s.high)
    g.add_constant("w_low", s.low)
    node = Node("fc", "linear", ["x", "w"], ["y"], {"fixed_exp": s.exp, "fixed_low": {"weight": "w_low",
                                                                                     "exp": s.low_exp}})
    planes = weight_planes(g, node)
    assert [p.attrs["fixed_exp"] for p in planes] == [s.exp, s.low_exp] and planes[1].inputs[1] == "w_low"
    x = rng.integers(0, 2, size=(1, 7))
    got = FixedStepExecutor(g).run_node(g, node, [x, s.high], lambda graph, n, args, st: [args[0] @ args[1].T])[0]
    want = shift(x @ s.high.T.astype(np.int64), s.exp) + shift(x @ s.low.T.astype(np.int64), s.low_exp)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, shift(x @ s.high.T.astype(np.int64), s.exp))  # the low plane contributes


@pytest.mark.lava
def test_lava_runs_a_split_network_bit_exact_and_closer_to_float():
    """SEW-ResNet IAND (convolutions, IAND coincidences) at 16-bit weights: every weight layer split, Lava equal
    to the fixed-point executor bit for bit on 2 test digits (spikes and membranes at every step)."""
    from snncompile.backends.lava import lava_status

    if not lava_status()[0]:
        pytest.skip(lava_status()[1] or "lava")
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate
    from snncompile.examples.data import load_digits
    from snncompile.loihi.fixed import QuantConfig, quantise_input

    from digits_models import load_family
    from lava_models import assert_lava_equals_fixed_executor

    split = load_digits(img_size=16)
    family = load_family("sew_resnet-digits-iand")
    low = lower_graph(family.graph, mode="fixed", calibration=family.graph_input(split.x_train.numpy()[:64]),
                      quant_config=QuantConfig(weight_bits=16))
    weight_nodes = [n for n in low.step.nodes if "fixed_exp" in n.attrs and n.op in ("conv2d", "linear")]
    assert weight_nodes and all(len(weight_planes(low.step, n)) == 2 for n in weight_nodes)
    low_procs = [p for p in low.plan.procs if p.endswith(":low")]
    assert len(low_procs) >= len(weight_nodes)  # one low process (per input group) per split layer
    x = family.graph_input(split.x_test.numpy().astype(np.float32)[:2])
    name = low.program.step.inputs[0]
    inp = step_inputs(low.program, x)
    inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    rec = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-test-"), record_membrane=True)
    assert_lava_equals_fixed_executor(low, rec, x, label="sew_resnet IAND, 16-bit weights")
