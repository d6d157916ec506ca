"""Spikformer (Zhou et al., ICLR 2023), written the way the authors' public code is written.

Tensors are ``[T, B, ...]``; T is merged into the batch (``flatten(0, 1)``) for Conv/Linear/BatchNorm and split
again (``reshape(T, B, ...)``) for the neurons. Three code paths, chosen by ``(qkv_layer, mlp_layer)``, follow the
authors' three model files:

===========================  ===================  ==========================================================
``qkv_layer`` / ``mlp_layer``  residual stream      authors' file
===========================  ===================  ==========================================================
``linear`` / ``linear``      ``[T, B, N, C]``     ``cifar10/model.py``: ``nn.Linear`` (bias) + BatchNorm1d
                                                  between two transposes, for q/k/v/proj/fc1/fc2
``conv1d`` / ``conv2d``      ``[T, B, C, H, W]``  ``imagenet/model.py``: 1×1 Conv1d q/k/v (no bias), proj
                                                  (bias); 1×1 Conv2d fc1/fc2 (bias) + BatchNorm2d
``conv1d`` / ``conv1d``      ``[T, B, C, N]``     ``cifar10dvs/model.py``: 1×1 Conv1d everywhere
===========================  ===================  ==========================================================

Semantics (every LIF is ``neurons.make_lif``, tau = ``tau``, V_th = 1 unless stated):

* SPS stem: four stages ``LIF(BN(Conv3×3, no bias))`` with D/8, D/4, D/2, D channels, a MaxPool(3, 2, 1) after
  stage i when ``stem_pool[i]``; then ``x = rpe_lif(rpe_bn(rpe_conv(x))) + x_feat`` (x_feat = the pooled spikes),
  so the stream enters block 0 with values in {0, 1, 2}.
* Block: ``x = x + SSA(x); x = x + MLP(x)``: a residual stream that is a sum of spike trains (integers).
* SSA: ``Q, K, V = LIF(BN(W·x))`` per head; ``(Q Kᵀ) V · scale`` (``attn_order='qk_v'``) or ``Q (Kᵀ V) · scale``
  (``'q_kv'``); ``attn_lif`` with V_th = ``attn_threshold``; then ``proj_lif(proj_bn(proj(x)))``.
* MLP: ``fc2_lif(fc2_bn(fc2(fc1_lif(fc1_bn(fc1(x))))))``, hidden = ``mlp_ratio``·D.
* Output: ``head(mean over tokens, then mean over T)``; static images are repeated T times
  (``input='static'``), event input ``[B, T, C, H, W]`` is permuted to ``[T, B, C, H, W]`` (``input='events'``).

Spatial sizes in the stem reshapes follow the input (the authors' DVS files hard-code 64, 32, 16 for 128×128
input).

Not built: the authors' ``Block.norm1/norm2`` LayerNorms (and the DVS model's final ``norm``), its DVS
``res_lif`` and ``attn_drop``: they are constructed but never called. Built although unused: the DVS model's
``pos_embed`` (``pos_embed=True``), because the published DVS parameter count includes it.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn

from .neurons import make_lif

__all__ = ["Spikformer", "SPS", "SSA", "MLP", "Block"]


class MLP(nn.Module):
    """``fc2_lif(fc2_bn(fc2(fc1_lif(fc1_bn(fc1(x))))))`` with layer kind ``'linear'``, ``'conv2d'`` or ``'conv1d'``."""

    def __init__(self, in_features, hidden_features, layer="linear", lif=None):
        super().__init__()
        self.layer = layer
        if layer == "linear":
            self.fc1_linear = nn.Linear(in_features, hidden_features)
            self.fc1_bn = nn.BatchNorm1d(hidden_features)
        elif layer == "conv2d":
            self.fc1_conv = nn.Conv2d(in_features, hidden_features, kernel_size=1, stride=1)
            self.fc1_bn = nn.BatchNorm2d(hidden_features)
        else:
            self.fc1_conv = nn.Conv1d(in_features, hidden_features, kernel_size=1, stride=1)
            self.fc1_bn = nn.BatchNorm1d(hidden_features)
        self.fc1_lif = lif()
        if layer == "linear":
            self.fc2_linear = nn.Linear(hidden_features, in_features)
            self.fc2_bn = nn.BatchNorm1d(in_features)
        elif layer == "conv2d":
            self.fc2_conv = nn.Conv2d(hidden_features, in_features, kernel_size=1, stride=1)
            self.fc2_bn = nn.BatchNorm2d(in_features)
        else:
            self.fc2_conv = nn.Conv1d(hidden_features, in_features, kernel_size=1, stride=1)
            self.fc2_bn = nn.BatchNorm1d(in_features)
        self.fc2_lif = lif()
        self.c_hidden = hidden_features
        self.c_output = in_features

    def forward(self, x):
        if self.layer == "linear":  # x: [T, B, N, C]
            T, B, N, C = x.shape
            x_ = x.flatten(0, 1)
            x = self.fc1_linear(x_)
            x = self.fc1_bn(x.transpose(-1, -2)).transpose(-1, -2).reshape(T, B, N, self.c_hidden).contiguous()
            x = self.fc1_lif(x)
            x = self.fc2_linear(x.flatten(0, 1))
            x = self.fc2_bn(x.transpose(-1, -2)).transpose(-1, -2).reshape(T, B, N, C).contiguous()
            x = self.fc2_lif(x)
            return x
        if self.layer == "conv2d":  # x: [T, B, C, H, W]
            T, B, C, H, W = x.shape
            x = self.fc1_conv(x.flatten(0, 1))
            x = self.fc1_bn(x).reshape(T, B, self.c_hidden, H, W).contiguous()
            x = self.fc1_lif(x)
            x = self.fc2_conv(x.flatten(0, 1))
            x = self.fc2_bn(x).reshape(T, B, C, H, W).contiguous()
            x = self.fc2_lif(x)
            return x
        T, B, C, N = x.shape  # x: [T, B, C, N]
        x = self.fc1_conv(x.flatten(0, 1))
        x = self.fc1_bn(x).reshape(T, B, self.c_hidden, N).contiguous()
        x = self.fc1_lif(x)
        x = self.fc2_conv(x.flatten(0, 1))
        x = self.fc2_bn(x).reshape(T, B, C, N).contiguous()
        x = self.fc2_lif(x)
        return x


class SSA(nn.Module):
    """Spiking self-attention; see the module docstring. ``stream`` is ``'tbnc'``, ``'tbchw'`` or ``'tbcn'``."""

    def __init__(self, dim, num_heads, qkv_layer="linear", stream="tbnc", scale=0.125, attn_order="qk_v",
                 attn_threshold=0.5, lif=None):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.dim = dim
        self.num_heads = num_heads
        self.scale = scale
        self.attn_order = attn_order
        self.stream = stream
        if qkv_layer == "linear":
            self.q_linear = nn.Linear(dim, dim)
            self.q_bn = nn.BatchNorm1d(dim)
            self.q_lif = lif()
            self.k_linear = nn.Linear(dim, dim)
            self.k_bn = nn.BatchNorm1d(dim)
            self.k_lif = lif()
            self.v_linear = nn.Linear(dim, dim)
            self.v_bn = nn.BatchNorm1d(dim)
            self.v_lif = lif()
            self.attn_lif = lif(v_threshold=attn_threshold)
            self.proj_linear = nn.Linear(dim, dim)
        else:
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
        self.proj_lif = lif()

    def forward(self, x):
        if self.stream == "tbnc":
            return self._forward_linear(x)
        return self._forward_conv(x)

    def _forward_linear(self, x):
        T, B, N, C = x.shape
        x_for_qkv = x.flatten(0, 1)  # TB, N, C
        q_linear_out = self.q_linear(x_for_qkv)
        q_linear_out = self.q_bn(q_linear_out.transpose(-1, -2)).transpose(-1, -2).reshape(T, B, N, C).contiguous()
        q_linear_out = self.q_lif(q_linear_out)
        q = q_linear_out.reshape(T, B, N, self.num_heads, C // self.num_heads).permute(0, 1, 3, 2, 4).contiguous()

        # (T, B, C, N) below is the authors' reshape: the same memory order, reinterpreted; the LIF is
        # element-wise, so the next reshape restores [T, B, N, heads, C/heads] exactly.
        k_linear_out = self.k_linear(x_for_qkv)
        k_linear_out = self.k_bn(k_linear_out.transpose(-1, -2)).transpose(-1, -2).reshape(T, B, C, N).contiguous()
        k_linear_out = self.k_lif(k_linear_out)
        k = k_linear_out.reshape(T, B, N, self.num_heads, C // self.num_heads).permute(0, 1, 3, 2, 4).contiguous()

        v_linear_out = self.v_linear(x_for_qkv)
        v_linear_out = self.v_bn(v_linear_out.transpose(-1, -2)).transpose(-1, -2).reshape(T, B, C, N).contiguous()
        v_linear_out = self.v_lif(v_linear_out)
        v = v_linear_out.reshape(T, B, N, self.num_heads, C // self.num_heads).permute(0, 1, 3, 2, 4).contiguous()

        if self.attn_order == "qk_v":
            attn = (q @ k.transpose(-2, -1)) * self.scale
            x = attn @ v
        else:
            x = k.transpose(-2, -1) @ v
            x = (q @ x) * self.scale
        x = x.transpose(2, 3).reshape(T, B, N, C).contiguous()
        x = self.attn_lif(x)
        x = x.flatten(0, 1)
        x = self.proj_lif(self.proj_bn(self.proj_linear(x).transpose(-1, -2)).transpose(-1, -2).reshape(T, B, N, C))
        return x

    def _forward_conv(self, x):
        if self.stream == "tbchw":
            T, B, C, H, W = x.shape
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
        if self.stream == "tbchw":
            return self.proj_lif(self.proj_bn(self.proj_conv(x)).reshape(T, B, C, H, W))
        return self.proj_lif(self.proj_bn(self.proj_conv(x)).reshape(T, B, C, N))


class Block(nn.Module):
    """``x = x + attn(x); x = x + mlp(x)`` (the authors' LayerNorms are never called and are not built)."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_layer="linear", mlp_layer="linear", stream="tbnc",
                 scale=0.125, attn_order="qk_v", attn_threshold=0.5, lif=None):
        super().__init__()
        self.attn = SSA(dim, num_heads, qkv_layer=qkv_layer, stream=stream, scale=scale, attn_order=attn_order,
                        attn_threshold=attn_threshold, lif=lif)
        self.mlp = MLP(dim, int(dim * mlp_ratio), layer=mlp_layer, lif=lif)

    def forward(self, x):
        x_attn = self.attn(x)
        x = x + x_attn
        x = x + self.mlp(x)
        return x


