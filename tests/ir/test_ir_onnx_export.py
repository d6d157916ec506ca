"""ONNX export: passes ``onnx.checker``, keeps neurons as ``ai.snncompile`` custom ops with their
attributes, survives a save/load, and computes what the torch model computes."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from snncompile.analysis import infer_domains  # noqa: E402
from snncompile.exporters.onnx import save_onnx, to_onnx  # noqa: E402
from snncompile.ir import Domain, Graph, Node, Value  # noqa: E402
from snncompile.exporters.onnx.export import DOMAIN, reference_evaluator  # noqa: E402


def _trace(model, x):
    from snncompile.frontends.torch import trace

    return infer_domains(trace(model.eval(), x))


def _nodes(model, op_type, domain=""):
    return [n for n in model.graph.node if n.op_type == op_type and n.domain == domain]


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# -- spiking model ---------------------------------------------------------------------------------

def test_spiking_export_checks_and_has_custom_ops(traced, tmp_path):
    model = to_onnx(traced)
    onnx.checker.check_model(model, full_check=True)
    assert {(o.domain, o.version) for o in model.opset_import} >= {("", 20), (DOMAIN, 1)}
    lifs = _nodes(model, "LIF", DOMAIN)
    assert len(lifs) == sum(1 for n in traced.nodes if n.op == "lif") == 4
    a = _attrs(lifs[0])
    assert a["tau"] == 2.0 and a["v_threshold"] == 1.0 and a["v_reset"] == 0.0 and a["reset"] == b"hard"
    assert a["fire"] == b"ge" and a["style"] == b"charge-fire-reset" and a["step_mode"] == b"multi"
    assert a["decay_input"] == 1 and a["ir_op"] == b"lif"
    assert json.loads(a["ir_attrs"])["neuron_class"] == "spikingjelly.clock_driven.neuron.MultiStepLIFNode"
    attn = next(n for n in lifs if "module: block.0.attn_lif\n" in n.doc_string)
    assert _attrs(attn)["v_threshold"] == 0.5
    assert "module: block.0.attn_lif" in attn.doc_string and "conftest.py:" in attn.doc_string
    # q @ kᵀ of two spike trains is a SpikeMatMul; (int @ spikes) too, as one operand is binary
    spm = _nodes(model, "SpikeMatMul", DOMAIN)
    assert len(spm) == 2 and _attrs(spm[0])["spike_operands"] == [0, 1]
    assert _attrs(spm[1])["spike_operands"] == [1]
    # standard ops where semantics match
    types = {n.op_type for n in model.graph.node if n.domain == ""}
    assert {"Conv", "BatchNormalization", "MaxPool", "MatMul", "Mul", "Add", "ReduceMean",
            "Reshape", "Tile", "Transpose"} <= types
    # every value carries its domain; constants are initializers
    infos = {v.name: v for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)}
    for name, v in traced.values.items():
        if not v.constant:
            assert infos[name].doc_string.startswith(f"domain: {v.domain}"), name
    assert {i.name for i in model.graph.initializer} >= set(traced.constants)
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["snncompile.meta"])["model"] == "Tiny"
    # written file re-loads and checks again
    path = tmp_path / "tiny.onnx"
    save_onnx(traced, path)
    again = onnx.load(str(path))
    onnx.checker.check_model(again, full_check=True)
    onnx.checker.check_model(str(path))
    assert again.SerializeToString() == model.SerializeToString()
    assert os.listdir(tmp_path) == ["tiny.onnx"]


def test_spiking_export_matches_torch(traced, spiking_model):
    """With the custom ops run by the IR reference, the ONNX graph reproduces the torch output."""
    from spikingjelly.clock_driven import functional

    ev = reference_evaluator(to_onnx(traced))
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = (rng.random((1, 1, 8, 8)) * 3).astype(np.float32)
        functional.reset_net(spiking_model)
        with torch.no_grad():
            want = spiking_model(torch.from_numpy(x)).numpy()
        got = ev.run(None, {traced.inputs[0]: x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# -- neuron-free models: numerical equivalence with the standard ONNX reference -------------------

class Plain(nn.Module):
    """Only standard ops: every node must map to default-domain ONNX operators."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.avg = nn.AvgPool2d(2)
        self.conv1 = nn.Conv1d(8, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm1d(6)
        self.fc = nn.Linear(6, 12)
        self.ln = nn.LayerNorm(12)
        self.head = nn.Linear(24, 5)
        with torch.no_grad():
            for bn in (self.bn, self.bn1):
                bn.running_mean.uniform_(-0.3, 0.3)
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.2, 0.2)

    def forward(self, x):  # x: [2, 3, 16, 16]
        x = F.relu(self.bn(self.dw(self.conv(x))))            # [2, 8, 8, 8]
        x = self.pool(x) + self.avg(x)                          # [2, 8, 4, 4]
        x = x.clamp(min=0.05) - F.adaptive_avg_pool2d(x, 1)     # [2, 8, 4, 4]
        y = F.adaptive_avg_pool2d(x, (2, 2)).flatten(1)         # [2, 32]
        t = self.bn1(self.conv1(x.flatten(2)))                  # [2, 6, 16]
        t = self.fc(t.transpose(1, 2))                          # [2, 16, 12] → MatMul + Add
        t = F.gelu(self.ln(t)) * torch.sigmoid(t) + F.silu(t).tanh()
        a = torch.softmax(t @ t.transpose(-1, -2) / 4.0, dim=-1)  # dynamic real × real
        t = a @ t                                               # [2, 16, 12]
        q, k = t.chunk(2, dim=-1)                               # split
        t = torch.cat([k, -q], dim=-1)
        s = torch.stack([t[:, 0], t[:, -1], t[:, 1:5].sum(1)], dim=1)  # [2, 3, 12]
        s = s[..., ::2] + s[:, None, 2, ::2].expand(2, 3, 6) ** 2    # [2, 3, 6]
        s = s.repeat(1, 1, 2).amax(1) + s.sum(dim=(1,), keepdim=False).repeat(2, 1, 2)[1]  # [2, 12]
        z = torch.cat([s, y[:, :12]], dim=1)                    # [2, 24]
        return self.head(torch.exp(-z * z)), y.mean()


