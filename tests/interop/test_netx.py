"""lava-dl netx export: layout read back by lava-dl's own reader, refusals, and the exported file run on
Lava (fixed_pt) bit-exact against the project's fixed-point executor."""
import os

import numpy as np
import pytest
import torch

from snncompile.backends.reference.fixed import run_fixed
from snncompile.exporters.netx import NetxRefusal, save_netx, to_netx
from snncompile.frontends.torch import trace
from snncompile.loihi.fixed import quantise_input

from .test_nir import SEQ, sequential_model
from .zoo import digits_rgb, zoo_resnet


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model, x, y = sequential_model()
    export = to_netx(trace(model, torch.from_numpy(x[:1]), None), calibration=x)
    path = str(tmp_path_factory.mktemp("netx") / "seq.h5")
    save_netx(export, path)
    return model, x, y, export, path


def fixed_spikes(export, x):
    _, _, readouts = run_fixed(export.program, export.fixed_step, x)
    return readouts[export.fixed_step.outputs[0]].reshape(len(x), export.T, -1).transpose(1, 0, 2)


def test_layout_is_what_netx_reads(exported):
    _, _, _, export, path = exported
    from lava.lib.dl.netx.utils import NetDict

    layers = NetDict(path)["layer"]
    assert [layers[i]["type"] for i in range(len(layers))] == ["input", "conv", "conv", "flatten", "dense"]
    assert list(layers[1]["shape"]) == [8, 8, 8] and list(layers[4]["shape"]) == [10]
    conv = layers[1]
    assert conv["weight"].shape == (8, 1, 3, 3) and list(conv["stride"]) == [2, 2]
    assert conv["neuron"]["type"] == "CUBA" and int(conv["neuron"]["iDecay"]) == 4096
    # the stored integers are the effective weights: exponent 0 in the executor's graph too
    w = export.fixed_step.constants[export.fixed_step.node(export.layers[1].synapse).inputs[1]]
    assert np.array_equal(conv["weight"], w)
    assert all(n.attrs.get("fixed_exp", 0) == 0 for n in export.fixed_step.nodes)


def test_fixed_point_accuracy_within_one_point_of_torch(exported):
    model, x, y, export, _ = exported
    with torch.no_grad():
        torch_acc = float((model(torch.from_numpy(x)).sum(0).argmax(-1).numpy() == y).mean())
    fixed_acc = float((fixed_spikes(export, x).sum(0).argmax(-1) == y).mean())
    assert torch_acc > 0.9
    assert abs(fixed_acc - torch_acc) <= 0.01


@pytest.mark.lava
def test_netx_file_runs_on_lava_bit_exact_with_the_fixed_point_executor(exported):
    from snncompile.backends.lava.netx import run_netx

    _, x, _, export, path = exported
    x = x[:12]
    expected = fixed_spikes(export, x)
    got = run_netx(path, quantise_input(x, export.input_scale), export.T, export.synapse_layers)
    assert expected.sum() > 20
    assert np.array_equal(got, expected)


def test_residual_network_is_refused_with_the_reason():
    model = zoo_resnet("sew", T=2)
    with pytest.raises(NetxRefusal,
                       match=r"sums two branches \(a residual\): netx connects layers strictly in sequence"):
        to_netx(trace(model, torch.from_numpy(digits_rgb(1)), None), calibration=digits_rgb(4))


def test_spikingjelly_threshold_at_equality_is_refused():
    from snncompile.examples import presets

    torch.manual_seed(0)

    class Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            from snncompile.examples.neurons import MultiStepLIF

            self.fc = torch.nn.Linear(16, 4)
            self.lif = MultiStepLIF()

        def forward(self, x):
            return self.lif(self.fc(x.unsqueeze(0).repeat(4, 1, 1).flatten(0, 1)).reshape(4, x.shape[0], -1))

    del presets
    with pytest.raises(NetxRefusal, match="fires at H >= V_th"):
        to_netx(trace(Seq(), torch.rand(1, 16), None), calibration=np.random.rand(4, 16))


def test_cli_writes_netx_and_refuses_attention(tmp_path):
    from .test_nir import run_cli

    ckpt = os.path.join(SEQ, "checkpoint.pth")
    r = run_cli("export", ckpt, "--model", "snncompile.examples.sequential_snn:build", "--format", "netx",
                "-o", "net.h5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path) == ["net.h5"]
    sf = os.path.join(os.path.dirname(SEQ), "spikingformer-digits", "checkpoint.pth")
    r = run_cli("export", sf, "--format", "netx", "-o", "sf.h5", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and not os.path.exists(tmp_path / "sf.h5")


def test_every_op_has_a_netx_hook_or_a_stated_refusal():
    from snncompile.ops.registry import all_ops

    assert [n for n, op in all_ops().items() if not op.has_hook("netx") and "netx" not in op.refusals] == []
