"""A small lava-dl SLAYER network for the scikit-learn digits: the example the SLAYER frontend
(``snncompile.frontends.slayer``) is tested on.

``block.cuba.Conv(1→8, 3×3, s2) → Conv(8→16, 3×3, s2) → Flatten → Dense(256→10)``, CUBA neurons with
``current_decay = 1`` (the synaptic current forgets every step: one state per neuron, which the IR
can carry), ``voltage_decay = 0.5``, threshold 1, and ``delay_shift=False``.  Input: each 16×16 digit
as a thermometer spike code ``[B, 1, 16, 16, T]`` (pixel ``p ∈ [0, 1]`` spikes at every step
``t < p·T``), SLAYER's layout with time last.  The class is the output neuron with the most spikes.
``python -m snncompile.examples.slayer_digits`` trains it (CPU, seeded) into
``examples/models/slayer-digits/``.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

__all__ = ["SlayerDigits", "build", "encode", "train"]

SAMPLES = 100
NEURON = {"threshold": 1.0, "current_decay": 1.0, "voltage_decay": 0.5, "requires_grad": False}


class SlayerDigits(torch.nn.Module):
    def __init__(self, T: int = 8):
        super().__init__()
        import lava.lib.dl.slayer as slayer

        self.T = T
        self.config = {"arch": "slayer-digits", "T": T, "input": "events", "neuron": dict(NEURON)}
        kw = {"delay_shift": False, "weight_norm": False}
        self.blocks = torch.nn.ModuleList([
            slayer.block.cuba.Conv(NEURON, 1, 8, 3, stride=2, padding=1, weight_scale=2, **kw),
            slayer.block.cuba.Conv(NEURON, 8, 16, 3, stride=2, padding=1, weight_scale=2, **kw),
            slayer.block.cuba.Flatten(),
            slayer.block.cuba.Dense(NEURON, 256, 10, weight_scale=2, **kw),
        ])

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """``spikes`` ``[B, 1, 16, 16, T]`` → output spikes ``[B, 10, T]``."""
        for block in self.blocks:
            spikes = block(spikes)
        return spikes


def build(**kwargs) -> SlayerDigits:
    """Factory for ``--model snncompile.examples.slayer_digits:build``."""
    return SlayerDigits(**kwargs)


def encode(images: torch.Tensor, T: int) -> torch.Tensor:
    """Thermometer code: ``images`` ``[B, 1, H, W]`` in [0, 1] → spikes ``[B, 1, H, W, T]``."""
    steps = torch.arange(T, dtype=images.dtype)
    return (images.unsqueeze(-1) * T > steps).to(images.dtype)


def digits01(img_size: int = 16):
    from .data import load_digits

    d = load_digits(img_size)
    lo, hi = d.x_train.min(), d.x_train.max()
    return [((x - lo) / (hi - lo)).clamp(0, 1) for x in (d.x_train, d.x_test)], d.y_train, d.y_test


def train(out_dir: str, *, epochs: int = 25, seed: int = 0, lr: float = 1e-2, batch_size: int = 32) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    (x_train, x_test), y_train, y_test = digits01()
    model = SlayerDigits()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.time()
    s_train, s_test = encode(x_train, model.T), encode(x_test, model.T)
    n = len(y_train)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            rate = model(s_train[idx]).mean(-1)
            loss = torch.nn.functional.cross_entropy(rate * 8.0, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(s_test).sum(-1).argmax(-1) == y_test).float().mean())
    os.makedirs(out_dir, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, os.path.join(out_dir, "checkpoint.pth"))
    # the first SAMPLES test images (spikes as uint8, to keep the committed files small)
    np.save(os.path.join(out_dir, "inputs.npy"), s_test[:SAMPLES].numpy().astype(np.uint8))
    np.save(os.path.join(out_dir, "labels.npy"), y_test[:SAMPLES].numpy().astype(np.int64))
    meta = {"arch": "slayer-digits", "factory": "snncompile.examples.slayer_digits:build", "accuracy": acc,
            "n_test": int(len(y_test)), "epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size,
            "train_time_s": round(time.time() - start, 1), "threads": 1, "input_shape": [1, 1, 16, 16, model.T],
            "input_domain": "binary", "config": model.config, "torch": torch.__version__}
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return meta


if __name__ == "__main__":  # pragma: no cover
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "models", "slayer-digits"))
    ap.add_argument("--epochs", type=int, default=25)
    args = ap.parse_args()
    print(json.dumps(train(args.out, epochs=args.epochs), indent=2))
