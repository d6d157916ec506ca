"""Ops that only move, copy or select elements.  Their domain is their input's (or the join).

Shapes are concrete: the tracer records the shapes it saw, so ``flatten``, ``view``, ``squeeze``,
``unsqueeze`` and ``unflatten`` are all ``reshape`` to the recorded shape, and ``transpose`` is a
``permute``.
"""
from __future__ import annotations

import numpy as np

from .registry import joined, op, same_as_input


@op("reshape", "shape", domain=same_as_input, arity=(1, 1), attrs=("shape",))
def reshape(node, inputs, state):
    """Row-major reshape to ``shape``."""
    return [inputs[0].reshape(node.attrs["shape"])]


@op("permute", "shape", domain=same_as_input, arity=(1, 1), attrs=("dims",))
def permute(node, inputs, state):
    """Axis permutation: ``out.shape[i] = in.shape[dims[i]]``."""
    return [np.transpose(inputs[0], node.attrs["dims"])]


@op("expand", "shape", domain=same_as_input, arity=(1, 1), attrs=("shape",))
def expand(node, inputs, state):
    """Broadcast to ``shape`` (no copy in torch)."""
    return [np.broadcast_to(inputs[0], node.attrs["shape"])]


@op("repeat", "shape", domain=same_as_input, arity=(1, 1), attrs=("repeats",))
def repeat(node, inputs, state):
    """``torch.Tensor.repeat``: tile ``repeats`` times per axis (leading axes added as needed)."""
    reps = tuple(node.attrs["repeats"])
    x = inputs[0]
    x = x.reshape((1,) * (len(reps) - x.ndim) + x.shape)
    return [np.tile(x, reps)]


def decode_index(spec):
    """The numpy index of a serialised index spec: ints, ``[start, stop, step]`` slices, None, '...'."""
    items = []
    for item in spec:
        if isinstance(item, dict):
            items.append(slice(*item["slice"]))
        elif item == "...":
            items.append(Ellipsis)
        else:
            items.append(item)
    return tuple(items)


@op("slice", "shape", domain=same_as_input, arity=(1, 1), attrs=("index",))
def slice_(node, inputs, state):
    """Basic indexing ``x[index]`` (ints, slices, None, Ellipsis)."""
    return [inputs[0][decode_index(node.attrs["index"])]]


@op("concat", "shape", domain=joined, arity=(1, 1 << 16), attrs=("axis",))
def concat(node, inputs, state):
    """Concatenate along ``axis``."""
    return [np.concatenate(inputs, axis=node.attrs["axis"])]


@op("stack", "shape", domain=joined, arity=(1, 1 << 16), attrs=("axis",))
def stack(node, inputs, state):
    """Stack along a new ``axis``."""
    return [np.stack(inputs, axis=node.attrs["axis"])]


@op("split", "shape", domain=same_as_input, arity=(1, 1), attrs=("axis", "sizes"))
def split(node, inputs, state):
    """Split along ``axis`` into consecutive pieces of ``sizes``."""
    bounds = np.cumsum(node.attrs["sizes"])[:-1]
    return list(np.split(inputs[0], bounds, axis=node.attrs["axis"]))


# -- torch implementations (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


@implements("reshape", "torch")
def _reshape_torch(node, inputs, state):
    return [inputs[0].reshape(node.attrs["shape"])]


@implements("permute", "torch")
def _permute_torch(node, inputs, state):
    return [inputs[0].permute(*node.attrs["dims"])]


@implements("expand", "torch")
def _expand_torch(node, inputs, state):
    return [inputs[0].expand(*node.attrs["shape"])]


@implements("repeat", "torch")
def _repeat_torch(node, inputs, state):
    return [inputs[0].repeat(*node.attrs["repeats"])]


@implements("slice", "torch")
def _slice_torch(node, inputs, state):
    return [inputs[0][decode_index(node.attrs["index"])]]


@implements("concat", "torch")
def _concat_torch(node, inputs, state):
    import torch

    return [torch.cat(list(inputs), dim=node.attrs["axis"])]


@implements("stack", "torch")
def _stack_torch(node, inputs, state):
    import torch

    return [torch.stack(list(inputs), dim=node.attrs["axis"])]


@implements("split", "torch")
def _split_torch(node, inputs, state):
    return list(inputs[0].split(list(node.attrs["sizes"]), dim=node.attrs["axis"]))
