"""`snncompile check` as a CI gate: exit codes, formats (golden), errors, policy."""
import json
import os
import random
import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from snncompile import __version__
from snncompile.cli import main
from snncompile.examples import presets

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
UPDATE = os.environ.get("SNNCOMPILE_UPDATE_GOLDEN") == "1"
EXAMPLES = os.path.dirname(presets.__file__)

# What a golden file keeps is what must not change by accident: rule codes, module paths, ops, integer
# domains, costs, counts, wording.  What may change with an unrelated edit is masked before the comparison:
# source line numbers and the folder a source file is installed in (edits of examples/, a site-packages
# install), the values of real intervals (seeded weights), and the tool's version.
_SOURCE = re.compile(r"(?:[\w.-]*/)*(\w+\.py):\d+")
_REAL = re.compile(r"real\[[^\]]*\]")
_LINE_KEYS = {"line", "startLine"}
_FILE_KEYS = {"file", "uri"}


def run(runner, *args):
    result = runner.invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _stable_text(text: str) -> str:
    # a masked interval also loses the column padding that its width decided
    masked = re.sub(r"real\[[^\]]*\]( +)?", lambda m: "real[…]" + (" " if m.group(1) else ""), text)
    return _SOURCE.sub(r"\1:<line>", masked)


def _stable_json(value, key=None):
    if isinstance(value, dict):
        return {k: _stable_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable_json(v) for v in value]
    if key in _LINE_KEYS and isinstance(value, int):
        return "<line>"
    if key in _FILE_KEYS and isinstance(value, str):
        return os.path.basename(value)
    if key == "version" and value == __version__:
        return "<version>"
    return _REAL.sub("real[…]", value) if isinstance(value, str) else value


def stable(text: str, fmt: str) -> str:
    """The golden-comparable form of a ``check`` report (see above)."""
    if fmt == "text":
        return _stable_text(text)
    return json.dumps(_stable_json(json.loads(text)), indent=2, ensure_ascii=False) + "\n"


def golden(name: str, text: str, fmt: str) -> None:
    path = os.path.join(GOLDEN, name)
    text = stable(text, fmt)
    if UPDATE:
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(path, encoding="utf-8") as f:
        assert text == f.read(), f"{name} differs from the golden file (SNNCOMPILE_UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("fmt,ext", [("text", "txt"), ("json", "json"), ("sarif", "sarif")])
def test_golden_spikformer_digits(runner, fmt, ext):
    code, out, err = run(runner, "check", "preset:spikformer:digits", "--format", fmt, "--no-color")
    assert code == 1, err
    golden(f"spikformer-digits.{ext}", out, fmt)


def test_golden_spikingformer_digits_is_clean(runner):
    code, out, err = run(runner, "check", "preset:spikingformer:digits", "--no-color")
    assert code == 0, err
    golden("spikingformer-digits.txt", out, "text")


# Spikformer's residual stream adds spike maps: block b's attention reads a sum of 2b+1 (+1) spikes, its MLP one
# more.  These findings follow from the architecture, not from weights or source layout.
SPIKFORMER_DIGITS_FINDINGS = [
    (f"block.{b}.{part}", dom) for b in (0, 1)
    for part, dom in (("attn.q_linear", f"int[0,{2 * b + 2}]"), ("attn.k_linear", f"int[0,{2 * b + 2}]"),
                      ("attn.v_linear", f"int[0,{2 * b + 2}]"), ("mlp.fc1_linear", f"int[0,{2 * b + 3}]"))
]


