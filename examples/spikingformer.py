"""Spikingformer (Zhou et al., 2023), written the way the authors' public code is written.

Every weight layer is preceded by its own LIF ("SN-ConvBN": ``LIF -> Conv -> BN``), and the residual stream,
laid out ``[T, B, C, H, W]``, carries BatchNorm outputs (reals: the "membrane shortcut"). Semantics (every
LIF is ``neurons.make_lif`` with tau = ``tau``, V_th = 1 unless stated):

* Tokenizer: ``BN(Conv3×3)`` on the analog input (no LIF before it), then four stages
  ``BN(Conv3×3(MaxPool?(LIF(x))))`` with D/4, D/2, D, D channels (the first conv has D/8); a MaxPool(3, 2, 1)
  in stage i+1 when ``stem_pool[i]`` (CIFAR: stages 3, 4; ImageNet and DVS: all four).
* Block: ``x = x + SSA(x); x = x + MLP(x)``.
* SSA: ``s = proj_lif(x)``; ``Q, K, V = LIF(BN(Conv1d_1×1(s)))`` (no bias); ``(Q Kᵀ) V · scale``
  (``attn_order='qk_v'``) or ``Q (Kᵀ V) · scale`` (``'q_kv'``); ``attn_lif`` (V_th = ``attn_threshold``);
  ``proj_bn(proj_conv(.))`` (Conv1d 1×1 with bias). No LIF at the end: the output is real.
* MLP: ``mlp2_bn(mlp2_conv(mlp2_lif(mlp1_bn(mlp1_conv(mlp1_lif(x))))))`` with 1×1 Conv2d (bias).
* Output: ``head(mean over tokens, then mean over T)`` on the real-valued stream; static images are repeated T
  times (``input='static'``), events ``[B, T, C, H, W]`` are permuted to ``[T, B, C, H, W]``.

Spatial sizes in the stem reshapes follow the input (the authors' DVS files hard-code 64, 32, 16 for 128×128
input).

Module names follow the authors: the CIFAR tokenizer (pooling only in some stages) names its layers
``block{i}_conv/bn/lif/mp``; the ImageNet / DVS tokenizer (pooling in every stage) ``proj_conv``, ``proj_bn``,
``proj{i}_lif``, ``maxpool{i}``, ``proj{i}_conv``, ``proj{i}_bn``. The authors' never-called LayerNorms
(``norm1``, ``norm2``) are not built.
"""
from typing import Optional, Sequence

import torch.nn as nn

from .neurons import make_lif

__all__ = ["Spikingformer", "SpikingTokenizer", "SpikingSelfAttention", "MLP", "SpikingTransformer"]


class MLP(nn.Module):
    """``mlp2_bn(mlp2_conv(mlp2_lif(mlp1_bn(mlp1_conv(mlp1_lif(x))))))`` on ``[T, B, C, H, W]``."""

    def __init__(self, in_features, hidden_features, lif=None):
        super().__init__()
        self.mlp1_lif = lif()
        self.mlp1_conv = nn.Conv2d(in_features, hidden_features, kernel_size=1, stride=1)
        self.mlp1_bn = nn.BatchNorm2d(hidden_features)
        self.mlp2_lif = lif()
        self.mlp2_conv = nn.Conv2d(hidden_features, in_features, kernel_size=1, stride=1)
        self.mlp2_bn = nn.BatchNorm2d(in_features)
        self.c_hidden = hidden_features
        self.c_output = in_features

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.mlp1_lif(x)
        x = self.mlp1_conv(x.flatten(0, 1))
        x = self.mlp1_bn(x).reshape(T, B, self.c_hidden, H, W).contiguous()
        x = self.mlp2_lif(x)
        x = self.mlp2_conv(x.flatten(0, 1))
        x = self.mlp2_bn(x).reshape(T, B, C, H, W).contiguous()
        return x


