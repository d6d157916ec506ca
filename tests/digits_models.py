"""The digits example models for backend tests: the trained artefacts when present (or under
``$SNNCOMPILE_MODELS``), else the untrained preset with BatchNorm statistics excited so every layer fires."""
import os

import numpy as np
import torch


def digits_model(arch: str):
    """(model, inputs float32 [N, 1, 16, 16], labels or None, trained?)"""
    from snncompile.examples import presets

    root = os.environ.get("SNNCOMPILE_MODELS") or os.path.join(os.path.dirname(presets.__file__), "models")
    folder = os.path.join(root, f"{arch}-digits")
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
