"""QKFormer (Zhou et al., NeurIPS 2024), written the way the authors' public (CIFAR) code is written.

A three-stage hierarchy on ``[T, B, C, H, W]`` (T merged into the batch for Conv/BatchNorm). Every module
ends in a LIF and the stream adds their spikes: "SEW-style" residuals whose values are sums of spike trains
(integers), so the weight layers that read the stream see non-binary integers. Semantics (every LIF is
``neurons.make_lif`` with tau = ``tau``, V_th = 1 unless stated):

* ``patch_embed1`` (D/4 channels): ``s = LIF(BN(Conv3×3(x)))`` with D/8 channels on the analog input, then
  ``LIF(BN(Conv3×3(s))) + LIF(BN(Conv1×1(s)))`` (a spike + spike shortcut).
* ``stage1``: one block with Q-K token attention (QKTA, the authors' ``Token_QK_Attention``):
  ``Q, K = LIF(BN(Conv1d_1×1(x)))`` split in heads ``[T, B, h, C/h, N]``; ``mask = attn_lif(Σ_channels Q)``
  (V_th = ``attn_threshold``), one bit per token and head; ``out = mask ⊙ K`` (spike × spike);
  ``proj_lif(proj_bn(proj_conv(out)))``.
* ``patch_embed2`` (D/2) and ``patch_embed3`` (D): ``LIF(MaxPool(BN(Conv3×3(LIF(BN(Conv3×3(x)))))))
  + LIF(BN(Conv1×1 stride 2(x)))`` read the integer stream directly.
* ``stage2``: one QKTA block (D/2); ``stage3``: ``depths - 2`` SSA blocks (Spikformer's attention,
  ``Q (Kᵀ V) · scale``, ``attn_lif`` V_th = ``attn_threshold``, ``proj_lif``).
* Blocks: ``x = x + attn(x); x = x + mlp(x)``, MLP ``LIF(BN(Conv1×1(LIF(BN(Conv1×1(x))))))``.
* Head: ``Linear(mean over T of the mean over tokens)``; static images are repeated T times.
"""
from typing import Optional

import torch
import torch.nn as nn

from .neurons import make_lif

__all__ = ["QKFormer", "Token_QK_Attention", "Spiking_Self_Attention", "MLP", "PatchEmbedInit",
           "PatchEmbeddingStage"]


