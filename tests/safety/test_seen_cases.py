"""One regression test per case of issue 9's "What was seen" list (the runtime-safety half).

Each test names the case it pins.  In-process (CliRunner) where the case allows, a subprocess where it
needs signals, a FIFO or a fresh interpreter.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import sys
import time
import zipfile

import numpy as np
import pytest
import torch

from cli_harness import ROOT, assert_one_line_error, invoke, run_cli

DIGITS_CKPT = "checkpoint.pth"
PRESET = "preset:spikingformer:digits"


# -- High ---------------------------------------------------------------------------------------------------

def test_lower_force_never_deletes_a_folder_of_user_files(tmp_path, digits_dir, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    ckpt = os.path.join(digits_dir, DIGITS_CKPT)
    assert_one_line_error(*invoke("lower", ckpt, "-o", str(mine), "--force"), "not written by snncompile")
    assert (mine / "notes.txt").read_text() == "keep"
    monkeypatch.chdir(mine)
    assert_one_line_error(*invoke("lower", ckpt, "-o", ".", "--force"), "current directory")
    assert os.listdir(mine) == ["notes.txt"]


def test_output_onto_a_symlink_fifo_or_device_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "link").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo")
    targets = [("link", "symbolic link"), ("fifo", "FIFO")]
    if os.geteuid() == 0:
        os.mknod(tmp_path / "dev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null twin
        targets.append(("dev", "character device"))
    for name, kind in targets:
        assert_one_line_error(*invoke("check", PRESET, "-o", str(tmp_path / name)), kind)
    assert victim.read_text() == "keep" and os.path.islink(tmp_path / "link")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)


def test_run_refuses_to_write_through_planted_symlinks(tmp_path, lowered_dir):
    folder = tmp_path / "net.loihi"
    shutil.copytree(lowered_dir, folder)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    inputs = os.path.join(ROOT, "examples", "models", "spikformer-digits", "inputs.npy")
    for planted in ("core_load.png", "ledger.json", ".core_load.png.snncompile-tmp"):
        (folder / planted).symlink_to(victim)
        code, out, err = invoke("run", str(folder), "--input", inputs, "--limit", "1")
        assert_one_line_error(code, out, err)
        (folder / planted).unlink()
    assert victim.read_text() == "keep"


# -- Medium -------------------------------------------------------------------------------------------------

def test_a_second_concurrent_lower_to_the_same_directory_fails(tmp_path, digits_dir):
    (tmp_path / ".net.loihi.snncompile-tmp").mkdir()  # what a running `lower -o net.loihi` holds
    assert_one_line_error(*invoke("lower", os.path.join(digits_dir, DIGITS_CKPT), "-o",
                                  str(tmp_path / "net.loihi")), "another snncompile run")
    assert sorted(os.listdir(tmp_path)) == [".net.loihi.snncompile-tmp"]


@pytest.fixture
def blocking_factory(tmp_path):
    """A --model factory that signals it is running, then sleeps: a deterministic moment to interrupt."""
    (tmp_path / "slowpkg.py").write_text(
        "import os, time\n"
        "def build():\n"
        "    open('ready', 'w').close()\n"
        "    time.sleep(120)\n")
    torch.save({"w": torch.zeros(1)}, tmp_path / "sd.pt")
    return tmp_path


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupts_exit_130_and_143_and_leave_nothing(blocking_factory, sig, code):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = __import__("subprocess").Popen(
        [sys.executable, "-m", "snncompile", "lower", "sd.pt", "--model", "slowpkg:build", "-o", "out.loihi"],
        cwd=blocking_factory, env=env, stdout=-1, stderr=-1, text=True)
    deadline = time.time() + 300
    while not (blocking_factory / "ready").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, (out, err)
    left = sorted(p for p in os.listdir(blocking_factory) if "snncompile" in p or p == "out.loihi")
    assert left == []


def test_steps_that_do_not_fit_in_memory_are_refused(lowered_dir):
    inputs = os.path.join(ROOT, "examples", "models", "spikformer-digits", "inputs.npy")
    assert_one_line_error(*invoke("run", lowered_dir, "--input", inputs, "--steps", "1000000000"),
                          "needs about", "memory")


def _lying_zip(path, member, payload: bytes, declared: int) -> None:
    """A zip whose header declares ``declared`` uncompressed bytes for ``member`` (a zip bomb's shape)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, payload)
    data = bytearray(open(path, "rb").read())
    fake = min(declared, 0xFFFFFFFE).to_bytes(4, "little")
    i = 0
    while (i := data.find(b"PK\x03\x04", i)) >= 0:  # local header: size at +22
        data[i + 22:i + 26] = fake
        i += 4
    i = 0
    while (i := data.find(b"PK\x01\x02", i)) >= 0:  # central directory: size at +24
        data[i + 24:i + 28] = fake
        i += 4
    open(path, "wb").write(bytes(data))


def test_a_zip_bomb_snnir_is_refused_before_inflating(tmp_path, monkeypatch):
    from snncompile import validate
    from snncompile.errors import InputError
    from snncompile.ir.serialize import load_graph

    bomb = tmp_path / "bomb.snnir"
    _lying_zip(bomb, "graph.json", b"{}" * 1000, 0xFFFFFFFE)
    monkeypatch.setattr(validate, "available_memory", lambda: 1 << 30)  # 1 GiB < the 4 GiB declared
    with pytest.raises(InputError, match="needs about 4.0 GiB"):
        load_graph(bomb)


def test_a_checkpoint_config_asking_for_a_huge_model_is_refused_before_allocating(tmp_path, digits_dir):
    ckpt = torch.load(os.path.join(digits_dir, DIGITS_CKPT), weights_only=True)
    ckpt["config"] = dict(ckpt["config"], embed_dims=32768, depths=64)
    torch.save(ckpt, tmp_path / "huge.pth")
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run([sys.executable, '-m', 'snncompile', 'check', 'huge.pth'], capture_output=True, "
            "text=True)\n"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "print(p.stderr, file=sys.stderr)\n")
    proc = __import__("subprocess").run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                                        env=dict(os.environ, PYTHONPATH=ROOT), timeout=600)
    rc, maxrss_kib = map(int, proc.stdout.split())
    assert rc == 2 and "refused before allocating" in proc.stderr, proc.stderr
    assert maxrss_kib < 3 * 1024 * 1024, maxrss_kib  # the model would need terabytes; nothing close was touched


