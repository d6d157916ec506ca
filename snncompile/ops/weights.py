"""Weight layers (``linear``, ``conv1d``, ``conv2d``) and ``batch_norm``.

A weight layer computes ``y = W ⊛ x + b`` with constant ``W``, ``b``.  Its arithmetic is decided
by the domain of ``x``: binary → each spike adds a column of ``W`` (accumulates, ACs); a non-binary
integer → integer × float multiplications; real → MACs.  Structural FLOPs count, per output
element, the ``K = C_in/groups · Π kernel`` products plus one bias add when there is a bias —
the convention of the papers' energy logs.

``batch_norm`` (inference) is the per-channel affine map on axis 1:
``y = (x − μ) / √(σ² + ε) · γ + β``; it folds into an adjacent weight layer or threshold.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir.domain import Domain
from ..ir.graph import Graph, Node
from .registry import Cost, LinearMap, WeightLayer, input_domain_kind, nonzero_mask, op


def _weight_cost(node: Node, graph: Graph) -> Cost:
    x, w = graph.values[node.inputs[0]], graph.values[node.inputs[1]]
    out = graph.values[node.outputs[0]]
    fan_in = int(np.prod(w.shape[1:]))  # linear: in_features; conv: C_in/groups · kernel
    bias = 1 if len(node.inputs) > 2 else 0
    kind = input_domain_kind(x.domain) if x.domain is not None else "mac"
    return Cost(kind, out.numel * (fan_in + bias), weight_layer=True)


def _weight_domain(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    """``W·x + b`` over bounded x: an interval from the weights' row sums of |W| (sound)."""
    x = domains[0]
    w = graph.constants.get(node.inputs[1])
    if w is None or not np.isfinite([x.lo, x.hi]).all():
        return [Domain.real()]
    rows = w.reshape(w.shape[0], -1).astype(np.float64)
    pos, neg = np.clip(rows, 0, None).sum(1), np.clip(rows, None, 0).sum(1)
    lo = pos * x.lo + neg * x.hi
    hi = pos * x.hi + neg * x.lo
    if len(node.inputs) > 2:
        b = graph.constants[node.inputs[2]].astype(np.float64).reshape(-1)
        lo, hi = lo + b, hi + b
    return [Domain.real(float(lo.min()), float(hi.max()))]


def linear_synops(x: np.ndarray, out_features: int) -> int:
    """``nnz(x) · out_features``: every nonzero input drives one synapse per output feature."""
    return int(np.count_nonzero(x)) * int(out_features)


def _linear_map(graph: Graph, node: Node, value: str) -> LinearMap:
    """``y = A·x`` per token: ``A`` block-diagonal over tokens, blocks ``W`` (zero weights kept)."""
    x, y = graph.values[value].shape, graph.values[node.outputs[0]].shape
    w = graph.constants[node.inputs[1]].astype(np.float64)
    tok = int(np.prod(x[:-1]))
    c_out, c_in = w.shape
    t, o, i = np.meshgrid(np.arange(tok), np.arange(c_out), np.arange(c_in), indexing="ij")
    rows = (t * c_out + o).reshape(-1)
    cols = (t * c_in + i).reshape(-1)
    data = np.broadcast_to(w[None], (tok, c_out, c_in)).reshape(-1)
    return LinearMap(rows, cols, data, (int(np.prod(y)), int(np.prod(x))))


