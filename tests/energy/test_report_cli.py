"""`snncompile report`: formats parse, output files, plots, ledger side by side, bad input exits 2."""
import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def spikingformer_json(firing_checkpoints, tmp_path_factory):
    from click.testing import CliRunner

    from .conftest import run_cli

    out = tmp_path_factory.mktemp("report") / "r.json"
    code, stdout, err = run_cli(CliRunner(), "report", firing_checkpoints["spikingformer"], "--format", "json",
                                "-o", out, "--batch", "5")
    assert code == 0, err
    assert stdout == ""
    return json.loads(out.read_text())


def test_json_schema(spikingformer_json):
    doc = spikingformer_json
    assert doc["schema_version"] == 1 and doc["report"] == "energy"
    assert doc["samples"] == 12 and doc["batch"] == 5 and doc["time_steps"] == 4
    assert doc["data"] == "inputs.npy beside MODEL"
    assert doc["parameters"] == 163_522
    assert {"45nm", "loihi"} <= set(doc["energy_models"])
    assert doc["energy_models"]["45nm"]["pj_per_mac"] == 4.6 and doc["energy_models"]["45nm"]["pj_per_ac"] == 0.9
    assert doc["energy_models"]["loihi"]["pj_per_sop"] == 23.6
    assert "Horowitz" in doc["energy_models"]["45nm"]["source"] and "Davies" in doc["energy_models"]["loihi"]["source"]
    fields = {"module", "op", "kind", "region", "flops", "steps", "in_rate", "out_rate", "sops", "acs", "macs",
              "intmuls", "e45", "e45_papers", "e_loihi"}
    assert all(fields <= set(layer) for layer in doc["layers"])
    assert set(doc["totals"]) == {"all", "encoding", "body", "readout"}
    assert [layer["module"] for layer in doc["layers"]][0] == "patch_embed.block0_conv"
    assert sum(1 for layer in doc["layers"] if layer["op"] == "matmul") == 4
    assert all(0 <= n["firing_rate"] <= 1 for n in doc["neurons"])
    assert set(doc["conventions"]) >= {"flops", "sops", "acs"}


def test_csv_parses_and_matches_json(firing_checkpoints, runner, run_cli, spikingformer_json):
    code, out, err = run_cli(runner, "report", firing_checkpoints["spikingformer"], "--format", "csv", "--batch", "5")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    layers = [r for r in rows if not r["module"].startswith("total:")]
    totals = {r["module"]: r for r in rows if r["module"].startswith("total:")}
    assert len(layers) == len(spikingformer_json["layers"])
    assert set(totals) == {"total:all", "total:encoding", "total:body", "total:readout"}
    for r, j in zip(layers, spikingformer_json["layers"]):
        assert r["module"] == j["module"] and int(r["flops"]) == j["flops"]
        assert float(r["e45"]) == pytest.approx(j["e45"])
    assert float(totals["total:all"]["e_loihi"]) == pytest.approx(spikingformer_json["totals"]["all"]["e_loihi"])


def test_text_plots_and_random(firing_checkpoints, runner, run_cli, tmp_path):
    code, out, err = run_cli(runner, "report", firing_checkpoints["spikformer"], "--random", "3",
                             "--plot", tmp_path / "plots")
    assert code == 0, err
    assert "random (uniform [0, 1), seed 0): 3 image(s)" in out
    assert "INT×FLOAT" in out and "block.0.attn.q_linear" in out and "q_lif @ k_lif" in out
    assert "Horowitz" in out and "Davies" in out and "Totals per image" in out
    for name in ("firing_rate.png", "energy_per_layer.png"):
        with open(tmp_path / "plots" / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_structural_only(runner, run_cli):
    code, out, err = run_cli(runner, "report", "preset:spikingformer:digits", "--random", "0", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["samples"] == 0 and doc["neurons"] == []
    assert all(layer["acs"] is None and layer["in_rate"] is None for layer in doc["layers"])
    assert doc["totals"]["all"]["flops"] > 0


def test_ledger_side_by_side(firing_checkpoints, runner, run_cli, spikingformer_json, tmp_path):
    """A ledger in the Lava backend's Ledger.to_dict() layout, built here from the executor's own counts."""
    samples = 12
    cores, core = [], 0
    for layer in spikingformer_json["layers"]:
        if layer["region"] == "readout" and layer["module"] == "head":
            continue
        half = layer["synops"] * samples / 2
        for _ in range(2):
            cores.append({"core": core, "layer": layer["node"], "module": layer["module"], "kind": "conv",
                          "op_kind": "ac", "synaptic_ops": half, "spikes": 0, "neuron_updates": 10 * samples})
            core += 1
    head = next(layer for layer in spikingformer_json["layers"] if layer["module"] == "head")
    ledger = {"samples": samples, "cores": cores,
              "host": {"host:head": {"synaptic_ops": head["synops"] * samples, "kind": "mac", "module": "head"}}}
    path = tmp_path / "lowered"
    path.mkdir()
    (path / "ledger.json").write_text(json.dumps(ledger))
    code, out, err = run_cli(runner, "report", firing_checkpoints["spikingformer"], "--batch", "5", "--ledger", path,
                             "--plot", tmp_path / "plots")
    assert code == 0, err
    assert "Per-core ledger" in out and "Side by side" in out
    assert "(ratio 1.0000)" in out
    assert os.path.exists(tmp_path / "plots" / "per_core_load.png")


@pytest.fixture
def bad_inputs(tmp_path):
    np.save(tmp_path / "wrong_shape.npy", np.zeros((4, 3, 8, 8), np.float32))
    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    (tmp_path / "ledger.json").write_text("{not json")
    (tmp_path / "model.pth").write_bytes(b"PK\x03\x04 truncated")
    return tmp_path


@pytest.mark.parametrize("args,message", [
    (["preset:spikingformer:digits", "--data", "wrong_shape.npy"], "per item, the model takes (1, 16, 16)"),
    (["preset:spikingformer:digits", "--data", "corrupt.npy"], "not a readable .npy file"),
    (["preset:spikingformer:digits", "--data", "strings.npy"], "expected a numeric array"),
    (["preset:spikingformer:digits", "--data", "missing.npy"], "not a readable .npy file"),
    (["preset:spikingformer:digits", "--random", "2", "--ledger", "ledger.json"], "not a readable ledger"),
    (["model.pth"], "not a readable PyTorch file"),
    (["preset:nosuch:digits"], "unknown preset"),
])
def test_bad_input_is_one_line_and_exit_2(bad_inputs, args, message):
    proc = subprocess.run([sys.executable, "-m", "snncompile", "report", *args], capture_output=True, text=True,
                          cwd=bad_inputs)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error") and message in lines[0], proc.stderr
    assert proc.stdout == ""


def test_data_and_random_together_is_a_usage_error(runner, run_cli):
    code, _, err = run_cli(runner, "report", "preset:spikingformer:digits", "--random", "1", "--data", "x.npy")
    assert code == 2 and "either --data or --random" in err
