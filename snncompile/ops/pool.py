"""Pooling.  Max-pooling spikes is an OR over the window (binary stays binary); average pooling
divides a sum by the window size (integers become reals)."""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir.domain import Domain
from .registry import Cost, LinearMap, op, same_as_input


def _out_size(n, k, s, p, d, ceil):
    span = n + 2 * p - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:  # torch: the last window must start inside the input
        out -= 1
    return out


def pool_nd(x, kernel, stride, padding, dilation, ceil_mode, reduce, pad_value):
    nd = len(kernel)
    spatial = x.shape[-nd:]
    outs = [_out_size(spatial[i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode) for i in range(nd)]
    extra = [max(0, (outs[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - spatial[i] - 2 * padding[i])
             for i in range(nd)]
    width = [(0, 0)] * (x.ndim - nd) + [(padding[i], padding[i] + extra[i]) for i in range(nd)]
    xp = np.pad(x, width, constant_values=pad_value)
    k_eff = [dilation[i] * (kernel[i] - 1) + 1 for i in range(nd)]
    win = sliding_window_view(xp, k_eff, axis=tuple(range(x.ndim - nd, x.ndim)))
    win = win[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)]
    sl = (slice(None),) * (x.ndim - nd) + tuple(slice(0, outs[i] * stride[i], stride[i]) for i in range(nd))
    win = win[sl]
    axes = tuple(range(-nd, 0))
    return reduce(win, axis=axes)


def _spatial_axes(node, rank):
    """The window axes: the trailing ``len(kernel)`` axes."""
    return range(rank - len(node.attrs["kernel"]), rank)


def _maxpool(node, inputs, state):
    a = node.attrs
    return [pool_nd(inputs[0], a["kernel"], a["stride"], a["padding"], a.get("dilation", [1] * len(a["kernel"])),
                    a.get("ceil_mode", False), np.max, -np.inf).astype(inputs[0].dtype)]


for _name in ("max_pool1d", "max_pool2d"):
    op(_name, "pool", domain=same_as_input, arity=(1, 1), attrs=("kernel", "stride", "padding"), pooling="max",
       homogeneous=(0,), mixes=_spatial_axes)(_maxpool)


def _avg_domain(node, d, g):
    x = d[0]
    lo, hi = x.lo, x.hi
    if node.attrs.get("padding") and any(node.attrs["padding"]):
        lo, hi = min(lo, 0), max(hi, 0)  # zero padding is averaged in
    return [Domain.real(lo, hi)]


def _avg_cost(node, g):
    return Cost("none", 0)


def _avg_divisor(in_spatial, out_spatial, k, s, p) -> np.ndarray:
    """Each window's size within the zero-padded extent (torch's count_include_pad, ceil_mode overhang)."""
    divisor = np.ones(())
    for i in range(len(k)):
        start = np.arange(out_spatial[i]) * s[i] - p[i]
        divisor = np.multiply.outer(divisor, np.minimum(start + k[i], in_spatial[i] + p[i]) - start)
    return divisor


def _avgpool(node, inputs, state):
    """Mean over each window, zero padding counted (torch's default count_include_pad); with ceil_mode a
    window overhanging the padded input divides by its size within the padded extent, as torch does."""
    a = node.attrs
    k, s, p, x = a["kernel"], a["stride"], a["padding"], inputs[0]
    total = pool_nd(x, k, s, p, [1] * len(k), a.get("ceil_mode", False), np.sum, 0.0)
    nd = len(k)
    divisor = _avg_divisor(x.shape[x.ndim - nd:], total.shape[x.ndim - nd:], k, s, p)
    return [(total / divisor).astype(x.dtype)]


def pool_windows(node, x_shape) -> np.ndarray:
    """``[n_out, k]`` flat input index of every output's window element (−1 = padding), row-major orders."""
    a = node.attrs
    nd = len(a["kernel"])
    idx = np.arange(int(np.prod(x_shape)), dtype=np.float64).reshape(x_shape)
    cols = []

    def grab(win, axis):
        cols.append(win.reshape(win.shape[: win.ndim - nd] + (-1,)))
        return win[(Ellipsis,) + (0,) * nd]

    pool_nd(idx, a["kernel"], a["stride"], a["padding"], a.get("dilation", [1] * nd), a.get("ceil_mode", False),
            grab, -1.0)
    win = cols[0]
    return win.reshape(-1, win.shape[-1]).astype(np.int64)


def _avgpool_map(graph, node, value) -> LinearMap:
    """``y = M·x``: every output reads its window's inputs with weight 1/divisor (padding reads nothing)."""
    x_shape, y_shape = graph.values[value].shape, graph.values[node.outputs[0]].shape
    a = node.attrs
    nd = len(a["kernel"])
    win = pool_windows(node, x_shape)
    divisor = _avg_divisor(x_shape[-nd:], y_shape[-nd:], a["kernel"], a["stride"], a["padding"])
    weight = np.broadcast_to(1.0 / divisor, y_shape).reshape(-1)
    rows = np.repeat(np.arange(win.shape[0]), win.shape[1])
    cols = win.reshape(-1)
    keep = cols >= 0
    return LinearMap(rows[keep], cols[keep], np.repeat(weight, win.shape[1])[keep],
                     (win.shape[0], int(np.prod(x_shape))))


for _name in ("avg_pool1d", "avg_pool2d"):
    op(_name, "pool", domain=_avg_domain, cost=_avg_cost, arity=(1, 1), attrs=("kernel", "stride", "padding"),
       pooling="avg", linear=(0,), homogeneous=(0,), mixes=_spatial_axes, hooks={"affine": _avgpool_map})(_avgpool)


def _adaptive_windows(n: int, o: int):
    """torch's adaptive windows: window i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    return [((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]


def _adaptive_map(graph, node, value) -> LinearMap:
    """``y = M·x``: every output reads its adaptive window with weight 1/(window size)."""
    x_shape = graph.values[value].shape
    (oh, ow), (h, w) = node.attrs["output_size"], x_shape[-2:]
    lead = int(np.prod(x_shape[:-2]))
    rows, cols, data = [], [], []
    for i, (h0, h1) in enumerate(_adaptive_windows(h, oh)):
        for j, (w0, w1) in enumerate(_adaptive_windows(w, ow)):
            ii, jj = np.meshgrid(np.arange(h0, h1), np.arange(w0, w1), indexing="ij")
            inside = (ii * w + jj).reshape(-1)
            lead_axis = np.arange(lead)[:, None]
            rows.append(np.broadcast_to(lead_axis * (oh * ow) + i * ow + j, (lead, inside.size)).reshape(-1))
            cols.append((lead_axis * (h * w) + inside[None, :]).reshape(-1))
            data.append(np.full(lead * inside.size, 1.0 / inside.size))
    return LinearMap(np.concatenate(rows), np.concatenate(cols), np.concatenate(data), (lead * oh * ow, lead * h * w))


@op("adaptive_avg_pool2d", "pool", domain=_avg_domain, arity=(1, 1), attrs=("output_size",), pooling="avg", linear=(0,),
    homogeneous=(0,), mixes=lambda node, rank: [rank - 2, rank - 1], hooks={"affine": _adaptive_map})
def adaptive_avg_pool2d(node, inputs, state):
    """torch's adaptive average pooling: window i spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    x = inputs[0]
    oh, ow = node.attrs["output_size"]
    h, w = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow), dtype=x.dtype)
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            out[..., i, j] = x[..., h0:h1, w0:w1].mean(axis=(-2, -1))
    return [out]


