"""lava-dl SLAYER networks in: the IR read from the blocks agrees with SLAYER's own forward, and the
CLI's check, report and lower work on a trained SLAYER model."""
import os

import numpy as np
import pytest
import torch

slayer = pytest.importorskip("lava.lib.dl.slayer")

from snncompile.backends.reference import ReferenceExecutor  # noqa: E402
from snncompile.frontends.slayer import SlayerError, slayer_graph  # noqa: E402

from .test_nir import ROOT, run_cli  # noqa: E402

FOLDER = os.path.join(ROOT, "examples", "models", "slayer-digits")
FACTORY = ["--model", "snncompile.examples.slayer_digits:build"]


def trained():
    from snncompile.examples.slayer_digits import build

    model = build()
    model.load_state_dict(torch.load(os.path.join(FOLDER, "checkpoint.pth"), weights_only=True)["state_dict"])
    x = np.load(os.path.join(FOLDER, "inputs.npy")).astype(np.float32)
    return model.eval(), x, np.load(os.path.join(FOLDER, "labels.npy"))


def test_blocks_become_weight_layers_and_lif_neurons():
    model, x, _ = trained()
    g = slayer_graph(model, torch.from_numpy(x[:1]))
    assert [n.op for n in g.nodes if n.op in ("conv2d", "linear", "lif")] == \
        ["conv2d", "lif", "conv2d", "lif", "linear", "lif"]
    lif = next(n for n in g.nodes if n.op == "lif")
    assert lif.attrs["tau"] == 2.0 and lif.attrs["decay_input"] is False and lif.attrs["fire"] == "gt"
    assert lif.module == "blocks.0.neuron"
    conv = next(n for n in g.nodes if n.op == "conv2d")
    w = model.blocks[0].synapse
    assert np.array_equal(g.constants[conv.inputs[1]], w._pre_hook_fx(w.weight).detach().double().numpy()[..., 0])
    assert g.values[g.inputs[0]].shape == (1, model.T, 1, 16, 16)


def test_ir_run_agrees_with_slayer_forward():
    model, x, y = trained()
    x = x[:60]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy().sum(-1)  # spike counts [N, 10]
    g = slayer_graph(model, torch.from_numpy(x[:1]))
    got = np.concatenate([ReferenceExecutor().run(g, [np.moveaxis(x[i:i + 1], -1, 1)], dtype=np.float64).outputs[0]
                          for i in range(len(x))])
    assert ref.sum() > 300
    # SLAYER truncates its states to a 1/4096 grid, the IR computes in float: equal counts on all 100 shipped
    # images when measured (ties at the threshold resolve alike: both fire at v > θ); not exact by construction
    assert (got == ref).mean() > 0.99
    assert abs((got.argmax(-1) == y[:60]).mean() - (ref.argmax(-1) == y[:60]).mean()) <= 1 / 60 + 1e-9


def test_current_decay_and_delay_shift_are_refused_naming_the_block():
    p = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.5}
    net = torch.nn.Sequential(slayer.block.cuba.Dense(p, 8, 4, delay_shift=False))
    with pytest.raises(SlayerError, match="0.neuron: current_decay 1024/4096"):
        slayer_graph(net, torch.zeros(1, 8, 4))
    p["current_decay"] = 1.0
    net = torch.nn.Sequential(slayer.block.cuba.Dense(p, 8, 4))
    with pytest.raises(SlayerError, match="delay_shift=True"):
        slayer_graph(net, torch.zeros(1, 8, 4))


def test_check_report_and_lower_run_on_the_slayer_model(tmp_path):
    ckpt = os.path.join(FOLDER, "checkpoint.pth")
    r = run_cli("check", ckpt, *FACTORY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3 weight layers (AC 3)" in r.stdout
    r = run_cli("report", ckpt, *FACTORY, "--format", "csv", "-o", "ops.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "blocks.3.synapse" in open(tmp_path / "ops.csv").read()
    r = run_cli("lower", ckpt, *FACTORY, "--mode", "fixed", "-o", "sl.loihi", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert os.path.isdir(tmp_path / "sl.loihi")


@pytest.mark.lava
def test_slayer_model_exported_to_netx_runs_bit_exact_on_lava(tmp_path):
    """SLAYER's blocks → IR → netx HDF5 → lava-dl's netx on Lava (fixed_pt), against the fixed-point executor."""
    from snncompile.backends.lava.netx import run_netx
    from snncompile.exporters.netx import save_netx, to_netx
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.fixed import quantise_input

    model, x, y = trained()
    events = np.moveaxis(x, -1, 1)  # the graph's [B, T, ...] layout
    export = to_netx(slayer_graph(model, torch.from_numpy(x[:1])), calibration=events)
    path = str(tmp_path / "slayer.h5")
    save_netx(export, path)
    events = events[:16]
    _, _, readouts = run_fixed(export.program, export.fixed_step, events)
    expected = next(iter(readouts.values())).reshape(len(events), export.T, -1).transpose(1, 0, 2)
    got = run_netx(path, quantise_input(events, export.input_scale), export.T, export.synapse_layers, timed=True)
    assert expected.sum() > 100
    assert np.array_equal(got, expected)


def test_slayer_model_exported_to_nir_runs_in_snntorch_like_slayer(tmp_path):
    """SLAYER's blocks → IR → NIR → snnTorch: the output spike counts of SLAYER's own forward."""
    nir = pytest.importorskip("nir")
    from snncompile.exporters.nir import save_nir, to_nir
    from snncompile.exporters.nir.consumers import load_consumer, run_consumer

    model, x, _ = trained()
    x = x[:30]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy().sum(-1)
    export = to_nir(slayer_graph(model, torch.from_numpy(x[:1])))
    save_nir(export, str(tmp_path / "slayer.nir"))
    graph = nir.read(str(tmp_path / "slayer.nir"))
    assert [a["op"] for a in export.sidecar["after_time_loop"]] == ["sum"]
    events = np.moveaxis(x, -1, 1)  # [N, T, 1, 16, 16]
    got = run_consumer(load_consumer(graph, "snntorch", 1e-4), "snntorch", events, model.T,
                       step_input=lambda sample, t: sample[t]).sum(0)
    assert ref.sum() > 100
    assert np.array_equal(got, ref)


def test_event_input_models_export_to_nir_with_per_step_input_shape(tmp_path):
    from snncompile.exporters.nir import save_nir, to_nir
    from snncompile.frontends.torch import trace
    from snncompile.examples import presets
    from snncompile.ir.domain import Domain

    nir = pytest.importorskip("nir")
    folder = os.path.join(ROOT, "examples", "models", "spikformer-dvs-small")
    model = presets.build_from_checkpoint(os.path.join(folder, "checkpoint.pth"), neuron="own").eval()
    x = np.load(os.path.join(folder, "inputs.npy"))[:1]
    export = to_nir(trace(model, torch.from_numpy(x), [Domain.binary()]), partial=True)
    save_nir(export, str(tmp_path / "dvs.nir"))
    back = nir.read(str(tmp_path / "dvs.nir"))
    assert list(back.nodes["input"].input_type["input"]) == list(x.shape[2:])  # [2, 32, 32]: one step, no batch
