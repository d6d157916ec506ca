"""Forward shapes, the authors' module names, configs and checkpoints of the example models."""
import pytest
import torch

from snncompile.examples.presets import (build, build_from_checkpoint, build_from_config, count_params,
                                         save_checkpoint)

SMALL = [("spikformer", "digits"), ("spikformer", "dvs-small"), ("spikingformer", "digits"),
         ("spikingformer", "dvs-small")]


def make_input(model, batch=2):
    c = model.config
    torch.manual_seed(0)
    if c["input"] == "events":
        return (torch.rand(batch, c["T"], c["in_channels"], c["img_size"], c["img_size"]) < 0.2).float()
    return torch.randn(batch, c["in_channels"], c["img_size"], c["img_size"])


@pytest.mark.parametrize("arch,preset", SMALL + [("spikformer", "4-256"), ("spikingformer", "4-256")])
def test_forward_shape(arch, preset):
    model = build(arch, preset).eval()
    x = make_input(model)
    hook = {}
    with torch.no_grad():
        y = model(x, hook)
    assert y.shape == (2, model.config["num_classes"])
    assert hook["features"].shape == (2, model.config["embed_dims"])
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("arch,preset,tokens", [("spikformer", "4-384", 64), ("spikformer", "8-512", 196),
                                                ("spikformer", "2-256", 64), ("spikformer", "digits", 16),
                                                ("spikingformer", "8-768", 196), ("spikingformer", "dvs-small", 4)])
def test_token_count(arch, preset, tokens):
    assert build(arch, preset).patch_embed.num_patches == tokens


def names(model):
    return {n for n, _ in model.named_modules()}


def test_spikformer_cifar_names():
    n = names(build("spikformer", "digits"))
    assert {"patch_embed.proj_conv", "patch_embed.proj_bn", "patch_embed.proj_lif", "patch_embed.proj_conv3",
            "patch_embed.maxpool2", "patch_embed.maxpool3", "patch_embed.rpe_conv", "patch_embed.rpe_lif",
            "block.0.attn.q_linear", "block.0.attn.q_bn", "block.0.attn.q_lif", "block.0.attn.attn_lif",
            "block.0.attn.proj_linear", "block.0.attn.proj_bn", "block.0.attn.proj_lif",
            "block.1.mlp.fc1_linear", "block.1.mlp.fc1_bn", "block.1.mlp.fc1_lif", "block.1.mlp.fc2_linear",
            "head"} <= n
    assert "patch_embed.maxpool" not in n and "block.0.norm1" not in n


def test_spikformer_imagenet_and_dvs_names():
    n = names(build("spikformer", "8-384"))
    assert {"patch_embed.maxpool", "patch_embed.maxpool1", "block.7.attn.q_conv", "block.7.attn.proj_conv",
            "block.7.mlp.fc1_conv", "block.7.mlp.fc2_bn"} <= n
    m = build("spikformer", "2-256")
    assert isinstance(m.block[0].mlp.fc1_conv, torch.nn.Conv1d) and m.block[0].attn.scale == 0.25
    assert isinstance(build("spikformer", "8-384").block[0].mlp.fc1_conv, torch.nn.Conv2d)


def test_spikingformer_names():
    n = names(build("spikingformer", "4-384"))
    assert {"patch_embed.block0_conv", "patch_embed.block0_bn", "patch_embed.block1_lif", "patch_embed.block3_mp",
            "patch_embed.block4_conv", "block.0.attn.proj_lif", "block.0.attn.q_conv", "block.0.attn.attn_lif",
            "block.0.attn.proj_conv", "block.0.attn.proj_bn", "block.0.mlp.mlp1_lif", "block.0.mlp.mlp2_bn",
            "head"} <= n
    assert "patch_embed.block1_mp" not in n and "patch_embed.block0_lif" not in n
    n = names(build("spikingformer", "2-256"))
    assert {"patch_embed.proj_conv", "patch_embed.proj1_lif", "patch_embed.maxpool1", "patch_embed.proj4_bn"} <= n
    assert build("spikingformer", "2-256").block[0].attn.q_lif.tau == 1.5


def test_layer_biases():
    sf = build("spikformer", "digits")
    assert sf.block[0].attn.q_linear.bias is not None and sf.patch_embed.proj_conv.bias is None
    sfi = build("spikformer", "8-384")
    assert sfi.block[0].attn.q_conv.bias is None and sfi.block[0].attn.proj_conv.bias is not None
    sg = build("spikingformer", "digits")
    assert sg.block[0].attn.q_conv.bias is None and sg.block[0].attn.proj_conv.bias is not None
    assert sg.block[0].mlp.mlp1_conv.bias is not None and sg.patch_embed.block0_conv.bias is None


def test_attn_threshold():
    assert build("spikformer", "digits").block[0].attn.attn_lif.v_threshold == 0.5
    assert build("spikingformer", "digits").block[0].attn.attn_lif.v_threshold == 0.5


@pytest.mark.parametrize("arch,preset", SMALL)
def test_checkpoint_round_trip(arch, preset, tmp_path):
    torch.manual_seed(3)
    model = build(arch, preset).eval()
    save_checkpoint(model, tmp_path / "c.pth")
    ckpt = torch.load(tmp_path / "c.pth", weights_only=True)
    assert ckpt["arch"] == arch and ckpt["preset"] == preset and ckpt["config"] == model.config
    again = build_from_checkpoint(tmp_path / "c.pth").eval()
    assert again.config == model.config and again.preset == preset
    x = make_input(model)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    assert build_from_checkpoint(tmp_path / "c.pth", neuron="spikingjelly").config["neuron"] == "spikingjelly"
    assert count_params(build_from_config(model.config)) == count_params(model)


def test_rejects_unknown_variants():
    with pytest.raises(ValueError, match="Spikingformer supports only qkv_layer='conv1d'"):
        build("spikingformer", "digits", qkv_layer="linear", mlp_layer="linear")
    with pytest.raises(ValueError, match="attn_order must be 'qk_v' or 'q_kv', got 'softmax'"):
        build("spikformer", "digits", attn_order="softmax")
    with pytest.raises(KeyError, match="unknown preset 'nope' for spikformer"):
        build("spikformer", "nope")


@pytest.mark.parametrize("arch,preset", SMALL)
def test_fx_traceable_with_neuron_leaves(arch, preset):
    """torch.fx traces the models with the LIFs kept opaque (``hook`` bound to None), and the traced graph
    computes the same logits."""
    import torch.fx as fx

    from snncompile.examples.neurons import MultiStepLIF

    class LeafTracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return isinstance(m, MultiStepLIF) or super().is_leaf_module(m, qualname)

    model = build(arch, preset).eval()
    graph = LeafTracer().trace(model, concrete_args={"hook": None})
    gm = fx.GraphModule(model, graph)
    lif_calls = [n for n in graph.nodes if n.op == "call_module" and isinstance(gm.get_submodule(n.target),
                                                                                 MultiStepLIF)]
    assert len(lif_calls) == sum(isinstance(m, MultiStepLIF) for m in model.modules())
    x = make_input(model)
    with torch.no_grad():
        assert torch.equal(gm(x), model(x))
