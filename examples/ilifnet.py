"""A small integer-spike CNN in the SpikeYOLO / SDT-V3 style: I-LIF neurons emit integers in {0, …, D}.

Tensors are ``[T, B, C, H, W]`` (T merged into the batch for Conv/BatchNorm); every neuron is
:class:`snncompile.examples.neurons.MultiStepILIF` (``H = β·V + X``, ``S = clamp(round(H), 0, D)``,
``V = H − S``). The residual stream carries membrane potentials (reals), as in SpikeYOLO's blocks:

* stem: ``BN(Conv3×3)`` on the analog input;
* ``stages[i]``: ``BN(Conv3×3 stride 2(ILIF(x)))`` (down-sampling), then one block
  ``x = x + BN(conv2(ILIF(BN(conv1(ILIF(x))))))`` with 3×3 convolutions;
* head: mean over tokens, ``head_lif`` (I-LIF), Linear per step, mean over T.

Every weight layer after the stem reads integer spikes from a neuron (graded spikes), never sums of spikes.
"""
from typing import Optional, Sequence

import torch.nn as nn

from .neurons import MultiStepILIF

__all__ = ["ILIFNet", "ILIFBlock"]


class ILIFBlock(nn.Module):
    """``x + BN(conv2(ILIF(BN(conv1(ILIF(x))))))``."""

    def __init__(self, dim, lif=None):
        super().__init__()
        self.lif1 = lif()
        self.conv1 = nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim)
        self.lif2 = lif()
        self.conv2 = nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x):
        T, B, C, H, W = x.shape
        y = self.bn1(self.conv1(self.lif1(x).flatten(0, 1))).reshape(T, B, C, H, W)
        y = self.bn2(self.conv2(self.lif2(y).flatten(0, 1))).reshape(T, B, C, H, W)
        return x + y


class ILIFDownsample(nn.Module):
    """``BN(Conv3×3 stride 2(ILIF(x)))``."""

    def __init__(self, cin, cout, lif=None):
        super().__init__()
        self.lif = lif()
        self.conv = nn.Conv2d(cin, cout, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        T, B = x.shape[:2]
        x = self.bn(self.conv(self.lif(x).flatten(0, 1)))
        return x.reshape(T, B, *x.shape[1:])


class ILIFNet(nn.Module):
    """Stem, ``len(channels) - 1`` down-sampling stages with one block each, I-LIF head (module docstring)."""

    def __init__(self, img_size=16, in_channels=1, num_classes=10, channels: Sequence[int] = (16, 32, 64), T=4,
                 decay=0.25, max_spike=4, input="static"):
        super().__init__()
        self.config = dict(arch="ilifnet", img_size=img_size, in_channels=in_channels, num_classes=num_classes,
                           channels=list(channels), T=T, decay=decay, max_spike=max_spike, input=input)
        self.T = T
        self.input = input

        def lif():
            return MultiStepILIF(decay=decay, max_spike=max_spike)

        self.stem_conv = nn.Conv2d(in_channels, channels[0], kernel_size=3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(channels[0])
        self.stages = nn.ModuleList()
        for cin, cout in zip(channels[:-1], channels[1:]):
            self.stages.append(nn.Sequential(ILIFDownsample(cin, cout, lif), ILIFBlock(cout, lif)))
        self.head_lif = lif()
        self.head = nn.Linear(channels[-1], num_classes)

    def forward(self, x, hook: Optional[dict] = None):
        if self.input == "events":
            x = x.permute(1, 0, 2, 3, 4)
        else:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        T, B = x.shape[:2]
        x = self.stem_bn(self.stem_conv(x.flatten(0, 1)))
        x = x.reshape(T, B, *x.shape[1:])
        for stage in self.stages:
            x = stage(x)
        x = self.head_lif(x.flatten(3).mean(3))
        if hook is not None:
            hook["features"] = x.mean(0).detach()
        return self.head(x).mean(0)
