"""Models with products of spike trains (coincidence populations) for the Loihi backend tests.

* ``sew_and`` / ``sew_iand``: spikingjelly's SEW-ResNet with the AND (``a·b``) / IAND (``(1 − a)·b``) connect
  function, the trained digits models (float: as shipped, head included);
* ``sew_and_spikes`` / ``sew_iand_spikes``: the same trained networks read out before the head (the mean
  over T of the pooled spikes of the last block, itself a product), so fixed point needs no readout layer;
* ``sdt``: the Spike-driven Transformer's SDSA (``K ⊙ V`` → Σ tokens → LIF → ``Q ⊙ ·``), a small untrained
  instance without the stem's max-pools over BatchNorm outputs (the Lava plan pools spikes only), with
  BatchNorm statistics excited so every layer fires;
* ``sdt_digits`` / ``qkformer_digits``: the shipped trained digits models, whole (their stems max-pool
  BatchNorm outputs: pools of synaptic currents; fixed point: tests/lava/test_families_on_loihi.py);
* ``gates``: products written in other forms (broadcast operand, NOR, a square) on a small untrained net;
* ``events``: binary input events (a graph input) gated by a LIF population;
* ``qkformer``: QKFormer's first stage (token attention ``mask ⊙ K``, ``mask = LIF(Σ_channels Q)``) with the
  trained digits weights, read out as the mean over tokens and T of its spikes.
"""
import os

import numpy as np
import torch
import torch.nn as nn

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "models")


def _inputs(folder: str, n: int) -> np.ndarray:
    return np.load(os.path.join(MODELS, folder, "inputs.npy"))[:n].astype(np.float32)


class SpikeFeatures(nn.Module):
    """A ZooResNet read out before its head: mean over T of the average-pooled spikes of the last block."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        n = self.net
        x = n.layer2(n.layer1(n.sn1(n.bn1(n.conv1(x)))))
        return n.avgpool(x).flatten(2).mean(0)


class QKFormerStage1(nn.Module):
    """QKFormer's stem and first (token-attention) stage, read out as the mean over tokens and T."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        n = self.net
        x = n.patch_embed1(x.unsqueeze(0).repeat(n.T, 1, 1, 1, 1))
        for blk in n.stage1:
            x = blk(x)
        return x.flatten(3).mean(3).mean(0)


class Gates(nn.Module):
    """Products in the forms a user may write: a broadcast operand (``a ⊙ b[..., :1, :]``), NOR
    (``(1 − a) ⊙ (1 − b)``: current ``2 − a − b``), a square (``a ⊙ a``), one population entering with both
    signs (``a ⊙ (1 − aᵀ)``: mixed-sign unit weights), all read out as a spike sum."""

    def __init__(self, T: int = 4, channels: int = 4):
        super().__init__()
        from snncompile.examples.neurons import MultiStepLIF

        torch.manual_seed(0)
        self.T = T
        self.conv_a = nn.Conv2d(1, channels, 3, padding=1)
        self.conv_b = nn.Conv2d(1, channels, 3, padding=1)
        self.lif_a, self.lif_b = MultiStepLIF(tau=2.0), MultiStepLIF(tau=2.0)
        with torch.no_grad():
            for conv in (self.conv_a, self.conv_b):
                conv.weight.mul_(4.0)
                conv.bias.uniform_(0.2, 1.2)

    def forward(self, x):
        T, (B, _, H, W) = self.T, x.shape
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1)
        a = self.lif_a(self.conv_a(x).reshape(T, B, -1, H, W))
        b = self.lif_b(self.conv_b(x).reshape(T, B, -1, H, W))
        out = a * b[:, :, :, :1, :] + (1 - a) * (1 - b) + a * a + a * (1 - a.transpose(3, 4))
        return out.flatten(2).mean(0)


class EventGate(nn.Module):
    """A product with a graph input: binary events ``x`` (repeated over T) gated by a LIF population."""

    def __init__(self, T: int = 4, channels: int = 1):
        super().__init__()
        from snncompile.examples.neurons import MultiStepLIF

        torch.manual_seed(0)
        self.T = T
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.lif = MultiStepLIF(tau=2.0)
        with torch.no_grad():
            self.conv.weight.uniform_(0.2, 1.0)

    def forward(self, x):
        T, (B, _, H, W) = self.T, x.shape
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        a = self.lif(self.conv(x.flatten(0, 1)).reshape(T, B, -1, H, W))
        return (x * a).flatten(2).mean(0)


def _excite(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(1.0, 4.0)
                m.bias.uniform_(0.0, 1.0)
    return model.eval()


def product_model(name: str, n: int = 5):
    """(torch model in eval mode, inputs [n, ...] float32 in the model's layout)."""
    from snncompile.examples import presets

    if name.startswith("sew_"):
        cnf = name.split("_")[1]
        folder = f"sew_resnet-digits-{cnf}"
        model = presets.build_from_checkpoint(os.path.join(MODELS, folder, "checkpoint.pth")).eval()
        x = _inputs(folder, n)
        if name.endswith("_spikes"):
            model = SpikeFeatures(model).eval()
        return model, x
    if name == "sdt":
        torch.manual_seed(0)
        model = presets.build("sdt", "digits", neuron="own", stem_pool=[False] * 4, depths=1, embed_dims=32)
        return _excite(model), _inputs("sdt-digits", n)
    if name in ("sdt_digits", "qkformer_digits"):
        folder = name.replace("_", "-")
        return presets.build_from_checkpoint(os.path.join(MODELS, folder, "checkpoint.pth")).eval(), _inputs(folder, n)
    if name == "events":
        return EventGate().eval(), (_inputs("sdt-digits", n) > 0.5).astype(np.float32)
    if name == "gates":
        return Gates().eval(), _inputs("sdt-digits", n)
    if name == "qkformer":
        net = presets.build_from_checkpoint(os.path.join(MODELS, "qkformer-digits", "checkpoint.pth"), neuron="own")
        return QKFormerStage1(net.eval()).eval(), _inputs("qkformer-digits", n)
    raise KeyError(name)
