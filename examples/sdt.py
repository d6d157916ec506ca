"""Spike-driven Transformer (Yao et al., NeurIPS 2023), written the way the authors' public code is written.

Tensors are ``[T, B, C, H, W]``; T is merged into the batch (``flatten(0, 1)``) for Conv/BatchNorm. The
residual stream carries membrane potentials (BatchNorm outputs, reals): every block starts with a LIF
("membrane shortcut"), so every weight layer after the stem sees binary spikes. Semantics (every LIF is
``neurons.make_lif`` with tau = ``tau``, V_th = 1 unless stated):

* MS-SPS stem: ``BN(Conv3×3)`` on the analog input, then three stages ``BN(Conv3×3(LIF(x)))`` with D/4, D/2,
  D channels (the first conv has D/8), MaxPool(3, 2, 1) after the BN of stage i when ``stem_pool[i]``; then a
  relative position embedding on the membrane: ``x = x + rpe_bn(rpe_conv(rpe_lif(x)))``.
* SDSA (spike-driven self-attention, the authors' ``MS_SSA_Conv``):
  ``s = shortcut_lif(x)``; ``Q, K, V = LIF(BN(Conv1×1(s)))`` (no bias), split in heads ``[T, B, h, N, C/h]``;
  ``kv = SN(Σ_tokens K ⊙ V)`` with ``talking_heads_lif`` (V_th = ``attn_threshold``, 0.5 in the paper);
  ``out = Q ⊙ kv`` (a spike × spike product: an AND); ``x = x + proj_bn(proj_conv(out))``.
* MLP: ``x = x + fc2_bn(fc2_conv(fc2_lif(fc1_bn(fc1_conv(fc1_lif(x))))))`` with 1×1 Conv2d (bias).
* Head: mean over tokens of the membrane, ``head_lif``, ``Linear`` per step, mean over T.

Static images are repeated T times (``input='static'``); events ``[B, T, C, H, W]`` are permuted to
``[T, B, C, H, W]``.
"""
from typing import Optional, Sequence

import torch.nn as nn

from .neurons import make_lif

__all__ = ["SpikeDrivenTransformer", "MS_SPS", "MS_SSA_Conv", "MS_MLP_Conv", "MS_Block_Conv"]


class MS_MLP_Conv(nn.Module):
    """``x + fc2_bn(fc2_conv(fc2_lif(fc1_bn(fc1_conv(fc1_lif(x))))))`` on ``[T, B, C, H, W]``."""

    def __init__(self, in_features, hidden_features, lif=None):
        super().__init__()
        self.fc1_lif = lif()
        self.fc1_conv = nn.Conv2d(in_features, hidden_features, kernel_size=1, stride=1)
        self.fc1_bn = nn.BatchNorm2d(hidden_features)
        self.fc2_lif = lif()
        self.fc2_conv = nn.Conv2d(hidden_features, in_features, kernel_size=1, stride=1)
        self.fc2_bn = nn.BatchNorm2d(in_features)
        self.c_hidden = hidden_features

    def forward(self, x):
        T, B, C, H, W = x.shape
        identity = x
        x = self.fc1_lif(x)
        x = self.fc1_bn(self.fc1_conv(x.flatten(0, 1))).reshape(T, B, self.c_hidden, H, W).contiguous()
        x = self.fc2_lif(x)
        x = self.fc2_bn(self.fc2_conv(x.flatten(0, 1))).reshape(T, B, C, H, W).contiguous()
        return x + identity


