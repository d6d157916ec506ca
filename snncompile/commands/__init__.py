"""Every CLI subcommand, registered in one place.

The Lava backend's commands import Lava lazily (inside the command), so this module, and the whole
CLI, imports without Lava installed.
"""
from __future__ import annotations

from .check import check
from .demo import demo
from .export import export
from .lower import lower, run
from .presets import presets
from .report import report
from .rules import rules
from .show import show

COMMANDS = [check, report, lower, run, show, export, rules, presets, demo]
