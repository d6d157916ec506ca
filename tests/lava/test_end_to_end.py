"""End to end as a user runs it: ``lower`` -> ``run`` -> ``report --ledger`` on the shipped checkpoint, each a
separate ``snncompile`` process exchanging only files.

The report's executor counts and the ledger that ``run`` wrote from the Lava simulation are independent
measurements of the same images; in float mode they must agree exactly, module by module, and the per-image
normalisation must hold (so a key renamed in ``Ledger.to_dict`` or misread by the report's reader fails).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from snncompile.backends.lava import lava_status

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")]

IMAGES = 4


def _snncompile(cwd, *args):
    proc = subprocess.run([sys.executable, "-m", "snncompile", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"snncompile {' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """(run's JSON document, report's JSON document) for the first IMAGES test inputs of spikformer-digits."""
    from snncompile.examples import MODELS_DIR

    work = tmp_path_factory.mktemp("e2e")
    folder = os.path.join(MODELS_DIR, "spikformer-digits")
    ckpt = os.path.join(folder, "checkpoint.pth")
    np.save(work / "x.npy", np.load(os.path.join(folder, "inputs.npy"))[:IMAGES])
    lowered = work / "sf.loihi"
    _snncompile(work, "lower", ckpt, "--mode", "float", "-o", lowered)
    run_doc = json.loads(_snncompile(work, "run", lowered, "--input", work / "x.npy", "--format", "json"))
    assert (lowered / "ledger.json").is_file()
    report_doc = json.loads(_snncompile(work, "report", ckpt, "--data", work / "x.npy", "--ledger", lowered,
                                        "--format", "json", "--no-progress"))
    return run_doc, report_doc


def test_ledger_read_back_matches_the_run(pipeline):
    run_doc, report_doc = pipeline
    led = report_doc["ledger"]
    assert led["images"] == IMAGES == report_doc["samples"]
    totals = run_doc["ledger"]["totals"]
    assert led["synaptic_ops"] * IMAGES == pytest.approx(totals["synaptic_ops"], rel=1e-12)
    assert led["on_chip_synaptic_ops"] * IMAGES == pytest.approx(totals["on_chip"]["synaptic_ops"], rel=1e-12)
    assert led["cores_used"] == totals["cores_used"] and 0 < led["cores_used"] <= len(led["cores"])
    assert {c["kind"] for c in led["cores"] if c["synaptic_ops"]} <= {"ac", "intmul", "mac"}
    assert sum(c["spikes"] for c in led["cores"]) * IMAGES == pytest.approx(totals["on_chip"]["spikes"], rel=1e-12)


def test_lava_ledger_equals_executor_counts_module_by_module(pipeline):
    _, report_doc = pipeline
    led = report_doc["ledger"]
    executor: dict = {}
    for layer in report_doc["layers"]:
        executor[layer["module"]] = executor.get(layer["module"], 0.0) + (layer["synops"] or 0)
    assert all(executor.values()), "on real digits images every weight layer and spike matmul does work"
    assert set(led["by_module"]) == set(executor)
    for module, ops in executor.items():
        assert led["by_module"][module] == pytest.approx(ops, rel=1e-12), module
    assert led["synaptic_ops"] == pytest.approx(report_doc["totals"]["all"]["synops"], rel=1e-12)
    spikes = sum(c["spikes"] for c in led["cores"])
    assert spikes == pytest.approx(report_doc["totals"]["all"]["spikes"], rel=1e-12)
    # one MAC convention: the ledger's MACs (encoding conv on chip, head on the host) are the report's
    assert led["macs"] == pytest.approx(report_doc["totals"]["all"]["macs"], rel=1e-12) and led["macs"] > 0
