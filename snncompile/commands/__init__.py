"""Every CLI subcommand, registered in one place: command name -> the module (in this package) that
defines it under that name.  ``snncompile.cli`` imports a command's module when the command is used, so
``snncompile rules`` does not pay for torch and ``snncompile --version`` pays for nothing.

The Lava backend's commands import Lava lazily (inside the command), so the whole CLI imports without Lava.
"""
from __future__ import annotations

COMMAND_MODULES = {"check": "check", "report": "report", "lower": "lower", "run": "lower", "show": "show",
                   "export": "export", "rules": "rules", "presets": "presets", "demo": "demo"}
