"""The trained models shipped in ``models/``: where they are, which were written by the example trainer, and how
their torch forward reads static images.  Loading and tracing one is ``snncompile.frontends.shipped``
(this room imports nothing of snncompile).

A model folder ``models/<arch>-<preset>[-variant]/`` holds ``checkpoint.pth``, ``meta.json`` (``arch``,
``preset``, the time axis ``time_axis`` and ``T``), and ``inputs.npy`` / ``labels.npy``.

Layouts.  Samples are batch first: ``[N, ...]`` for a model that repeats a static input over its ``T`` steps
itself, ``[N, T, ...]`` for one whose input has a time axis (the traced graph's layout).  A time-major model
(``time_axis`` 0) takes ``[T, N, ...]`` in its forward.
"""
from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np
import torch

from . import MODELS_DIR


def models_root() -> str:
    """The folder of the shipped models: ``$SNNCOMPILE_MODELS`` when set, else the package's ``models/``."""
    return os.environ.get("SNNCOMPILE_MODELS") or str(MODELS_DIR)


def trained_digits_models(root: Optional[str] = None) -> list[str]:
    """Folder names (sorted) of the digits models written by the example trainer: a ``checkpoint.pth`` and a
    ``meta.json`` naming an ``arch`` and a ``preset`` (factory-built models such as SLAYER's are not families
    of the preset zoo)."""
    root = root or models_root()
    found = []
    for name in sorted(os.listdir(root)):
        meta, ckpt = os.path.join(root, name, "meta.json"), os.path.join(root, name, "checkpoint.pth")
        if "-digits" not in name or not (os.path.isfile(meta) and os.path.isfile(ckpt)):
            continue
        with open(meta) as f:
            doc = json.load(f)
        if doc.get("preset") and doc.get("arch") and not doc.get("factory"):
            found.append(name)
    return found


def repeat_over_time(images: np.ndarray, time_axis: Optional[int], T: int) -> np.ndarray:
    """Static images ``[N, ...]`` in the batch-first sample layout: as they are for a model without a time axis,
    else each repeated over its ``T`` steps (``[N, T, ...]``)."""
    return images if time_axis is None else np.repeat(images[:, None], int(T), axis=1)


def model_input(x: np.ndarray, time_axis: Optional[int], dtype=torch.float32) -> torch.Tensor:
    """Batch-first samples ``x`` in the layout the model's forward takes (time-major: ``[T, N, ...]``)."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    return t.transpose(0, 1) if time_axis == 0 else t  # time-major is the one non-batch-first layout


def predict(model: torch.nn.Module, x: np.ndarray, time_axis: Optional[int], batch: int = 32) -> np.ndarray:
    """Class predictions of ``model`` over batch-first samples ``x``, ``batch`` samples at a time, every stateful
    submodule (one with a ``reset()``) reset before each batch; a ``[T, N, C]`` output is averaged over time."""
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            for m in model.modules():
                if m is not model and callable(getattr(m, "reset", None)):
                    m.reset()
            out = model(model_input(x[i:i + batch], time_axis))
            preds.append((out.mean(0) if out.dim() == 3 else out).argmax(-1).numpy())
    return np.concatenate(preds)