def test_findings_content_independently_of_the_golden(runner):
    """Rule codes, module paths, domains and counts, and each finding's source line really is the call of the
    module it names (checked in the source file, so line numbers are verified without being frozen)."""
    code, out, _ = run(runner, "check", "preset:spikformer:digits", "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [(f["rule"], f["module"], f["input_domain"], f["region"]) for f in doc["findings"]] == \
        [("SNN101", module, dom, "body") for module, dom in SPIKFORMER_DIGITS_FINDINGS]
    assert doc["summary"]["weight_layers"] == 18
    assert doc["summary"]["by_cost"] == {"AC": 8, "INT×FLOAT": 8, "MAC": 2}
    assert doc["summary"]["max_integer_into_weights"] == 5
    for f in doc["findings"]:
        assert os.path.basename(f["file"]) == "spikformer.py"
        with open(os.path.join(EXAMPLES, "spikformer.py"), encoding="utf-8") as src:
            line = src.read().splitlines()[f["line"] - 1]
        attr = f["module"].rsplit(".", 1)[1]
        assert f"self.{attr}(" in line, f"{f['module']}: line {f['line']} is {line.strip()!r}"


def test_clean_model_content_independently_of_the_golden(runner):
    code, out, _ = run(runner, "check", "preset:spikingformer:digits", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["clean"] is True and doc["findings"] == []
    assert doc["summary"]["by_cost"] == {"AC": 16, "MAC": 2}
    regions = {layer["module"]: layer["region"] for layer in doc["layers"] if layer["cost"] == "MAC"}
    assert regions == {"patch_embed.block0_conv": "encoding", "head": "readout"}


def test_golden_masks_only_what_is_unstable():
    """The masking keeps integer domains, module paths and rule codes, and hides line numbers, folders,
    real interval values and the version."""
    text = "  examples/spikformer.py:152: block.0.attn.q_linear linear <- int[0,2]  head real[-21.4,22.0]"
    assert _stable_text(text) == "  spikformer.py:<line>: block.0.attn.q_linear linear <- int[0,2]  head real[…]"
    doc = {"version": __version__, "runs": [{"uri": "/x/site-packages/snncompile/examples/spikformer.py",
                                              "startLine": 7, "domain": "real[0,6]", "d2": "int[0,5]"}]}
    assert _stable_json(doc) == {"version": "<version>", "runs": [{"uri": "spikformer.py", "startLine": "<line>",
                                                                   "domain": "real[…]", "d2": "int[0,5]"}]}


def test_json_schema_fields(runner):
    code, out, _ = run(runner, "check", "preset:spikformer:digits", "--format", "json")
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["clean"] is False
    for f in doc["findings"]:
        assert {"rule", "module", "input_domain", "severity", "file", "line", "fix"} <= set(f)
    assert {"module", "input_domain", "cost"} <= set(doc["layers"][0])
    assert doc["summary"]["by_rule"] == {"SNN101": 8}


def test_sarif_is_2_1_0_with_locations(runner):
    code, out, _ = run(runner, "check", "preset:spikformer:digits", "--format", "sarif")
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    res = doc["runs"][0]["results"]
    assert len(res) == 8 and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 0 for r in res)
    assert doc["runs"][0]["tool"]["driver"]["rules"][0]["id"] == "SNN101"


def test_exit_zero_and_ignore(runner):
    assert run(runner, "check", "preset:spikformer:digits", "--exit-zero")[0] == 0
    assert run(runner, "check", "preset:spikformer:digits", "--ignore", "SNN101")[0] == 0
    assert run(runner, "check", "preset:spikformer:digits", "--select", "SNN104")[0] == 0


def test_forbidding_encoding_macs_turns_the_first_conv_into_a_finding(runner):
    code, out, _ = run(runner, "check", "preset:spikingformer:digits", "--forbid-encoding-mac", "--format", "json")
    doc = json.loads(out)
    assert code == 1
    first = doc["layers"][0]["module"]
    assert first.startswith("patch_embed.")
    assert [(f["rule"], f["module"], f["region"]) for f in doc["findings"]] == [("SNN102", first, "encoding")]


def test_policy_from_pyproject(runner, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.snncompile]\nignore = ["SNN101"]\n')
    monkeypatch.chdir(tmp_path)
    assert run(runner, "check", "preset:spikformer:digits")[0] == 0
    (tmp_path / "pyproject.toml").write_text('[tool.snncompile]\nbogus = 1\n')
    code, _, err = run(runner, "check", "preset:spikformer:digits")
    assert code == 2 and "unknown snncompile setting" in err


def test_output_file_is_written(runner, tmp_path):
    out = tmp_path / "r.sarif"
    code, stdout, _ = run(runner, "check", "preset:spikformer:digits", "--format", "sarif", "-o", str(out))
    assert code == 1 and stdout == "" and json.loads(out.read_text())["version"] == "2.1.0"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.fft.fft(self.fc(x)).real


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "text.pt").write_text("not a model")
    # seed 2: bytes on which torch's weights-only unpickler raised IndexError (was "internal error")
    (tmp_path / "random.pt").write_bytes(random.Random(2).randbytes(2000))
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save(Net().state_dict(), tmp_path / "sd.pt")
    mod = tmp_path / "pkg_models.py"
    mod.write_text("import torch, torch.nn as nn\n"
                   "class Net(nn.Module):\n"
                   "    def __init__(self):\n"
                   "        super().__init__(); self.fc = nn.Linear(4, 4)\n"
                   "    def forward(self, x):\n"
                   "        return torch.fft.fft(self.fc(x)).real\n")
    subprocess.run([sys.executable, "-c", "import torch, pkg_models; torch.save(pkg_models.Net(), 'whole.pt')"],
                   cwd=tmp_path, check=True)
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    return tmp_path


