"""A small sequential spiking CNN for the scikit-learn digits, deployable as NIR and as lava-dl netx.

``Conv(1→8, 3×3, s2) → LIF → Conv(8→16, 3×3, s2) → LIF → Flatten → Linear(256→10) → LIF``; the input
image ``[B, 1, 16, 16]`` is presented at each of ``T`` steps (time-major ``[T, B, …]``, T merged into
the batch for the weight layers, as the seed models do).  The class is the output neuron with the
most spikes over the T steps (ties: the lowest index).

Its neuron, :class:`LoihiLIF`, is Lava's CUBA neuron with an instantaneous synapse, written in the
"charge, fire, reset" form of the seed models (per element, ``V[-1] = 0``)::

    V'[t] = V[t-1] - V[t-1] / tau + X[t]         (no input decay; Lava: dv = 1/tau, du = 1)
    S[t]  = 1 if V'[t] > V_th else 0              (strict, as Loihi compares)
    V[t]  = V'[t] · (1 - S[t])                    (hard reset to 0)

so a netx export needs no threshold adjustment.  ``python -m snncompile.examples.sequential_snn``
trains it (seeded, one thread) into ``examples/models/sequential-digits/``.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.nn as nn

__all__ = ["LoihiLIF", "SequentialSNN", "build", "train"]


class StrictSpike(torch.autograd.Function):
    """Forward ``Θ(z) = (z > 0)``; backward spikingjelly's sigmoid surrogate ``α·σ(αz)·(1 − σ(αz))``."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.alpha = alpha
        return (z > 0).to(z)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (z,) = ctx.saved_tensors
        sg = (z * ctx.alpha).sigmoid()
        return grad_output * (1.0 - sg) * sg * ctx.alpha, None


class LoihiLIF(nn.Module):
    """Multi-step LIF with Lava's strict threshold and no input decay (see the module docstring)."""

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0, surrogate_alpha: float = 4.0):
        super().__init__()
        self.tau, self.v_threshold, self.surrogate_alpha = float(tau), float(v_threshold), float(surrogate_alpha)

    def snncompile_neuron_attrs(self) -> dict:
        return {"tau": self.tau, "decay_input": False, "v_threshold": self.v_threshold, "v_reset": 0.0,
                "fire": "gt", "style": "charge-fire-reset", "step_mode": "multi"}

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x_seq[0])
        out = []
        for x in x_seq:
            h = v - v / self.tau + x
            s = StrictSpike.apply(h - self.v_threshold, self.surrogate_alpha)
            v = h * (1.0 - s.detach())
            out.append(s)
        return torch.stack(out)


class SequentialSNN(nn.Module):
    def __init__(self, T: int = 4, channels: tuple = (8, 16), num_classes: int = 10, img_size: int = 16,
                 tau: float = 2.0):
        super().__init__()
        c1, c2 = channels
        self.T = T
        self.config = {"arch": "sequential", "T": T, "channels": list(channels), "num_classes": num_classes,
                       "img_size": img_size, "in_channels": 1, "tau": tau}
        self.conv1 = nn.Conv2d(1, c1, 3, stride=2, padding=1, bias=False)
        self.lif1 = LoihiLIF(tau)
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1, bias=False)
        self.lif2 = LoihiLIF(tau)
        self.fc = nn.Linear(c2 * (img_size // 4) ** 2, num_classes, bias=False)
        self.lif3 = LoihiLIF(tau)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, 1, H, W]`` → output spikes ``[T, B, classes]``."""
        T, B = self.T, x.shape[0]
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1)
        y = self.conv1(x)
        s = self.lif1(y.reshape(T, B, *y.shape[1:])).flatten(0, 1)
        y = self.conv2(s)
        s = self.lif2(y.reshape(T, B, *y.shape[1:])).flatten(0, 1)
        y = self.fc(s.flatten(1))
        return self.lif3(y.reshape(T, B, -1))


def build(**kwargs) -> SequentialSNN:
    """Factory for ``--model snncompile.examples.sequential_snn:build``."""
    return SequentialSNN(**kwargs)


def predict(spikes: torch.Tensor) -> torch.Tensor:
    """Class = most output spikes over time (``spikes`` ``[T, B, classes]``)."""
    return spikes.sum(0).argmax(-1)


def train(out_dir: str, *, epochs: int = 15, seed: int = 0, lr: float = 5e-3, batch_size: int = 32) -> dict:
    from .data import load_digits

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    data = load_digits(16)
    model = SequentialSNN()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.time()
    n = len(data.y_train)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            rate = model(data.x_train[idx]).mean(0)
            loss = nn.functional.cross_entropy(rate * 8.0, data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((predict(model(data.x_test)) == data.y_test).float().mean())
    os.makedirs(out_dir, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, os.path.join(out_dir, "checkpoint.pth"))
    import numpy as np

    np.save(os.path.join(out_dir, "inputs.npy"), data.x_test.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "labels.npy"), data.y_test.numpy().astype(np.int64))
    meta = {"arch": "sequential", "factory": "snncompile.examples.sequential_snn:build", "accuracy": acc,
            "n_test": int(len(data.y_test)), "epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size,
            "train_time_s": round(time.time() - start, 1), "threads": 1, "input_shape": [1, 1, 16, 16],
            "config": model.config, "torch": torch.__version__}
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return meta


if __name__ == "__main__":  # pragma: no cover
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "models", "sequential-digits"))
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()
    print(json.dumps(train(args.out, epochs=args.epochs), indent=2))
