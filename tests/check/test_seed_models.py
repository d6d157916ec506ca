"""The verdicts the papers imply, on the example models with both neuron back-ends."""
import re

import pytest

CIFAR = ["4-384", "4-256", "2-384"]


def _by_module(result):
    return {layer.module: layer for layer in result.layers}


@pytest.mark.parametrize("neuron", ["own", "spikingjelly"])
@pytest.mark.parametrize("preset", CIFAR)
def test_spikformer_cifar_flags_every_qkv_and_fc1_with_its_range(preset, neuron, check_preset):
    result = check_preset("spikformer", preset, neuron)
    layers = _by_module(result)
    depth = int(preset.split("-")[0])
    flagged = {d.module: d for d in result.findings}
    for i in range(depth):
        for name in ("q_linear", "k_linear", "v_linear"):
            d = flagged[f"block.{i}.attn.{name}"]
            assert (d.rule, d.input_domain) == ("SNN101", f"int[0,{2 * i + 2}]")
            assert d.file.endswith("spikformer.py") and d.line > 0
        d = flagged[f"block.{i}.mlp.fc1_linear"]
        assert (d.rule, d.input_domain) == ("SNN101", f"int[0,{2 * i + 3}]")
        for name in (f"block.{i}.attn.proj_linear", f"block.{i}.mlp.fc2_linear"):
            assert layers[name].cost == "AC" and layers[name].input_domain == "binary"
    assert len(result.findings) == 4 * depth
    assert layers["patch_embed.rpe_conv"].cost == "AC"
    first = result.layers[0]
    assert (first.module, first.cost, first.region, first.allowed) == ("patch_embed.proj_conv", "MAC", "encoding", True)
    head = layers["head"]
    assert (head.cost, head.region, head.allowed) == ("MAC", "readout", True)
    macs = [layer.module for layer in result.layers if layer.cost == "MAC"]
    assert macs == ["patch_embed.proj_conv", "head"]


def test_spikformer_8_512_largest_integer_into_weights_is_17(check_preset):
    result = check_preset("spikformer", "8-512")
    assert result.max_integer_into_weights() == 17
    fc1 = [d for d in result.findings if d.module == "block.7.mlp.fc1_conv"]
    assert [d.input_domain for d in fc1] == ["int[0,17]"]


@pytest.mark.parametrize("neuron", ["own", "spikingjelly"])
@pytest.mark.parametrize("preset", ["4-384", "2-256", "digits"])
def test_spikingformer_is_clean_with_macs_only_at_encoding_and_readout(preset, neuron, check_preset):
    result = check_preset("spikingformer", preset, neuron)
    assert result.findings == []
    macs = [(layer.module, layer.region) for layer in result.layers if layer.cost != "AC"]
    events = preset == "2-256"  # event input: the first conv sees spikes
    assert [r for _, r in macs] == (["readout"] if events else ["encoding", "readout"])
    ac = [layer for layer in result.layers if layer.cost == "AC"]
    assert len(ac) == len(result.layers) - len(macs) > 0
    assert all(layer.input_domain == "binary" for layer in ac)


def test_spikformer_dvs_event_input_makes_first_conv_spike_driven(check_preset):
    result = check_preset("spikformer", "2-256")
    first = result.layers[0]
    assert first.cost == "AC" and first.input_domain == "binary"
    # two blocks, each with q/k/v and fc1 fed the residual sum of spikes
    assert [d.rule for d in result.findings] == ["SNN101"] * 8
    assert all(re.fullmatch(r"int\[0,\d+\]", d.input_domain) for d in result.findings)