@pytest.mark.parametrize("args,message", [
    (["missing.pt"], "no such file"),
    (["text.pt"], "not a readable PyTorch file"),
    (["random.pt"], "not a readable PyTorch file"),
    (["truncated.pt"], "not a readable PyTorch file"),
    (["list.pt"], "neither a model nor a state dict"),
    (["whole.pt"], "--trust-pickle"),
    (["sd.pt"], "--model package.module:factory"),
    (["sd.pt", "--model", "nomodule:Net"], "cannot import 'nomodule'"),
    (["preset:nope:x"], "unknown preset"),
    (["preset:spikformer:digits", "--input-shape", "a,b"], "--input-shape"),
])
def test_bad_input_is_one_line_and_exit_2(bad_files, monkeypatch, args, message):
    monkeypatch.chdir(bad_files)
    proc = subprocess.run([sys.executable, "-m", "snncompile", "check", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error") and message in lines[0], proc.stderr


def test_unknown_op_and_missing_class_are_exit_2(bad_files):
    proc = subprocess.run([sys.executable, "-m", "snncompile", "check", "whole.pt", "--trust-pickle",
                           "--input-shape", "1,4"], capture_output=True, text=True, cwd=bad_files)
    # the current directory is not importable unless named (snncompile.importpath)
    assert proc.returncode == 2 and "not importable" in proc.stderr and "pkg_models" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "snncompile", "check", "whole.pt", "--trust-pickle",
                           "--import-path", ".", "--input-shape", "1,4"], capture_output=True, text=True,
                          cwd=bad_files)
    assert proc.returncode == 2 and proc.stderr.startswith("error[SNN900]: unsupported op") and "fft" in proc.stderr
    elsewhere = bad_files / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-m", "snncompile", "check", "../whole.pt", "--trust-pickle"],
                          capture_output=True, text=True, cwd=elsewhere)
    assert proc.returncode == 2 and "not importable" in proc.stderr and "pkg_models" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "snncompile", "check", "../whole.pt", "--trust-pickle",
                           "--import-path", "..", "--input-shape", "1,4"], capture_output=True, text=True,
                          cwd=elsewhere)
    assert proc.returncode == 2 and "SNN900" in proc.stderr


def test_rules_listing_and_docs(runner):
    code, out, _ = run(runner, "rules")
    assert code == 0 and all(c in out for c in ("SNN101", "SNN102", "SNN103", "SNN104", "SNN900", "SNN901"))
    code, out, _ = run(runner, "rules", "snn101")
    assert code == 0 and "Why it matters" in out and "Fix" in out
    code, _, err = run(runner, "rules", "SNN999")
    assert code == 2 and "no rule" in err


@pytest.mark.parametrize("name,expected", [("spikformer-digits", 1), ("spikingformer-digits", 0)])
def test_verify_domains_passes_on_the_trained_digits_models(runner, name, expected):
    from snncompile.examples import MODELS_DIR

    ckpt = os.path.join(MODELS_DIR, name, "checkpoint.pth")
    code, out, err = run(runner, "check", ckpt, "--verify-domains", "16", "--format", "json")
    doc = json.loads(out)
    assert code == expected, err
    v = doc["verify_domains"]
    assert v["ok"] and v["samples"] == 16 and v["checked"] > 100 and v["violations"] == []
