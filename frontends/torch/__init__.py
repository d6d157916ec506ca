"""The torch frontend: concrete-input tracing with neuron modules as opaque leaves.

``trace``, ``load_model``, ``parse_model_args`` and the input-layout helpers are loaded on first use (they import torch), so a
command that only needs the CLI's shared helpers does not pay for torch.
"""
import importlib

_LAZY = {"trace": "tracer", "load_model": "loading", "parse_model_args": "loading",
         "parse_input_shape": "inputs", "declare_time_axis": "inputs"}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
