"""Integer ("multi-bit") spikes: the graded domain, the ilif op against torch, SpikeYOLO-style recognition,
and check's distinction between integers a neuron emits (SNN105) and integers a sum makes (SNN101)."""
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn

from snncompile.analysis import infer_domains
from snncompile.check import check_graph
from snncompile.examples.neurons import MultiStepILIF
from snncompile.frontends.torch import trace
from snncompile.ir.domain import Domain
from snncompile.ir.serialize import decode_domain, encode_domain


def test_graded_domain_lattice_and_text():
    g = Domain.graded_spike(4)
    assert g.is_graded and g.is_integer and not g.is_binary and str(g) == "graded[0,4]"
    assert Domain.parse("graded[0,4]") == g and decode_domain(encode_domain(g)) == g
    assert Domain.graded_spike(1) == Domain.binary()
    assert not (g + g).is_graded and str(g + g) == "int[0,8]"          # a sum of graded spikes is arithmetic
    assert not (g * Domain.binary()).is_graded
    assert g.join(g).is_graded and not g.join(Domain.integer_range(0, 4)).is_graded
    assert encode_domain(Domain.integer_range(0, 4)) == {"lo": 0, "hi": 4, "integer": True}  # unchanged files


class _Net(nn.Module):
    """conv1 reads I-LIF spikes; conv2 reads the sum of two I-LIF outputs."""

    def __init__(self):
        super().__init__()
        self.a, self.b = MultiStepILIF(0.25, 4), MultiStepILIF(0.5, 4)
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1)
        self.c, self.d = MultiStepILIF(0.25, 4), MultiStepILIF(0.25, 4)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(3, 1, 1, 1, 1)
        s = self.a(x * 3.0)
        y = self.conv1(s.flatten(0, 1)).reshape(s.shape)
        y = self.c(y) + self.b(x * 2.0)
        return self.d(self.conv2(y.flatten(0, 1)).reshape(y.shape)).mean(0)


def test_check_tells_a_graded_spike_from_a_sum():
    torch.manual_seed(0)
    g = trace(_Net().eval(), torch.randn(2, 2, 5, 5))
    res = check_graph(g)
    rules = {(d.rule, d.module) for d in res.findings}
    assert rules == {("SNN105", "conv1"), ("SNN101", "conv2")}
    assert g.values[[n for n in g.nodes if n.module == "conv1"][0].inputs[0]].domain == Domain.graded_spike(4)
    assert str(g.values[[n for n in g.nodes if n.module == "conv2"][0].inputs[0]].domain) == "int[0,8]"
    assert [d.rule for d in res.failing] == ["SNN101"]  # the note does not fail the gate


def test_ilif_reference_matches_torch():
    from snncompile.backends.reference import ReferenceExecutor

    torch.manual_seed(0)
    model = _Net().eval()
    x = torch.randn(2, 2, 5, 5)
    g = infer_domains(trace(model, x))
    nodes = [n for n in g.nodes if n.op == "ilif"]
    assert len(nodes) == 4 and {n.attrs["max_spike"] for n in nodes} == {4}
    with torch.no_grad():
        want = model(x).double().numpy()
    got = ReferenceExecutor().run(g, x.numpy(), dtype=np.float64).outputs[0]
    assert np.allclose(got, want, atol=1e-5)
    spikes = ReferenceExecutor().run(g, x.numpy(), dtype=np.float64, record=[nodes[0].outputs[0]])
    s = spikes.values[nodes[0].outputs[0]]
    assert set(np.unique(s)) <= {0, 1, 2, 3, 4} and s.max() > 1


SPIKEYOLO_STYLE = textwrap.dedent('''
    import torch
    import torch.nn as nn

    decay = 0.25


    class MultiSpike4(nn.Module):
        def forward(self, x):
            return torch.round(torch.clamp(x, min=0, max=4))


    class mem_update(nn.Module):
        def __init__(self):
            super().__init__()
            self.qtrick = MultiSpike4()

        def forward(self, x):
            spike = torch.zeros_like(x[0])
            out = torch.zeros_like(x)
            mem_old = 0
            for i in range(x.shape[0]):
                mem = (mem_old - spike.detach()) * decay + x[i] if i >= 1 else x[i]
                spike = self.qtrick(mem)
                mem_old = mem.clone()
                out[i] = spike
            return out


    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.lif = mem_update()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(self.lif(x)).mean(0)
''')


def test_spikeyolo_mem_update_is_recognised_by_what_it_holds(tmp_path, monkeypatch):
    from snncompile.backends.reference import ReferenceExecutor

    (tmp_path / "yolo_style_blocks.py").write_text(SPIKEYOLO_STYLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import yolo_style_blocks as m

    try:
        torch.manual_seed(0)
        model = m.Tiny().eval()
        x = torch.randn(4, 2, 4) * 3
        g = trace(model, x)
        (node,) = [n for n in g.nodes if n.op == "ilif"]
        assert node.attrs["max_spike"] == 4 and node.attrs["decay"] == 0.25
        with torch.no_grad():
            want = model(x).double().numpy()
        assert np.allclose(ReferenceExecutor().run(g, x.numpy(), dtype=np.float64).outputs[0], want, atol=1e-5)
    finally:
        sys.modules.pop("yolo_style_blocks", None)


@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_lowering_takes_ilif_as_graded_spikes_not_as_a_binary_lif(tmp_path, mode):
    """``lower`` builds graded populations (process type ``graded``) for I-LIF neurons, never binary LIFs, and
    the synapses they feed receive graded messages (num_message_bits > 0)."""
    import json

    from click.testing import CliRunner

    from snncompile.cli import main
    from snncompile.examples import MODELS_DIR

    ckpt = MODELS_DIR / "ilifnet-digits" / "checkpoint.pth"
    if not ckpt.is_file():
        pytest.skip("ilifnet-digits is not trained here")
    result = CliRunner().invoke(main, ["lower", str(ckpt), "--mode", mode, "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "out" / "network.json").read_text())
    types = [p["type"] for p in doc["processes"].values()]
    assert types.count("graded") == 7 and "neuron" not in types
    graded = {n for n, p in doc["processes"].items() if p["type"] == "graded"}
    procs = doc["processes"]
    fed = [c["dst"] for c in doc["connections"] if c["src"] in graded and procs[c["dst"]]["type"] == "sparse"]
    assert fed and all(doc["processes"][d]["params"]["num_message_bits"] > 0 for d in fed)
