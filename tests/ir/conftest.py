"""Shared fixtures for the IR tests: a tiny traced spiking model and a strict graph comparison."""
import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn


def make_spiking_model():
    """Conv → BN → LIF → max-pool → tokens → linear → LIF (q, k) → q@kᵀ (spike matmul) → ·0.125 →
    LIF → residual add → mean head.  spikingjelly ``clock_driven`` multi-step LIF, torch backend."""
    from spikingjelly.clock_driven.neuron import MultiStepLIFNode

    class Attn(nn.Module):
        def __init__(self, c=8):
            super().__init__()
            self.q_linear = nn.Linear(c, c)
            self.q_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch")
            self.k_linear = nn.Linear(c, c)
            self.k_lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch")
            self.attn_lif = MultiStepLIFNode(tau=2.0, v_threshold=0.5, detach_reset=True, backend="torch")

        def forward(self, x):  # x: [T, B, N, C]
            t, b, n, c = x.shape
            q = self.q_lif(self.q_linear(x.flatten(0, 1)).reshape(t, b, n, c))
            k = self.k_lif(self.k_linear(x.flatten(0, 1)).reshape(t, b, n, c))
            a = q @ k.transpose(-2, -1)
            y = (a @ k) * 0.125
            return self.attn_lif(y)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 8, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch")
            self.pool = nn.MaxPool2d(2, 2)
            self.block = nn.ModuleList([Attn()])
            self.head = nn.Linear(8, 5)

        def forward(self, x):
            x = x.unsqueeze(0).repeat(4, 1, 1, 1, 1)
            t, b = x.shape[:2]
            x = self.lif(self.bn(self.conv(x.flatten(0, 1))).reshape(t, b, 8, 8, 8))
            x = self.pool(x.flatten(0, 1)).reshape(t, b, 8, 16).transpose(-1, -2)
            x = x + self.block[0](x)
            return self.head(x.mean(2)).mean(0)

    torch.manual_seed(0)
    model = Tiny()
    with torch.no_grad():  # non-trivial statistics so the domains are not round numbers
        model.bn.running_mean.uniform_(-0.2, 0.2)
        model.bn.running_var.uniform_(0.5, 1.5)
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.1, 0.1)
    return model.eval()


def reset(model):
    from spikingjelly.clock_driven import functional

    functional.reset_net(model)


@pytest.fixture
def spiking_model():
    pytest.importorskip("spikingjelly")
    return make_spiking_model()


@pytest.fixture
def spiking_input():
    return torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 3


@pytest.fixture
def traced(spiking_model, spiking_input):
    """The traced tiny spiking model after value-domain inference."""
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import trace

    graph = trace(spiking_model, spiking_input)
    reset(spiking_model)
    return infer_domains(graph)


def same(a, b) -> bool:
    """Structural equality that also requires equal types (1 ≠ 1.0 ≠ True) and treats nan == nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def assert_graphs_equal(a, b) -> None:
    assert list(a.values) == list(b.values)
    for name, va in a.values.items():
        vb = b.values[name]
        assert va.shape == vb.shape and type(vb.shape) is tuple, name
        assert va.dtype == vb.dtype, name
        assert va.constant == vb.constant, name
        assert va.producer == vb.producer, name
        assert va.domain == vb.domain, (name, va.domain, vb.domain)
        if va.domain is not None:
            for f in ("lo", "hi", "integer"):
                assert same(getattr(va.domain, f), getattr(vb.domain, f)), (name, f)
    assert [n.name for n in a.nodes] == [n.name for n in b.nodes]
    for na, nb in zip(a.nodes, b.nodes):
        assert (na.op, na.inputs, na.outputs, na.module, na.source) == (nb.op, nb.inputs, nb.outputs, nb.module,
                                                                        nb.source)
        assert same(na.attrs, nb.attrs), (na.name, na.attrs, nb.attrs)
    assert list(a.constants) == list(b.constants)
    for name, arr in a.constants.items():
        other = b.constants[name]
        assert arr.dtype == other.dtype and arr.shape == other.shape, name
        assert arr.tobytes() == other.tobytes(), name
    assert a.inputs == b.inputs and a.outputs == b.outputs
    assert same(a.meta, b.meta), (a.meta, b.meta)


@pytest.fixture
def graphs_equal():
    return assert_graphs_equal
