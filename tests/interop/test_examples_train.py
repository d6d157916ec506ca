"""The committed interop example models are what their training scripts produce (slow: retrains them)."""
import json
import os

import pytest

from .test_nir import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("module, folder", [("sequential_snn", "sequential-digits"), ("slayer_digits", "slayer-digits")])
def test_training_reproduces_the_committed_accuracy(tmp_path, module, folder):
    import importlib

    if module == "slayer_digits":
        pytest.importorskip("lava.lib.dl.slayer")
    train = importlib.import_module(f"snncompile.examples.{module}").train
    meta = train(str(tmp_path))
    committed = json.load(open(os.path.join(ROOT, "examples", "models", folder, "meta.json")))
    assert meta["accuracy"] == committed["accuracy"]
    assert meta["accuracy"] > (0.9 if module == "sequential_snn" else 0.85)
