"""Ops that only move, copy or select elements.  Their domain is their input's (or the join).

Shapes are concrete: the tracer records the shapes it saw, so ``flatten``, ``view``, ``squeeze``,
``unsqueeze`` and ``unflatten`` are all ``reshape`` to the recorded shape, and ``transpose`` is a
``permute``.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import joined, op, same_as_input

# Movement hooks (see ``snncompile.ops.registry``):
#   "axis"(node, src, dst, axis, parts) -> the output axis that carries input ``axis`` — cut into ``parts``
#       equal slabs (time: T slabs of k; a channel axis: one slab per channel) — with its slabs whole and in
#       order, or a str saying why it does not;
#   "noop"(node, src, dst) -> whether the op returns its input unchanged (same element order);
#   "compose"(first, second) -> the attrs of ``second`` that make ``second ∘ first`` one op of its kind;
#   "resized"(node, out_shape, created_axis, parts) -> the attrs giving ``out_shape`` once an axis holds fewer
#       slabs (one time step); ``created_axis``: the axis the op itself tiles into ``parts`` slabs, if any.


def reshape_axis(src, dst, axis: int, parts: int):
    """The axis of a row-major reshape that keeps the slab structure of ``axis``: everything before it is
    unchanged in size, and the new axis holds the ``parts`` slabs (a multiple of them) with the same
    elements per slab.  An axis of the same size is preferred (a pure re-labelling)."""
    before = math.prod(src[:axis])
    block = (src[axis] // parts) * math.prod(src[axis + 1:])  # elements of one slab
    candidates = [b for b in range(len(dst)) if math.prod(dst[:b]) == before and dst[b] % parts == 0
                  and (dst[b] // parts) * math.prod(dst[b + 1:]) == block]
    if not candidates:
        return f"reshape {list(src)} -> {list(dst)} mixes axis {axis} with other axes"
    same = [b for b in candidates if dst[b] == src[axis]]
    return (same or candidates)[0]


def _reshape_noop(node, src, dst) -> bool:
    return tuple(src) == tuple(dst)


def _to_shape(node, out_shape, created_axis, parts) -> dict:
    return dict(node.attrs, shape=list(out_shape))


@op("reshape", "shape", domain=same_as_input, arity=(1, 1), attrs=("shape",), movement=True,
    hooks={"axis": lambda node, src, dst, axis, parts: reshape_axis(src, dst, axis, parts), "noop": _reshape_noop,
           "compose": lambda first, second: dict(second.attrs), "resized": _to_shape})
def reshape(node, inputs, state):
    """Row-major reshape to ``shape``."""
    return [inputs[0].reshape(node.attrs["shape"])]


def _permute_noop(node, src, dst) -> bool:
    """The identity permutation, or one that only moves size-1 axes (the row-major order is kept)."""
    dims = list(node.attrs["dims"])
    moved = [d for d in dims if src[d] != 1]
    return dims == sorted(dims) or moved == sorted(moved)


def _permute_compose(first, second) -> dict:
    """``permute(q) ∘ permute(p) = permute(p[q])``."""
    p, q = list(first.attrs["dims"]), list(second.attrs["dims"])
    return dict(second.attrs, dims=[p[i] for i in q])


@op("permute", "shape", domain=same_as_input, arity=(1, 1), attrs=("dims",), movement=True,
    hooks={"axis": lambda node, src, dst, axis, parts: list(node.attrs["dims"]).index(axis), "noop": _permute_noop,
           "compose": _permute_compose})
def permute(node, inputs, state):
    """Axis permutation: ``out.shape[i] = in.shape[dims[i]]``."""
    return [np.transpose(inputs[0], node.attrs["dims"])]


def _expand_axis(node, src, dst, axis, parts):
    a = axis + len(dst) - len(src)
    return a if dst[a] == src[axis] else f"expand along axis {axis}"


@op("expand", "shape", domain=same_as_input, arity=(1, 1), attrs=("shape",), movement=True,
    hooks={"axis": _expand_axis, "noop": _reshape_noop, "resized": _to_shape})
def expand(node, inputs, state):
    """Broadcast to ``shape`` (no copy in torch)."""
    return [np.broadcast_to(inputs[0], node.attrs["shape"])]


def _repeat_axis(node, src, dst, axis, parts):
    reps = list(node.attrs["repeats"])
    a = axis + len(reps) - len(src)
    return a if reps[a] == 1 else f"repeat along axis {axis}"


def _repeat_resized(node, out_shape, created_axis, parts) -> dict:
    """The tiling that creates the slabs makes ``parts`` times fewer copies; any other keeps its repeats."""
    if created_axis is None:
        return dict(node.attrs)
    reps = list(node.attrs["repeats"])
    reps[created_axis] //= parts
    return dict(node.attrs, repeats=reps)


def _repeat_creates(node, src, dst, parts):
    """The axis on which tiling a value that is the same at every step creates ``parts`` slabs (time)."""
    for a, r in enumerate(node.attrs["repeats"]):
        if r > 1 and r % parts == 0:
            return a
    return None


@op("repeat", "shape", domain=same_as_input, arity=(1, 1), attrs=("repeats",), movement=True,
    hooks={"axis": _repeat_axis, "creates_axis": _repeat_creates, "resized": _repeat_resized})
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


def _slice_axis(node, src, dst, axis, parts):
    """Where basic indexing puts input ``axis``: it must be taken whole (``:``)."""
    index = decode_index(node.attrs["index"])
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    full = []
    for i in index:
        full.extend([slice(None)] * (len(src) - n_real) if i is Ellipsis else [i])
    full.extend([slice(None)] * (len(src) - sum(1 for i in full if i is not None)))
    out_axis, in_axis = 0, 0
    for i in full:
        if i is None:
            out_axis += 1
            continue
        if in_axis == axis:
            if not (isinstance(i, slice) and i.indices(src[in_axis]) == (0, src[in_axis], 1)):
                return f"slicing along axis {axis}"
            return out_axis
        if isinstance(i, slice):
            out_axis += 1
        in_axis += 1
    return f"lost axis {axis} while slicing"


@op("slice", "shape", domain=same_as_input, arity=(1, 1), attrs=("index",), movement=True,
    hooks={"axis": _slice_axis})
def slice_(node, inputs, state):
    """Basic indexing ``x[index]`` (ints, slices, None, Ellipsis)."""
    return [inputs[0][decode_index(node.attrs["index"])]]


# Time-axis rules ("time" hooks) of the ops that gather or split along an axis; ``ctx`` is the time analysis'
# view of the node (``snncompile.analysis.time_axes.TimeContext``).

def _concat_time(ctx):
    res = ctx.broadcast(same_rank=True)
    if ctx.node.attrs["axis"] % len(ctx.src) == res.axis:
        ctx.fail("concat along the time axis")
    return res


def _stack_time(ctx):
    res = ctx.broadcast(same_rank=True)
    axis = ctx.node.attrs["axis"] % (len(ctx.src) + 1)
    return ctx.timed(res.axis + (1 if axis <= res.axis else 0), res.size)


def _split_time(ctx):
    if ctx.node.attrs["axis"] % len(ctx.src) == ctx.axis.axis:
        ctx.fail("split along the time axis")
    return ctx.axis


@op("concat", "shape", domain=joined, arity=(1, 1 << 16), attrs=("axis",), hooks={"time": _concat_time})
def concat(node, inputs, state):
    """Concatenate along ``axis``."""
    return [np.concatenate(inputs, axis=node.attrs["axis"])]


@op("stack", "shape", domain=joined, arity=(1, 1 << 16), attrs=("axis",), hooks={"time": _stack_time})
def stack(node, inputs, state):
    """Stack along a new ``axis``."""
    return [np.stack(inputs, axis=node.attrs["axis"])]


@op("split", "shape", domain=same_as_input, arity=(1, 1), attrs=("axis", "sizes"), hooks={"time": _split_time})
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
