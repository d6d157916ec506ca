"""Example models for snncompile: faithful Spikformer and Spikingformer, their presets, small data sets and
the trained small models shipped in ``models/`` (installed as ``snncompile.examples``)."""
from pathlib import Path

#: Directory of the shipped trained models (``<arch>-<preset>/``).
MODELS_DIR = Path(__file__).resolve().parent / "models"
