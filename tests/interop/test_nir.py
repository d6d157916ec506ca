"""NIR export: parameters, round trip through nir.write/nir.read, refusals, and the exported graphs
run by consumers nobody here wrote (snnTorch, Norse) against the original torch models on digits."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir")

from snncompile.exporters.nir import NirRefusal, save_nir, to_nir  # noqa: E402
from snncompile.exporters.nir.consumers import load_consumer, run_consumer  # noqa: E402
from snncompile.exporters.nir.neurons import lif_to_nir, nir_threshold  # noqa: E402
from snncompile.frontends.torch import trace  # noqa: E402

from .zoo import digits_rgb, run_with_rates, zoo_resnet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEQ = os.path.join(ROOT, "examples", "models", "sequential-digits")
DT = 1e-4


def sequential_model():
    from snncompile.examples.sequential_snn import build

    model = build()
    model.load_state_dict(torch.load(os.path.join(SEQ, "checkpoint.pth"), weights_only=True)["state_dict"])
    return model.eval(), np.load(os.path.join(SEQ, "inputs.npy")), np.load(os.path.join(SEQ, "labels.npy"))


def export_roundtrip(graph, tmp_path, **kw):
    export = to_nir(graph, **kw)
    path = str(tmp_path / "m.nir")
    save_nir(export, path)
    return export, nir.read(path)


# -- neuron mapping ----------------------------------------------------------------------------------

def test_spikingjelly_lif_maps_to_nir_lif_at_dt():
    node = lif_to_nir({"tau": 2.0, "decay_input": True, "v_threshold": 1.0, "v_reset": 0.0, "fire": "ge"}, (3,), DT)
    assert isinstance(node, nir.LIF)
    assert np.all(node.tau == 2.0 * DT) and np.all(node.r == 1.0) and np.all(node.v_leak == 0.0)
    # H >= 1 for float32 H  <=>  H > the float32 just below 1
    assert node.v_threshold[0] == np.nextafter(np.float32(1.0), np.float32(0)) and node.v_threshold[0] < 1.0
    h = np.float32([0.99999994, 1.0, 1.0000001])
    assert list(h >= 1.0) == list(h > np.float32(node.v_threshold[0]))


def test_no_input_decay_sets_r_to_tau_and_if_has_no_leak():
    node = lif_to_nir({"tau": 4.0, "decay_input": False, "v_threshold": 0.5, "v_reset": -0.1, "fire": "gt"}, (2,), DT)
    assert np.all(node.r == 4.0) and np.all(node.v_leak == -0.1) and np.all(node.v_reset == -0.1)
    assert node.v_threshold[0] == np.float32(0.5)
    node = lif_to_nir({"tau": None, "v_threshold": 1.0, "v_reset": 0.0}, (2,), DT)
    assert isinstance(node, nir.IF) and np.all(node.r == 1.0)


def test_snntorch_leaky_zero_reset_maps_and_soft_reset_is_refused():
    node = lif_to_nir({"style": "reset-then-charge", "beta": 0.75, "v_threshold": 1.0, "v_reset": 0.0, "fire": "gt"},
                      (1,), DT)
    assert np.allclose(1 - DT / node.tau, 0.75) and np.allclose(node.r * DT / node.tau, 1.0)
    from snncompile.exporters.nir.neurons import NeuronNotExpressible

    with pytest.raises(NeuronNotExpressible, match="soft reset"):
        lif_to_nir({"tau": 2.0, "v_threshold": 1.0, "v_reset": None}, (1,), DT)
    assert nir_threshold(1.0, "gt") == 1.0


# -- round trip ----------------------------------------------------------------------------------------

def test_sequential_model_round_trips_with_exact_parameters(tmp_path):
    model, x, _ = sequential_model()
    export, back = export_roundtrip(trace(model, torch.from_numpy(x[:1]), None), tmp_path)
    kinds = {k: type(v).__name__ for k, v in back.nodes.items()}
    assert sorted(kinds.values()) == sorted(["Input", "Conv2d", "LIF", "Conv2d", "LIF", "Flatten", "Linear", "LIF",
                                             "Output"])
    assert sorted(back.edges) == sorted(export.graph.edges)
    conv = back.nodes["conv1__conv2d"]
    assert np.array_equal(conv.weight, model.conv1.weight.detach().numpy())
    assert tuple(conv.stride) == (2, 2) and tuple(conv.padding) == (1, 1)
    assert np.array_equal(back.nodes["fc__linear"].weight, model.fc.weight.detach().numpy())
    lif = back.nodes["lif3__lif"]
    assert np.all(lif.tau == 2.0 * DT) and np.all(lif.r == 2.0) and lif.v_threshold.shape == (10,)
    assert back.metadata["snncompile_dt"] == DT


def test_residual_sums_become_fan_in_edges(tmp_path):
    model = zoo_resnet("sew", T=2)
    graph = trace(model, torch.from_numpy(digits_rgb(1)), None)
    export, back = export_roundtrip(graph, tmp_path)
    assert not any(k.endswith("__add") for k in back.nodes)  # no node for an add
    fan_in = {}
    for src, dst in back.edges:
        fan_in.setdefault(dst, []).append(src)
    # layer1.1's first conv reads the SEW stream: max-pooled stem + both spike outputs of block layer1.0
    assert len(fan_in["net_layer1_1_conv1__conv2d"]) == 2
    assert len(fan_in["net_layer2_0_conv1__conv2d"]) == 3


def test_grouped_conv_is_written_dense_and_reads_back(tmp_path):
    from snncompile.ops.weights import dense_groups
    from snncompile.ops.weights import conv_nd

    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 2, 3, 3))
    x = rng.normal(size=(1, 4, 5, 5))
    assert np.allclose(conv_nd(x, w, None, [1, 1], [1, 1], [1, 1], 2),
                       conv_nd(x, dense_groups(w, 2), None, [1, 1], [1, 1], [1, 1], 1))


# -- refusals and --partial ----------------------------------------------------------------------------

def spikingformer_graph():
    from snncompile.examples import presets

    folder = os.path.join(ROOT, "examples", "models", "spikingformer-digits")
    model = presets.build_from_checkpoint(os.path.join(folder, "checkpoint.pth"), neuron="own").eval()
    x = np.load(os.path.join(folder, "inputs.npy"))[:1]
    return trace(model, torch.from_numpy(x), None)


def test_attention_is_refused_naming_the_products():
    with pytest.raises(NirRefusal) as e:
        to_nir(spikingformer_graph())
    msg = e.value.one_line()
    assert "\n" not in msg
    assert "block_0_attn__matmul (matmul in block.0.attn): a product of two dynamic tensors" in msg


def test_partial_export_cuts_attention_and_names_the_boundaries(tmp_path):
    export, back = export_roundtrip(spikingformer_graph(), tmp_path, partial=True)
    cut_ops = [c["op"] for c in export.cut]
    assert cut_ops.count("matmul") == 4  # (Q·Kᵀ)·V in each of the 2 blocks
    assert all("dynamic tensors" in c["reason"] for c in export.cut if c["op"] == "matmul")
    inputs = {b["nir_node"] for b in export.sidecar["inputs"]}
    outputs = {b["nir_node"] for b in export.sidecar["outputs"]}
    assert "input" in inputs and set(back.inputs) == inputs and set(back.outputs) == outputs
    for name in inputs | outputs:
        if name != "input":
            assert name.startswith(("input_", "output_"))
    # every boundary output feeds nothing in NIR and every boundary input is fed by nothing
    assert not [e for e in back.edges if e[0] in outputs or e[1] in inputs]
    # the tokenizer's convolutions and neurons survive the cut, the readout runs after the time loop
    assert sum(isinstance(n, nir.Conv2d) for n in back.nodes.values()) >= 5
    assert [a["op"] for a in export.sidecar["after_time_loop"]] == ["mean", "linear"]


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "snncompile", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def test_cli_refusal_is_one_line_exit_2_and_writes_nothing(tmp_path):
    ckpt = os.path.join(ROOT, "examples", "models", "spikingformer-digits", "checkpoint.pth")
    r = run_cli("export", ckpt, "--format", "nir", "-o", "sf.nir", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "matmul" in r.stderr
    assert os.listdir(tmp_path) == []
    r = run_cli("export", ckpt, "--format", "nir", "--partial", "-o", "sf.nir", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["sf.nir", "sf.nir.json"]
    assert len(json.load(open(tmp_path / "sf.nir.json"))["cut"]) > 0
    r = run_cli("export", ckpt, "--format", "nir", "--partial", "-o", "sf.nir", cwd=tmp_path)
    assert r.returncode == 2 and "exists" in r.stderr


# -- consumers -----------------------------------------------------------------------------------------

def test_snntorch_import_reproduces_the_sequential_model_spike_for_spike(tmp_path):
    model, x, y = sequential_model()
    x = x[:60]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    _, back = export_roundtrip(trace(model, torch.from_numpy(x[:1]), None), tmp_path)
    got = run_consumer(load_consumer(back, "snntorch", DT), "snntorch", x, model.T)
    assert ref.sum() > 100  # the comparison is not between silent networks
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("kind", ["sew", "spiking"])
@pytest.mark.parametrize("consumer", ["snntorch", "norse-fx"])
def test_consumers_reproduce_spikingjelly_zoo_resnets(tmp_path, kind, consumer):
    T = 4
    model = zoo_resnet(kind, T=T)
    x = digits_rgb(6)
    ref, rates = run_with_rates(model, x)
    assert min(rates) > 0  # every LIF layer spikes on these inputs
    _, back = export_roundtrip(trace(model, torch.from_numpy(x[:1]), None), tmp_path)
    got = run_consumer(load_consumer(back, consumer, DT), consumer, x, T)
    assert got.shape == ref.shape
    # the readout is a Linear of the last spikes: equal spikes give equal outputs up to float rounding
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_every_op_has_a_nir_emitter_or_a_stated_refusal():
    from snncompile.ops.registry import all_ops

    uncovered = [name for name, op in all_ops().items() if not op.has_hook("nir") and "nir" not in op.refusals]
    assert uncovered == []
    assert "attention" in all_ops()["matmul"].refusals["nir"]


def test_differences_and_constant_scales_become_scale_nodes_and_fan_in(tmp_path):
    from snncompile.examples.neurons import MultiStepLIF

    class TwoPaths(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = torch.nn.Linear(6, 5), torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)
            self.lif1, self.lif2, self.lif3 = MultiStepLIF(), MultiStepLIF(), MultiStepLIF()

        def forward(self, x):
            x = x.unsqueeze(0).repeat(3, 1, 1)
            a, b = self.lif1(self.fc1(x)), self.lif2(self.fc2(x))
            return self.lif3(self.fc3(a - 0.5 * b))

    torch.manual_seed(0)
    _, back = export_roundtrip(trace(TwoPaths(), torch.rand(1, 6), None), tmp_path)
    scales = {k: v for k, v in back.nodes.items() if isinstance(v, nir.Scale)}
    assert sorted(float(v.scale[0]) for v in scales.values()) == [-1.0, 0.5]
    into_fc3 = sorted(src for src, dst in back.edges if dst == "fc3__linear")
    assert len(into_fc3) == 2 and all(s in scales or s == "lif1__lif" for s in into_fc3)


class _Pools(torch.nn.Module):
    """conv → LIF → AvgPool2d(2) → AdaptiveAvgPool2d(2) (4×4 → 2×2: equal windows) → Linear → LIF."""

    def __init__(self, T: int = 3, pad: int = 0, adaptive: int = 2):
        from snncompile.examples.sequential_snn import LoihiLIF

        super().__init__()
        self.T = T
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.pool = torch.nn.AvgPool2d(2, padding=pad)
        self.adapt = torch.nn.AdaptiveAvgPool2d(adaptive)
        self.fc = torch.nn.Linear(4 * adaptive * adaptive, 5)
        self.lif1, self.lif2 = LoihiLIF(), LoihiLIF()

    def forward(self, x):
        T, B = self.T, x.shape[0]
        y = self.conv(x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1))
        s = self.lif1(y.reshape(T, B, *y.shape[1:])).flatten(0, 1)
        y = self.fc(self.adapt(self.pool(s)).flatten(1))
        return self.lif2(y.reshape(T, B, -1))


def test_average_pools_export_as_avgpool2d_and_snntorch_reproduces_them(tmp_path):
    torch.manual_seed(1)
    model = _Pools().eval()
    with torch.no_grad():
        model.conv.weight.mul_(4.0)
        model.fc.weight.mul_(6.0)
    x = np.random.default_rng(0).random((12, 1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    _, back = export_roundtrip(trace(model, torch.from_numpy(x[:1]), None), tmp_path)
    pools = sorted((tuple(v.kernel_size), tuple(v.stride), tuple(v.padding))
                   for v in back.nodes.values() if isinstance(v, nir.AvgPool2d))
    assert pools == [((2, 2), (2, 2), (0, 0)), ((2, 2), (2, 2), (0, 0))]  # the adaptive 4×4 → 2×2 is a 2×2 pool
    got = run_consumer(load_consumer(back, "snntorch", DT), "snntorch", x, model.T)
    assert 0 < ref.sum() < ref.size  # the output neurons neither stay silent nor fire always
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("pad, adaptive, why", [(1, 2, "average pooling with padding"),
                                                 (0, 3, "windows of unequal size")])
def test_average_pools_without_an_exact_nir_form_are_cut_with_the_reason(pad, adaptive, why):
    graph = trace(_Pools(pad=pad, adaptive=adaptive).eval(), torch.rand(1, 1, 8, 8), None)
    with pytest.raises(NirRefusal, match=why):
        to_nir(graph)


def test_integer_spike_neuron_is_refused_by_nir_and_netx_with_the_reason():
    from snncompile.examples.neurons import MultiStepILIF
    from snncompile.exporters.netx import NetxRefusal, to_netx

    class Graded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)
            self.ilif, self.ilif2 = MultiStepILIF(), MultiStepILIF()

        def forward(self, x):
            x = x.unsqueeze(0).repeat(3, 1, 1)
            return self.ilif2(self.fc2(self.ilif(self.fc1(x))))

    graph = trace(Graded().eval(), torch.rand(1, 6), None)
    assert any(n.op == "ilif" for n in graph.nodes)
    why = r"ilif.*clamp\(round\(h\), 0, max_spike\)"
    with pytest.raises(NirRefusal, match=why):
        to_nir(graph)
    with pytest.raises(NetxRefusal, match=why):
        to_netx(graph, calibration=np.random.default_rng(0).random((4, 6)))
