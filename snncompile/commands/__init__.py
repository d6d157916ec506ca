"""Every CLI subcommand, registered in one place: command name -> the module (in this package) that
defines it under that name.  ``snncompile.cli`` imports a command's module when the command is used, so
``snncompile rules`` does not pay for torch and ``snncompile --version`` pays for nothing.

The Lava backend's commands import Lava lazily (inside the command), so the whole CLI imports without Lava.
"""
from __future__ import annotations

COMMAND_MODULES = {"check": "check", "report": "report", "lower": "lower", "run": "lower", "show": "show",
                   "export": "export", "rules": "rules", "presets": "presets", "demo": "demo"}

# One line per command for ``snncompile --help``: listing the commands must not import them (most import
# torch).  tests/test_commands.py holds every line equal to its command's own short help.
COMMAND_SUMMARIES = {
    "check": "Check that every operation of MODEL is spike-driven.",
    "demo": "Check, report, lower and simulate the shipped digits models, then check two paper presets.",
    "export": "Export MODEL's traced graph as NIR, lava-dl netx or ONNX.",
    "lower": "Lower MODEL to Lava processes for Loihi (see 'snncompile run').",
    "presets": "List example presets (architecture, preset name, parameters as the papers count them).",
    "report": "Count the operations of MODEL per layer and estimate its energy.",
    "rules": "List the rules, or explain CODE (what, why, example, fix).",
    "run": "Simulate a lowered network on Lava; print predictions and the per-core ledger.",
    "show": "Trace MODEL and print its spike-graph IR with value domains.",
}
