"""The torch counting engine against the specification: on CPU in float64 its per-node counts equal
the numpy reference executor's exactly (every field of every counted node), on the tiny test models,
the example models with their own inputs, and every preset family at a small size.

Each case runs more samples than the traced batch with a short tail, so the exact padding correction
is exercised too.
"""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import torch

from snncompile.backends.reference import count_events
from snncompile.backends.torch import count_events_torch
from snncompile.errors import InputError
from snncompile.frontends.torch import trace

from reference.models import MODELS, build, excite

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "models", "*", "checkpoint.pth")))


def assert_same_counts(graph, samples):
    want = count_events(graph, samples).to_dict()
    got = count_events_torch(graph, samples).to_dict()
    assert [n["node"] for n in got["nodes"]] == [n["node"] for n in want["nodes"]]
    for g, w in zip(got["nodes"], want["nodes"]):
        assert g == w, f"node {w['node']} ({w['op']}, {w['module']})"
    assert got == want
    assert any(n["synaptic_ops"] for n in want["nodes"]) and any(n["spikes"] for n in want["nodes"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiny_models(name):
    model = build(name).double()
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    graph = trace(model, x[:2])
    assert_same_counts(graph, x.numpy())


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(os.path.dirname(p)) for p in EXAMPLES])
def test_example_models(path):
    """Each example as ``report`` loads it: a state dict with the factory its meta.json names, a SLAYER
    network read block by block (samples with time moved first), any other model traced."""
    import json

    from snncompile.frontends.slayer import is_slayer_network, slayer_graph
    from snncompile.frontends.torch.loading import load_model

    with open(os.path.join(os.path.dirname(path), "meta.json"), encoding="utf-8") as f:
        factory = json.load(f).get("factory")
    try:
        loaded = load_model(path)
    except InputError:  # a state dict without its architecture
        loaded = load_model(path, factory=factory)
    samples = np.asarray(loaded.samples[:5])
    if is_slayer_network(loaded.model):
        graph = slayer_graph(loaded.model, loaded.example_input(2))
        samples = np.moveaxis(samples, -1, 1)
    else:
        graph = trace(loaded.model, loaded.example_input(2), [loaded.input_domain])
    assert_same_counts(graph, samples)


def test_every_example_is_covered():
    names = {os.path.basename(os.path.dirname(p)) for p in EXAMPLES}
    assert {"spikformer-digits", "spikingformer-digits", "spikformer-dvs-small", "spikingformer-dvs-small"} <= names


SMALL = dict(depths=1, embed_dims=32, num_heads=2)
FAMILIES = {  # preset (its family's code path) -> overrides that keep it small
    "4-384": dict(SMALL),  # CIFAR: Spikformer nn.Linear q/k/v, Spikingformer Conv1d
    "8-512": dict(SMALL, img_size=32),  # ImageNet: four pooling stem stages, conv1d/conv2d blocks
    "2-256": dict(SMALL, img_size=32, T=3),  # DVS: event input [B, T, 2, H, W], Spikformer pos-embed
}


@pytest.mark.parametrize("arch", ["spikformer", "spikingformer"])
@pytest.mark.parametrize("preset", sorted(FAMILIES))
def test_preset_families(arch, preset):
    from snncompile.examples import presets

    torch.manual_seed(0)
    model = excite(presets.build(arch, preset, **FAMILIES[preset]), seed=3).double()
    cfg = presets.PRESETS[arch][preset] | FAMILIES[preset]
    shape = (cfg["in_channels"], cfg["img_size"], cfg["img_size"])
    g = torch.Generator().manual_seed(5)
    if cfg["input"] == "events":
        x = (torch.rand(3, cfg["T"], *shape, generator=g) < 0.3).double()
    else:
        x = torch.rand(3, *shape, generator=g, dtype=torch.float64)
    graph = trace(model, x[:2])
    assert_same_counts(graph, x.numpy())


def test_spikingjelly_neurons_preset():
    from snncompile.examples import presets

    torch.manual_seed(0)
    model = excite(presets.build("spikingformer", "4-384", neuron="spikingjelly", **SMALL), seed=3).double()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert_same_counts(trace(model, x[:2]), x.numpy())


@pytest.mark.parametrize("conv,cfg,shape", [
    (torch.nn.Conv2d, dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1), (4, 9, 7)),
    (torch.nn.Conv2d, dict(in_channels=4, out_channels=6, kernel_size=(3, 2), dilation=(2, 1), padding=(2, 0),
                           groups=2), (4, 8, 8)),
    (torch.nn.Conv2d, dict(in_channels=6, out_channels=6, kernel_size=5, stride=(1, 3), padding=2, groups=6,
                           bias=False), (6, 7, 11)),
    (torch.nn.Conv1d, dict(in_channels=3, out_channels=4, kernel_size=4, stride=3, padding=2, dilation=2), (3, 17)),
])
def test_conv_counts_every_geometry(conv, cfg, shape):
    """Conv synaptic ops by coverage (no conv run) equal the reference's conv of the nonzero mask."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(conv(**cfg)).double().eval()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, *shape, generator=g, dtype=torch.float64) * (torch.rand(3, *shape, generator=g) < 0.4)
    graph = trace(model, x[:2])
    want = count_events(graph, x.numpy()).to_dict()
    assert count_events_torch(graph, x.numpy()).to_dict() == want
    assert want["nodes"][0]["synaptic_ops"] > 0


class _GradedNet(torch.nn.Module):
    """I-LIF (integer spikes up to D) into a conv, a spike matmul of two I-LIF outputs, and a binary LIF: graded
    spikes must be counted as nonzero elements (not summed) wherever they are read."""

    def __init__(self):
        from snncompile.examples.neurons import MultiStepILIF

        super().__init__()
        self.a, self.b = MultiStepILIF(0.25, 4), MultiStepILIF(0.5, 3)
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(3, 1, 1, 1, 1)
        s = self.a(x * 3.0)
        y = self.conv(s.flatten(0, 1)).reshape(3, x.shape[1], 3, *x.shape[-2:])
        q = self.b(y)
        return torch.matmul(q, s[:, :, :1].transpose(-1, -2))


def test_graded_spike_neurons():
    torch.manual_seed(0)
    model = _GradedNet().double().eval()
    x = torch.randn(5, 2, 6, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    graph = trace(model, x[:2])
    assert {n.op for n in graph.nodes} >= {"ilif", "conv2d", "matmul"}
    assert_same_counts(graph, x.numpy())
    spikes = count_events(graph, x.numpy()).nodes
    ilif = [c for c in spikes.values() if c.op == "ilif"]
    assert ilif and all(c.spikes for c in ilif)
