"""``report`` over datasets: sources, engines, devices, torchrun, energy models."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "models", "spikingformer-digits", "checkpoint.pth")


@pytest.fixture(autouse=True)
def _no_bars(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


@pytest.fixture(scope="module")
def inputs():
    return np.load(os.path.join(os.path.dirname(MODEL), "inputs.npy"))[:13]


def report(*args):
    from snncompile.cli import main

    r = CliRunner().invoke(main, ["report", MODEL, *map(str, args)], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def report_json(tmp_path, name, *args) -> dict:
    out = tmp_path / f"{name}.json"
    code, _, err = report(*args, "--format", "json", "-o", out)
    assert code == 0, err
    doc = json.loads(out.read_text())
    doc.pop("version")
    return doc


def test_shard_folder_equals_one_file(tmp_path, inputs):
    np.save(tmp_path / "all.npy", inputs)
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "0.npy", inputs[:5])
    np.savez(shards / "1.npz", x=inputs[5:11], labels=np.arange(6))
    np.savez(shards / "2.npz", inputs[11:])
    one = report_json(tmp_path, "one", "--data", tmp_path / "all.npy", "--batch", 4)
    many = report_json(tmp_path, "many", "--data", shards, "--batch", 4, "--workers", 2)
    assert one["samples"] == many["samples"] == 13
    assert one["layers"] == many["layers"] and one["totals"] == many["totals"]


def test_torch_and_numpy_engines_give_the_same_report(tmp_path, inputs):
    np.save(tmp_path / "x.npy", inputs)
    a = report_json(tmp_path, "t", "--data", tmp_path / "x.npy", "--batch", 4, "--engine", "torch")
    b = report_json(tmp_path, "n", "--data", tmp_path / "x.npy", "--batch", 4, "--engine", "numpy")
    a.pop("data"), b.pop("data")
    assert a == b


DATASET = '''
import numpy as np, os

class Digits:
    """torchvision-style: (root, **kwargs), items (x, label)."""
    def __init__(self, root, count=3, scale=1.0):
        self.x = np.load(os.path.join(root, "x.npy"))[:count] * scale
    def __len__(self):
        return len(self.x)
    def __getitem__(self, i):
        return self.x[i], 0
'''


def test_user_dataset_class(tmp_path, inputs):
    (tmp_path / "mydata.py").write_text(DATASET)
    np.save(tmp_path / "x.npy", inputs)
    a = report_json(tmp_path, "d", "--dataset", "mydata:Digits", "--dataset-root", tmp_path, "--dataset-arg", "count=6",
                    "--import-path", tmp_path, "--batch", 4)
    np.save(tmp_path / "six.npy", inputs[:6])
    b = report_json(tmp_path, "f", "--data", tmp_path / "six.npy", "--batch", 4)
    assert a["samples"] == 6 and a["layers"] == b["layers"]
    code, out, err = report("--dataset", "nosuchmodule_xyz:Data", "--dataset-root", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "--dataset" in err and not out


def test_cuda_refused_in_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "r.json"
    code, stdout, err = report("--random", 2, "--device", "cuda", "-o", out)
    assert code == 2 and err.startswith("error: --device cuda: CUDA is not available") and err.count("\n") == 1
    assert not out.exists() and not stdout


def test_random_samples_equal_a_sequential_draw():
    from snncompile.energy.datasets import RandomSamples
    from snncompile.energy.report import Samples

    for binary in (False, True):
        seq = Samples.random(7, (2, 3, 3), binary, seed=4)
        want = np.concatenate([seq.read(0, 3), seq.read(3, 7)])
        got = RandomSamples(7, (2, 3, 3), binary, seed=4)
        assert np.array_equal(np.stack([got[i] for i in (6, 0, 3, 1, 2, 4, 5)])[[1, 3, 4, 2, 5, 6, 0]], want)


@pytest.mark.parametrize("world", [2, 3, 5])
def test_unpadded_sampler_counts_every_sample_once(world):
    from snncompile.energy.distributed import UnpaddedSampler

    data = list(range(13))
    seen = [i for r in range(world) for i in UnpaddedSampler(data, num_replicas=world, rank=r, shuffle=False)]
    assert sorted(seen) == data


def test_two_torchrun_processes_equal_one(tmp_path, inputs):
    """gloo, 2 processes, 13 samples in traced batches of 4: rank 0 gets 7 (a tail of 3), rank 1 gets 6."""
    np.save(tmp_path / "x.npy", inputs)
    one = report_json(tmp_path, "one", "--data", tmp_path / "x.npy", "--batch", 4)
    out = tmp_path / "two.json"
    env = dict(os.environ, TQDM_DISABLE="1")
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "-m", "snncompile", "report", MODEL, "--data", str(tmp_path / "x.npy"), "--batch", "4",
                        "--format", "json", "-o", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    two = json.loads(out.read_text())
    two.pop("version")
    assert two["samples"] == 13 and one == two


TOML = '''name = "asic-x"
source = "Doe et al. 2025, Table 3"
[pj]
ac = 0.5
neuron_update = 1.0
'''


def test_energy_models_side_by_side(tmp_path, inputs):
    (tmp_path / "m.toml").write_text(TOML)
    np.save(tmp_path / "x.npy", inputs[:4])
    doc = report_json(tmp_path, "e", "--data", tmp_path / "x.npy", "--batch", 4, "--energy-model", tmp_path / "m.toml")
    est = {e["model"]: e for e in doc["energy_estimates"]}
    assert list(est) == ["45nm", "loihi", "loihi-events", "lemaire", "asic-x"]
    t = doc["totals"]["all"]
    assert est["45nm"]["total"] == pytest.approx(t["e45"], rel=1e-12)
    assert est["loihi"]["total"] == pytest.approx(t["e_loihi"], rel=1e-12)
    assert est["loihi-events"]["total"] == pytest.approx(35.5 * t["synops"] + 72.8 * t["neuron_updates"]
                                                         + 76.8 * t["spikes"], rel=1e-12)
    assert est["asic-x"]["total"] == pytest.approx(0.5 * t["acs"] + 1.0 * t["neuron_updates"], rel=1e-12)
    assert est["lemaire"]["by_term"]["memory_params"] > 0 and est["lemaire"]["total"] > est["45nm"]["total"]
    code, text, _ = report("--data", tmp_path / "x.npy", "--batch", 4, "--energy-model", tmp_path / "m.toml")
    assert code == 0 and "Doe et al. 2025, Table 3" in text and "asic-x" in text


@pytest.mark.parametrize("content,why", [
    ('name = "a"\n[pj]\nac = 1\n', "source"),
    ('name = "a"\nsource = "s"\n[pj]\nwatts = 1\n', "unknown event"),
    ('name = "a"\nsource = "s"\n[pj]\nac = -1\n', ">= 0"),
    ('name = "45nm"\nsource = "s"\n[pj]\nac = 1\n', "built-in"),
    ('name = \n', "not valid TOML"),
])
def test_bad_energy_model_file(tmp_path, content, why):
    (tmp_path / "bad.toml").write_text(content)
    out = tmp_path / "r.json"
    code, stdout, err = report("--random", 1, "--energy-model", tmp_path / "bad.toml", "-o", out)
    assert code == 2 and why in err and err.count("\n") == 1 and not out.exists()


def test_memory_cost_breakpoints():
    from snncompile.energy.pricing import MemoryAware

    m = MemoryAware()
    assert [m.word_pj(b) for b in (0, 4096, 8192, 32768, 1 << 20, 1 << 22)] == [0, 5, 10, 20, 100, 100]


def test_torchvision_dataset_of_pil_images(tmp_path):
    """torchvision's FakeData yields PIL images: converted as ToTensor does, then counted."""
    pytest.importorskip("torchvision")
    from snncompile.energy.datasets import UserDataset

    d = UserDataset("torchvision.datasets:FakeData", {"size": 3, "image_size": [1, 16, 16]}, None)
    x = d[0]
    assert d.shape == (1, 16, 16) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    doc = report_json(tmp_path, "fake", "--dataset", "torchvision.datasets:FakeData", "--dataset-arg", "size=3",
                      "--dataset-arg", "image_size=[1,16,16]", "--batch", 2)
    assert doc["samples"] == 3 and doc["totals"]["all"]["synops"] > 0


