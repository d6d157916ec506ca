"""Whether Lava can run here: lava-nc importable, on Python 3.10 (its last release supports 3.8-3.10)."""
from __future__ import annotations

import sys

from snncompile.errors import BackendUnavailableError

HOWTO = "install the loihi extra on Python 3.10: pip install 'snncompile[loihi]' (lava-nc 0.10.0)"


def lava_status() -> tuple[bool, str]:
    """(available, reason) without raising."""
    if sys.version_info[:2] != (3, 10):
        return False, f"Lava needs Python 3.10, this is {sys.version_info[0]}.{sys.version_info[1]}"
    try:
        import lava.magma.core.process.process  # noqa: F401
        import lava.proc.sparse.process  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means the backend is unavailable
        return False, f"lava-nc is not importable ({type(e).__name__}: {e})"
    return True, ""


def require_lava() -> None:
    ok, why = lava_status()
    if not ok:
        raise BackendUnavailableError(f"the Lava backend is unavailable: {why}; {HOWTO}")
