"""``fold_batch_norm``: fold an inference BatchNorm into the weight layer that feeds it.

Algebra (exact in real arithmetic).  BatchNorm in inference is a per-channel affine map
``BN(y)_c = s_c·y_c + t_c`` with ``s_c = γ_c / √(σ²_c + ε)`` and ``t_c = β_c − μ_c·s_c``.  When ``y`` is
the output of a weight layer ``y = W ⊛ x + b`` (Linear, Conv1d, Conv2d), with output channel ``c`` along
BatchNorm's channel axis, then

    BN(W ⊛ x + b) = (s ⊙ W) ⊛ x + (s ⊙ b + t)

where ``s ⊙ W`` scales output channel ``c`` of ``W`` (row ``c`` of a Linear weight, filter ``c`` of a
conv).  Data moves (ops with the ``movement`` trait: reshapes, permutations, identities, ...) between the
layer and the BatchNorm are allowed as long as they carry the layer's output-channel axis onto BatchNorm's
axis 1 (e.g. Spikformer's
``bn(linear(x).transpose(-1, -2)).transpose(-1, -2)``); they stay in place.

The folded constants are computed and stored in float64 (the only rounding: one product per weight,
~1e-16 relative), so a float64 run differs from the unfolded graph only at threshold ties.

Refused (and logged) when: no weight layer precedes the BatchNorm through data-movement ops only; the
layer's output (or a value on the way) has another consumer; the axes do not line up.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from snncompile import ops
from snncompile.ir.graph import Graph, Node

from .base import Pass, Walk, new_constant, register_pass, single_use, walk_back


def axis_back(graph: Graph, node: Node, axis: int) -> Optional[int]:
    """The input axis of a data-movement ``node`` that becomes output ``axis`` whole (same size, every
    index its own slab), or None if the move mixes it."""
    src, dst = graph.values[node.inputs[0]].shape, graph.values[node.outputs[0]].shape
    carry = ops.get(node.op).hook("axis")
    for a in range(len(src)):
        if src[a] == dst[axis] and carry(node, src, dst, a, src[a]) == axis:
            return a
    return None


def weight_out_axis(graph: Graph, node: Node) -> int:
    """The output-channel axis of weight layer ``node``."""
    return ops.get(node.op).weight.channel_axis(len(graph.values[node.outputs[0]].shape))


def find_weight_producer(graph: Graph, value: str, axis: Optional[int]) -> Walk:
    """Walk back from ``value`` through single-use data moves to the weight layer that computes it.

    With ``axis``, the channel on that axis of ``value`` must be the layer's output-channel axis (moves
    carry it along); with None any move passes (a scale of the whole tensor).  ``found`` is the weight
    layer, ``passed`` the moves, ``why`` the reason when there is none."""
    state = {"axis": axis}

    def step(v: str, producer: Optional[Node]):
        if producer is None:
            return "its input is not computed by a weight layer"
        opdef = ops.get(producer.op)
        if opdef.weight is not None:
            if state["axis"] is not None and state["axis"] != weight_out_axis(graph, producer):
                return f"the normalised axis is not {producer.name}'s output-channel axis"
            return producer
        if not opdef.movement:
            return f"{producer.name} ({producer.op}) lies between it and any weight layer"
        if not single_use(graph, v):
            return f"{v} has other uses"
        if state["axis"] is not None:
            state["axis"] = axis_back(graph, producer, state["axis"])
            if state["axis"] is None:
                return f"{producer.name} mixes the channel axis"
        return (producer.inputs[0],)

    return walk_back(graph, value, step)


def scale_weight_layer(graph: Graph, node: Node, scale: np.ndarray, shift: Optional[np.ndarray], hint: str) -> None:
    """``W ⊛ x + b`` → ``(s ⊙ W) ⊛ x + (s ⊙ b + t)`` per output channel (float64 constants, new names)."""
    layer = ops.get(node.op).weight
    w = graph.constants[node.inputs[layer.weight]].astype(np.float64)
    c_out = w.shape[0]
    has_bias = len(node.inputs) > layer.bias
    inputs = list(node.inputs[:layer.weight]) + [new_constant(graph, f"{node.name}_weight_{hint}",
                                                               w * scale.reshape((-1,) + (1,) * (w.ndim - 1)))]
    if has_bias or shift is not None:
        b = graph.constants[node.inputs[layer.bias]].astype(np.float64).reshape(-1) if has_bias else np.zeros(c_out)
        inputs.append(new_constant(graph, f"{node.name}_bias_{hint}", b * scale + (0.0 if shift is None else shift)))
    graph.set_inputs(node, inputs)


@register_pass
class FoldBatchNorm(Pass):
    name = "fold_batch_norm"
    summary = "fold inference BatchNorm into the preceding Linear/Conv: W' = s·W, b' = s·b + t (exact algebra)"

    def apply(self, graph: Graph) -> None:
        for bn in [n for n in graph.nodes if ops.get(n.op).channel_affine is not None]:
            scale, shift = ops.get(bn.op).channel_affine(bn, [graph.constants.get(v) for v in bn.inputs])
            if scale is None or any(not graph.values[v].constant for v in bn.inputs[1:]):
                self.refuse(bn, "its statistics are not constants")
                continue
            walk = find_weight_producer(graph, bn.inputs[0], 1)
            w_node = walk.found
            if w_node is None:
                self.refuse(bn, walk.why)
                continue
            if not single_use(graph, w_node.outputs[0]):
                self.refuse(bn, f"{w_node.name}'s output has other uses")
                continue
            c_out = graph.values[w_node.inputs[ops.get(w_node.op).weight.weight]].shape[0]
            scale = np.asarray(scale, np.float64).reshape(-1)
            shift = np.asarray(shift, np.float64).reshape(-1)
            if scale.size != c_out:
                self.refuse(bn, f"{scale.size} channels but {w_node.name} has {c_out} outputs")
                continue
            scale_weight_layer(graph, w_node, scale, shift, "bnfold")
            w_node.attrs = dict(w_node.attrs, folded_batch_norm=bn.module or bn.name)
            graph.erase_node(bn, forward_to=bn.inputs[0])
            moves = walk.passed
            self.rewrote(bn, f"folded into {w_node.name}" + (f" through {len(moves)} data move(s)" if moves else ""))
        graph.drop_unused_constants()
