"""`snncompile show`, `presets` and `demo`: what each promises, checked against an independent source.

show: the printed graph is the traced graph (every node, in order) and the saved ``.snnir`` / ONNX files
load back as that graph.  presets: exactly the preset table, with the papers' parameter counts.  demo: its
plan of steps and expected exit codes, with and without Lava (the steps themselves run in the core
environment's newcomer session, scripts/newcomer.sh).
"""
import re

import pytest
from click.testing import CliRunner

from snncompile.cli import main

pytestmark = pytest.mark.nolava


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def spikingformer_digits_graph():
    import torch

    from snncompile.analysis import infer_domains
    from snncompile.examples import presets
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import _describe_example

    model = presets.build("spikingformer", "digits", neuron="own")
    loaded = _describe_example(model, "spikingformer-digits")
    with torch.no_grad():
        graph = trace(model, loaded.example_input(1), [loaded.input_domain], name=loaded.name)
    infer_domains(graph)
    return graph


def test_show_prints_every_traced_node_in_order(spikingformer_digits_graph):
    code, out, err = invoke("show", "preset:spikingformer:digits")
    assert code == 0, err
    g = spikingformer_digits_graph
    assert out.startswith("# model: spikingformer-digits")
    assert re.search(rf"nodes: {len(g.nodes)}\b", out)
    printed = re.findall(r"^\s+%(\S+) : .*? = (\w+)\(", out, flags=re.M)
    assert printed == [(n.outputs[0], n.op) for n in g.nodes]
    assert out.rstrip().endswith("}") and f"return %{g.outputs[0]}" in out


def test_show_save_and_onnx_load_back(tmp_path, spikingformer_digits_graph):
    import onnx

    from snncompile.ir.serialize import load_graph

    code, _, err = invoke("show", "preset:spikingformer:digits", "--save", tmp_path / "m.snnir",
                          "--onnx", tmp_path / "m.onnx")
    assert code == 0, err
    g = load_graph(tmp_path / "m.snnir")
    want = spikingformer_digits_graph
    assert [(n.op, n.module) for n in g.nodes] == [(n.op, n.module) for n in want.nodes]
    assert [tuple(g.values[v].shape) for v in g.outputs] == [tuple(want.values[v].shape) for v in want.outputs]
    assert [str(g.values[v].domain) for v in g.inputs] == [str(want.values[v].domain) for v in want.inputs]
    model = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(model)
    assert len(model.graph.node) > 0 and len(model.graph.output) == len(want.outputs)


def test_presets_lists_exactly_the_preset_table():
    from snncompile.examples import presets

    code, out, err = invoke("presets")
    assert code == 0, err
    listed = {}
    for line in out.splitlines():
        m = re.fullmatch(r"preset:(\w+):([\w-]+)(?:  \(published ([\d.]+) M\))?", line)
        assert m, line
        listed[(m[1], m[2])] = float(m[3]) if m[3] else None
    assert set(listed) == {(a, n) for a, table in presets.PRESETS.items() for n in table}
    assert listed[("spikformer", "8-512")] == 29.68 and listed[("spikformer", "8-768")] == 66.34
    assert listed[("spikformer", "digits")] is None


def _demo_plan(monkeypatch, lava):
    """(commands run with their expected exit codes, stdout) of `demo`, the subprocesses replaced by a
    recorder that answers each command with its first expected code."""
    import importlib

    import snncompile.backends.lava as lava_pkg

    demo_mod = importlib.import_module("snncompile.commands.demo")  # the module, not the command it exports

    calls = []

    def fake_call(argv):
        calls.append(argv[3:])  # drop [python, -m, snncompile]
        return {"check": 1 if "spikformer" in " ".join(argv) else 0}.get(argv[3], 0)

    monkeypatch.setattr(demo_mod.subprocess, "call", fake_call)
    monkeypatch.setattr(lava_pkg, "lava_status", lambda: (True, "") if lava else (False, "Lava needs Python 3.10"))
    monkeypatch.setattr("snncompile.examples.train.ensure_trained", lambda root: None)
    code, out, err = invoke("demo")
    return code, [c[0] for c in calls], out


def test_demo_runs_every_step_with_lava(monkeypatch):
    code, commands, out = _demo_plan(monkeypatch, lava=True)
    assert code == 0, out
    assert commands == ["check", "report", "lower", "run"] * 2 + ["check", "check"]
    assert "skipped" not in out and "0 unexpected outcome(s)" in out


def test_demo_without_lava_skips_only_the_simulations_and_says_why(monkeypatch):
    code, commands, out = _demo_plan(monkeypatch, lava=False)
    assert code == 0, out
    assert commands == ["check", "report", "lower"] * 2 + ["check", "check"]
    skipped = [line for line in out.splitlines() if line.startswith("== skipped")]
    assert len(skipped) == 2 and all(" run " in s and s.endswith(": Lava needs Python 3.10") for s in skipped)
    assert "0 unexpected outcome(s)" in out


def test_help_lists_every_command_with_its_own_short_help():
    """``--help`` reads ``COMMAND_SUMMARIES`` instead of importing the commands: each line must be the
    command's own first help sentence, and every command must be listed."""
    import importlib

    from snncompile.commands import COMMAND_MODULES, COMMAND_SUMMARIES

    assert set(COMMAND_SUMMARIES) == set(COMMAND_MODULES)
    for name, module in COMMAND_MODULES.items():
        command = getattr(importlib.import_module(f"snncompile.commands.{module}"), name)
        assert COMMAND_SUMMARIES[name] == command.get_short_help_str(limit=1000), name
    code, out, _ = invoke("--help")
    assert code == 0
    listed = re.findall(r"^  (\w+)\s{2,}", out.split("Commands:")[1].split("Examples:")[0], flags=re.M)
    assert listed == sorted(COMMAND_MODULES)


def test_help_imports_no_command_module():
    """``snncompile --help`` in a fresh interpreter loads neither torch nor any command module."""
    import subprocess
    import sys

    probe = ("import sys\nfrom snncompile.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('snncompile.commands.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out
