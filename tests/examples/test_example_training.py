"""Retraining the digits models reaches the accuracy the shipped ones record (slow: minutes per model)."""
import time

import pytest

from snncompile.examples import train


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["spikformer", "spikingformer"])
def test_retrain_digits_reaches_90_percent(arch, tmp_path):
    t0 = time.perf_counter()
    model, split, info = train.train_model(arch, "digits", progress=False)
    assert info["accuracy"] >= 0.90, info
    train.write_artifacts(model, split, info, tmp_path / arch)
    assert train.is_valid(tmp_path / arch, arch, "digits")
    print(f"{arch}-digits: accuracy {info['accuracy']:.4f}, training {info['train_time_s']} s, "
          f"total {time.perf_counter() - t0:.0f} s")


def test_cli_help(capsys):
    with pytest.raises(SystemExit, match="^0$") as e:
        train.main(["--help"])
    assert e.value.code == 0
    assert "--arch" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_short_run(tmp_path):
    assert train.main(["--arch", "spikformer", "--out", str(tmp_path / "m"), "--epochs", "1", "--no-progress",
                       "--n-samples", "4"]) == 0
    assert train.is_valid(tmp_path / "m", "spikformer", "digits")