def _nan_checkpoint(digits_dir, path):
    ckpt = torch.load(os.path.join(digits_dir, DIGITS_CKPT), weights_only=True)
    state = ckpt["state_dict"] if "state_dict" in ckpt else ckpt["model"]
    name = next(k for k, v in state.items() if v.is_floating_point() and k.endswith("weight"))
    state[name][0] = float("nan")
    torch.save(ckpt, path)
    return name


def test_nan_weights_are_refused(tmp_path, digits_dir):
    name = _nan_checkpoint(digits_dir, tmp_path / "nan.pth")
    assert_one_line_error(*invoke("check", str(tmp_path / "nan.pth")), "non-finite", name)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_data_input_and_calibration_are_refused(tmp_path, digits_dir, lowered_dir, value):
    x = np.load(os.path.join(digits_dir, "inputs.npy"))[:4].astype(np.float32)
    x[1, 0] = value
    np.save(tmp_path / "bad.npy", x)
    ckpt = os.path.join(digits_dir, DIGITS_CKPT)
    bad = str(tmp_path / "bad.npy")
    assert_one_line_error(*invoke("check", ckpt, "--verify-domains", "2", "--data", bad), "non-finite", "[1, 0")
    assert_one_line_error(*invoke("report", ckpt, "--data", bad, "--no-progress"), "non-finite")
    assert_one_line_error(*invoke("lower", ckpt, "--mode", "fixed", "--calibration", bad, "-o",
                                  str(tmp_path / "n.loihi")), "non-finite")
    assert_one_line_error(*invoke("run", lowered_dir, "--input", bad), "non-finite")
    assert not (tmp_path / "n.loihi").exists()


def test_random_bytes_as_model_are_an_input_error_not_an_index_error(tmp_path):
    import random

    (tmp_path / "r.pt").write_bytes(random.Random(2).randbytes(2000))  # IndexError in torch's unpickler
    assert_one_line_error(*invoke("check", str(tmp_path / "r.pt")), "not a readable PyTorch file")


# -- Low ----------------------------------------------------------------------------------------------------

def test_plain_input_errors_are_not_internal_errors(tmp_path, digits_dir, lowered_dir, monkeypatch):
    (tmp_path / "limits.json").write_text(json.dumps({"cores_per_chip": 0}))
    ckpt = os.path.join(digits_dir, DIGITS_CKPT)
    assert_one_line_error(*invoke("lower", ckpt, "--limits", str(tmp_path / "limits.json"), "--partition-only"),
                          "cores_per_chip must be at least 1")
    assert_one_line_error(*invoke("check", PRESET, "--input-shape", "1,-1,16,16"), "--input-shape")
    assert_one_line_error(*invoke("check", ckpt, "--model", "os:getcwd"), "not a torch.nn.Module")
    assert_one_line_error(*invoke("check", ckpt, "--model", "os:sep"), "not a function")
    broken = tmp_path / "broken.loihi"
    shutil.copytree(lowered_dir, broken)
    doc = json.loads((broken / "network.json").read_text())
    del doc["processes"]
    (broken / "network.json").write_text(json.dumps(doc))
    x = os.path.join(digits_dir, "inputs.npy")
    assert_one_line_error(*invoke("run", str(broken), "--input", x), "network.json", "'processes'")
    (broken / "network.json").write_text(json.dumps(dict(doc, processes=[])))
    assert_one_line_error(*invoke("run", str(broken), "--input", x), "network.json", "'processes'")

    import importlib

    check_command = importlib.import_module("snncompile.commands.check")  # the module whose name the command calls

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", "/some/file")

    monkeypatch.setattr(check_command, "check_graph", denied)
    assert_one_line_error(*invoke("check", PRESET), "/some/file: Permission denied")


