"""Own-LIF and spikingjelly-LIF versions of the example models, same weights: identical spikes at every LIF
layer and identical logits (eval and train mode), and matching gradients."""
import pytest
import torch
from spikingjelly.clock_driven import functional
from spikingjelly.clock_driven.neuron import MultiStepLIFNode

from snncompile.examples.neurons import MultiStepLIF
from snncompile.examples.presets import build

CASES = [
    ("spikformer", "digits", {}),                                   # Linear, [T, B, N, C]
    ("spikformer", "digits", dict(attn_order="q_kv")),
    ("spikformer", "digits", dict(img_size=32, qkv_layer="conv1d", mlp_layer="conv2d", attn_order="q_kv",
                                  stem_pool=[True] * 4)),             # ImageNet layout, [T, B, C, H, W]
    ("spikformer", "dvs-small", {}),                                # DVS layout, [T, B, C, N], scale 0.25
    ("spikingformer", "digits", {}),
    ("spikingformer", "digits", dict(attn_order="q_kv", stem_pool=[True] * 4, img_size=32)),
    ("spikingformer", "dvs-small", {}),                             # tau 1.5
]


def make_input(model, batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = model.config
    if c["input"] == "events":
        return (torch.rand(batch, c["T"], c["in_channels"], c["img_size"], c["img_size"], generator=g) < 0.3).float()
    return torch.randn(batch, c["in_channels"], c["img_size"], c["img_size"], generator=g) * 2


def record_spikes(model, kind):
    spikes, handles = {}, []
    for name, m in model.named_modules():
        if isinstance(m, kind):
            handles.append(m.register_forward_hook(lambda mod, i, o, name=name: spikes.__setitem__(name, o.detach())))
    return spikes, handles


def pair(arch, preset, over):
    """Both back-ends with the same weights; BatchNorm running statistics set from one training-mode batch
    (so that eval-mode layers see normalised inputs and fire)."""
    torch.manual_seed(0)
    own = build(arch, preset, neuron="own", **over)
    for m in own.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # cumulative average: one batch sets the running statistics
    with torch.no_grad():
        own.train()(make_input(own, batch=8, seed=1))
    sj = build(arch, preset, neuron="spikingjelly", **over)
    sj.load_state_dict(own.state_dict(), strict=True)
    return own, sj


@pytest.mark.parametrize("arch,preset,over", CASES)
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_same_spikes_and_logits(arch, preset, over, mode):
    own, sj = pair(arch, preset, over)
    for m in (own, sj):
        m.train(mode == "train")
    s_own, _ = record_spikes(own, MultiStepLIF)
    s_sj, _ = record_spikes(sj, MultiStepLIFNode)
    x = make_input(own)
    y_own = own(x)
    functional.reset_net(sj)
    y_sj = sj(x)
    assert y_own.shape == (x.shape[0], own.config["num_classes"])
    assert set(s_own) == set(s_sj) and len(s_own) > 0
    for name in s_own:
        assert torch.equal(s_own[name], s_sj[name]), name
        assert set(s_own[name].unique().tolist()) <= {0.0, 1.0}
    firing = [name for name, s in s_own.items() if s.sum() > 0]
    assert len(firing) >= len(s_own) // 2, f"too few LIF layers fire: {firing}"
    assert torch.equal(y_own, y_sj)
    if mode == "train":
        y_own.square().sum().backward()
        y_sj.square().sum().backward()
        for (n, p), (_, q) in zip(own.named_parameters(), sj.named_parameters()):
            if p.grad is None:
                assert q.grad is None, n
                continue
            assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7), n