@pytest.fixture
def plain():
    torch.manual_seed(0)
    return Plain().eval()


def test_plain_model_matches_torch(plain):
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    g = _trace(plain, x)
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    assert all(n.domain == "" for n in model.graph.node), [n.op_type for n in model.graph.node if n.domain]
    from onnx.reference import ReferenceEvaluator

    ev = ReferenceEvaluator(model)
    for seed in (3, 4):
        x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            want = [t.numpy() for t in plain(x)]
        got = ev.run(None, {g.inputs[0]: x.numpy()})
        assert len(got) == len(want) == len(g.outputs)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_linear_conv_relu_only():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10), nn.ReLU(),
                          nn.Linear(10, 3)).eval()
    x = torch.randn(5, 1, 8, 8)
    g = _trace(model, x)
    m = to_onnx(g)
    onnx.checker.check_model(m, full_check=True)
    assert [n.op_type for n in m.graph.node] == ["Conv", "Relu", "Reshape", "Gemm", "Relu", "Gemm"]
    from onnx.reference import ReferenceEvaluator

    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(ReferenceEvaluator(m).run(None, {g.inputs[0]: x.numpy()})[0], want,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("index", [
    (slice(None), 0), (Ellipsis, slice(1, 3)), (None, slice(None), -1), (slice(None, None, 2), None, Ellipsis, 1),
    (1, slice(-3, None), slice(None, 2)), (Ellipsis,), (slice(None, 100),),
])
def test_slice_specs(index):
    class Index(nn.Module):
        def forward(self, x):
            return x[index] * 2.0

    x = torch.randn(3, 4, 5)
    g = _trace(Index(), x)
    m = to_onnx(g)
    onnx.checker.check_model(m, full_check=True)
    from onnx.reference import ReferenceEvaluator

    np.testing.assert_array_equal(ReferenceEvaluator(m).run(None, {g.inputs[0]: x.numpy()})[0], (x[index] * 2).numpy())


def test_dtype_mismatch_gets_a_cast_and_unknown_ops_become_custom():
    g = Graph(meta={"model": "m"})
    g.add_value(Value("x", (1, 2, 5, 3), "float32", Domain.real()))
    g.inputs.append("x")
    g.constants["c"] = np.array([1.5, 2.5, 3.5])  # float64
    g.add_value(Value("c", (3,), "float64", Domain.of_array(g.constants["c"]), constant=True))
    g.add_value(Value("y", (1, 2, 5, 3), "float32"))
    g.add_node(Node("m", "mul", ["x", "c"], ["y"]))
    g.add_value(Value("z", (1, 2, 2, 3), "float32"))
    g.add_node(Node("ap", "adaptive_avg_pool2d", ["y"], ["z"], {"output_size": [2, 3]}))  # 5 → 2: not uniform
    g.outputs.append("z")
    m = to_onnx(g)
    onnx.checker.check_model(m, full_check=True)
    assert [n.op_type for n in m.graph.node] == ["Cast", "Mul", "AdaptiveAvgPool2d"]
    assert m.graph.node[2].domain == DOMAIN
    x = np.arange(30, dtype=np.float32).reshape(1, 2, 5, 3)
    got = reference_evaluator(m).run(None, {"x": x})[0]
    want = F.adaptive_avg_pool2d(torch.from_numpy(x * np.float32([1.5, 2.5, 3.5])), (2, 3)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_core_imports_without_onnx(tmp_path):
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import snncompile.ir as ir, snncompile.ops, snncompile.analysis, snncompile.exporters.onnx as onnx_export\n"
            "from snncompile.errors import BackendUnavailableError\n"
            "g = ir.Graph(); g.add_value(ir.Value('x', (1,))); g.inputs.append('x'); g.outputs.append('x')\n"
            "try:\n    onnx_export.to_onnx(g)\nexcept BackendUnavailableError as e:\n    print('OK', e)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK ") and "onnx" in out.stdout


def test_example_preset_matches_torch():
    """End to end on an example model (Spikingformer, digits preset, the project's own LIF)."""
    presets = pytest.importorskip("snncompile.examples.presets")
    from snncompile.frontends.torch.neurons import reset_states

    torch.manual_seed(0)
    model = presets.build("spikingformer", "digits").eval()
    x = torch.rand(1, 1, 16, 16)
    g = _trace(model, x)
    m = to_onnx(g)
    onnx.checker.check_model(m, full_check=True)
    assert {n.op_type for n in m.graph.node if n.domain == DOMAIN} == {"LIF", "SpikeMatMul"}
    reset_states(model)
    with torch.no_grad():
        want = model(x).numpy()
    got = reference_evaluator(m).run(None, {g.inputs[0]: x.numpy()})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_single_step_neurons_share_state():
    """snnTorch ``Leaky`` called once per step: one ``LIF`` node per call, explicit membrane passed on."""
    snn = pytest.importorskip("snntorch")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.lif = snn.Leaky(beta=0.9)

        def forward(self, x):
            mem = self.lif.init_leaky()
            out = 0
            for t in range(x.shape[0]):
                spk, mem = self.lif(self.fc(x[t]), mem)
                out = out + spk
            return out

    torch.manual_seed(0)
    net = Net().eval()
    x = torch.rand(5, 2, 4) * 3
    g = _trace(net, x)
    m = to_onnx(g)
    onnx.checker.check_model(m, full_check=True)
    lifs = _nodes(m, "LIF", DOMAIN)
    assert len(lifs) == 5 and _attrs(lifs[0])["state_key"] == b"lif" and _attrs(lifs[0])["reset"] == b"soft"
    assert "v_reset" not in _attrs(lifs[0])  # None: soft reset
    with torch.no_grad():
        want = net(x).numpy()
    assert want.sum() > 0
    got = reference_evaluator(m).run(None, {g.inputs[0]: x.numpy()})[0]
    np.testing.assert_allclose(got, want)