def _linear_patches(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    """Every token of ``x``: the vectors each weight row ``W[o]`` multiplies, as [1 group, tokens, in]."""
    return x.reshape(1, -1, x.shape[-1])


@op("linear", "weight", domain=_weight_domain, cost=_weight_cost, arity=(2, 3), linear=(0,),
    weight=WeightLayer(out_axis=-1), mixes=lambda node, rank: [rank - 1],
    hooks={"synops": lambda graph, node, args: linear_synops(args[0], args[1].shape[0]), "affine": _linear_map,
           "patches": _linear_patches})
def linear(node: Node, inputs: Sequence[np.ndarray], state: dict):
    """``y = x Wᵀ + b`` over the last axis."""
    x, w = inputs[0], inputs[1]
    y = np.matmul(x, w.T)
    if len(inputs) > 2:
        y = y + inputs[2]
    return [y.astype(x.dtype, copy=False)]


def _pad(x: np.ndarray, pads: Sequence[int], value: float = 0.0) -> np.ndarray:
    width = [(0, 0)] * (x.ndim - len(pads)) + [(p, p) for p in pads]
    return np.pad(x, width, constant_values=value) if any(pads) else x


def conv_windows(x: np.ndarray, kernel: Sequence[int], stride, padding, dilation) -> np.ndarray:
    """The windows a convolution reads: ``x`` [N, C, *S] zero-padded, as a view [N, C, *S_out, *K] whose
    element ``[n, c, *p, *k]`` is the input the kernel tap ``k`` sees at output position ``p``."""
    nd = len(kernel)
    x = _pad(x, padding)
    k_eff = [dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    win = sliding_window_view(x, k_eff, axis=tuple(range(2, 2 + nd)))
    index = (Ellipsis,) + tuple(slice(None, None, d) for d in dilation)
    win = win[index]  # [N, C, *S_all, *K]
    sl = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
    return win[sl]


def conv_nd(x: np.ndarray, w: np.ndarray, b, stride, padding, dilation, groups: int) -> np.ndarray:
    """Cross-correlation as torch computes it: x [N, C, *S], w [O, C/groups, *K]."""
    nd = w.ndim - 2
    win = conv_windows(x, w.shape[2:], stride, padding, dilation)
    n, c = x.shape[:2]
    o = w.shape[0]
    cg, og = c // groups, o // groups
    outs = []
    for g in range(groups):
        xg = win[:, g * cg:(g + 1) * cg]
        wg = w[g * og:(g + 1) * og]
        # contract C and kernel axes: result [N, *S_out, O_g]
        axes_x = [1] + list(range(2 + nd, 2 + 2 * nd))
        axes_w = [1] + list(range(2, 2 + nd))
        y = np.tensordot(xg, wg, axes=(axes_x, axes_w))
        outs.append(np.moveaxis(y, -1, 1))
    y = np.concatenate(outs, axis=1) if groups > 1 else outs[0]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y.astype(x.dtype, copy=False)


def _conv(node: Node, inputs: Sequence[np.ndarray], state: dict):
    a = node.attrs
    b = inputs[2] if len(inputs) > 2 else None
    return [conv_nd(inputs[0], inputs[1], b, a["stride"], a["padding"], a["dilation"], a.get("groups", 1))]


def conv_synops(x: np.ndarray, weight_shape: Sequence[int], stride, padding, dilation, groups: int = 1) -> int:
    """``(C_out/g) · Σ conv(nz(x), ones[g, C_in/g, *K])``: every nonzero input drives ``C_out/g`` channels at
    every output position whose (dilated, strided) window covers it; zero padding is never counted."""
    c_out, cg, *k = weight_shape
    ones = np.ones([groups, cg, *k])
    reach = conv_nd(nonzero_mask(x), ones, None, stride, padding, dilation, groups)
    return int(round(float(reach.sum()))) * (int(c_out) // groups)


def _conv_events(graph: Graph, node: Node, args) -> int:
    a = node.attrs
    return conv_synops(args[0], args[1].shape, a["stride"], a["padding"], a["dilation"], a.get("groups", 1))


def _conv_map(graph: Graph, node: Node, value: str) -> LinearMap:
    """``y = A·x``: one entry per (output position, input position its window reads), zero weights kept;
    a 1-D convolution is a 2-D one of height 1."""
    x, y = graph.values[value].shape, graph.values[node.outputs[0]].shape
    w = graph.constants[node.inputs[1]].astype(np.float64)
    a = node.attrs
    groups = int(a.get("groups", 1))
    if w.ndim == 3:
        x, y = (x[0], x[1], 1, x[2]), (y[0], y[1], 1, y[2])
        w = w[:, :, None, :]
        stride, pad, dil = [1, a["stride"][0]], [0, a["padding"][0]], [1, a["dilation"][0]]
    else:
        stride, pad, dil = list(a["stride"]), list(a["padding"]), list(a["dilation"])
    B, C_in, H, W = x
    _, C_out, Ho, Wo = y
    og, cg = C_out // groups, C_in // groups
    kh, kw = w.shape[2], w.shape[3]
    b, o, ho, wo, ci, i, j = np.meshgrid(np.arange(B), np.arange(C_out), np.arange(Ho), np.arange(Wo),
                                         np.arange(cg), np.arange(kh), np.arange(kw), indexing="ij", sparse=True)
    hi = ho * stride[0] - pad[0] + i * dil[0]
    wi = wo * stride[1] - pad[1] + j * dil[1]
    c = (o // og) * cg + ci
    shape = np.broadcast_shapes(b.shape, o.shape, ho.shape, wo.shape, ci.shape, i.shape, j.shape)
    valid = np.broadcast_to((hi >= 0) & (hi < H) & (wi >= 0) & (wi < W), shape)
    rows = np.broadcast_to(((b * C_out + o) * Ho + ho) * Wo + wo, shape)[valid]
    cols = np.broadcast_to(((b * C_in + c) * H + np.clip(hi, 0, H - 1)) * W + np.clip(wi, 0, W - 1), shape)[valid]
    data = np.broadcast_to(w[o, ci, i, j], shape)[valid]
    return LinearMap(rows, cols, data, (B * C_out * Ho * Wo, B * C_in * H * W))


def _conv_patches(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    """Per group, every window of ``x`` (zero padding included) flattened in the order of a kernel row
    ``W[o].reshape(-1)`` (input channel of the group, then taps): [groups, N·positions, C/groups·∏K]."""
    a = node.attrs
    w_shape = graph.constants[node.inputs[1]].shape
    groups, nd = int(a.get("groups", 1)), len(w_shape) - 2
    win = conv_windows(x, w_shape[2:], a["stride"], a["padding"], a["dilation"])  # [N, C, *S_out, *K]
    order = (0,) + tuple(range(2, 2 + nd)) + (1,) + tuple(range(2 + nd, 2 + 2 * nd))
    win = win.transpose(order)  # [N, *S_out, C, *K]
    n_pos = int(np.prod(win.shape[:1 + nd]))
    cg = w_shape[1]
    return np.stack([win[(slice(None),) * (1 + nd) + (slice(g * cg, (g + 1) * cg),)].reshape(n_pos, -1)
                     for g in range(groups)])


for _name in ("conv1d", "conv2d"):
    op(_name, "weight", domain=_weight_domain, cost=_weight_cost, arity=(2, 3),
       attrs=("stride", "padding", "dilation"), linear=(0,), weight=WeightLayer(out_axis=1),
       mixes=lambda node, rank: range(1, rank),
       hooks={"synops": _conv_events, "affine": _conv_map, "patches": _conv_patches})(_conv)


def _bn_domain(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    x = domains[0]
    scale, shift = bn_affine(node, [graph.constants.get(v) for v in node.inputs])
    if scale is None or not np.isfinite([x.lo, x.hi]).all():
        return [Domain.real()]
    lo = np.minimum(scale * x.lo, scale * x.hi) + shift
    hi = np.maximum(scale * x.lo, scale * x.hi) + shift
    return [Domain.real(float(lo.min()), float(hi.max()))]


def bn_affine(node: Node, inputs: Sequence):
    """Per-channel ``(scale, shift)`` with ``y = scale·x + shift``; inputs = x, μ, σ², γ, β."""
    _, mean, var, gamma, beta = inputs
    if mean is None or var is None:
        return None, None
    scale = 1.0 / np.sqrt(var.astype(np.float64) + node.attrs.get("eps", 1e-5))
    if gamma is not None:
        scale = scale * gamma
    shift = -mean * scale
    if beta is not None:
        shift = shift + beta
    return scale, shift


def _bn_cost(node: Node, graph: Graph) -> Cost:
    return Cost("none", 0)


@op("batch_norm", "norm", domain=_bn_domain, cost=_bn_cost, arity=(5, 5), attrs=("eps",), channel_affine=bn_affine,
    mixes=lambda node, rank: [1])
def batch_norm(node: Node, inputs: Sequence[np.ndarray], state: dict):
    """Inference batch norm over axis 1: ``(x − μ)/√(σ²+ε)·γ + β`` (γ, β may be absent = 1, 0)."""
    x, mean, var, gamma, beta = inputs
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + node.attrs["eps"])
    if gamma is not None and gamma.size:
        y = y * gamma.reshape(shape)
    if beta is not None and beta.size:
        y = y + beta.reshape(shape)
    return [y.astype(x.dtype, copy=False)]


# -- torch implementations (counting engine); semantics = the numpy reference above --

def dense_groups(w: np.ndarray, groups: int) -> np.ndarray:
    """A grouped convolution's kernel ``[O, C/groups, *K]`` as the dense kernel ``[O, C, *K]`` it acts as:
    output channel ``o`` of group ``g = o // (O/groups)`` reads input channels ``g·C/groups … (g+1)·C/groups − 1``
    with its own weights, and every other input channel with weight 0."""
    if groups == 1:
        return w
    o, cg = w.shape[:2]
    og = o // groups
    dense = np.zeros((o, cg * groups) + w.shape[2:], dtype=w.dtype)
    for g in range(groups):
        dense[g * og:(g + 1) * og, g * cg:(g + 1) * cg] = w[g * og:(g + 1) * og]
    return dense


from .events import nonzero  # noqa: E402
from .registry import implements  # noqa: E402


@implements("linear", "torch")
def _linear_torch(node, inputs, state):
    import torch

    x, w = inputs[0], inputs[1]
    y = torch.matmul(x, w.T)
    return [y + inputs[2] if len(inputs) > 2 else y]


def _conv_torch(node, inputs, state):
    import torch.nn.functional as F

    a = node.attrs
    fn = F.conv1d if inputs[1].ndim == 3 else F.conv2d
    b = inputs[2] if len(inputs) > 2 else None
    return [fn(inputs[0], inputs[1], b, tuple(a["stride"]), tuple(a["padding"]), tuple(a["dilation"]),
               a.get("groups", 1))]


for _name in ("conv1d", "conv2d"):
    implements(_name, "torch")(_conv_torch)


@implements("batch_norm", "torch")
def _batch_norm_torch(node, inputs, state):
    """torch's inference batch norm (one fused kernel; equal to the reference up to rounding)."""
    import torch.nn.functional as F

    x, mean, var, gamma, beta = inputs
    gamma = gamma if gamma is not None and gamma.numel() else None
    beta = beta if beta is not None and beta.numel() else None
    return [F.batch_norm(x, mean, var, gamma, beta, False, 0.0, node.attrs["eps"])]


# -- event counting on torch: the "synops" rules above, on the device (see snncompile.ops.events) ----

@implements("linear", "count")
def _linear_count(node, graph, spikes):
    """``nnz(x) · out_features``."""
    out_features = graph.values[node.inputs[1]].shape[0]
    return lambda args, outs, nonzero_of: {"synaptic_ops": nonzero_of(0) * out_features}


def conv_coverage(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int):
    """Per input position along one axis: how many (output position, kernel tap) pairs read it.

    A tap ``k`` of output ``o`` reads input ``o·s − p + k·d``; zero padding reads nothing.  The number
    of conv synaptic ops of a nonzero input at ``(c, i, j, …)`` is ``(C_out/g) · Π_axes cov[i]``, so
    ``Σ conv(nz(x), ones) = Σ nz(x) · ⊗ cov`` — the reference's formula without running a conv.
    """
    import torch

    cov = torch.zeros(size, dtype=torch.int64)
    pos = (torch.arange(out)[:, None] * stride - padding + torch.arange(kernel)[None, :] * dilation).reshape(-1)
    pos = pos[(pos >= 0) & (pos < size)]
    cov.index_add_(0, pos, torch.ones_like(pos))
    return cov


def _conv_count(node, graph, spikes):
    """``(C_out/g) · Σ_positions nnz(x)[…, position] · coverage(position)`` (exact, padding excluded)."""
    a = node.attrs
    x, w = graph.values[node.inputs[0]], graph.values[node.inputs[1]]
    out = graph.values[node.outputs[0]]
    nd = len(w.shape) - 2
    covs = [conv_coverage(x.shape[2 + i], w.shape[2 + i], a["stride"][i], a["padding"][i], a["dilation"][i],
                          out.shape[2 + i]) for i in range(nd)]
    weight = covs[0]
    for c in covs[1:]:
        weight = weight[..., None] * c
    per_channel_out = w.shape[0] // a.get("groups", 1)
    binary = node.inputs[0] in spikes
    cache: dict = {}

    def count(args, outs, nonzero_of):
        xs = args[0]
        cov = cache.get(xs.device)
        if cov is None:
            cov = cache[xs.device] = weight.to(xs.device)
        # nonzero inputs per position over batch and channels (0/1 spikes: their exact sum)
        active = nonzero(xs, binary, (0, 1))
        return {"synaptic_ops": (active * cov).sum() * per_channel_out, "nonzero_inputs": [active.sum()]}

    return count


for _name in ("conv1d", "conv2d"):
    implements(_name, "count")(_conv_count)
