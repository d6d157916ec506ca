"""``snncompile lower`` / ``snncompile run``: outputs, atomic writes, one-line errors with exit code 2."""
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from snncompile.backends.lava import lava_status

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cli():
    from snncompile.commands.lower import COMMANDS
    from snncompile.cli import main

    for c in COMMANDS:
        if c.name not in main.commands:
            main.add_command(c)
    return main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from lava_models import digits_model
    from snncompile.examples import presets

    model, x, _, _ = digits_model("spikformer")
    folder = tmp_path_factory.mktemp("ckpt")
    path = str(folder / "checkpoint.pth")
    presets.save_checkpoint(model, path, arch="spikformer", preset="digits")
    np.save(str(folder / "inputs.npy"), x[:3])
    return path, x[:3], model


def _traced(checkpoint):
    from snncompile.frontends.torch import trace

    _, x, model = checkpoint
    return trace(model, torch.from_numpy(x[:1]))


@pytest.mark.nolava
def test_lower_writes_a_complete_directory(cli, checkpoint, tmp_path):
    path, x, _ = checkpoint
    out = tmp_path / "sf.loihi"
    r = CliRunner().invoke(cli, ["lower", path, "--target", "loihi", "-o", str(out), "--mode", "fixed"])
    assert r.exit_code == 0, r.output
    for f in ("network.json", "params.npz", "step.snnir", "post.snnir", "core_map.json", "quantisation.json",
              "report.txt"):
        assert (out / f).is_file(), f
    doc = json.loads((out / "network.json").read_text())
    summary = doc["summary"]
    assert doc["mode"] == "fixed" and summary["processes"] == len(doc["processes"]) == sum(summary["by_type"].values())
    assert summary["by_type"]["source"] == 1 and summary["by_type"]["readout"] == 1
    assert summary["by_type"]["neuron"] == sum(1 for n in _traced(checkpoint).nodes if n.op == "lif")
    cmap = json.loads((out / "core_map.json").read_text())
    assert cmap["cores"] >= 1 and cmap["chips"] == 1 and cmap["limits"]["name"] == "loihi2"
    # an existing directory is not overwritten without --force, and nothing else is left behind
    r = CliRunner().invoke(cli, ["lower", path, "-o", str(out)])
    assert r.exit_code == 2 and "already exists" in r.output and len(r.output.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["sf.loihi"]


@pytest.mark.nolava
def test_lower_partition_only_and_limits_file(cli, checkpoint, tmp_path):
    path, _, _ = checkpoint
    lim = tmp_path / "tiny.json"
    lim.write_text(json.dumps({"base": "loihi1", "neurons_per_core": 256}))
    r = CliRunner().invoke(cli, ["lower", path, "--partition-only", "--limits", str(lim), "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["limits"]["neurons_per_core"] == 256 and all(l["tile"]["neurons"] <= 256 for l in d["layers"])


class _Softmaxed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        from snncompile.examples.neurons import MultiStepLIF

        self.fc = torch.nn.Linear(4, 4)
        self.lif1 = MultiStepLIF()
        self.lif2 = MultiStepLIF()

    def forward(self, x):
        x = x.unsqueeze(0).repeat(2, 1, 1)
        s = self.lif1(self.fc(x.flatten(0, 1)).reshape(2, -1, 4))
        return self.lif2(torch.softmax(s, -1)).mean(0)


@pytest.mark.nolava
def test_unsupported_op_is_one_line_and_leaves_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(_Softmaxed(), str(tmp_path / "m.pt"))
    r = CliRunner().invoke(cli, ["lower", str(tmp_path / "m.pt"), "--trust-pickle", "--input-shape", "1,4",
                                 "-o", str(tmp_path / "out.loihi")], catch_exceptions=False)
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1 and "softmax" in r.output
    assert not (tmp_path / "out.loihi").exists()
    assert not [f for f in os.listdir(tmp_path) if "snncompile" in f]  # temporaries: .NAME.snncompile-tmp


@pytest.mark.nolava
def test_run_without_lava_is_one_line(cli, checkpoint, tmp_path, monkeypatch):
    import snncompile.backends.lava.availability as av

    path, x, _ = checkpoint
    out = tmp_path / "sf.loihi"
    assert CliRunner().invoke(cli, ["lower", path, "-o", str(out)]).exit_code == 0
    np.save(str(tmp_path / "x.npy"), x)
    monkeypatch.setattr(av, "lava_status", lambda: (False, "lava-nc is not importable (test)"))
    r = CliRunner().invoke(cli, ["run", str(out), "--input", str(tmp_path / "x.npy")])
    assert r.exit_code == 2 and "Lava backend is unavailable" in r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.lava
@pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")
def test_lower_and_run_float(cli, checkpoint, tmp_path):
    from snncompile.backends.reference import ReferenceExecutor
    from snncompile.frontends.torch import trace

    path, x, model = checkpoint
    out = tmp_path / "sf.loihi"
    assert CliRunner().invoke(cli, ["lower", path, "-o", str(out)]).exit_code == 0
    np.save(str(tmp_path / "x.npy"), x)
    r = CliRunner().invoke(cli, ["run", str(out), "--input", str(tmp_path / "x.npy"), "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    g = trace(model, torch.from_numpy(x[:1]))
    ex = ReferenceExecutor()
    ref = np.concatenate([ex.run(g, x[i:i + 1], dtype=np.float64).output for i in range(len(x))])
    np.testing.assert_allclose(np.array(d["logits"]), ref, rtol=1e-9, atol=1e-9)
    assert d["predictions"] == ref.argmax(1).tolist()
    from snncompile.backends.reference import count_events

    assert d["ledger"]["totals"]["synaptic_ops"] == count_events(g, x).synaptic_ops and os.path.isfile(d["png"])
    r = CliRunner().invoke(cli, ["run", str(out), "--input", str(tmp_path / "x.npy")])
    assert r.exit_code == 0 and "predictions:" in r.output and "synaptic ops" in r.output


@pytest.mark.nolava
def test_weight_bits_16_splits_every_weight_layer_and_is_fixed_mode_only(cli, checkpoint, tmp_path):
    from snncompile.backends.lava.lower import load_lowered
    from snncompile.loihi.split_weights import weight_planes

    path, _, _ = checkpoint
    bad = tmp_path / "float16.loihi"
    r = CliRunner().invoke(cli, ["lower", path, "-o", str(bad), "--weight-bits", "16"])
    assert r.exit_code == 2 and "--weight-bits applies to --mode fixed" in r.output and not bad.exists()
    out = tmp_path / "sf16.loihi"
    r = CliRunner().invoke(cli, ["lower", path, "-o", str(out), "--mode", "fixed", "--weight-bits", "16"])
    assert r.exit_code == 0, r.output
    assert "16-bit weights" in r.output
    layers = [l for l in json.loads((out / "quantisation.json").read_text())["layers"] if l["kind"] == "synapse"]
    assert layers and all(l["weight_bits"] == 16 and l["low_exp"] == l["weight_exp"] - 8 for l in layers)
    low = load_lowered(str(out))  # the low mantissas survive the directory round trip
    split = [n for n in low.step.nodes if len(weight_planes(low.step, n)) == 2]
    assert len(split) == len(layers)
    for n in split:
        w_low = low.step.constants[n.attrs["fixed_low"]["weight"]]
        assert w_low.shape == low.step.constants[n.inputs[1]].shape and np.any(w_low != 0)
    assert sum(1 for p in low.plan.procs if p.endswith(":low")) >= len(layers)


def test_run_at_16_bit_weights_counts_the_low_synapses(cli, checkpoint, tmp_path):
    """Lava run of a 16-bit lowering: the ledger's low-synapse ops equal the weight layers' own synaptic ops
    (every split connection fires twice) and enter the totals; the predictions are the executor's."""
    from snncompile.backends.lava.lower import load_lowered
    from snncompile.backends.reference.fixed import run_fixed

    path, x, _ = checkpoint
    out = tmp_path / "sf16.loihi"
    r = CliRunner().invoke(cli, ["lower", path, "-o", str(out), "--mode", "fixed", "--weight-bits", "16"])
    assert r.exit_code == 0, r.output
    np.save(str(tmp_path / "x.npy"), x[:2])
    r = CliRunner().invoke(cli, ["run", str(out), "--input", str(tmp_path / "x.npy"), "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    low = load_lowered(str(out))
    outs, _, _ = run_fixed(low.program, low.step, x[:2])
    assert d["predictions"] == [int(o[0].reshape(-1).argmax()) for o in outs]
    cores = d["ledger"]["cores"]
    weight_cores = [c for c in cores if c["low_synapse_ops"]]
    assert weight_cores and all(c["low_synapse_ops"] == c["synaptic_ops"] for c in weight_cores)
    tot = d["ledger"]["totals"]
    assert tot["split_synapses"]["synaptic_ops"] == sum(c["synaptic_ops"] for c in weight_cores)
    assert tot["on_chip"]["synaptic_ops"] == sum(c["synaptic_ops"] for c in cores) + tot["split_synapses"]["synaptic_ops"]
    r = CliRunner().invoke(cli, ["run", str(out), "--input", str(tmp_path / "x.npy")])
    assert r.exit_code == 0 and "low-synapse ops" in r.output


@pytest.mark.nolava
def test_partition_only_at_16_bit_weights_doubles_the_weight_layers_synapses(cli, checkpoint):
    path, _, _ = checkpoint
    docs = {}
    for bits in ("8", "16"):
        r = CliRunner().invoke(cli, ["lower", path, "--mode", "fixed", "--weight-bits", bits, "--partition-only",
                                     "--format", "json"])
        assert r.exit_code == 0, r.output
        docs[bits] = {layer["name"]: layer for layer in json.loads(r.output)["layers"]}
    assert docs["8"].keys() == docs["16"].keys()
    weights = [n for n, layer in docs["16"].items() if layer["synapse_planes"] == 2]
    assert weights and all(docs["8"][n]["synapse_planes"] == 1 for n in weights)
    for n, layer in docs["16"].items():
        assert layer["synapses"] == docs["8"][n]["synapses"] * (2 if n in weights else 1), n
        assert layer["compartments"] == docs["8"][n]["compartments"], n
