"""The digits example models for backend tests.

:func:`load_family` is the product's loader of a shipped trained model (``examples/models/<arch>-digits[-variant]``,
or under ``$SNNCOMPILE_MODELS``): :func:`snncompile.frontends.shipped.load_shipped`, loaded and traced the way the
CLI does; its :class:`~snncompile.frontends.shipped.ShippedModel` gives samples in the graph's and the model's
layouts and torch predictions.

:func:`digits_model` is the older tuple API: the trained artefact when present, else the untrained preset with
BatchNorm statistics excited so every layer fires.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from snncompile.examples import shipped
from snncompile.frontends.shipped import load_shipped

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


shipped_preset_models = shipped.trained_digits_models
load_family = load_shipped  # load_family(name): a folder of FAMILIES, loaded and traced


def digits_model(arch: str):
    """(model, inputs float32 [N, 1, 16, 16], labels or None, trained?)"""
    from snncompile.examples import presets

    folder = os.path.join(shipped.models_root(), f"{arch}-digits")
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
