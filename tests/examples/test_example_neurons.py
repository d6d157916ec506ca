"""The project's own multi-step LIF against its stated semantics and against spikingjelly's MultiStepLIFNode."""
import pytest
import torch
from spikingjelly.clock_driven import functional

from snncompile.examples.neurons import MultiStepLIF, make_lif


def reference_lif(x, tau=2.0, v_th=1.0, v_reset=0.0):
    """H = V + (X - (V - V_reset)) / tau; S = (H >= V_th); V = V_reset where S else H."""
    v = torch.full_like(x[0], v_reset)
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - (v - v_reset)) / tau
        s = (h >= v_th).float()
        v = torch.where(s.bool(), torch.full_like(h, v_reset), h)
        out.append(s)
    return torch.stack(out)


def test_fires_at_equality():
    lif = MultiStepLIF(tau=2.0, v_threshold=1.0)
    assert lif(torch.tensor([[2.0]])).item() == 1.0          # H = 1.0 = V_th
    assert lif(torch.tensor([[1.0], [1.0]])).flatten().tolist() == [0.0, 0.0]   # H = 0.5, 0.75
    half = MultiStepLIF(tau=2.0, v_threshold=0.5)
    assert half(torch.tensor([[1.0], [0.0], [1.0]])).flatten().tolist() == [1.0, 0.0, 1.0]


def test_hard_reset_and_state_not_kept_between_calls():
    lif = MultiStepLIF()
    x = torch.tensor([[1.5], [1.5], [1.5]])   # H: 0.75, 1.125 (fire, V = 0), 0.75
    assert lif(x).flatten().tolist() == [0.0, 1.0, 0.0]
    assert lif(x).flatten().tolist() == [0.0, 1.0, 0.0]


def test_matches_reference_formula():
    torch.manual_seed(0)
    x = torch.randn(8, 1000) * 2
    for tau, v_th in [(2.0, 1.0), (1.5, 1.0), (2.0, 0.5)]:
        assert torch.equal(MultiStepLIF(tau=tau, v_threshold=v_th)(x), reference_lif(x, tau, v_th))


@pytest.mark.parametrize("kw", [dict(tau=2.0), dict(tau=1.5), dict(tau=2.0, v_threshold=0.5),
                                dict(tau=2.0, v_reset=None), dict(tau=2.0, decay_input=False),
                                dict(tau=3.0, v_reset=-0.25)])
def test_identical_to_spikingjelly_forward_and_surrogate(kw):
    torch.manual_seed(1)
    x = (torch.randn(6, 4, 33) * 1.5).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    own, sj = make_lif("own", **kw), make_lif("spikingjelly", **kw)
    functional.reset_net(sj)
    s_own, s_sj = own(x), sj(x2)
    assert torch.equal(s_own, s_sj)
    g = torch.randn_like(s_own)
    (s_own * g).sum().backward()
    (s_sj * g).sum().backward()
    assert torch.allclose(x.grad, x2.grad, rtol=1e-6, atol=1e-7)


def test_attributes_for_frontends():
    lif = make_lif("own", tau=1.5, v_threshold=0.5)
    assert (lif.tau, lif.v_threshold, lif.v_reset, lif.detach_reset, lif.decay_input) == (1.5, 0.5, 0.0, True, True)
    with pytest.raises(ValueError, match="unknown neuron backend 'cupy'"):
        make_lif("cupy")
