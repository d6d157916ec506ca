"""Loihi fixed-point semantics (snncompile/loihi/fixed.py) against the arithmetic its docstring states, worked
by hand: the weight exponent's shift, the sign-magnitude decay, the LIF step with Lava's registers, and the
quantisers' rounding (to nearest, within their registers).  Fast and Lava-free: the Lava tests check that Lava
computes the same thing; these check that the thing is what the docstring says."""
import numpy as np
import pytest

from snncompile.loihi.fixed import (ACT_SHIFT, BIAS_MANT_BITS, V_MAX, LIFFixed, decay, quantise_bias,
                                    quantise_weights, shift)

pytestmark = pytest.mark.nolava


def test_shift_is_a_left_shift_or_a_flooring_right_shift():
    acc = np.array([5, -5, 7, -7, 0])
    np.testing.assert_array_equal(shift(acc, 2), [20, -20, 28, -28, 0])
    np.testing.assert_array_equal(shift(acc, 1), [10, -10, 14, -14, 0])
    np.testing.assert_array_equal(shift(acc, 0), acc)
    np.testing.assert_array_equal(shift(acc, -1), [2, -3, 3, -4, 0])  # floor, not truncation
    np.testing.assert_array_equal(shift(acc, -3), [0, -1, 0, -1, 0])
    assert shift(acc, 1).dtype == np.int64


def test_decay_truncates_the_magnitude_toward_zero():
    v = np.array([4096, -4096, 100, -100, 1, 0])
    # (|v| * (4096 - dv)) >> 12 with the sign put back
    np.testing.assert_array_equal(decay(v, 1024), [3072, -3072, 75, -75, 0, 0])
    np.testing.assert_array_equal(decay(v, 0), v)
    np.testing.assert_array_equal(decay(v, 4096), [0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(decay(np.array([3, -3]), 2048), [1, -1])  # 1.5 -> 1, -1.5 -> -1


def test_lif_step_fires_at_threshold_and_resets():
    vth = 10 << ACT_SHIFT
    lif = LIFFixed(dv=0, vth=vth, bias=np.array([0, 0, 0, 5]))
    a = np.array([10, 9, 11, 0])
    s, v, h = lif.step(a, np.zeros(4, dtype=np.int64))
    np.testing.assert_array_equal(h, [640, 576, 704, 5])
    np.testing.assert_array_equal(s, [1, 0, 1, 0])  # h >= vth fires: spikingjelly's >=, not Lava's >
    np.testing.assert_array_equal(v, [0, 576, 0, 5])  # hard reset to 0
    soft = LIFFixed(dv=0, vth=vth, bias=np.zeros(4, dtype=np.int64), soft_reset=True)
    s, v, _ = soft.step(a, np.zeros(4, dtype=np.int64))
    np.testing.assert_array_equal(v, [0, 576, 64, 0])  # soft reset subtracts vth
    decaying = LIFFixed(dv=2048, vth=vth, bias=np.zeros(1, dtype=np.int64))
    _, v, h = decaying.step(np.array([1]), np.array([200]))
    assert h[0] == 100 + 64 and v[0] == 164


def test_lif_membrane_saturates_at_24_bits():
    lif = LIFFixed(dv=0, vth=V_MAX + 1, bias=np.zeros(2, dtype=np.int64))
    _, v, h = lif.step(np.array([2 ** 20, -(2 ** 20)]), np.array([V_MAX - 5, -V_MAX + 5]))
    np.testing.assert_array_equal(h, [V_MAX, -V_MAX])
    np.testing.assert_array_equal(v, [V_MAX, -V_MAX])


@pytest.mark.parametrize("kind,w", [
    ("mixed", np.linspace(-0.8, 0.5, 101)),
    ("excitatory", np.linspace(0.0, 3.3, 77)),
    ("inhibitory", -np.linspace(0.0, 0.07, 53)),
])
def test_weights_round_to_nearest_within_the_registers(kind, w):
    q, e, mode = quantise_weights(w)
    assert mode == kind
    assert np.all(q == np.round(q))
    step = 2.0 ** (e + 1) if mode == "mixed" else 2.0 ** e  # mixed sign: even mantissas only
    if mode == "mixed":
        assert np.all(q % 2 == 0) and q.min() >= -256 and q.max() <= 254
    else:
        assert np.abs(q).max() <= 255
    err = np.abs(w - q * 2.0 ** e)
    assert err.max() <= step / 2 * (1 + 1e-12), "not rounded to nearest"
    # the exponent is the smallest that fits: one step finer would overflow the register
    top = 254 if mode == "mixed" else 255
    assert np.abs(w).max() / 2.0 ** (e - 1) > top


def test_quantise_weights_worked_example():
    q, e, mode = quantise_weights(np.array([0.5, -0.25, 0.1]))
    # m = 0.5, e = ceil(log2(0.5 / 254)) = -8, mantissas 2 * round(w / 2^-7)
    assert (mode, e) == ("mixed", -8)
    np.testing.assert_array_equal(q, [128, -64, 26])
    q, e, mode = quantise_weights(np.zeros(4))
    assert mode == "null" and e == 0 and not q.any()


def test_bias_rounds_to_nearest_with_a_13_bit_mantissa():
    lim = 2 ** (BIAS_MANT_BITS - 1) - 1
    b = np.array([0.4, 0.6, -0.6, 1234.5, -4095.0])
    got, e = quantise_bias(b)
    assert e == 0
    np.testing.assert_array_equal(got, [0, 1, -1, 1234, -4095])  # round half to even, as numpy does
    big = np.array([lim * 3.0 + 1.7, -lim * 2.5])
    got, e = quantise_bias(big)
    assert e == 2 and np.all(got % 4 == 0)
    assert np.abs(got - big).max() <= 2 ** e / 2