class SPS(nn.Module):
    """Spiking patch splitting: 4 × ``LIF(BN(Conv3×3))`` (+ MaxPool where ``pool[i]``), then the RPE branch
    ``rpe_lif(rpe_bn(rpe_conv(x))) + x`` (see the module docstring). Output laid out as ``stream``."""

    def __init__(self, img_size_h, img_size_w, in_channels, embed_dims, pool=(False, False, True, True),
                 stream="tbnc", lif=None):
        super().__init__()
        self.image_size = [img_size_h, img_size_w]
        self.pool = tuple(bool(p) for p in pool)
        self.stream = stream
        self.C = in_channels
        self.H = img_size_h // 2 ** sum(self.pool)
        self.W = img_size_w // 2 ** sum(self.pool)
        self.num_patches = self.H * self.W
        chans = [in_channels, embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims]
        for i in range(4):
            sfx = "" if i == 0 else str(i)
            setattr(self, f"proj_conv{sfx}", nn.Conv2d(chans[i], chans[i + 1], kernel_size=3, stride=1, padding=1,
                                                      bias=False))
            setattr(self, f"proj_bn{sfx}", nn.BatchNorm2d(chans[i + 1]))
            setattr(self, f"proj_lif{sfx}", lif())
            if self.pool[i]:
                setattr(self, f"maxpool{sfx}",
                        nn.MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False))
        self.rpe_conv = nn.Conv2d(embed_dims, embed_dims, kernel_size=3, stride=1, padding=1, bias=False)
        self.rpe_bn = nn.BatchNorm2d(embed_dims)
        self.rpe_lif = lif()

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = x.flatten(0, 1)
        for i in range(4):
            sfx = "" if i == 0 else str(i)
            x = getattr(self, f"proj_conv{sfx}")(x)
            x = getattr(self, f"proj_bn{sfx}")(x).reshape(T, B, -1, H, W).contiguous()
            x = getattr(self, f"proj_lif{sfx}")(x).flatten(0, 1).contiguous()
            if self.pool[i]:
                x = getattr(self, f"maxpool{sfx}")(x)
                H, W = (H - 1) // 2 + 1, (W - 1) // 2 + 1

        x_feat = x.reshape(T, B, -1, H, W).contiguous()
        x = self.rpe_conv(x)
        x = self.rpe_bn(x).reshape(T, B, -1, H, W).contiguous()
        x = self.rpe_lif(x)
        x = x + x_feat

        if self.stream == "tbnc":
            return x.flatten(-2).transpose(-1, -2)  # T, B, N, C
        if self.stream == "tbcn":
            return x.reshape(T, B, -1, H * W).contiguous()  # T, B, C, N
        return x  # T, B, C, H, W