class SpikingSelfAttention(nn.Module):
    """Spikingformer's SSA on ``[T, B, C, H, W]``; see the module docstring."""

    def __init__(self, dim, num_heads, scale=0.125, attn_order="qk_v", attn_threshold=0.5, lif=None):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.dim = dim
        self.num_heads = num_heads
        self.scale = scale
        self.attn_order = attn_order
        self.proj_lif = lif()
        self.q_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.q_bn = nn.BatchNorm1d(dim)
        self.q_lif = lif()
        self.k_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.k_bn = nn.BatchNorm1d(dim)
        self.k_lif = lif()
        self.v_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False)
        self.v_bn = nn.BatchNorm1d(dim)
        self.v_lif = lif()
        self.attn_lif = lif(v_threshold=attn_threshold)
        self.proj_conv = nn.Conv1d(dim, dim, kernel_size=1, stride=1)
        self.proj_bn = nn.BatchNorm1d(dim)

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.proj_lif(x)

        x = x.flatten(3)
        T, B, C, N = x.shape
        x_for_qkv = x.flatten(0, 1)
        q_conv_out = self.q_conv(x_for_qkv)
        q_conv_out = self.q_bn(q_conv_out).reshape(T, B, C, N).contiguous()
        q_conv_out = self.q_lif(q_conv_out)
        q = q_conv_out.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads)
        q = q.permute(0, 1, 3, 2, 4).contiguous()

        k_conv_out = self.k_conv(x_for_qkv)
        k_conv_out = self.k_bn(k_conv_out).reshape(T, B, C, N).contiguous()
        k_conv_out = self.k_lif(k_conv_out)
        k = k_conv_out.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads)
        k = k.permute(0, 1, 3, 2, 4).contiguous()

        v_conv_out = self.v_conv(x_for_qkv)
        v_conv_out = self.v_bn(v_conv_out).reshape(T, B, C, N).contiguous()
        v_conv_out = self.v_lif(v_conv_out)
        v = v_conv_out.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads)
        v = v.permute(0, 1, 3, 2, 4).contiguous()

        if self.attn_order == "qk_v":
            attn = q @ k.transpose(-2, -1)
            x = (attn @ v) * self.scale
        else:
            x = k.transpose(-2, -1) @ v
            x = (q @ x) * self.scale

        x = x.transpose(3, 4).reshape(T, B, C, N).contiguous()
        x = self.attn_lif(x)
        x = x.flatten(0, 1)
        x = self.proj_bn(self.proj_conv(x)).reshape(T, B, C, H, W)
        return x


