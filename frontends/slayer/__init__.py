"""lava-dl SLAYER networks into the IR (installed as ``snncompile.frontends.slayer``); the reader is
:mod:`.reader`.

``is_slayer_network``, ``slayer_graph`` and ``SlayerError`` are loaded on first use (the reader imports
torch), so a command that only lists what it offers does not pay for torch.
"""
import importlib

_LAZY = {"is_slayer_network": "reader", "slayer_graph": "reader", "SlayerError": "reader"}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
