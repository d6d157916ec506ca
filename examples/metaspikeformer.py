"""Meta-SpikeFormer / Spike-driven Transformer V2 (Yao et al., ICLR 2024) style blocks, small.

The authors' metaformer layout on ``[T, B, C, H, W]`` (T merged into the batch for Conv/BatchNorm), with a
membrane residual stream (reals) and a LIF before every weight layer except inside the separable convolution,
whose depthwise and second pointwise convolutions follow each other with no neuron between (only a BatchNorm):

* ``downsample_i``: ``BN(Conv(LIF(x)))`` (the first one reads the analog input without a LIF), stride 2 or 1.
* Conv stage (``MS_ConvBlock``): ``x = x + SepConv(x)`` with
  ``SepConv = BN(pwconv2(BN(dwconv(LIF(BN(pwconv1(LIF(x))))))))`` (pwconv1 expands 2×, dwconv k×k depthwise);
  then ``x = x + BN(conv2(LIF(BN(conv1(LIF(x))))))`` (3×3 convolutions, ``mlp_ratio`` hidden expansion).
* Transformer stage (``MS_Block``): spike-driven self-attention V2 ``x = x + BN(proj(attn_lif(Q (Kᵀ V) ·
  scale)))`` with ``Q, K, V = LIF(BN(Conv1×1(LIF(x))))`` (the authors use RepConv for Q/K/V; 1×1 here),
  ``attn_lif`` V_th = ``attn_threshold``; then a 1×1 conv MLP with its LIFs, ``x = x + MLP(x)``.
* Head: mean over tokens, ``head_lif``, Linear per step, mean over T.

Not reproduced: the published ImageNet configurations (15.1 M / 31.3 M / 55.4 M parameters: four stages,
RepConv Q/K/V, channel widths 64..640); :data:`snncompile.examples.presets.PRESETS` has only the small
``digits`` preset for this family.
"""
from typing import Optional, Sequence

import torch.nn as nn

from .neurons import make_lif

__all__ = ["MetaSpikeFormer", "SepConv", "MS_ConvBlock", "MS_Block", "MS_DownSampling"]


