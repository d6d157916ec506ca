"""Non-spike nonlinearities: none of these can run as accumulates on a neuromorphic core.
On the spike path (between neurons) each is a finding; in the readout they are reported only."""
from __future__ import annotations

import math

import numpy as np

from ..ir.domain import Domain
from .registry import Cost, op


def _cost(node, graph):
    return Cost("nonlinear", graph.values[node.outputs[0]].numel)


def _bounded(lo, hi):
    return lambda n, d, g: [Domain.real(lo, hi)]


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


_TABLE = {
    # name: (numpy function of (x, attrs), domain rule)
    "softmax": (lambda x, a: _softmax(x, a.get("axis", -1)), _bounded(0, 1)),
    "log_softmax": (lambda x, a: np.log(_softmax(x, a.get("axis", -1))), _bounded(-math.inf, 0)),
    "exp": (lambda x, a: np.exp(x), _bounded(0, math.inf)),
    "log": (lambda x, a: np.log(x), _bounded(-math.inf, math.inf)),
    "sqrt": (lambda x, a: np.sqrt(x), _bounded(0, math.inf)),
    "sigmoid": (lambda x, a: 1 / (1 + np.exp(-x)), _bounded(0, 1)),
    "tanh": (lambda x, a: np.tanh(x), _bounded(-1, 1)),
    "gelu": (lambda x, a: 0.5 * x * (1 + _erf(x / math.sqrt(2))), _bounded(-0.17, math.inf)),
    "silu": (lambda x, a: x / (1 + np.exp(-x)), _bounded(-0.28, math.inf)),
    "pow": (lambda x, a: np.power(x, a["exponent"]), _bounded(-math.inf, math.inf)),
}


def _make(name, fn):
    def reference(node, inputs, state):
        return [fn(inputs[0], node.attrs).astype(inputs[0].dtype, copy=False)]

    reference.__doc__ = f"``{name}(x)`` elementwise (softmax: along ``axis``)."
    return reference


_ALONG_AXIS = ("softmax", "log_softmax")  # normalise along attrs["axis"]; the rest are elementwise


def _along_axis(node, rank):
    return [node.attrs.get("axis", -1) % rank]


for _name, (_fn, _dom) in _TABLE.items():
    _traits = {"mixes": _along_axis} if _name in _ALONG_AXIS else {"elementwise": True}
    op(_name, "nonlinear", domain=_dom, cost=_cost, arity=(1, 1), **_traits)(_make(_name, _fn))


@op("layer_norm", "nonlinear", domain=lambda n, d, g: [Domain.real()], cost=_cost, arity=(1, 3),
    attrs=("normalized_shape", "eps"), mixes=lambda node, rank: range(rank - len(node.attrs["normalized_shape"]), rank))
def layer_norm(node, inputs, state):
    """``(x − mean)/√(var + ε)·γ + β`` over the trailing ``normalized_shape`` axes."""
    x = inputs[0]
    axes = tuple(range(-len(node.attrs["normalized_shape"]), 0))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + node.attrs["eps"])
    if len(inputs) > 1:
        y = y * inputs[1]
    if len(inputs) > 2:
        y = y + inputs[2]
    return [y.astype(x.dtype, copy=False)]


# -- torch implementations (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


def _softmax_torch(x, axis):
    e = (x - x.amax(dim=axis, keepdim=True)).exp()
    return e / e.sum(dim=axis, keepdim=True)


def _torch_table():
    import torch

    return {
        "softmax": lambda x, a: _softmax_torch(x, a.get("axis", -1)),
        "log_softmax": lambda x, a: _softmax_torch(x, a.get("axis", -1)).log(),
        "exp": lambda x, a: x.exp(),
        "log": lambda x, a: x.log(),
        "sqrt": lambda x, a: x.sqrt(),
        "sigmoid": lambda x, a: 1 / (1 + (-x).exp()),
        "tanh": lambda x, a: x.tanh(),
        "gelu": lambda x, a: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
        "silu": lambda x, a: x / (1 + (-x).exp()),
        "pow": lambda x, a: x.pow(a["exponent"]),
    }


def _make_torch(name):
    fns: dict = {}

    def run(node, inputs, state):
        if not fns:
            fns.update(_torch_table())
        return [fns[name](inputs[0], node.attrs)]

    return run


for _name in _TABLE:
    implements(_name, "torch")(_make_torch(_name))


@implements("layer_norm", "torch")
def _layer_norm_torch(node, inputs, state):
    x = inputs[0]
    axes = tuple(range(-len(node.attrs["normalized_shape"]), 0))
    mu = x.mean(dim=axes, keepdim=True)
    var = x.var(dim=axes, keepdim=True, unbiased=False)
    y = (x - mu) / (var + node.attrs["eps"]).sqrt()
    if len(inputs) > 1:
        y = y * inputs[1]
    if len(inputs) > 2:
        y = y + inputs[2]
    return [y]
