"""Which folders code is imported from: never the current directory unless the user asks.

A CI gate runs inside a pull request's checkout; a ``fractions.py`` or ``numpy.py`` there must not
run when snncompile imports its own dependencies.  ``python -m snncompile`` and ``python -c`` put
the current directory first on ``sys.path`` (as ``''`` or its absolute path); ``drop_working_directory``
removes it, unless snncompile itself was imported from there (a source checkout run in place).

User code is importable only on request: ``--import-path DIR`` puts DIR first on ``sys.path`` (the user
named it); ``--model PKG.MODULE:FACTORY`` appends the current directory *last*, so the factory's own
package imports from there while nothing in it can shadow an installed module.

This module imports only ``os`` and ``sys`` (already loaded when Python starts).
"""
from __future__ import annotations

import os
import sys
from typing import Sequence


def _same(entry: str, folder: str) -> bool:
    try:
        return os.path.realpath(entry or os.curdir) == folder
    except (OSError, ValueError):
        return False


def drop_working_directory() -> None:
    """Remove the current directory from ``sys.path`` (kept only where snncompile itself lives)."""
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:  # the working directory was deleted: nothing to import from it
        sys.path[:] = [p for p in sys.path if p]
        return
    home = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path[:] = [p for p in sys.path if not (p == "" or (_same(p, cwd) and cwd != home))]


def add_user_paths(import_paths: Sequence[str], *, factory_given: bool) -> None:
    """Folders the user asked for: ``--import-path`` first on ``sys.path``; the current directory last
    when a ``--model`` factory is named."""
    for p in reversed([os.path.abspath(p) for p in import_paths]):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    if factory_given:
        cwd = os.path.abspath(os.getcwd())
        if cwd not in sys.path:
            sys.path.append(cwd)