class MS_DownSampling(nn.Module):
    """``BN(Conv(LIF(x)))``; no LIF on the analog input (``first_layer``)."""

    def __init__(self, cin, cout, kernel_size=3, stride=2, first_layer=False, lif=None):
        super().__init__()
        self.encode_lif = None if first_layer else lif()
        self.encode_conv = nn.Conv2d(cin, cout, kernel_size=kernel_size, stride=stride, padding=kernel_size // 2)
        self.encode_bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        T, B = x.shape[:2]
        if self.encode_lif is not None:
            x = self.encode_lif(x)
        x = self.encode_bn(self.encode_conv(x.flatten(0, 1)))
        return x.reshape(T, B, *x.shape[1:]).contiguous()


class SepConv(nn.Module):
    """Inverted separable convolution: pwconv1 → BN → LIF → dwconv → BN → pwconv2 → BN (LIF first)."""

    def __init__(self, dim, expansion_ratio=2, kernel_size=7, lif=None):
        super().__init__()
        med = int(expansion_ratio * dim)
        self.lif1 = lif()
        self.pwconv1 = nn.Conv2d(dim, med, kernel_size=1, stride=1, bias=False)
        self.bn1 = nn.BatchNorm2d(med)
        self.lif2 = lif()
        self.dwconv = nn.Conv2d(med, med, kernel_size=kernel_size, padding=kernel_size // 2, groups=med, bias=False)
        self.bn2 = nn.BatchNorm2d(med)
        self.pwconv2 = nn.Conv2d(med, dim, kernel_size=1, stride=1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.lif1(x)
        x = self.bn1(self.pwconv1(x.flatten(0, 1))).reshape(T, B, -1, H, W)
        x = self.lif2(x)
        x = self.bn2(self.dwconv(x.flatten(0, 1)))
        x = self.bn3(self.pwconv2(x))          # no neuron between dwconv and pwconv2
        return x.reshape(T, B, C, H, W)


class MS_ConvBlock(nn.Module):
    """``x + SepConv(x)``, then ``x + BN(conv2(LIF(BN(conv1(LIF(x))))))``."""

    def __init__(self, dim, mlp_ratio=4.0, kernel_size=7, lif=None):
        super().__init__()
        self.Conv = SepConv(dim, kernel_size=kernel_size, lif=lif)
        hidden = int(dim * mlp_ratio)
        self.lif1 = lif()
        self.conv1 = nn.Conv2d(dim, hidden, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.lif2 = lif()
        self.conv2 = nn.Conv2d(hidden, dim, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.Conv(x) + x
        x_feat = x
        x = self.bn1(self.conv1(self.lif1(x).flatten(0, 1))).reshape(T, B, -1, H, W)
        x = self.bn2(self.conv2(self.lif2(x).flatten(0, 1))).reshape(T, B, C, H, W)
        return x_feat + x


class MS_Attention(nn.Module):
    """SDSA-V2: ``BN(proj(attn_lif(Q (Kᵀ V) · scale)))`` with Q, K, V from ``LIF(BN(Conv1×1(LIF(x))))``."""

    def __init__(self, dim, num_heads=8, scale=0.125, attn_threshold=0.5, lif=None):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.num_heads = num_heads
        self.scale = scale
        self.head_lif = lif()
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", nn.Conv2d(dim, dim, kernel_size=1, bias=False))
            setattr(self, f"{name}_bn", nn.BatchNorm2d(dim))
            setattr(self, f"{name}_lif", lif())
        self.attn_lif = lif(v_threshold=attn_threshold)
        self.proj_conv = nn.Conv2d(dim, dim, kernel_size=1, bias=False)
        self.proj_bn = nn.BatchNorm2d(dim)

    def _heads(self, name, x, T, B, C, H, W):
        x = getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(x)).reshape(T, B, C, H, W)
        x = getattr(self, f"{name}_lif")(x)
        return x.flatten(3).transpose(-1, -2).reshape(T, B, H * W, self.num_heads, C // self.num_heads) \
            .permute(0, 1, 3, 2, 4).contiguous()

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.head_lif(x).flatten(0, 1)
        q, k, v = (self._heads(n, x, T, B, C, H, W) for n in ("q", "k", "v"))
        x = (q @ (k.transpose(-2, -1) @ v)) * self.scale
        x = x.transpose(3, 4).reshape(T, B, C, H, W).contiguous()
        x = self.attn_lif(x)
        return self.proj_bn(self.proj_conv(x.flatten(0, 1))).reshape(T, B, C, H, W)


class MS_MLP(nn.Module):
    """``fc2_bn(fc2_conv(fc2_lif(fc1_bn(fc1_conv(fc1_lif(x))))))`` with 1×1 Conv2d."""

    def __init__(self, dim, hidden, lif=None):
        super().__init__()
        self.fc1_lif = lif()
        self.fc1_conv = nn.Conv2d(dim, hidden, kernel_size=1)
        self.fc1_bn = nn.BatchNorm2d(hidden)
        self.fc2_lif = lif()
        self.fc2_conv = nn.Conv2d(hidden, dim, kernel_size=1)
        self.fc2_bn = nn.BatchNorm2d(dim)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.fc1_bn(self.fc1_conv(self.fc1_lif(x).flatten(0, 1))).reshape(T, B, -1, H, W)
        return self.fc2_bn(self.fc2_conv(self.fc2_lif(x).flatten(0, 1))).reshape(T, B, C, H, W)


class MS_Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, scale=0.125, attn_threshold=0.5, lif=None):
        super().__init__()
        self.attn = MS_Attention(dim, num_heads, scale, attn_threshold, lif=lif)
        self.mlp = MS_MLP(dim, int(dim * mlp_ratio), lif=lif)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class MetaSpikeFormer(nn.Module):
    """Two conv stages and one transformer stage (module docstring); ``forward(x, hook=None)``.

    ``embed_dims``: channels of the three stages; ``strides``: of the three down-samplings."""

    def __init__(self, img_size=16, in_channels=1, num_classes=10, embed_dims: Sequence[int] = (16, 32, 64),
                 strides: Sequence[int] = (2, 2, 1), num_heads=4, mlp_ratio=4.0, conv_mlp_ratio=2.0, kernel_size=7,
                 depths: Sequence[int] = (1, 1, 1), T=4, scale=0.125, attn_threshold=0.5, tau=2.0,
                 input="static", neuron="own"):
        super().__init__()
        self.config = dict(arch="metaspikeformer", img_size=img_size, in_channels=in_channels,
                           num_classes=num_classes, embed_dims=list(embed_dims), strides=list(strides),
                           num_heads=num_heads, mlp_ratio=mlp_ratio, conv_mlp_ratio=conv_mlp_ratio,
                           kernel_size=kernel_size, depths=list(depths), T=T, scale=scale,
                           attn_threshold=attn_threshold, tau=tau, input=input, neuron=neuron)
        self.T = T
        self.input = input

        def lif(v_threshold=1.0):
            return make_lif(neuron, tau=tau, v_threshold=v_threshold, detach_reset=True)

        c1, c2, c3 = embed_dims
        self.downsample1 = MS_DownSampling(in_channels, c1, stride=strides[0], first_layer=True, lif=lif)
        self.ConvBlock1 = nn.ModuleList([MS_ConvBlock(c1, conv_mlp_ratio, kernel_size, lif) for _ in range(depths[0])])
        self.downsample2 = MS_DownSampling(c1, c2, stride=strides[1], lif=lif)
        self.ConvBlock2 = nn.ModuleList([MS_ConvBlock(c2, conv_mlp_ratio, kernel_size, lif) for _ in range(depths[1])])
        self.downsample3 = MS_DownSampling(c2, c3, stride=strides[2], lif=lif)
        self.block3 = nn.ModuleList([MS_Block(c3, num_heads, mlp_ratio, scale, attn_threshold, lif)
                                     for _ in range(depths[2])])
        self.head_lif = lif()
        self.head = nn.Linear(c3, num_classes)

    def forward(self, x, hook: Optional[dict] = None):
        if self.input == "events":
            x = x.permute(1, 0, 2, 3, 4)
        else:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        x = self.downsample1(x)
        for blk in self.ConvBlock1:
            x = blk(x)
        x = self.downsample2(x)
        for blk in self.ConvBlock2:
            x = blk(x)
        x = self.downsample3(x)
        for blk in self.block3:
            x = blk(x)
        x = self.head_lif(x.flatten(3).mean(3))
        if hook is not None:
            hook["features"] = x.mean(0).detach()
        return self.head(x).mean(0)
