import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from snncompile.examples import presets


def activated(arch: str, preset: str = "digits", gain: float = 4.0, shift: float = 0.6, seed: int = 0):
    """An untrained preset whose BatchNorms are scaled so that every LIF population fires (10-40 %)."""
    torch.manual_seed(seed)
    model = presets.build(arch, preset)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.fill_(gain)
                m.bias.fill_(shift)
    return model.eval()


def digits_inputs(n: int = 12, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 16, 16)).astype(np.float32)


@pytest.fixture(scope="session")
def firing_checkpoints(tmp_path_factory):
    """``{arch: checkpoint path}`` of activated digits models with ``inputs.npy`` (12 samples) beside them."""
    root = tmp_path_factory.mktemp("energy-models")
    out = {}
    for arch in ("spikformer", "spikingformer"):
        d = root / arch
        d.mkdir()
        presets.save_checkpoint(activated(arch), str(d / "checkpoint.pth"), arch=arch, preset="digits")
        np.save(d / "inputs.npy", digits_inputs())
        out[arch] = str(d / "checkpoint.pth")
    return out


@pytest.fixture
def runner():
    return CliRunner()


def run_cli(runner, *args):
    from snncompile.cli import main

    result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(name="run_cli")
def run_cli_fixture():
    return run_cli


@pytest.fixture(autouse=True)
def _quiet_tqdm(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    yield


os.environ.setdefault("MPLBACKEND", "Agg")