class MS_SSA_Conv(nn.Module):
    """Spike-driven self-attention (SDSA) with its membrane shortcut; see the module docstring."""

    def __init__(self, dim, num_heads=8, attn_threshold=0.5, lif=None):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.dim = dim
        self.num_heads = num_heads
        self.shortcut_lif = lif()
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", nn.Conv2d(dim, dim, kernel_size=1, stride=1, bias=False))
            setattr(self, f"{name}_bn", nn.BatchNorm2d(dim))
            setattr(self, f"{name}_lif", lif())
        self.talking_heads_lif = lif(v_threshold=attn_threshold)
        self.proj_conv = nn.Conv2d(dim, dim, kernel_size=1, stride=1)
        self.proj_bn = nn.BatchNorm2d(dim)

    def _heads(self, name, x, T, B, C, H, W):
        x = getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(x)).reshape(T, B, C, H, W).contiguous()
        x = getattr(self, f"{name}_lif")(x)
        return (x.flatten(3).transpose(-1, -2).reshape(T, B, H * W, self.num_heads, C // self.num_heads)
                .permute(0, 1, 3, 2, 4).contiguous())  # T B heads N C/h

    def forward(self, x):
        T, B, C, H, W = x.shape
        identity = x
        x = self.shortcut_lif(x)
        x_for_qkv = x.flatten(0, 1)
        q = self._heads("q", x_for_qkv, T, B, C, H, W)
        k = self._heads("k", x_for_qkv, T, B, C, H, W)
        v = self._heads("v", x_for_qkv, T, B, C, H, W)

        kv = k.mul(v)                        # spike AND spike
        kv = kv.sum(dim=-2, keepdim=True)    # column sum over the tokens: T B heads 1 C/h
        kv = self.talking_heads_lif(kv)
        x = q.mul(kv)                        # spike mask on Q

        x = x.transpose(3, 4).reshape(T, B, C, H, W).contiguous()
        x = self.proj_bn(self.proj_conv(x.flatten(0, 1))).reshape(T, B, C, H, W).contiguous()
        return x + identity


class MS_Block_Conv(nn.Module):
    """``mlp(attn(x))``: both add their own (membrane) shortcut."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, attn_threshold=0.5, lif=None):
        super().__init__()
        self.attn = MS_SSA_Conv(dim, num_heads=num_heads, attn_threshold=attn_threshold, lif=lif)
        self.mlp = MS_MLP_Conv(dim, int(dim * mlp_ratio), lif=lif)

    def forward(self, x):
        return self.mlp(self.attn(x))


class MS_SPS(nn.Module):
    """Membrane-shortcut spiking patch splitting; see the module docstring."""

    def __init__(self, img_size_h, img_size_w, in_channels, embed_dims, pool=(False, False, True, True), lif=None):
        super().__init__()
        self.pool = tuple(bool(p) for p in pool)
        self.H = img_size_h // 2 ** sum(self.pool)
        self.W = img_size_w // 2 ** sum(self.pool)
        self.num_patches = self.H * self.W
        chans = [in_channels, embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims]
        for i in range(4):
            suffix = "" if i == 0 else str(i)
            if i > 0:
                setattr(self, f"proj_lif{suffix}", lif())
            setattr(self, f"proj_conv{suffix}", nn.Conv2d(chans[i], chans[i + 1], kernel_size=3, stride=1,
                                                          padding=1, bias=False))
            setattr(self, f"proj_bn{suffix}", nn.BatchNorm2d(chans[i + 1]))
            if self.pool[i]:
                setattr(self, f"maxpool{suffix}", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.rpe_lif = lif()
        self.rpe_conv = nn.Conv2d(embed_dims, embed_dims, kernel_size=3, stride=1, padding=1, bias=False)
        self.rpe_bn = nn.BatchNorm2d(embed_dims)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = x.flatten(0, 1)
        for i in range(4):
            suffix = "" if i == 0 else str(i)
            if i > 0:
                x = getattr(self, f"proj_lif{suffix}")(x.reshape(T, B, -1, H, W).contiguous()).flatten(0, 1)
            x = getattr(self, f"proj_bn{suffix}")(getattr(self, f"proj_conv{suffix}")(x))
            if self.pool[i]:
                x = getattr(self, f"maxpool{suffix}")(x)
                H, W = (H - 1) // 2 + 1, (W - 1) // 2 + 1
        x = x.reshape(T, B, -1, H, W).contiguous()
        x_feat = x
        x = self.rpe_lif(x)
        x = self.rpe_bn(self.rpe_conv(x.flatten(0, 1))).reshape(T, B, -1, H, W).contiguous()
        return x + x_feat


class SpikeDrivenTransformer(nn.Module):
    """Spike-driven Transformer-L-D: MS-SPS, ``depths`` blocks, head LIF + Linear; ``forward(x, hook=None)``
    as :class:`snncompile.examples.spikformer.Spikformer` (``hook['features']``: the head LIF's rate)."""

    def __init__(self, img_size=32, in_channels=3, num_classes=10, embed_dims=512, num_heads=8, mlp_ratio=4.0,
                 depths=2, T=4, stem_pool: Sequence[bool] = (False, False, True, True), attn_threshold=0.5,
                 tau=2.0, input="static", neuron="own"):
        super().__init__()
        if input not in ("static", "events"):
            raise ValueError(f"input must be 'static' or 'events', got {input!r}")
        self.config = dict(arch="sdt", img_size=img_size, in_channels=in_channels, num_classes=num_classes,
                           embed_dims=embed_dims, num_heads=num_heads, mlp_ratio=mlp_ratio, depths=depths, T=T,
                           stem_pool=[bool(p) for p in stem_pool], attn_threshold=attn_threshold, tau=tau,
                           input=input, neuron=neuron)
        self.T = T
        self.input = input

        def lif(v_threshold=1.0):
            return make_lif(neuron, tau=tau, v_threshold=v_threshold, detach_reset=True)

        self.patch_embed = MS_SPS(img_size, img_size, in_channels, embed_dims, pool=stem_pool, lif=lif)
        self.block = nn.ModuleList([MS_Block_Conv(embed_dims, num_heads, mlp_ratio, attn_threshold, lif=lif)
                                    for _ in range(depths)])
        self.head_lif = lif()
        self.head = nn.Linear(embed_dims, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x, hook: Optional[dict] = None):
        if self.input == "events":
            x = x.permute(1, 0, 2, 3, 4)  # [T, B, C, H, W]
        else:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        x = self.patch_embed(x)
        for blk in self.block:
            x = blk(x)
        x = x.flatten(3).mean(3)          # T B C: membrane averaged over the tokens
        x = self.head_lif(x)
        if hook is not None:
            hook["features"] = x.mean(0).detach()
        return self.head(x).mean(0)
