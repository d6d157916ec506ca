"""The digits example models for backend tests.

:func:`load_family` loads any shipped trained model (``examples/models/<arch>-digits[-variant]``, or under
``$SNNCOMPILE_MODELS``) the way the CLI does: the checkpoint rebuilt from its own ``arch``/``preset``/``config``,
``meta.json``'s time axis, ``inputs.npy``/``labels.npy`` beside it, traced by
:func:`snncompile.commands.common.trace_loaded` (a time-major ``[T, B, ...]`` model is traced on its batch-first
transpose and the graph declares its time axis). Samples stay batch first (``[N, ...]``, ``[N, T, ...]``);
:meth:`DigitsModel.model_input` gives them in the model's own layout for a torch forward.

:func:`digits_model` is the older tuple API: the trained artefact when present, else the untrained preset with
BatchNorm statistics excited so every layer fires.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

# Every family with a shipped trained digits model (folder names under examples/models): the families issue
# 11 asks to lower float-exact and fixed-point.  tests/lava/test_families_on_loihi.py checks that no such
# folder is missing from this list.
FAMILIES = (
    "spikformer-digits",
    "spikingformer-digits",
    "sdt-digits",
    "qkformer-digits",
    "metaspikeformer-digits",
    "ilifnet-digits",
    "sew_resnet-digits-add",
    "sew_resnet-digits-and",
    "sew_resnet-digits-iand",
    "spiking_resnet-digits",
)


def models_root() -> str:
    from snncompile.examples import presets

    return os.environ.get("SNNCOMPILE_MODELS") or os.path.join(os.path.dirname(presets.__file__), "models")


def shipped_preset_models() -> list[str]:
    """Folders under :func:`models_root` holding a trained digits checkpoint written by the example trainer
    (its ``meta.json`` names an ``arch`` and a ``preset``; factory-built models such as SLAYER's are not
    families of the preset zoo)."""
    import json

    root = models_root()
    found = []
    for name in sorted(os.listdir(root)):
        meta = os.path.join(root, name, "meta.json")
        if "-digits" not in name or not os.path.isfile(os.path.join(root, name, "checkpoint.pth")):
            continue
        with open(meta) as f:
            doc = json.load(f)
        if doc.get("preset") and doc.get("arch") and not doc.get("factory"):
            found.append(name)
    return found


@dataclass
class DigitsModel:
    """A shipped model loaded and traced as ``snncompile lower FOLDER/checkpoint.pth`` would."""

    name: str  # the folder name, e.g. "sew_resnet-digits-iand"
    folder: str
    loaded: "object"  # snncompile.frontends.torch.loading.LoadedModel
    graph: "object"  # the traced graph (domains inferred)

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
        """Batch-first samples ``x`` in the layout the model's forward takes (time-major: ``[T, B, ...]``)."""
        t = torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
        return t.transpose(0, 1) if self.time_axis == 0 else t  # time-major is the one non-batch-first layout

    def graph_input(self, images: np.ndarray) -> np.ndarray:
        """Static images ``[N, ...]`` in the traced graph's batch-first layout: a model with a time axis reads
        every image repeated over its ``T`` steps (``[N, T, ...]``); a static model reads them as they are."""
        return images if self.time_axis is None else np.repeat(images[:, None], int(self.meta["T"]), axis=1)

    def predict(self, x: np.ndarray, batch: int = 32) -> np.ndarray:
        """Class predictions of the torch model over ``x`` (graph layout), ``batch`` samples at a time, every
        stateful neuron reset before each batch; a ``[T, B, C]`` output is averaged over time."""
        preds = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                for m in self.model.modules():
                    if m is not self.model and callable(getattr(m, "reset", None)):
                        m.reset()
                out = self.model(self.model_input(x[i:i + batch]))
                preds.append((out.mean(0) if out.dim() == 3 else out).argmax(-1).numpy())
        return np.concatenate(preds)


def load_family(name: str) -> DigitsModel:
    """Load and trace the shipped model in folder ``name`` (see :data:`FAMILIES`)."""
    from snncompile.analysis import infer_domains
    from snncompile.commands.common import trace_loaded
    from snncompile.frontends.torch.loading import load_model

    folder = os.path.join(models_root(), name)
    ckpt = os.path.join(folder, "checkpoint.pth")
    if not os.path.isfile(ckpt):
        raise FileNotFoundError(f"the shipped model {name} is missing ({ckpt})")
    loaded = load_model(ckpt)  # the CLI's defaults: neurons as saved, meta.json's time axis
    if loaded.samples is None:
        raise FileNotFoundError(f"{name}: inputs.npy is missing beside {ckpt}")
    graph = trace_loaded(loaded)
    infer_domains(graph)
    return DigitsModel(name, folder, loaded, graph)


def digits_model(arch: str):
    """(model, inputs float32 [N, 1, 16, 16], labels or None, trained?)"""
    from snncompile.examples import presets

    folder = os.path.join(models_root(), f"{arch}-digits")
    ckpt = os.path.join(folder, "checkpoint.pth")
    if os.path.isfile(ckpt) and os.path.isfile(os.path.join(folder, "inputs.npy")):
        model = presets.build_from_checkpoint(ckpt, neuron="own").eval()
        x = np.load(os.path.join(folder, "inputs.npy")).astype(np.float32)
        lab = os.path.join(folder, "labels.npy")
        y = np.load(lab) if os.path.isfile(lab) else None
        return model, x, y, True
    torch.manual_seed(0)
    model = presets.build(arch, "digits", neuron="own").eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(1.0, 4.0)
                m.bias.uniform_(0.0, 1.0)
    rng = np.random.default_rng(0)
    return model, rng.random((8, 1, 16, 16)).astype(np.float32), None, False