class SpikingTransformer(nn.Module):
    """``x = x + attn(x); x = x + mlp(x)`` with real-valued x (the LayerNorms are never called: not built)."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, scale=0.125, attn_order="qk_v", attn_threshold=0.5,
                 lif=None):
        super().__init__()
        self.attn = SpikingSelfAttention(dim, num_heads, scale=scale, attn_order=attn_order,
                                         attn_threshold=attn_threshold, lif=lif)
        self.mlp = MLP(dim, int(dim * mlp_ratio), lif=lif)

    def forward(self, x):
        x = x + self.attn(x)
        x = x + self.mlp(x)
        return x


class SpikingTokenizer(nn.Module):
    """``BN(Conv)`` on the analog input, then four ``BN(Conv(MaxPool?(LIF(x))))`` stages (module docstring)."""

    def __init__(self, img_size_h, img_size_w, in_channels, embed_dims, pool=(False, False, True, True), lif=None):
        super().__init__()
        self.image_size = [img_size_h, img_size_w]
        self.pool = tuple(bool(p) for p in pool)
        self.C = in_channels
        self.H = img_size_h // 2 ** sum(self.pool)
        self.W = img_size_w // 2 ** sum(self.pool)
        self.num_patches = self.H * self.W
        # authors' names: ImageNet / DVS files (pool in every stage) vs CIFAR files
        self.names = "proj" if all(self.pool) else "block"
        chans = [in_channels, embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims, embed_dims]
        conv0, bn0 = self._name(0, "conv"), self._name(0, "bn")
        setattr(self, conv0, nn.Conv2d(chans[0], chans[1], kernel_size=3, stride=1, padding=1, bias=False))
        setattr(self, bn0, nn.BatchNorm2d(chans[1]))
        for i in range(1, 5):
            setattr(self, self._name(i, "lif"), lif())
            if self.pool[i - 1]:
                setattr(self, self._name(i, "mp"),
                        nn.MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False))
            setattr(self, self._name(i, "conv"), nn.Conv2d(chans[i], chans[i + 1], kernel_size=3, stride=1,
                                                           padding=1, bias=False))
            setattr(self, self._name(i, "bn"), nn.BatchNorm2d(chans[i + 1]))

    def _name(self, i, kind):
        if self.names == "block":
            return f"block{i}_{kind}"
        if kind == "mp":
            return f"maxpool{i}"
        return f"proj_{kind}" if i == 0 else f"proj{i}_{kind}"

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = getattr(self, self._name(0, "conv"))(x.flatten(0, 1))
        x = getattr(self, self._name(0, "bn"))(x).reshape(T, B, -1, H, W).contiguous()
        for i in range(1, 5):
            x = getattr(self, self._name(i, "lif"))(x).flatten(0, 1).contiguous()
            if self.pool[i - 1]:
                x = getattr(self, self._name(i, "mp"))(x)
                H, W = (H - 1) // 2 + 1, (W - 1) // 2 + 1
            x = getattr(self, self._name(i, "conv"))(x)
            x = getattr(self, self._name(i, "bn"))(x).reshape(T, B, -1, H, W).contiguous()
        return x


class Spikingformer(nn.Module):
    """Spikingformer-L-D: tokenizer, ``depths`` blocks of dimension ``embed_dims``, Linear head.

    ``forward(x, hook=None)``: ``x`` is ``[B, C, H, W]`` (``input='static'``) or ``[B, T, C, H, W]``
    (``input='events'``); returns logits ``[B, num_classes]``. When ``hook`` is a dict, the pooled features fed
    to the head (``[B, D]``) are stored under ``hook['features']``. ``self.config`` holds every constructor
    argument. ``qkv_layer``/``mlp_layer`` are accepted for symmetry with :class:`Spikformer` but only the
    authors' ``'conv1d'``/``'conv2d'`` exist.
    """

    def __init__(self, img_size=32, in_channels=3, num_classes=10, embed_dims=384, num_heads=12, mlp_ratio=4.0,
                 depths=4, T=4, stem_pool: Sequence[bool] = (False, False, True, True), scale=0.125,
                 attn_order="qk_v", attn_threshold=0.5, tau=2.0, qkv_layer="conv1d", mlp_layer="conv2d",
                 input="static", neuron="own"):
        super().__init__()
        img_h, img_w = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if (qkv_layer, mlp_layer) != ("conv1d", "conv2d"):
            raise ValueError("Spikingformer supports only qkv_layer='conv1d', mlp_layer='conv2d' "
                             f"(the authors' layers), got {(qkv_layer, mlp_layer)}")
        if attn_order not in ("qk_v", "q_kv"):
            raise ValueError(f"attn_order must be 'qk_v' or 'q_kv', got {attn_order!r}")
        if input not in ("static", "events"):
            raise ValueError(f"input must be 'static' or 'events', got {input!r}")
        self.config = dict(arch="spikingformer", img_size=img_size if isinstance(img_size, int) else [img_h, img_w],
                           in_channels=in_channels, num_classes=num_classes, embed_dims=embed_dims,
                           num_heads=num_heads, mlp_ratio=mlp_ratio, depths=depths, T=T,
                           stem_pool=[bool(p) for p in stem_pool], scale=scale, attn_order=attn_order,
                           attn_threshold=attn_threshold, tau=tau, qkv_layer=qkv_layer, mlp_layer=mlp_layer,
                           input=input, neuron=neuron)
        self.T = T
        self.num_classes = num_classes
        self.depths = depths
        self.input = input

        def lif(v_threshold=1.0):
            return make_lif(neuron, tau=tau, v_threshold=v_threshold, detach_reset=True)

        self.patch_embed = SpikingTokenizer(img_h, img_w, in_channels, embed_dims, pool=stem_pool, lif=lif)
        self.block = nn.ModuleList([
            SpikingTransformer(embed_dims, num_heads, mlp_ratio=mlp_ratio, scale=scale, attn_order=attn_order,
                               attn_threshold=attn_threshold, lif=lif)
            for _ in range(depths)])
        self.head = nn.Linear(embed_dims, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)

    def forward_features(self, x):
        x = self.patch_embed(x)
        for blk in self.block:
            x = blk(x)
        return x.flatten(3).mean(3)

    def forward(self, x, hook: Optional[dict] = None):
        if self.input == "events":
            x = x.permute(1, 0, 2, 3, 4)  # [T, B, C, H, W]
        else:
            x = (x.unsqueeze(0)).repeat(self.T, 1, 1, 1, 1)
        x = self.forward_features(x)
        x = x.mean(0)
        if hook is not None:
            hook["features"] = x.detach()
        return self.head(x)
