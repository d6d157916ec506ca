"""Small residual networks assembled from spikingjelly's own model zoo (third-party code, used as installed).

``spikingjelly.activation_based.model.sew_resnet`` and ``spiking_resnet`` build ResNet-18 and larger with
64–512 channels (11.7 M parameters for ResNet-18: 45 MB, minutes per epoch on one CPU thread). The digits
models here use the zoo's own ``BasicBlock`` classes (and, through them, its ``sew_function``, ``conv3x3``,
``conv1x1`` and ``layer.*`` modules) with fewer and narrower layers; only the stem and the readout below are
written here, the way the zoo writes them. Multi-step mode: the input is ``[T, B, C, H, W]`` and every layer
processes the whole sequence (``functional.set_step_mode(net, 'm')``):

* stem: ``sn(BN(Conv3×3(x)))`` on the analog input (direct encoding: the image repeated over T by the caller);
* ``layer1``: ``BasicBlock(c0, c0)``; ``layer2``: ``BasicBlock(c0, c1, stride 2)`` with a ``conv1x1`` + BN
  down-sampling branch;
* readout: ``AdaptiveAvgPool2d(1)``, ``flatten(2)``, ``Linear`` per step, mean over T (the zoo's ``fc(x_seq)``
  followed by the user's ``.mean(0)``).

SEW blocks (``kind='sew'``) combine ``sew_function(identity, out, cnf)``: ``ADD`` (``a + b``: integers),
``AND`` (``a·b``) or ``IAND`` (``a·(1 − b)``); Spiking-ResNet blocks (``kind='spiking'``) compute
``sn2(BN(conv2(...)) + identity)``. Neurons: ``neuron.LIFNode(tau, detach_reset=True)`` (backend torch).
"""
from typing import Optional, Sequence

import torch.nn as nn

__all__ = ["ZooResNet", "KINDS", "CONNECT_FUNCTIONS"]

KINDS = ("sew", "spiking")
CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


class ZooResNet(nn.Module):
    """A two-block residual network from the zoo's ``BasicBlock`` (module docstring). ``forward(x)``:
    ``x`` is ``[T, B, C, H, W]``; returns logits ``[B, num_classes]``."""

    def __init__(self, kind="sew", cnf="ADD", img_size=16, in_channels=1, num_classes=10,
                 channels: Sequence[int] = (16, 32), T=4, tau=2.0, input="time-major"):
        super().__init__()
        from spikingjelly.activation_based import functional, layer, neuron
        from spikingjelly.activation_based.model import sew_resnet, spiking_resnet

        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind == "sew" and cnf not in CONNECT_FUNCTIONS:
            raise ValueError(f"cnf must be one of {CONNECT_FUNCTIONS}, got {cnf!r}")
        self.config = dict(arch=f"{kind}_resnet", kind=kind, cnf=cnf if kind == "sew" else None, img_size=img_size,
                           in_channels=in_channels, num_classes=num_classes, channels=list(channels), T=T, tau=tau,
                           input=input)
        self.T = T
        zoo = sew_resnet if kind == "sew" else spiking_resnet
        sn = dict(spiking_neuron=neuron.LIFNode, tau=tau, detach_reset=True)
        block_args = dict(cnf=cnf, **sn) if kind == "sew" else sn
        c0, c1 = channels

        self.conv1 = layer.Conv2d(in_channels, c0, kernel_size=3, padding=1, bias=False)
        self.bn1 = layer.BatchNorm2d(c0)
        self.sn1 = neuron.LIFNode(tau=tau, detach_reset=True)
        self.layer1 = zoo.BasicBlock(c0, c0, **block_args)
        down = nn.Sequential(zoo.conv1x1(c0, c1, stride=2), layer.BatchNorm2d(c1))
        self.layer2 = zoo.BasicBlock(c0, c1, stride=2, downsample=down, **block_args)
        self.avgpool = layer.AdaptiveAvgPool2d((1, 1))
        self.fc = layer.Linear(c1, num_classes)
        functional.set_step_mode(self, "m")

    def forward(self, x, hook: Optional[dict] = None):
        x = self.sn1(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = self.avgpool(x).flatten(2)
        if hook is not None:
            hook["features"] = x.mean(0).detach()
        return self.fc(x).mean(0)