_STREAMS = {("linear", "linear"): "tbnc", ("conv1d", "conv2d"): "tbchw", ("conv1d", "conv1d"): "tbcn"}


class Spikformer(nn.Module):
    """Spikformer-L-D: SPS stem, ``depths`` blocks of dimension ``embed_dims``, Linear head.

    ``forward(x, hook=None)``: ``x`` is ``[B, C, H, W]`` (``input='static'``) or ``[B, T, C, H, W]``
    (``input='events'``); returns logits ``[B, num_classes]``. When ``hook`` is a dict, the pooled features fed
    to the head (``[B, D]``) are stored under ``hook['features']``. ``self.config`` holds every constructor
    argument, so ``Spikformer(**model.config)`` rebuilds the architecture.
    """

    def __init__(self, img_size=32, in_channels=3, num_classes=10, embed_dims=384, num_heads=12, mlp_ratio=4.0,
                 depths=4, T=4, stem_pool: Sequence[bool] = (False, False, True, True), scale=0.125,
                 attn_order="qk_v", attn_threshold=0.5, tau=2.0, qkv_layer="linear", mlp_layer="linear",
                 input="static", pos_embed=False, neuron="own"):
        super().__init__()
        img_h, img_w = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if (qkv_layer, mlp_layer) not in _STREAMS:
            raise ValueError(f"unsupported (qkv_layer, mlp_layer) = {(qkv_layer, mlp_layer)}; "
                             f"expected one of {sorted(_STREAMS)}")
        if attn_order not in ("qk_v", "q_kv"):
            raise ValueError(f"attn_order must be 'qk_v' or 'q_kv', got {attn_order!r}")
        if input not in ("static", "events"):
            raise ValueError(f"input must be 'static' or 'events', got {input!r}")
        self.config = dict(arch="spikformer", img_size=img_size if isinstance(img_size, int) else [img_h, img_w],
                           in_channels=in_channels, num_classes=num_classes, embed_dims=embed_dims,
                           num_heads=num_heads, mlp_ratio=mlp_ratio, depths=depths, T=T,
                           stem_pool=[bool(p) for p in stem_pool], scale=scale, attn_order=attn_order,
                           attn_threshold=attn_threshold, tau=tau, qkv_layer=qkv_layer, mlp_layer=mlp_layer,
                           input=input, pos_embed=bool(pos_embed), neuron=neuron)
        self.T = T
        self.num_classes = num_classes
        self.depths = depths
        self.input = input
        stream = _STREAMS[(qkv_layer, mlp_layer)]
        self.stream = stream

        def lif(v_threshold=1.0):
            return make_lif(neuron, tau=tau, v_threshold=v_threshold, detach_reset=True)

        self.patch_embed = SPS(img_h, img_w, in_channels, embed_dims, pool=stem_pool, stream=stream, lif=lif)
        if pos_embed:  # built by the authors' DVS model, never used in forward
            self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches, embed_dims))
        self.block = nn.ModuleList([
            Block(embed_dims, num_heads, mlp_ratio=mlp_ratio, qkv_layer=qkv_layer, mlp_layer=mlp_layer,
                  stream=stream, scale=scale, attn_order=attn_order, attn_threshold=attn_threshold, lif=lif)
            for _ in range(depths)])
        self.head = nn.Linear(embed_dims, num_classes) if num_classes > 0 else nn.Identity()
        if pos_embed:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
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
        if self.stream == "tbnc":
            return x.mean(2)
        if self.stream == "tbcn":
            return x.mean(3)
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
