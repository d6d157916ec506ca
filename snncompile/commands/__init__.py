"""Every CLI subcommand, registered in one place."""
from __future__ import annotations

from .check import check
from .demo import demo
from .presets import presets
from .rules import rules
from .show import show

COMMANDS = [check, rules, show, presets, demo]

try:  # the Lava backend's commands import Lava lazily; their module imports without it
    from snncompile.backends.lava.cli import lower, run  # type: ignore[attr-defined]

    COMMANDS += [lower, run]
except ImportError:  # pragma: no cover - backend not built yet
    pass

try:
    from snncompile.energy.cli import report  # type: ignore[attr-defined]

    COMMANDS.append(report)
except ImportError:  # pragma: no cover
    pass
