"""Reductions over axes.  A sum of K integers stays an integer (K·lo, K·hi); a mean is real."""
from __future__ import annotations

import numpy as np

from .registry import LinearMap, op


def reduced_terms(node, graph) -> int:
    shape = graph.values[node.inputs[0]].shape
    dims = node.attrs.get("dims")
    if dims is None:
        return int(np.prod(shape))
    return int(np.prod([shape[d] for d in dims]))


def _sum_domain(node, d, g):
    return [d[0].sum_of(reduced_terms(node, g))]


def _mean_domain(node, d, g):
    return [d[0].as_real()]


def _axes(node):
    dims = node.attrs.get("dims")
    return None if dims is None else tuple(dims)


def _reduce_map(average: bool):
    """The reduction as ``y = M·x``: each input element adds into its output with weight 1 (sum) or
    1/(elements per output) (mean)."""

    def linear_map(graph, node, value) -> LinearMap:
        shape = graph.values[value].shape
        dims = node.attrs.get("dims")
        dims = list(range(len(shape))) if dims is None else [d % len(shape) for d in dims]
        kept = tuple(1 if i in dims else s for i, s in enumerate(shape))
        n_out = int(np.prod(kept))
        rows = np.broadcast_to(np.arange(n_out).reshape(kept), shape).reshape(-1)
        n_in = rows.size
        data = np.full(n_in, 1.0 / (n_in // n_out) if average else 1.0)
        return LinearMap(rows, np.arange(n_in), data, (n_out, n_in))

    return linear_map


@op("sum", "reduce", domain=_sum_domain, arity=(1, 1), reduction="sum", linear=(0,), homogeneous=(0,),
    hooks={"affine": _reduce_map(average=False)})
def sum_(node, inputs, state):
    """Sum over ``dims`` (all axes when absent), ``keepdim`` as torch."""
    return [np.sum(inputs[0], axis=_axes(node), keepdims=node.attrs.get("keepdim", False))]


@op("mean", "reduce", domain=_mean_domain, arity=(1, 1), reduction="mean", linear=(0,), homogeneous=(0,),
    hooks={"affine": _reduce_map(average=True)})
def mean(node, inputs, state):
    """Mean over ``dims`` (all axes when absent), ``keepdim`` as torch."""
    return [np.mean(inputs[0], axis=_axes(node), keepdims=node.attrs.get("keepdim", False))
            .astype(inputs[0].dtype, copy=False)]


@op("amax", "reduce", domain=lambda n, d, g: [d[0]], arity=(1, 1), reduction="max", homogeneous=(0,))
def amax(node, inputs, state):
    """Maximum over ``dims`` (an OR for spikes)."""
    return [np.max(inputs[0], axis=_axes(node), keepdims=node.attrs.get("keepdim", False))]


# -- torch implementations (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


def _dims_torch(node, x):
    dims = node.attrs.get("dims")
    return tuple(range(x.ndim)) if dims is None else tuple(dims)


@implements("sum", "torch")
def _sum_torch(node, inputs, state):
    x = inputs[0]
    return [x.sum(dim=_dims_torch(node, x), keepdim=node.attrs.get("keepdim", False))]


@implements("mean", "torch")
def _mean_torch(node, inputs, state):
    x = inputs[0]
    return [x.mean(dim=_dims_torch(node, x), keepdim=node.attrs.get("keepdim", False))]


@implements("amax", "torch")
def _amax_torch(node, inputs, state):
    x = inputs[0]
    return [x.amax(dim=_dims_torch(node, x), keepdim=node.attrs.get("keepdim", False))]
