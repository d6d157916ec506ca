"""Loihi fixed-point semantics (snncompile/loihi/fixed.py) against the arithmetic its docstring states, worked
by hand: the weight exponent's shift, the sign-magnitude decay, the LIF step with Lava's registers, and the
quantisers' rounding (to nearest, within their registers).  Fast and Lava-free: the Lava tests check that Lava
computes the same thing; these check that the thing is what the docstring says."""
import numpy as np
import pytest

from snncompile.loihi.registers import (ACT_SHIFT, BIAS_MANT_BITS, V_MAX, LIFFixed, decay, quantise_bias,
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


# -- per-element scales and spikes into a membrane (snncompile/loihi/element_scales.py) --------------------

def _tiny(residual: bool):
    """x -> fc1 -> LIF -> (fc2(s) [+ s]) -> LIF, T = 2, mean over T: fc1's rows differ 10× in magnitude."""
    torch = pytest.importorskip("torch")
    from snncompile.analysis import infer_domains
    from snncompile.examples.neurons import MultiStepLIF
    from snncompile.frontends.torch import trace
    from snncompile.loihi import prepare

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(4, 3), torch.nn.Linear(3, 3)
            self.lif1, self.lif2 = MultiStepLIF(), MultiStepLIF()
            with torch.no_grad():
                self.fc1.weight.copy_(torch.tensor([[1.0, -0.7, 0.3, 0.9], [0.05, 0.1, -0.07, 0.08],
                                                    [0.1, -0.05, 0.07, 0.02]]))
                self.fc2.weight.copy_(torch.tensor([[0.5, -0.4, 0.3], [0.2, 0.1, -0.3], [0.05, 0.04, -0.02]]))

        def forward(self, x):
            s = self.lif1(self.fc1(x.unsqueeze(0).repeat(2, 1, 1)))
            y = self.fc2(s)
            return self.lif2(y + s if residual else y).mean(0)

    g = trace(Tiny().eval(), torch.rand(1, 4))
    infer_domains(g)
    return prepare(g)


def _unit(net, module_suffix, kind):
    return next(u for u in net.of_kind(kind) if u.module.endswith(module_suffix))


def test_per_channel_scales_fill_every_rows_mantissa_and_keep_the_algebra():
    """Every output row of a weight layer (within f_min = 1/16 of the largest) reaches the top half of the
    8-bit mantissa, and each neuron's threshold is exactly θ in its own membrane units: w_int·2^e·64/(K·f) ≈ w
    (half a mantissa step) and vth = θ·K·f/k per neuron."""
    from snncompile.loihi.element_scales import element_factors
    from snncompile.loihi.fixed import (QuantConfig, _bounded_domains, _class_scales, _threshold_mantissa, fixed_lif,
                                        input_decay, quantise)

    prepared = _tiny(residual=False)
    net = prepared.network
    cal = {net.graph.inputs[0]: (0.0, 1.0)}
    fg, _ = quantise(net, cal)
    per_layer, _ = quantise(net, cal, config=QuantConfig.per_layer())
    fc1 = _unit(net, "fc1", "synapse")
    q = np.asarray(fg.constants[fg.node(fc1.node).inputs[1]], dtype=np.float64)
    q_layer = np.asarray(per_layer.constants[per_layer.node(fc1.node).inputs[1]], dtype=np.float64)
    assert np.all(np.abs(q).max(axis=1) >= 128), q  # every row uses the top bit of the mantissa
    assert np.abs(q_layer).max(axis=1).min() < 32  # one scale per layer: the small row gets 5 bits
    K_of, _ = _class_scales(net, _bounded_domains(net.graph, cal))
    in_scale = fg.meta["fixed"]["inputs"][net.graph.inputs[0]]
    f_of = element_factors(net, K_of, lambda u: in_scale if u is fc1 else 1.0, QuantConfig().f_min,
                           lambda u: _threshold_mantissa(net.graph, u, K_of))  # what quantise computes
    f = f_of[fc1.name]
    assert f.max() == 1.0 and QuantConfig().f_min <= f[0] < 1.0  # the largest row gives way, not the small ones
    w = net.graph.constants[net.graph.node(fc1.node).inputs[1]]
    e = fg.node(fc1.node).attrs["fixed_exp"]
    back = q * 2.0 ** e * 64 * in_scale / (K_of[fc1.name] * f[:, None])
    assert np.all(np.abs(back - w) <= np.abs(w).max(axis=1, keepdims=True) / 200)  # half a step of 254 per row
    lif1 = _unit(net, "lif1", "neuron")
    node = fg.node(lif1.node)
    vth = fixed_lif(fg, node)["vth"]
    S_v = K_of[lif1.name] * f_of[lif1.name] / input_decay(node.attrs)
    np.testing.assert_allclose(vth, node.attrs["v_threshold"] * S_v, rtol=1e-12)  # exact thresholds
    assert np.all(vth % 64 == 0)


def test_spikes_into_a_membrane_carry_the_gain_K_over_64():
    """``lif2(fc2(s) + s)``: the spike operand of the sum is scaled by K/64 (an exact power of two) in the
    fixed graph, its neurons keep f = 1, and the Lava plan's unit-weight synapse holds exactly K/64."""
    from snncompile.backends.lava.plan import make_plan
    from snncompile.loihi import build_network
    from snncompile.loihi.fixed import fixed_lif, quantise

    prepared = _tiny(residual=True)
    net = prepared.network
    fg, report = quantise(net, {net.graph.inputs[0]: (0.0, 1.0)})
    lif2 = _unit(net, "lif2", "neuron")
    K = fixed_lif(fg, fg.node(lif2.node))["K"]
    spike_terms = [t for t in lif2.ports[0].terms if t.source and net.units[t.source].kind == "neuron"]
    assert len(spike_terms) == 1
    t = spike_terms[0]
    target = fg.node(t.chain[0])
    assert [[i, q] for i, q in target.attrs["fixed_operand_gain"]] == [[target.inputs.index(t.value), K // 64]]
    assert any(l.kind == "spikes" and l.detail["mult"] == K // 64 for l in report.layers)
    fnet = build_network(fg, [u.ports[0].value for u in net.of_kind("readout")])
    plan = make_plan(fnet, prepared.program.T, mode="fixed")
    sparse = next(p for name, p in plan.procs.items() if ":from:" in name)
    W = sparse.params["weights"].toarray() * 2.0 ** sparse.params["weight_exp"]
    np.testing.assert_array_equal(W, np.eye(3) * (K // 64))


def test_bias_correction_takes_the_expected_rounding_error_off_the_bias():
    """With calibration means ``E[x]`` of a layer's input, its neurons' bias moves by ``−(w_q − w)·E[x]``
    (``w_q`` the weights the integers represent), to the bias register's rounding."""
    from snncompile.loihi.fixed import QuantConfig, fixed_lif, input_decay, quantise

    prepared = _tiny(residual=False)
    net = prepared.network
    cal = {net.graph.inputs[0]: (0.0, 1.0)}
    fc1, lif1 = _unit(net, "fc1", "synapse"), _unit(net, "lif1", "neuron")
    port = fc1.ports[0].value
    mean = np.linspace(0.2, 0.9, 4).reshape(net.graph.values[port].shape)
    plain, _ = quantise(net, cal, config=QuantConfig(bias_correction=False))
    fixed, _ = quantise(net, cal, input_means={port: mean})
    delta = fixed_lif(fixed, fixed.node(lif1.node))["bias"] - fixed_lif(plain, plain.node(lif1.node))["bias"]
    # what the integers represent, in float weights: the quantised weights divided back by each row's scale
    vth = fixed_lif(fixed, fixed.node(lif1.node))["vth"]
    S_v = vth / net.graph.node(lif1.node).attrs["v_threshold"]  # membrane units per 1.0, per neuron
    k = input_decay(net.graph.node(lif1.node).attrs)  # 1 when fold_tau moved 1/τ into fc1's weights
    q = np.asarray(fixed.constants[fixed.node(fc1.node).inputs[1]], dtype=np.float64)
    e = fixed.node(fc1.node).attrs["fixed_exp"]
    in_scale = fixed.meta["fixed"]["inputs"][net.graph.inputs[0]]
    w = net.graph.constants[net.graph.node(fc1.node).inputs[1]]
    w_q = q * 2.0 ** e * 64 * in_scale / (S_v.reshape(-1, 1) * k)  # K·f = S_v·k
    want = -(w_q - w) @ mean.reshape(-1) * S_v * k
    assert np.abs(want).max() > 2 ** 8  # the correction is visible in the register (a wrong sign would fail)
    assert np.all(np.abs(delta.reshape(-1) - want) <= 2 ** 7), (delta, want)  # the 13-bit mantissa's step
