"""Tiny spiking models for the reference-executor tests, one per neuron library and step style.

* :class:`TinySpikformer` — spikingjelly ``clock_driven.MultiStepLIFNode(backend='torch')``; Spikformer's
  structure: conv–BN–LIF stem, max-pool + spike residual, SSA ``(QKᵀ)V·0.125`` with ``attn_lif``
  (V_th 0.5), MLP, residual stream of spike *sums*, mean head.
* :class:`TinySpikingformer` — the same neuron; Spikingformer's SN→Conv→BN blocks, Conv1d q/k/v,
  real-valued (membrane) shortcut.
* :class:`ActivationBasedNet` — spikingjelly ``activation_based`` layers in multi-step mode
  (``layer.Conv2d``, ``layer.BatchNorm2d``, ``neuron.LIFNode(step_mode='m')``, ``layer.MaxPool2d``).
* :class:`SingleStepLoop` — ``activation_based.neuron.LIFNode(step_mode='s')`` called T times in a loop.
* :class:`SnnTorchLoop` — snnTorch ``Leaky`` called as ``spk, mem = lif(x, mem)`` in a loop (one
  neuron with subtract reset, one with zero reset).

:func:`excite` randomises BatchNorm statistics so that neurons fire at useful rates, and
:func:`capture_spikes` runs a model with forward hooks on every neuron module.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from spikingjelly.activation_based import functional as ab_functional
from spikingjelly.activation_based import layer as ab_layer
from spikingjelly.activation_based import neuron as ab_neuron
from spikingjelly.clock_driven.neuron import MultiStepLIFNode

T = 4


def _lif(v_threshold: float = 1.0) -> MultiStepLIFNode:
    return MultiStepLIFNode(tau=2.0, v_threshold=v_threshold, detach_reset=True, backend="torch")


class SSA(nn.Module):
    """Spikformer self-attention on ``[T, B, N, C]`` (nn.Linear q/k/v/proj, as the CIFAR model)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_linear", nn.Linear(dim, dim))
            setattr(self, f"{name}_bn", nn.BatchNorm1d(dim))
            setattr(self, f"{name}_lif", _lif())
        self.attn_lif = _lif(0.5)
        self.proj_linear = nn.Linear(dim, dim)
        self.proj_bn = nn.BatchNorm1d(dim)
        self.proj_lif = _lif()

    def _qkv(self, x, name):
        t, b, n, c = x.shape
        y = getattr(self, f"{name}_linear")(x.flatten(0, 1))
        y = getattr(self, f"{name}_bn")(y.transpose(-1, -2)).transpose(-1, -2).reshape(t, b, n, c).contiguous()
        y = getattr(self, f"{name}_lif")(y)
        return y.reshape(t, b, n, self.heads, c // self.heads).permute(0, 1, 3, 2, 4).contiguous()

    def forward(self, x):
        t, b, n, c = x.shape
        q, k, v = self._qkv(x, "q"), self._qkv(x, "k"), self._qkv(x, "v")
        attn = q @ k.transpose(-2, -1)
        y = (attn @ v) * 0.125
        y = y.transpose(2, 3).reshape(t, b, n, c).contiguous()
        y = self.attn_lif(y).flatten(0, 1)
        y = self.proj_bn(self.proj_linear(y).transpose(-1, -2)).transpose(-1, -2)
        return self.proj_lif(y.reshape(t, b, n, c))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.lif1 = _lif()
        self.fc2 = nn.Linear(hidden, dim)
        self.bn2 = nn.BatchNorm1d(dim)
        self.lif2 = _lif()

    def forward(self, x):
        t, b, n, c = x.shape
        y = self.fc1(x.flatten(0, 1))
        y = self.lif1(self.bn1(y.transpose(-1, -2)).transpose(-1, -2).reshape(t, b, n, -1))
        y = self.fc2(y.flatten(0, 1))
        return self.lif2(self.bn2(y.transpose(-1, -2)).transpose(-1, -2).reshape(t, b, n, c))


class TinySpikformer(nn.Module):
    """Input ``[B, 1, 8, 8]`` → 16 tokens of dimension 16, 2 blocks, 10 classes."""

    def __init__(self, dim: int = 16, heads: int = 2, depth: int = 2, classes: int = 10):
        super().__init__()
        self.T = T
        self.conv = nn.Conv2d(1, dim, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(dim)
        self.lif = _lif()
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.rpe_conv = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.rpe_bn = nn.BatchNorm2d(dim)
        self.rpe_lif = _lif()
        self.blocks = nn.ModuleList([nn.ModuleDict({"attn": SSA(dim, heads), "mlp": MLP(dim, 2 * dim)})
                                     for _ in range(depth)])
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        t, b = x.shape[:2]
        x = self.lif(self.bn(self.conv(x.flatten(0, 1))).reshape(t, b, -1, 8, 8))
        x = self.pool(x.flatten(0, 1))  # [TB, C, 4, 4]
        feat = x.reshape(t, b, -1, 4, 4)
        x = self.rpe_bn(self.rpe_conv(x)).reshape(t, b, -1, 4, 4)
        x = self.rpe_lif(x) + feat
        x = x.flatten(3).transpose(-1, -2)  # [T, B, N, C]
        for blk in self.blocks:
            x = x + blk["attn"](x)
            x = x + blk["mlp"](x)
        return self.head(x.mean(2)).mean(0)


class SpikingBlock(nn.Module):
    """Spikingformer block on ``[T, B, C, N]``: SN → Conv1d → BN everywhere, real shortcut."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.proj_lif = _lif()
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", nn.Conv1d(dim, dim, 1, bias=False))
            setattr(self, f"{name}_bn", nn.BatchNorm1d(dim))
            setattr(self, f"{name}_lif", _lif())
        self.attn_lif = _lif(0.5)
        self.out_conv = nn.Conv1d(dim, dim, 1)
        self.out_bn = nn.BatchNorm1d(dim)
        self.mlp_lif1 = _lif()
        self.fc1 = nn.Conv1d(dim, 2 * dim, 1)
        self.bn1 = nn.BatchNorm1d(2 * dim)
        self.mlp_lif2 = _lif()
        self.fc2 = nn.Conv1d(2 * dim, dim, 1)
        self.bn2 = nn.BatchNorm1d(dim)

    def attn(self, x):
        t, b, c, n = x.shape
        s = self.proj_lif(x).flatten(0, 1)
        heads = []
        for name in ("q", "k", "v"):
            y = getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(s)).reshape(t, b, c, n)
            y = getattr(self, f"{name}_lif")(y)
            heads.append(y.transpose(-1, -2).reshape(t, b, n, self.heads, c // self.heads).permute(0, 1, 3, 2, 4))
        q, k, v = heads
        y = (q @ k.transpose(-2, -1) @ v) * 0.125
        y = self.attn_lif(y.transpose(3, 4).reshape(t, b, c, n))
        return self.out_bn(self.out_conv(y.flatten(0, 1))).reshape(t, b, c, n)

    def mlp(self, x):
        t, b, c, n = x.shape
        y = self.bn1(self.fc1(self.mlp_lif1(x).flatten(0, 1))).reshape(t, b, -1, n)
        return self.bn2(self.fc2(self.mlp_lif2(y).flatten(0, 1))).reshape(t, b, c, n)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class TinySpikingformer(nn.Module):
    """Input ``[B, 1, 8, 8]``: encoding conv–BN on the image, LIF–pool–conv–BN stage, 2 blocks."""

    def __init__(self, dim: int = 16, heads: int = 2, depth: int = 2, classes: int = 10):
        super().__init__()
        self.T = T
        self.conv0 = nn.Conv2d(1, dim // 2, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(dim // 2)
        self.lif1 = _lif()
        self.pool1 = nn.MaxPool2d(3, 2, 1)
        self.conv1 = nn.Conv2d(dim // 2, dim, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim)
        self.blocks = nn.ModuleList([SpikingBlock(dim, heads) for _ in range(depth)])
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        t, b = x.shape[:2]
        x = self.bn0(self.conv0(x.flatten(0, 1))).reshape(t, b, -1, 8, 8)
        x = self.pool1(self.lif1(x).flatten(0, 1))
        x = self.bn1(self.conv1(x)).reshape(t, b, -1, 16)  # [T, B, C, N]
        for blk in self.blocks:
            x = blk(x)
        return self.head(x.mean(3)).mean(0)


class ActivationBasedNet(nn.Module):
    """spikingjelly ``activation_based`` layers in multi-step mode; input ``[B, 1, 8, 8]``."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.T = T
        self.net = nn.Sequential(
            ab_layer.Conv2d(1, 8, 3, padding=1, bias=False), ab_layer.BatchNorm2d(8),
            ab_neuron.LIFNode(tau=2.0, detach_reset=True, step_mode="m", backend="torch"),
            ab_layer.MaxPool2d(2, 2),
            ab_layer.Conv2d(8, 16, 3, padding=1, bias=False, groups=2), ab_layer.BatchNorm2d(16),
            ab_neuron.LIFNode(tau=2.0, v_threshold=0.5, detach_reset=True, step_mode="m", backend="torch"),
            ab_layer.Flatten(), ab_layer.Linear(16 * 16, classes),
        )
        ab_functional.set_step_mode(self.net, "m")

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        return self.net(x).mean(0)


class SingleStepLoop(nn.Module):
    """``activation_based.neuron.LIFNode(step_mode='s')`` called once per step in a Python loop."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.T = T
        self.conv = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.lif1 = ab_neuron.LIFNode(tau=2.0, detach_reset=True, step_mode="s", backend="torch")
        self.fc = nn.Linear(8 * 64, 32)
        self.lif2 = ab_neuron.LIFNode(tau=1.5, v_threshold=0.75, detach_reset=True, step_mode="s")
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        cur = self.bn(self.conv(x))
        outs = []
        for _ in range(self.T):
            s = self.lif1(cur)
            outs.append(self.lif2(self.fc(s.flatten(1))))
        return self.head(torch.stack(outs).mean(0))


class SnnTorchLoop(nn.Module):
    """snnTorch ``Leaky`` neurons driven as ``spk, mem = lif(cur, mem)`` for T steps."""

    def __init__(self, classes: int = 10):
        super().__init__()
        import snntorch as snn

        self.T = T
        self.fc1 = nn.Linear(64, 32)
        self.lif1 = snn.Leaky(beta=0.9)  # reset by subtraction
        self.fc2 = nn.Linear(32, classes)
        self.lif2 = snn.Leaky(beta=0.8, threshold=0.5, reset_mechanism="zero")

    def forward(self, x):
        mem1 = self.lif1.reset_mem()
        mem2 = self.lif2.reset_mem()
        cur1 = self.fc1(x.flatten(1))
        counts = []
        for _ in range(self.T):
            spk1, mem1 = self.lif1(cur1, mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1.to(cur1.dtype)), mem2)  # snnTorch spikes are float32
            counts.append(spk2.to(cur1.dtype))
        return torch.stack(counts).sum(0)


MODELS = {
    "spikformer": TinySpikformer,
    "spikingformer": TinySpikingformer,
    "activation_based": ActivationBasedNet,
    "single_step": SingleStepLoop,
    "snntorch": SnnTorchLoop,
}


def excite(model: nn.Module, seed: int = 0, gain: float = 1.5) -> nn.Module:
    """Randomise BatchNorm statistics and affine parameters so that neurons fire at useful rates."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.25)
                m.weight.copy_(gain * (torch.rand(c, generator=g) + 0.5))
                m.bias.copy_(torch.randn(c, generator=g) * 0.3 + 0.2)
            elif isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                m.weight.mul_(gain * 2)
    return model.eval()


def build(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return excite(MODELS[name](), seed)


def reset(model: nn.Module) -> None:
    """Clear neuron state between forward calls (spikingjelly and snnTorch)."""
    from snncompile.frontends.torch.neurons import reset_states

    reset_states(model)


def capture_spikes(model: nn.Module, x: torch.Tensor):
    """``(output, {module path: [spikes per call]})`` from one forward with hooks on every neuron."""
    from snncompile.frontends.torch.neurons import neuron_extractor

    seen: dict[str, list] = {}
    handles = []
    for path, m in model.named_modules():
        if neuron_extractor(m) is not None:
            def hook(mod, args, out, path=path):
                spk = out[0] if isinstance(out, (tuple, list)) else out
                seen.setdefault(path, []).append(spk.detach().cpu().numpy().copy())
            handles.append(m.register_forward_hook(hook))
    reset(model)
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
        reset(model)
    return out, seen