# -- torch implementations (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


def _maxpool_torch(node, inputs, state):
    import torch.nn.functional as F

    a = node.attrs
    fn = F.max_pool1d if len(a["kernel"]) == 1 else F.max_pool2d
    return [fn(inputs[0], a["kernel"], a["stride"], a["padding"], a.get("dilation", [1] * len(a["kernel"])),
               a.get("ceil_mode", False))]


for _name in ("max_pool1d", "max_pool2d"):
    implements(_name, "torch")(_maxpool_torch)


def _avgpool_torch(node, inputs, state):
    """torch's average pooling with ``count_include_pad=True`` (the reference's divisor)."""
    import torch.nn.functional as F

    a = node.attrs
    fn = F.avg_pool1d if len(a["kernel"]) == 1 else F.avg_pool2d
    return [fn(inputs[0], a["kernel"], a["stride"], a["padding"], a.get("ceil_mode", False), True)]


for _name in ("avg_pool1d", "avg_pool2d"):
    implements(_name, "torch")(_avgpool_torch)


@implements("adaptive_avg_pool2d", "torch")
def _adaptive_avg_pool2d_torch(node, inputs, state):
    import torch.nn.functional as F

    x = inputs[0]
    lead = x.shape[:-2]
    y = F.adaptive_avg_pool2d(x.reshape((-1,) + tuple(x.shape[-3:])) if x.ndim > 4 else x,
                              tuple(node.attrs["output_size"]))
    return [y.reshape(tuple(lead) + tuple(y.shape[-2:]))]
