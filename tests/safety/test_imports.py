"""Import hygiene: modules planted in the working directory under the names of the tool's dependencies
never run, for every command, started as the console script would start it and as ``python -m``."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_harness import ROOT

# the tool's dependencies and the standard-library modules they import on the paths the issue saw
PLANTED = ("fractions", "scipy", "onnx", "numpy", "click", "json", "torch", "matplotlib", "tqdm", "networkx",
           "sympy", "decimal", "statistics", "typing_extensions", "packaging", "PIL", "yaml", "lava", "tomli")

# the console script pip generates for `snncompile = snncompile.cli:main`
LAUNCHER = "import sys\nfrom snncompile.cli import main\nsys.exit(main())\n"


@pytest.fixture(scope="module")
def planted(tmp_path_factory, request):
    """A working directory full of booby-trapped modules (each writes a marker when imported) and the
    inputs the commands need."""
    from snncompile.examples import MODELS_DIR

    cwd = tmp_path_factory.mktemp("hostile")
    for name in PLANTED:
        (cwd / f"{name}.py").write_text(f"open({str(cwd / ('RAN-' + name))!r}, 'w').close()\n")
    digits = os.path.join(MODELS_DIR, "spikformer-digits")
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "snncompile").write_text(LAUNCHER)
    return cwd, digits, str(bin_dir / "snncompile")


def _commands(digits: str, cwd) -> list[list[str]]:
    ckpt = os.path.join(digits, "checkpoint.pth")
    return [
        ["check", ckpt, "--verify-domains", "2"],
        ["report", ckpt, "--limit", "2", "--no-progress"],
        ["lower", ckpt, "-o", str(cwd / "net.loihi")],
        ["run", str(cwd / "net.loihi"), "--input", os.path.join(digits, "inputs.npy"), "--limit", "1"],
        ["show", ckpt, "--onnx", str(cwd / "m.onnx"), "--save", str(cwd / "m.snnir")],
        ["presets"],
        ["rules", "SNN101"],
        ["demo", "--skip-lava", "--models-dir", os.path.dirname(digits)],
    ]


def test_no_planted_module_runs_for_any_command(planted):
    cwd, digits, launcher = planted
    env = dict(os.environ, PYTHONPATH=ROOT)
    for args in _commands(digits, cwd):
        proc = subprocess.run([sys.executable, launcher, *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=900)
        ran = sorted(p for p in os.listdir(cwd) if p.startswith("RAN-"))
        assert ran == [], (args, ran, proc.stderr[-2000:])
        assert proc.returncode in (0, 1), (args, proc.returncode, proc.stderr[-2000:])


def test_python_dash_m_does_not_import_from_the_working_directory(planted):
    cwd, digits, _ = planted
    proc = subprocess.run([sys.executable, "-m", "snncompile", "check", os.path.join(digits, "checkpoint.pth")],
                          cwd=cwd, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=900)
    assert sorted(p for p in os.listdir(cwd) if p.startswith("RAN-")) == [], proc.stderr[-2000:]
    assert proc.returncode in (0, 1), proc.stderr[-2000:]


def test_the_working_directory_is_searched_only_when_asked(planted, tmp_path):
    """--import-path puts a folder first; --model appends the working directory last (its own package
    imports, a planted dependency does not)."""
    import torch

    cwd, digits, launcher = planted
    work = tmp_path
    for name in ("numpy", "json"):
        (work / f"{name}.py").write_text(f"open('RAN-{name}', 'w').close()\n")
    (work / "mymodels.py").write_text(
        "import torch.nn as nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Linear(4, 4))\n")
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 4)).state_dict(), work / "sd.pt")
    proc = subprocess.run([sys.executable, launcher, "check", "sd.pt", "--model", "mymodels:build", "--input-shape",
                           "1,4"], cwd=work, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert sorted(p for p in os.listdir(work) if p.startswith("RAN-")) == []
