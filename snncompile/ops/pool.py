"""Pooling.  Max-pooling spikes is an OR over the window (binary stays binary); average pooling
divides a sum by the window size (integers become reals)."""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir.domain import Domain
from .registry import Cost, op, same_as_input


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


def _maxpool(node, inputs, state):
    a = node.attrs
    return [pool_nd(inputs[0], a["kernel"], a["stride"], a["padding"], a.get("dilation", [1] * len(a["kernel"])),
                    a.get("ceil_mode", False), np.max, -np.inf).astype(inputs[0].dtype)]


for _name in ("max_pool1d", "max_pool2d"):
    op(_name, "pool", domain=same_as_input, arity=(1, 1), attrs=("kernel", "stride", "padding"))(_maxpool)


def _avg_domain(node, d, g):
    x = d[0]
    lo, hi = x.lo, x.hi
    if node.attrs.get("padding") and any(node.attrs["padding"]):
        lo, hi = min(lo, 0), max(hi, 0)  # zero padding is averaged in
    return [Domain.real(lo, hi)]


def _avg_cost(node, g):
    return Cost("none", 0)


def _avgpool(node, inputs, state):
    """Mean over each window, zero padding counted (torch's default count_include_pad); with ceil_mode a
    window overhanging the padded input divides by its size within the padded extent, as torch does."""
    a = node.attrs
    k, s, p, x = a["kernel"], a["stride"], a["padding"], inputs[0]
    total = pool_nd(x, k, s, p, [1] * len(k), a.get("ceil_mode", False), np.sum, 0.0)
    nd = len(k)
    divisor = np.ones(())
    for i in range(nd):
        start = np.arange(total.shape[x.ndim - nd + i]) * s[i] - p[i]
        divisor = np.multiply.outer(divisor, np.minimum(start + k[i], x.shape[x.ndim - nd + i] + p[i]) - start)
    return [(total / divisor).astype(x.dtype)]


for _name in ("avg_pool1d", "avg_pool2d"):
    op(_name, "pool", domain=_avg_domain, cost=_avg_cost, arity=(1, 1), attrs=("kernel", "stride", "padding"))(_avgpool)


@op("adaptive_avg_pool2d", "pool", domain=_avg_domain, arity=(1, 1), attrs=("output_size",))
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