def _conv_bn(cin, cout, kernel, stride=1, bias=False, dim=2):
    conv = (nn.Conv2d if dim == 2 else nn.Conv1d)(cin, cout, kernel_size=kernel, stride=stride,
                                                  padding=kernel // 2, bias=bias)
    return conv, (nn.BatchNorm2d if dim == 2 else nn.BatchNorm1d)(cout)


class Token_QK_Attention(nn.Module):
    """QKTA: a per-token, per-head spike mask from the channel sum of Q, applied to K (module docstring)."""

    def __init__(self, dim, num_heads=8, attn_threshold=0.5, lif=None):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.num_heads = num_heads
        self.q_conv, self.q_bn = _conv_bn(dim, dim, 1, dim=1)
        self.q_lif = lif()
        self.k_conv, self.k_bn = _conv_bn(dim, dim, 1, dim=1)
        self.k_lif = lif()
        self.attn_lif = lif(v_threshold=attn_threshold)
        self.proj_conv, self.proj_bn = _conv_bn(dim, dim, 1, bias=True, dim=1)
        self.proj_lif = lif()

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = x.flatten(3)
        N = x.shape[-1]
        x_for_qk = x.flatten(0, 1)
        q = self.q_lif(self.q_bn(self.q_conv(x_for_qk)).reshape(T, B, C, N))
        q = q.reshape(T, B, self.num_heads, C // self.num_heads, N)
        k = self.k_lif(self.k_bn(self.k_conv(x_for_qk)).reshape(T, B, C, N))
        k = k.reshape(T, B, self.num_heads, C // self.num_heads, N)

        q = torch.sum(q, dim=3, keepdim=True)   # T B h 1 N: spikes per token and head
        attn = self.attn_lif(q)
        x = torch.mul(attn, k)                  # token mask ⊙ K

        x = x.flatten(2, 3)
        x = self.proj_bn(self.proj_conv(x.flatten(0, 1))).reshape(T, B, C, H, W)
        return self.proj_lif(x)


class Spiking_Self_Attention(nn.Module):
    """Spikformer's SSA, ``Q (Kᵀ V) · scale``, ending in ``proj_lif`` (module docstring)."""

    def __init__(self, dim, num_heads=8, scale=0.125, attn_threshold=0.5, lif=None):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.num_heads = num_heads
        self.scale = scale
        for name in ("q", "k", "v"):
            conv, bn = _conv_bn(dim, dim, 1, dim=1)
            setattr(self, f"{name}_conv", conv)
            setattr(self, f"{name}_bn", bn)
            setattr(self, f"{name}_lif", lif())
        self.attn_lif = lif(v_threshold=attn_threshold)
        self.proj_conv, self.proj_bn = _conv_bn(dim, dim, 1, bias=True, dim=1)
        self.proj_lif = lif()

    def _heads(self, name, x, T, B, C, N):
        x = getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(x)).reshape(T, B, C, N).contiguous()
        x = getattr(self, f"{name}_lif")(x)
        return x.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads).permute(0, 1, 3, 2, 4)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = x.flatten(3)
        N = x.shape[-1]
        x_for_qkv = x.flatten(0, 1)
        q, k, v = (self._heads(n, x_for_qkv, T, B, C, N) for n in ("q", "k", "v"))
        x = k.transpose(-2, -1) @ v
        x = (q @ x) * self.scale
        x = x.transpose(3, 4).reshape(T, B, C, N).contiguous()
        x = self.attn_lif(x).flatten(0, 1)
        return self.proj_lif(self.proj_bn(self.proj_conv(x)).reshape(T, B, C, H, W))


class MLP(nn.Module):
    """``mlp2_lif(mlp2_bn(mlp2_conv(mlp1_lif(mlp1_bn(mlp1_conv(x))))))`` with 1×1 Conv2d (bias)."""

    def __init__(self, in_features, hidden_features, lif=None):
        super().__init__()
        self.mlp1_conv, self.mlp1_bn = _conv_bn(in_features, hidden_features, 1, bias=True)
        self.mlp1_lif = lif()
        self.mlp2_conv, self.mlp2_bn = _conv_bn(hidden_features, in_features, 1, bias=True)
        self.mlp2_lif = lif()
        self.c_hidden = hidden_features

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.mlp1_lif(self.mlp1_bn(self.mlp1_conv(x.flatten(0, 1))).reshape(T, B, self.c_hidden, H, W))
        return self.mlp2_lif(self.mlp2_bn(self.mlp2_conv(x.flatten(0, 1))).reshape(T, B, C, H, W))


class TokenSpikingTransformer(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, attn_threshold=0.5, lif=None):
        super().__init__()
        self.tssa = Token_QK_Attention(dim, num_heads, attn_threshold, lif=lif)
        self.mlp = MLP(dim, int(dim * mlp_ratio), lif=lif)

    def forward(self, x):
        x = x + self.tssa(x)
        return x + self.mlp(x)


class SpikingTransformer(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, scale=0.125, attn_threshold=0.5, lif=None):
        super().__init__()
        self.ssa = Spiking_Self_Attention(dim, num_heads, scale, attn_threshold, lif=lif)
        self.mlp = MLP(dim, int(dim * mlp_ratio), lif=lif)

    def forward(self, x):
        x = x + self.ssa(x)
        return x + self.mlp(x)


class PatchEmbedInit(nn.Module):
    """``s = LIF(BN(Conv3×3(x)))``; ``LIF(BN(Conv3×3(s))) + LIF(BN(Conv1×1(s)))``."""

    def __init__(self, in_channels, embed_dims, lif=None):
        super().__init__()
        self.proj_conv, self.proj_bn = _conv_bn(in_channels, embed_dims // 2, 3)
        self.proj_lif = lif()
        self.proj1_conv, self.proj1_bn = _conv_bn(embed_dims // 2, embed_dims, 3)
        self.proj1_lif = lif()
        self.proj_res_conv, self.proj_res_bn = _conv_bn(embed_dims // 2, embed_dims, 1)
        self.proj_res_lif = lif()

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.proj_lif(self.proj_bn(self.proj_conv(x.flatten(0, 1))).reshape(T, B, -1, H, W)).flatten(0, 1)
        x_feat = x
        x = self.proj1_lif(self.proj1_bn(self.proj1_conv(x)).reshape(T, B, -1, H, W))
        x_feat = self.proj_res_lif(self.proj_res_bn(self.proj_res_conv(x_feat)).reshape(T, B, -1, H, W))
        return x + x_feat


class PatchEmbeddingStage(nn.Module):
    """Halves H and W: ``LIF(MaxPool(BN(Conv(LIF(BN(Conv(x))))))) + LIF(BN(Conv1×1 stride 2(x)))``."""

    def __init__(self, embed_dims, lif=None):
        super().__init__()
        self.proj3_conv, self.proj3_bn = _conv_bn(embed_dims // 2, embed_dims, 3)
        self.proj3_lif = lif()
        self.proj4_conv, self.proj4_bn = _conv_bn(embed_dims, embed_dims, 3)
        self.proj4_maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.proj4_lif = lif()
        self.proj_res_conv, self.proj_res_bn = _conv_bn(embed_dims // 2, embed_dims, 1, stride=2)
        self.proj_res_lif = lif()

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = x.flatten(0, 1).contiguous()
        x_feat = x
        x = self.proj3_lif(self.proj3_bn(self.proj3_conv(x)).reshape(T, B, -1, H, W)).flatten(0, 1)
        x = self.proj4_maxpool(self.proj4_bn(self.proj4_conv(x)))
        x = self.proj4_lif(x.reshape(T, B, -1, H // 2, W // 2).contiguous())
        x_feat = self.proj_res_bn(self.proj_res_conv(x_feat)).reshape(T, B, -1, H // 2, W // 2).contiguous()
        return x + self.proj_res_lif(x_feat)


class QKFormer(nn.Module):
    """QKFormer-L-D (CIFAR layout: three stages, D/4, D/2, D); ``forward(x, hook=None)`` as Spikformer's."""

    def __init__(self, img_size=32, in_channels=3, num_classes=10, embed_dims=384, num_heads=8, mlp_ratio=4.0,
                 depths=4, T=4, scale=0.125, attn_threshold=0.5, tau=2.0, input="static", neuron="own"):
        super().__init__()
        if depths < 3:
            raise ValueError(f"QKFormer needs depths >= 3 (two QKTA blocks + SSA blocks), got {depths}")
        self.config = dict(arch="qkformer", img_size=img_size, in_channels=in_channels, num_classes=num_classes,
                           embed_dims=embed_dims, num_heads=num_heads, mlp_ratio=mlp_ratio, depths=depths, T=T,
                           scale=scale, attn_threshold=attn_threshold, tau=tau, input=input, neuron=neuron)
        self.T = T
        self.input = input

        def lif(v_threshold=1.0):
            return make_lif(neuron, tau=tau, v_threshold=v_threshold, detach_reset=True)

        d = embed_dims
        self.patch_embed1 = PatchEmbedInit(in_channels, d // 4, lif=lif)
        self.stage1 = nn.ModuleList([TokenSpikingTransformer(d // 4, num_heads, mlp_ratio, attn_threshold, lif)])
        self.patch_embed2 = PatchEmbeddingStage(d // 2, lif=lif)
        self.stage2 = nn.ModuleList([TokenSpikingTransformer(d // 2, num_heads, mlp_ratio, attn_threshold, lif)])
        self.patch_embed3 = PatchEmbeddingStage(d, lif=lif)
        self.stage3 = nn.ModuleList([SpikingTransformer(d, num_heads, mlp_ratio, scale, attn_threshold, lif)
                                     for _ in range(depths - 2)])
        self.head = nn.Linear(d, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x, hook: Optional[dict] = None):
        if self.input == "events":
            x = x.permute(1, 0, 2, 3, 4)
        else:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        x = self.patch_embed1(x)
        for blk in self.stage1:
            x = blk(x)
        x = self.patch_embed2(x)
        for blk in self.stage2:
            x = blk(x)
        x = self.patch_embed3(x)
        for blk in self.stage3:
            x = blk(x)
        x = x.flatten(3).mean(3).mean(0)
        if hook is not None:
            hook["features"] = x.detach()
        return self.head(x)
