"""Every op's numpy reference against torch, through the tracer: trace a one-call module, run the
reference executor in float64, compare with the torch result (float64)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from snncompile import ops
from snncompile.backends.reference import run
from snncompile.frontends.torch import trace


class Fn(nn.Module):
    """``fn(self, *inputs)``; keyword tensors become buffers (constants of the graph)."""

    def __init__(self, fn, **consts):
        super().__init__()
        self.fn = fn
        for k, v in consts.items():
            self.register_buffer(k, v)

    def forward(self, *xs):
        return self.fn(self, *xs)


def r(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def spikes(*shape):
    return (torch.rand(*shape, dtype=torch.float64) < 0.3).double()


def _w(*shape):
    return dict(w=r(*shape))


def _wb(*shape):
    return dict(w=r(*shape), b=r(shape[0]))


# (case id, function, input shapes or tensors, constants, expected op)
CASES = [
    # weight layers
    ("linear", lambda m, x: F.linear(x, m.w, m.b), [(3, 5, 7)], _wb(4, 7), "linear"),
    ("linear-nobias", lambda m, x: F.linear(x, m.w), [(6, 7)], _w(4, 7), "linear"),
    ("conv1d", lambda m, x: F.conv1d(x, m.w, m.b), [(2, 4, 11)], _wb(6, 4, 3), "conv1d"),
    ("conv1d-s2p1d2", lambda m, x: F.conv1d(x, m.w, m.b, stride=2, padding=1, dilation=2), [(2, 4, 13)],
     _wb(6, 4, 3), "conv1d"),
    ("conv1d-groups", lambda m, x: F.conv1d(x, m.w, None, padding=2, groups=2), [(2, 4, 9)], _w(6, 2, 5), "conv1d"),
    ("conv1d-1x1", lambda m, x: F.conv1d(x, m.w, m.b), [(3, 8, 5)], _wb(16, 8, 1), "conv1d"),
    ("conv2d", lambda m, x: F.conv2d(x, m.w, m.b, padding=1), [(2, 3, 8, 8)], _wb(5, 3, 3, 3), "conv2d"),
    ("conv2d-stride", lambda m, x: F.conv2d(x, m.w, None, stride=(2, 1), padding=(1, 2)), [(2, 3, 9, 7)],
     _w(4, 3, 3, 5), "conv2d"),
    ("conv2d-dilation", lambda m, x: F.conv2d(x, m.w, m.b, dilation=(2, 3), padding=2), [(1, 2, 10, 11)],
     _wb(3, 2, 3, 3), "conv2d"),
    ("conv2d-groups", lambda m, x: F.conv2d(x, m.w, m.b, stride=2, padding=1, groups=3), [(2, 6, 8, 8)],
     _wb(9, 2, 3, 3), "conv2d"),
    ("conv2d-depthwise", lambda m, x: F.conv2d(x, m.w, None, padding=1, groups=4), [(2, 4, 6, 6)],
     _w(4, 1, 3, 3), "conv2d"),
    ("conv2d-same", lambda m, x: F.conv2d(x, m.w, m.b, padding="same"), [(1, 2, 7, 6)], _wb(3, 2, 3, 5), "conv2d"),
    ("batch_norm-2d", lambda m, x: F.batch_norm(x, m.mu, m.var, m.g, m.b, False, 0.1, 1e-5), [(4, 6)],
     dict(mu=r(6), var=torch.rand(6, dtype=torch.float64) + 0.1, g=r(6), b=r(6)), "batch_norm"),
    ("batch_norm-3d", lambda m, x: F.batch_norm(x, m.mu, m.var, m.g, m.b, False, 0.1, 1e-3), [(4, 6, 5)],
     dict(mu=r(6), var=torch.rand(6, dtype=torch.float64) + 0.1, g=r(6), b=r(6)), "batch_norm"),
    ("batch_norm-4d-noaffine", lambda m, x: F.batch_norm(x, m.mu, m.var, None, None, False), [(2, 3, 4, 5)],
     dict(mu=r(3), var=torch.rand(3, dtype=torch.float64) + 0.1), "batch_norm"),
    ("layer_norm", lambda m, x: F.layer_norm(x, (4, 5), m.g, m.b), [(3, 4, 5)], dict(g=r(4, 5), b=r(4, 5)),
     "layer_norm"),
    ("layer_norm-plain", lambda m, x: F.layer_norm(x, (5,)), [(3, 4, 5)], {}, "layer_norm"),
    # dynamic products
    ("matmul", lambda m, a, b: a @ b, [(2, 3, 4, 5), (2, 3, 5, 6)], {}, "matmul"),
    ("matmul-broadcast", lambda m, a, b: a @ b, [(3, 1, 4, 5), (2, 5, 6)], {}, "matmul"),
    ("matmul-vec-left", lambda m, a, b: torch.matmul(a, b), [(5,), (2, 5, 6)], {}, "matmul"),
    ("matmul-vec-right", lambda m, a, b: torch.matmul(a, b), [(2, 4, 5), (5,)], {}, "matmul"),
    ("matmul-weight", lambda m, x: x @ m.w, [(2, 3, 5)], _w(5, 4), "matmul"),
    ("bmm", lambda m, a, b: torch.bmm(a, b), [(3, 4, 5), (3, 5, 2)], {}, "matmul"),
    ("spike-attention", lambda m, q, k: (q @ k.transpose(-2, -1)) @ k * 0.125,
     [spikes(2, 3, 6, 4), spikes(2, 3, 6, 4)], {}, "matmul"),
    # elementwise
    ("add-broadcast", lambda m, a, b: a + b, [(2, 3, 4), (3, 1)], {}, "add"),
    ("add-const", lambda m, a: a + m.c, [(2, 3, 4)], dict(c=r(4)), "add"),
    ("radd-scalar", lambda m, a: 2.5 + a, [(2, 3)], {}, "add"),
    ("sub", lambda m, a, b: a - b, [(2, 3, 4), (2, 3, 4)], {}, "sub"),
    ("rsub-scalar", lambda m, a: 1.0 - a, [(2, 3)], {}, "sub"),
    ("mul-gate", lambda m, s, x: s * x, [spikes(2, 5), (2, 5)], {}, "mul"),
    ("mul-scalar", lambda m, a: a * 0.125, [(2, 3)], {}, "mul"),
    ("scalar-precision", lambda m, a: a * 0.1 + 1 / 3, [(2, 3)], {}, "mul"),
    ("div-const", lambda m, a: a / m.c, [(2, 3)], dict(c=r(3).abs() + 0.5), "div"),
    ("div-dynamic", lambda m, a, b: a / b, [(2, 3), torch.rand(2, 3, dtype=torch.float64) + 0.5], {}, "div"),
    ("neg", lambda m, a: -a, [(2, 3)], {}, "neg"),
    ("relu", lambda m, a: F.relu(a), [(2, 3, 4)], {}, "relu"),
    ("clamp", lambda m, a: a.clamp(-0.5, 0.7), [(2, 3, 4)], {}, "clamp"),
    ("clamp-min", lambda m, a: torch.clamp(a, min=0.1), [(2, 3, 4)], {}, "clamp"),
    ("identity", lambda m, a: a.contiguous().clone().detach(), [(2, 3)], {}, "identity"),
    # shapes
    ("reshape", lambda m, x: x.reshape(4, 3, 2, 5).flatten(0, 1), [(2, 2, 3, 10)], {}, "reshape"),
    ("view-unsqueeze", lambda m, x: x.view(6, 5).unsqueeze(1).squeeze(1), [(2, 3, 5)], {}, "reshape"),
    ("permute", lambda m, x: x.permute(2, 0, 3, 1), [(2, 3, 4, 5)], {}, "permute"),
    ("transpose", lambda m, x: x.transpose(-1, -2), [(2, 3, 4)], {}, "permute"),
    ("repeat", lambda m, x: x.repeat(2, 1, 3), [(3, 4)], {}, "repeat"),
    ("repeat-time", lambda m, x: x.unsqueeze(0).repeat(4, 1, 1, 1, 1), [(2, 1, 3, 3)], {}, "repeat"),
    ("expand", lambda m, x: x.expand(3, 2, 4) + 0, [(2, 1)], {}, "expand"),
    ("slice", lambda m, x: x[:, 1:4:2, ..., None, -1], [(2, 5, 3, 4)], {}, "slice"),
    ("slice-int", lambda m, x: x[1, :, 2:], [(3, 4, 5)], {}, "slice"),
    ("cat", lambda m, a, b: torch.cat([a, b, a], dim=1), [(2, 3, 4), (2, 1, 4)], {}, "concat"),
    ("stack", lambda m, a, b: torch.stack([a, b], dim=-1), [(2, 3), (2, 3)], {}, "stack"),
    ("split", lambda m, x: torch.split(x, [2, 3, 1], dim=1)[1] * 2, [(2, 6, 3)], {}, "split"),
    ("chunk", lambda m, x: sum(x.chunk(3, dim=-1)), [(2, 6)], {}, "split"),
    ("unbind", lambda m, x: x.unbind(1)[2], [(2, 3, 4)], {}, "split"),
    # reductions
    ("mean", lambda m, x: x.mean(1), [(2, 3, 4)], {}, "mean"),
    ("mean-keepdim", lambda m, x: x.mean((0, 2), keepdim=True), [(2, 3, 4)], {}, "mean"),
    ("mean-all", lambda m, x: x.mean(), [(2, 3, 4)], {}, "mean"),
    ("sum", lambda m, x: x.sum(-1), [(2, 3, 4)], {}, "sum"),
    ("sum-keepdim", lambda m, x: torch.sum(x, dim=(1, 2), keepdim=True), [(2, 3, 4)], {}, "sum"),
    ("amax", lambda m, x: x.amax(1), [(2, 3, 4)], {}, "amax"),
    # pooling
    ("max_pool2d", lambda m, x: F.max_pool2d(x, 3, 2, 1), [(2, 3, 8, 8)], {}, "max_pool2d"),
    ("max_pool2d-ceil", lambda m, x: F.max_pool2d(x, 3, 2, 0, ceil_mode=True), [(2, 3, 8, 8)], {}, "max_pool2d"),
    ("max_pool2d-ceil-pad", lambda m, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 2, 7, 6)], {},
     "max_pool2d"),
    ("max_pool2d-dilation", lambda m, x: F.max_pool2d(x, 2, 1, 1, dilation=2), [(1, 2, 7, 7)], {}, "max_pool2d"),
    ("max_pool2d-rect", lambda m, x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1)), [(1, 2, 6, 9)], {}, "max_pool2d"),
    ("max_pool1d", lambda m, x: F.max_pool1d(x, 3, 2, 1), [(2, 3, 9)], {}, "max_pool1d"),
    ("max_pool1d-ceil", lambda m, x: F.max_pool1d(x, 2, 2, ceil_mode=True), [(2, 3, 9)], {}, "max_pool1d"),
    ("avg_pool2d", lambda m, x: F.avg_pool2d(x, 2), [(2, 3, 8, 8)], {}, "avg_pool2d"),
    ("avg_pool2d-pad", lambda m, x: F.avg_pool2d(x, 3, 2, 1), [(2, 3, 8, 8)], {}, "avg_pool2d"),
    ("avg_pool2d-ceil", lambda m, x: F.avg_pool2d(x, 3, 2, 0, ceil_mode=True), [(2, 3, 8, 8)], {}, "avg_pool2d"),
    ("avg_pool2d-ceil-pad", lambda m, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 2, 8, 7)], {},
     "avg_pool2d"),
    ("avg_pool1d-ceil-pad", lambda m, x: F.avg_pool1d(x, 4, 3, 2, ceil_mode=True), [(2, 3, 10)], {},
     "avg_pool1d"),
    ("adaptive_avg_pool2d", lambda m, x: F.adaptive_avg_pool2d(x, (3, 2)), [(2, 3, 7, 5)], {},
     "adaptive_avg_pool2d"),
    ("adaptive_avg_pool2d-1", lambda m, x: F.adaptive_avg_pool2d(x, 1), [(2, 3, 4, 4)], {}, "adaptive_avg_pool2d"),
    # nonlinearities
    ("softmax", lambda m, x: F.softmax(x, dim=-1), [(2, 3, 4)], {}, "softmax"),
    ("softmax-axis1", lambda m, x: x.softmax(1), [(2, 3, 4)], {}, "softmax"),
    ("log_softmax", lambda m, x: F.log_softmax(x, dim=1), [(2, 5)], {}, "log_softmax"),
    ("exp", lambda m, x: x.exp(), [(2, 3)], {}, "exp"),
    ("log", lambda m, x: torch.log(x), [torch.rand(2, 3, dtype=torch.float64) + 0.1], {}, "log"),
    ("sqrt", lambda m, x: x.sqrt(), [torch.rand(2, 3, dtype=torch.float64)], {}, "sqrt"),
    ("sigmoid", lambda m, x: torch.sigmoid(x), [(2, 3)], {}, "sigmoid"),
    ("tanh", lambda m, x: x.tanh(), [(2, 3)], {}, "tanh"),
    ("gelu", lambda m, x: F.gelu(x), [(2, 3, 4)], {}, "gelu"),
    ("silu", lambda m, x: F.silu(x), [(2, 3)], {}, "silu"),
    ("pow", lambda m, x: x.pow(3), [(2, 3)], {}, "pow"),
]


def _params():
    for case in CASES:
        yield pytest.param(*case, id=case[0])


def _inputs(specs):
    return [s if isinstance(s, torch.Tensor) else r(*s) for s in specs]


@pytest.mark.parametrize("name,fn,specs,consts,op", list(_params()))
def test_op_matches_torch(name, fn, specs, consts, op):
    torch.manual_seed(zlib.crc32(name.encode()) % 1000)  # stable across processes, unlike hash(str)
    model = Fn(fn, **consts).double()
    xs = _inputs(specs)
    with torch.no_grad():
        want = model(*xs)
    graph = trace(model, tuple(xs))
    assert op in {n.op for n in graph.nodes}, f"{name}: no {op} node in {[n.op for n in graph.nodes]}"
    got = run(graph, [x.numpy() for x in xs]).output
    assert got.shape == tuple(want.shape)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


def test_every_registered_op_is_covered():
    covered = {c[-1] for c in CASES} | {"lif", "ilif"}  # ilif vs torch: tests/ir/test_graded_spikes.py
    missing = sorted(set(ops.all_ops()) - covered)
    assert not missing, f"ops without a reference test: {missing}"


@pytest.mark.parametrize("name", ["linear", "conv2d-groups", "max_pool2d-ceil-pad", "avg_pool2d-pad", "matmul",
                                  "batch_norm-4d-noaffine", "gelu", "softmax", "sum"])
def test_float32_stays_float32(name):
    _, fn, specs, consts, _ = next(c for c in CASES if c[0] == name)
    model = Fn(fn, **consts).float()
    xs = [x.float() for x in _inputs(specs)]
    with torch.no_grad():
        want = model(*xs)
    got = run(trace(model, tuple(xs)), [x.numpy() for x in xs], dtype=np.float32).output
    assert got.dtype == np.float32, f"{name}: a float32 run produced {got.dtype}"
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)