@pytest.mark.parametrize("args,needle", [
    (["check", PRESET, "-T", "0"], "-T"),
    (["check", PRESET, "--verify-domains", "-1"], "--verify-domains"),
    (["report", PRESET, "--limit", "0"], "--limit"),
    (["report", PRESET, "--limit", "-1"], "--limit"),
    (["demo", "--images", "0"], "--images"),
    (["check", PRESET, "--no-such-option"], "--no-such-option"),
    (["nosuchcommand"], "nosuchcommand"),
])
def test_bad_counts_and_usage_errors_are_one_line(args, needle):
    assert_one_line_error(*invoke(*args), needle)


@pytest.mark.parametrize("args,needle", [
    (["--steps", "0"], "--steps"),
    (["--limit", "0"], "--limit"),
    (["--limit", "-1"], "--limit"),
])
def test_run_counts_are_checked(lowered_dir, digits_dir, args, needle):
    x = os.path.join(digits_dir, "inputs.npy")
    assert_one_line_error(*invoke("run", lowered_dir, "--input", x, *args), needle)


def test_labels_must_match_inputs_and_complex_inputs_are_refused(tmp_path, lowered_dir, digits_dir):
    x = np.load(os.path.join(digits_dir, "inputs.npy"))[:2]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.array([3]))
    np.save(tmp_path / "c.npy", x.astype(np.complex64))
    assert_one_line_error(*invoke("run", lowered_dir, "--input", str(tmp_path / "x.npy"), "--labels",
                                  str(tmp_path / "y.npy")), "1 label(s) for 2 input(s)")
    assert_one_line_error(*invoke("run", lowered_dir, "--input", str(tmp_path / "c.npy")), "complex")


def test_a_tensor_member_with_a_bad_crc_is_refused(tmp_path, digits_dir):
    data = bytearray(open(os.path.join(digits_dir, DIGITS_CKPT), "rb").read())
    with zipfile.ZipFile(os.path.join(digits_dir, DIGITS_CKPT)) as zf:
        info = max(zf.infolist(), key=lambda i: i.file_size)  # the largest tensor's storage
    header = info.header_offset
    name_len = int.from_bytes(data[header + 26:header + 28], "little")
    extra_len = int.from_bytes(data[header + 28:header + 30], "little")
    data[header + 30 + name_len + extra_len + 7] ^= 0x10  # one bit of the stored bytes
    (tmp_path / "flip.pth").write_bytes(bytes(data))
    assert_one_line_error(*invoke("check", str(tmp_path / "flip.pth")), "CRC")


def test_a_fifo_as_model_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "model.pt")
    proc = run_cli(["check", "model.pt"], cwd=tmp_path, timeout=300)
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, "not a regular file")


def test_outputs_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert invoke("check", PRESET, "-o", str(tmp_path / "r.txt"))[0] == 0
        assert invoke("show", PRESET, "--save", str(tmp_path / "g.snnir"))[0] == 0
    finally:
        os.umask(old)
    for name in ("r.txt", "g.snnir"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644, name


def test_the_refusal_of_a_code_running_pickle_keeps_torchs_reason(tmp_path):
    (tmp_path / "evil.py").write_text(
        "import os, torch\n"
        "class P:\n"
        "    def __reduce__(self):\n"
        "        return (os.system, ('touch PWNED',))\n"
        "torch.save({'a': P()}, 'evil.pt')\n")
    __import__("subprocess").run([sys.executable, "evil.py"], cwd=tmp_path, check=True)
    code, out, err = invoke("check", str(tmp_path / "evil.pt"))
    assert_one_line_error(code, out, err, "runs code when loaded", "system", "--trust-pickle")
    assert not (tmp_path / "PWNED").exists()


def test_an_output_that_is_an_input_is_refused(tmp_path, digits_dir):
    model = tmp_path / "checkpoint.pth"
    shutil.copy(os.path.join(digits_dir, DIGITS_CKPT), model)
    before = model.read_bytes()
    assert_one_line_error(*invoke("check", str(model), "-o", str(model)), "also an input")
    assert_one_line_error(*invoke("report", str(model), "-o", str(model)), "also an input")
    assert model.read_bytes() == before
