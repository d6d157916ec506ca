"""Example models for snncompile: faithful Spikformer and Spikingformer, their presets, small data sets and
the trained small models shipped in ``models/`` (installed as ``snncompile.examples``)."""
import importlib
from pathlib import Path

#: Directory of the shipped trained models (``<arch>-<preset>/``).
MODELS_DIR = Path(__file__).resolve().parent / "models"


def __getattr__(name):
    """Submodules on first use (``examples.presets``, ``examples.train``, ...): they import torch, which a
    command that only lists what it offers should not pay for."""
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