def test_memory_aware_model_by_hand():
    """Lemaire terms of one spike-fed Linear(4 -> 3, bias) + LIF, recomputed from the counts by hand."""
    from spikingjelly.clock_driven.neuron import MultiStepLIFNode

    from snncompile.backends.torch import count_events_torch
    from snncompile.energy.pricing import MemoryAware, estimate
    from snncompile.energy.report import build_report
    from snncompile.frontends.torch import trace
    from snncompile.ir.domain import Domain

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)
            self.lif = MultiStepLIFNode(tau=2.0, backend="torch")

        def forward(self, x):  # x [B, T, 4] spikes
            return self.lif(self.fc(x.transpose(0, 1)) * 4.0)

    torch.manual_seed(0)
    x = (torch.rand(5, 2, 4, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    graph = trace(Net().double().eval(), x, [Domain.binary()])
    counts = count_events_torch(graph, x.numpy())
    rep = build_report(graph, counts)
    m = MemoryAware()
    (row,) = rep.rows
    (neuron,) = rep.neurons
    assert row.kind == "AC"
    nnz = np.count_nonzero(x.numpy()) / 5
    events = nnz * 3
    assert row.synops == pytest.approx(events)
    steps = row.steps or 1
    out = 2 * 3  # output elements per image (T = 2)
    word = lambda b: 10.0 * b / 8192  # below 8 KB: linear from 0 to 10 pJ per word
    want = (0.1 * (events + out) + 0.1 * events  # compute (ACs + bias adds) + addressing
            + (events + out) * word((12 + 3) * 4)  # weight and bias reads
            + nnz * word(1000 * 4)  # input spikes from the FIFO
            + 2 * events * word(out / steps * 4)  # membrane read + write per synaptic event
            + 0.1 * neuron.spikes + 3.2 * neuron.updates  # neuron: add per spike, mul + add per update
            + 2 * neuron.updates * word(3 * 4) + neuron.spikes * word(1000 * 4))
    (est,) = estimate(graph, rep, counts, (m,))
    assert est.total == pytest.approx(want, rel=1e-12)
