"""Error-compensating weight rounding (snncompile/loihi/rounding.py) and the weight layers' ``patches`` hook it
reads.  Lava-free: the rounding picks integers; the fixed-point semantics of those integers are unchanged (the
bit-exact Lava tests cover them)."""
import numpy as np
import pytest

from snncompile import ops
from snncompile.ir.graph import Graph, Node
from snncompile.loihi.registers import quantise_weights
from snncompile.loihi.rounding import compensated_round, current_rel_error, second_moment

pytestmark = pytest.mark.nolava


def _current_error(q, w, x):
    """Mean squared current error of rows ``q`` vs ``w`` over input vectors ``x`` [N, n]."""
    return float((((q - w) @ x.T) ** 2).mean())


def test_worked_example_perfectly_correlated_inputs_round_their_sum():
    # x0 = x1 always: only w0 + w1 matters.  Nearest: 0 + 0 (error 0.8 per active input); compensated: 0 then
    # 0.4 + 0.4·H10/H00 (damped: 0.396) = 0.796 -> 1, so the sum is 1 (error 0.2).
    H = np.array([[1.0, 1.0], [1.0, 1.0]])
    q = compensated_round(np.array([[0.4, 0.4]]), H, -128, 127)
    np.testing.assert_array_equal(q, [[0.0, 1.0]])
    np.testing.assert_array_equal(np.round([[0.4, 0.4]]), [[0.0, 0.0]])


def test_uncorrelated_inputs_round_to_nearest():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 20, size=(6, 30))
    H = np.diag(rng.uniform(0.1, 3.0, size=30))
    np.testing.assert_array_equal(compensated_round(w, H, -128, 127), np.clip(np.round(w), -128, 127))


def _spike_patches(rng, n_samples, n, latent=6):
    """Binary inputs correlated through a few shared causes (as spikes of one map are)."""
    z = rng.random((n_samples, latent)) < 0.3
    mix = rng.random((latent, n)) < 0.4
    drive = z.astype(float) @ mix + rng.random((n_samples, n)) * 0.8
    return (drive > 1.0).astype(np.float64)


def test_compensated_rounding_lowers_the_current_error_on_unseen_inputs():
    rng = np.random.default_rng(1)
    n = 72
    w = rng.normal(0, 6, size=(16, n))
    x_cal, x_new = _spike_patches(rng, 2000, n), _spike_patches(rng, 2000, n)
    q_near = np.round(w)
    q_comp = compensated_round(w, x_cal.T @ x_cal, -128, 127)
    near, comp = _current_error(q_near, w, x_new), _current_error(q_comp, w, x_new)
    assert comp < 0.7 * near, (comp, near)  # measured: 0.51 of round-to-nearest
    # the quantiser's per-layer figure is the same quantity, relative to the layer's RMS current
    H_new = second_moment(x_new[None])
    ref = float(((w @ x_new.T) ** 2).mean())
    assert current_rel_error(q_comp, w, H_new) == pytest.approx(np.sqrt(comp / ref))
    assert current_rel_error(q_near, w, H_new) == pytest.approx(np.sqrt(near / ref))


def test_zero_weights_stay_zero_dead_inputs_round_to_nearest_and_values_clip():
    rng = np.random.default_rng(2)
    x = _spike_patches(rng, 500, 20)
    x[:, 3] = 0.0  # an input never active in calibration
    w = rng.normal(0, 3, size=(5, 20))
    w[:, 7] = 0.0
    w[0, 0] = 500.0  # beyond the register
    q = compensated_round(w, x.T @ x, -128, 127)
    assert np.all(q == np.round(q)) and q.min() >= -128 and q.max() <= 127
    assert not q[:, 7].any()
    assert q[0, 0] == 127
    np.testing.assert_array_equal(q[:, 3], np.round(w[:, 3]))


@pytest.mark.parametrize("w", [np.linspace(-0.3, 0.21, 40).reshape(4, 10),
                               np.linspace(0.0, 0.9, 40).reshape(4, 10)])
def test_quantise_weights_keeps_its_exponent_and_grid_when_compensating(w):
    rng = np.random.default_rng(3)
    x = _spike_patches(rng, 400, 10)
    q0, e0, mode0 = quantise_weights(w)
    q, e, mode = quantise_weights(w, second_moment(x[None]))
    assert (e, mode) == (e0, mode0)
    assert np.all(q == np.round(q))
    if mode == "mixed":
        assert np.all(q % 2 == 0) and q.min() >= -256 and q.max() <= 254
    else:
        assert q.min() >= 0 and q.max() <= 255
    assert np.abs(q - q0).max() <= 2 * (2 if mode == "mixed" else 1) * 4  # a few grid steps at most


def _layer_graph(op_name, w, **attrs):
    g = Graph()
    g.add_constant("w", w)
    return g, Node("layer", op_name, ["x", "w"], ["y"], attrs)


@pytest.mark.parametrize("case", [
    ("conv2d", (2, 6, 7, 9), (8, 3, 3, 3), dict(stride=[2, 1], padding=[1, 0], dilation=[1, 2], groups=2)),
    ("conv2d", (1, 4, 5, 5), (4, 1, 3, 3), dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=4)),
    ("conv1d", (3, 4, 11), (5, 4, 3), dict(stride=[2], padding=[1], dilation=[1], groups=1)),
    ("linear", (2, 5, 7), (3, 7), {}),
])
def test_patches_are_what_each_weight_row_multiplies(case):
    name, x_shape, w_shape, attrs = case
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
    g, node = _layer_graph(name, w, **attrs)
    op = ops.get(name)
    y = op.reference(node, [x, w], {})[0]
    P = op.hook("patches")(g, node, x)
    groups = P.shape[0]
    per = w.shape[0] // groups
    rows = np.concatenate([P[k] @ w[k * per:(k + 1) * per].reshape(per, -1).T for k in range(groups)], axis=1)
    axis = op.weight.channel_axis(y.ndim)
    np.testing.assert_allclose(rows, np.moveaxis(y, axis, -1).reshape(-1, w.shape[0]), atol=1e-12)
