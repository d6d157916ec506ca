"""Every CLI subcommand, registered in one place.

The Lava backend's commands import Lava lazily (inside the command), so this module, and the whole
CLI, imports without Lava installed.
"""
from __future__ import annotations

from snncompile.backends.lava.cli import lower, run
from snncompile.energy.cli import report

from .check import check
from .demo import demo
from .export import export
from .presets import presets
from .rules import rules
from .show import show

COMMANDS = [check, report, lower, run, show, export, rules, presets, demo]
