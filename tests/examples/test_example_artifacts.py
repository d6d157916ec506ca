"""The trained example models shipped in examples/models/ and the cache logic that reuses them."""
import json
import shutil

import numpy as np
import pytest
import torch

from snncompile.examples import MODELS_DIR, train
from snncompile.examples.presets import build_from_checkpoint

SHIPPED = [("spikformer", "digits"), ("spikingformer", "digits"), ("spikformer", "dvs-small"),
           ("spikingformer", "dvs-small")]


@pytest.mark.parametrize("arch,preset", SHIPPED)
def test_shipped_model_is_valid_and_consistent(arch, preset):
    d = MODELS_DIR / f"{arch}-{preset}"
    assert train.is_valid(d, arch, preset)
    meta = json.loads((d / "meta.json").read_text())
    assert meta["accuracy"] >= 0.90
    assert meta["neuron"] == "own"
    assert all((d / f).stat().st_size < 3_000_000 for f in train.ARTIFACTS)
    x, y = torch.from_numpy(np.load(d / "inputs.npy")), np.load(d / "labels.npy")
    assert x.dtype == torch.float32 and list(x.shape) == meta["input_shape"]
    whole = torch.load(d / "model.pt", weights_only=False).eval()
    rebuilt = build_from_checkpoint(d / "checkpoint.pth").eval()
    with torch.no_grad():
        logits = whole(x)
        assert torch.equal(logits, rebuilt(x))
    assert float((logits.argmax(1).numpy() == y).mean()) == meta["sample_accuracy"]


def test_ensure_trained_reuses_valid_models(monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("ensure_trained retrained a valid model")
    monkeypatch.setattr(train, "train_model", no_training)
    dirs = train.ensure_trained(MODELS_DIR)
    assert set(dirs) == {"spikformer-digits", "spikingformer-digits"}


def test_invalid_artifacts_are_detected(tmp_path):
    src = MODELS_DIR / "spikformer-digits"
    d = tmp_path / "m"
    shutil.copytree(src, d)
    assert train.is_valid(d, "spikformer", "digits")
    assert not train.is_valid(d, "spikingformer", "digits")
    meta = json.loads((d / "meta.json").read_text())
    meta["config"]["embed_dims"] = 128
    (d / "meta.json").write_text(json.dumps(meta))
    assert not train.is_valid(d, "spikformer", "digits")
    shutil.copy(src / "meta.json", d / "meta.json")
    (d / "checkpoint.pth").write_bytes(b"garbage")
    assert not train.is_valid(d, "spikformer", "digits")
    shutil.copy(src / "checkpoint.pth", d / "checkpoint.pth")
    (d / "inputs.npy").unlink()
    assert not train.is_valid(d, "spikformer", "digits")
