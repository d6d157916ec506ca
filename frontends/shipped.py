"""A shipped trained model (``snncompile.examples.shipped``) loaded and traced as ``snncompile lower
FOLDER/checkpoint.pth`` would: the checkpoint rebuilt from its own ``arch``/``preset``/``config``, ``meta.json``'s
time axis, ``inputs.npy``/``labels.npy`` beside it, traced by :func:`~snncompile.frontends.loaded.trace_loaded`
(a time-major ``[T, B, ...]`` model is traced on its batch-first transpose and the graph declares its time
axis), the graph's value domains inferred.  Samples stay batch first (``[N, ...]``, ``[N, T, ...]``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from snncompile.analysis import infer_domains
from snncompile.examples import shipped
from snncompile.frontends.loaded import trace_loaded
from snncompile.frontends.torch.loading import LoadedModel, load_model


@dataclass
class ShippedModel:
    """A shipped model and its traced graph."""

    name: str  # the folder name, e.g. "sew_resnet-digits-iand"
    folder: str
    loaded: LoadedModel
    graph: "object"  # snncompile.ir.graph.Graph, domains inferred

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    @property
    def samples(self) -> np.ndarray:
        """inputs.npy, batch first, float32."""
        return np.ascontiguousarray(self.loaded.samples).astype(np.float32)

    @property
    def labels(self) -> Optional[np.ndarray]:
        return self.loaded.labels

    @property
    def time_axis(self) -> Optional[int]:
        return self.loaded.time_axis

    @property
    def meta(self) -> dict:
        return self.loaded.meta

    def model_input(self, x: np.ndarray, dtype=torch.float32) -> torch.Tensor:
        """Batch-first samples in the layout the model's forward takes (``examples.shipped.model_input``)."""
        return shipped.model_input(x, self.time_axis, dtype)

    def graph_input(self, images: np.ndarray) -> np.ndarray:
        """Static images ``[N, ...]`` in the traced graph's batch-first layout: repeated over the model's ``T``
        steps when it has a time axis (``[N, T, ...]``), as they are otherwise."""
        return shipped.repeat_over_time(images, self.time_axis, self.meta.get("T"))

    def predict(self, x: np.ndarray, batch: int = 32) -> np.ndarray:
        """Torch class predictions over ``x`` in the graph's layout (``examples.shipped.predict``)."""
        return shipped.predict(self.model, x, self.time_axis, batch)


def load_shipped(name: str, root: Optional[str] = None) -> ShippedModel:
    """Load and trace the shipped model in folder ``name`` under ``root`` (default
    ``examples.shipped.models_root()``)."""
    folder = os.path.join(root or shipped.models_root(), name)
    ckpt = os.path.join(folder, "checkpoint.pth")
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f"the shipped model {name} is missing ({ckpt})")
    loaded = load_model(ckpt)  # the CLI's defaults: neurons as saved, meta.json's time axis
    if loaded.samples is None:
        raise FileNotFoundError(f"{name}: inputs.npy is missing beside {ckpt}")
    graph = trace_loaded(loaded)
    infer_domains(graph)
    return ShippedModel(name, folder, loaded, graph)
