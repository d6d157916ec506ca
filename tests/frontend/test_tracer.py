"""The tracer on code written the ways SNN users write it (not only the example models)."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from snncompile.check import check_graph
from snncompile.errors import UnknownNeuronError, UnsupportedOpError
from snncompile.frontends.torch import trace
from snncompile.ir.domain import Domain


def _layers(graph):
    return {layer.module: layer for layer in check_graph(graph).layers}


class ActivationBasedNet(nn.Module):
    """spikingjelly activation_based layers in multi-step mode; the layers branch on x.dim()."""

    def __init__(self):
        super().__init__()
        from spikingjelly.activation_based import functional, layer, neuron

        self.net = nn.Sequential(
            layer.Conv2d(1, 8, 3, padding=1, bias=False), layer.BatchNorm2d(8), neuron.LIFNode(tau=2.0),
            layer.MaxPool2d(2, 2), layer.Conv2d(8, 8, 3, padding=1, bias=False), layer.BatchNorm2d(8),
            neuron.LIFNode(tau=2.0), layer.Flatten(), layer.Linear(8 * 4 * 4, 10))
        functional.set_step_mode(self, "m")

    def forward(self, x):  # x: [B, C, H, W] static image, repeated over T = 4
        x_seq = x.unsqueeze(0).repeat(4, 1, 1, 1, 1)
        return self.net(x_seq).mean(0)


def test_activation_based_multistep_layers():
    g = trace(ActivationBasedNet(), torch.rand(1, 1, 8, 8))
    lifs = [n for n in g.nodes if n.op == "lif"]
    assert [n.module for n in lifs] == ["net.2", "net.6"]
    assert all(n.attrs["step_mode"] == "multi" and n.attrs["fire"] == "ge" for n in lifs)
    layers = _layers(g)
    assert layers["net.0"].cost == "MAC" and layers["net.0"].region == "encoding"
    assert layers["net.4"].cost == "AC"
    assert layers["net.8"].cost == "AC" and layers["net.8"].region == "readout"


class SingleStepLoop(nn.Module):
    """A single-step neuron called T times in a Python loop, state carried inside the module."""

    def __init__(self):
        super().__init__()
        from spikingjelly.activation_based import neuron

        self.fc1 = nn.Linear(6, 5)
        self.lif = neuron.LIFNode(tau=2.0, step_mode="s")
        self.fc2 = nn.Linear(5, 3)

    def forward(self, x):
        out = 0
        for _ in range(len(x.shape) * 0 + 3):  # len() on a shape: fine with concrete tracing
            out = out + self.fc2(self.lif(self.fc1(x)))
        return out / 3


def test_single_step_neuron_called_in_a_loop_shares_state():
    g = trace(SingleStepLoop(), torch.rand(2, 6))
    lifs = [n for n in g.nodes if n.op == "lif"]
    assert len(lifs) == 3
    assert {n.attrs["state_key"] for n in lifs} == {"lif"}
    assert all(n.attrs["step_mode"] == "single" for n in lifs)
    assert _layers(g)["fc2"].cost == "AC"


class SnnTorchNet(nn.Module):
    def __init__(self):
        super().__init__()
        import snntorch as snn

        self.fc1 = nn.Linear(6, 5)
        self.lif1 = snn.Leaky(beta=0.9)
        self.fc2 = nn.Linear(5, 3)

    def forward(self, x):  # x: [T, B, 6]
        mem = self.lif1.init_leaky()
        spikes = []
        for t in range(x.shape[0]):
            spk, mem = self.lif1(self.fc1(x[t]), mem)
            spikes.append(self.fc2(spk))
        return torch.stack(spikes).sum(0)


def test_snntorch_leaky_is_an_opaque_neuron_with_strict_threshold():
    g = trace(SnnTorchNet(), torch.rand(4, 2, 6))
    lifs = [n for n in g.nodes if n.op == "lif"]
    assert len(lifs) == 4
    a = lifs[0].attrs
    assert a["fire"] == "gt" and a["style"] == "reset-then-charge" and a["v_reset"] is None
    assert a["beta"] == pytest.approx(0.9)
    assert _layers(g)["fc2"].cost == "AC"


class SpikeDrivenStyle(nn.Module):
    """Code in the style of the Spike-driven Transformer: len() of a tensor, a LIF before the head,
    spike tensors multiplied elementwise (a mask), sums over tokens fed to a neuron, tuple output."""

    def __init__(self, c=8):
        super().__init__()
        from spikingjelly.clock_driven.neuron import MultiStepLIFNode

        self.lif_in = MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch")
        self.q = nn.Linear(c, c)
        self.q_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch")
        self.k = nn.Linear(c, c)
        self.k_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch")
        self.talking_lif = MultiStepLIFNode(tau=2.0, v_threshold=0.5, detach_reset=True, backend="torch")
        self.head_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch")
        self.head = nn.Linear(c, 3)

    def forward(self, x, hook=None):  # x: [T, B, N, C]
        T = len(x)
        s = self.lif_in(x)
        q = self.q_lif(self.q(s.flatten(0, 1)).reshape(T, *x.shape[1:]))
        k = self.k_lif(self.k(s.flatten(0, 1)).reshape(T, *x.shape[1:]))
        kv = k.mul(q).sum(dim=-2, keepdim=True)  # a sum of spikes over tokens
        kv = self.talking_lif(kv)
        y = q.mul(kv)
        y = self.head_lif(y)
        if hook is not None:
            hook["y"] = y.detach()
        return self.head(y.mean(2)).mean(0), y


def test_spike_driven_style_is_clean_and_readout_is_binary():
    g = trace(SpikeDrivenStyle(), torch.rand(4, 1, 5, 8))
    result = check_graph(g)
    assert result.findings == []
    assert len(g.outputs) == 2
    sums = [n for n in g.nodes if n.op == "sum"]
    assert str(g.values[sums[0].outputs[0]].domain) == "int[0,5]"
    layers = {layer.module: layer for layer in result.layers}
    assert layers["q"].cost == "AC" and layers["q"].region == "body"
    assert layers["head"].region == "readout"


class WithUnusedModules(SpikeDrivenStyle):
    """SpikeDrivenStyle plus modules that are built but never called (as papers' code often leaves them)."""

    def __init__(self, c=8):
        super().__init__(c)
        self.unused_proj = nn.Linear(c, c)
        self.unused_norm = nn.LayerNorm(c)


def test_unused_modules_are_absent():
    model = WithUnusedModules()
    assert {"unused_proj", "unused_norm"} <= {name for name, _ in model.named_modules()}
    g = trace(model, torch.rand(4, 1, 5, 8))
    assert not any(n.module.startswith("unused") for n in g.nodes)
    assert {n.module for n in g.nodes if n.op == "linear"} == {"q", "k", "head"}
    assert {layer.module for layer in check_graph(g).layers} == {"q", "k", "head"}


class MyNeuron(nn.Module):
    def __init__(self):
        super().__init__()
        self.v_threshold = 1.0

    def forward(self, x):
        return (x >= self.v_threshold).float()


class UsesUnknownNeuron(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.sn = MyNeuron()

    def forward(self, x):
        return self.sn(self.fc(x))


def test_unknown_neuron_names_its_class():
    with pytest.raises(UnknownNeuronError, match=r"module sn of class .*MyNeuron"):
        trace(UsesUnknownNeuron(), torch.rand(1, 3))


def test_neuron_opt_in_via_attrs_method():
    class Declared(MyNeuron):
        def snncompile_neuron_attrs(self):
            return {"tau": None, "v_threshold": 1.0, "v_reset": 0.0, "fire": "ge", "step_mode": "single"}

    m = UsesUnknownNeuron()
    m.sn = Declared()
    g = trace(m, torch.rand(1, 3))
    assert [n.op for n in g.nodes][-1] == "lif"


class UsesFFT(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.fft.fft(self.fc(x)).real


def test_unsupported_op_is_an_error_with_module_and_line():
    with pytest.raises(UnsupportedOpError, match=r"unsupported op .*fft.* at .*test_tracer.py:\d+"):
        trace(UsesFFT(), torch.rand(1, 4))


def test_event_input_domain_makes_first_layer_spike_driven():
    g = trace(ActivationBasedNet(), (torch.rand(1, 1, 8, 8) < 0.3).float(), [Domain.binary()])
    assert _layers(g)["net.0"].cost == "AC"


def test_constants_are_folded_and_parameters_named():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.register_buffer("scale", torch.tensor(0.5))

        def forward(self, x):
            return self.fc(x) * (self.scale * 0.25)

    g = trace(Scaled(), torch.rand(2, 4))
    assert [n.op for n in g.nodes] == ["linear", "mul"]
    const = g.nodes[1].inputs[1]
    assert g.values[const].constant and np.allclose(g.constants[const], 0.125)
    assert "fc.weight" in " ".join(g.constants)
