"""``fold_batch_norm``: fold an inference BatchNorm into the weight layer that feeds it.

Algebra (exact in real arithmetic).  BatchNorm in inference is a per-channel affine map
``BN(y)_c = s_c·y_c + t_c`` with ``s_c = γ_c / √(σ²_c + ε)`` and ``t_c = β_c − μ_c·s_c``.  When ``y`` is
the output of a weight layer ``y = W ⊛ x + b`` (Linear, Conv1d, Conv2d), with output channel ``c`` along
BatchNorm's channel axis, then

    BN(W ⊛ x + b) = (s ⊙ W) ⊛ x + (s ⊙ b + t)

where ``s ⊙ W`` scales output channel ``c`` of ``W`` (row ``c`` of a Linear weight, filter ``c`` of a
conv).  Reshapes, permutations and identities between the layer and the BatchNorm are allowed as long
as they carry the layer's output-channel axis onto BatchNorm's axis 1 (e.g. Spikformer's
``bn(linear(x).transpose(-1, -2)).transpose(-1, -2)``); they stay in place.

The folded constants are computed and stored in float64 (the only rounding: one product per weight,
~1e-16 relative), so a float64 run differs from the unfolded graph only at threshold ties.

Refused (and logged) when: no weight layer precedes the BatchNorm through data-movement ops only; the
layer's output (or a value on the way) has another consumer; the axes do not line up.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from snncompile.ir.graph import Graph, Node
from snncompile.ops.weights import bn_affine

from .base import Pass, consumers, new_constant, register_pass, remove_node

WEIGHT_OPS = ("linear", "conv1d", "conv2d")
MOVES = ("reshape", "permute", "identity")


def _axis_back(graph: Graph, node: Node, axis: int) -> Optional[int]:
    """The input axis that becomes output ``axis`` of a data-movement ``node`` (None if it is mixed)."""
    src, dst = graph.values[node.inputs[0]].shape, graph.values[node.outputs[0]].shape
    if node.op == "identity":
        return axis
    if node.op == "permute":
        return list(node.attrs["dims"])[axis]
    if node.op == "reshape":
        before = math.prod(dst[:axis])
        for a in range(len(src)):
            if math.prod(src[:a]) == before and src[a] == dst[axis]:
                return a
        return None
    return None


def weight_out_axis(graph: Graph, node: Node) -> int:
    rank = len(graph.values[node.outputs[0]].shape)
    return rank - 1 if node.op == "linear" else 1


def find_weight_producer(graph: Graph, value: str, axis: int) -> tuple[Optional[Node], list[Node], str]:
    """Walk back from ``value`` (channel on ``axis``) through single-use data moves to a weight layer.

    Returns (weight node or None, the moves passed, a reason when None)."""
    moves: list[Node] = []
    while True:
        prod = graph.producer(value) if graph.values[value].producer else None
        if prod is None:
            return None, moves, "its input is not computed by a weight layer"
        if prod.op in WEIGHT_OPS:
            if axis != weight_out_axis(graph, prod):
                return None, moves, f"the normalised axis is not {prod.name}'s output-channel axis"
            return prod, moves, ""
        if prod.op not in MOVES:
            return None, moves, f"{prod.name} ({prod.op}) lies between it and any weight layer"
        if len(consumers(graph, value)) != 1 or value in graph.outputs:
            return None, moves, f"{value} has other uses"
        axis = _axis_back(graph, prod, axis)
        if axis is None:
            return None, moves, f"{prod.name} mixes the channel axis"
        moves.append(prod)
        value = prod.inputs[0]


@register_pass
class FoldBatchNorm(Pass):
    name = "fold_batch_norm"
    summary = "fold inference BatchNorm into the preceding Linear/Conv: W' = s·W, b' = s·b + t (exact algebra)"

    def apply(self, graph: Graph) -> None:
        for bn in [n for n in graph.nodes if n.op == "batch_norm"]:
            scale, shift = bn_affine(bn, [graph.constants.get(v) for v in bn.inputs])
            if scale is None or any(not graph.values[v].constant for v in bn.inputs[1:]):
                self.refuse(bn, "its statistics are not constants")
                continue
            w_node, moves, why = find_weight_producer(graph, bn.inputs[0], 1)
            if w_node is None:
                self.refuse(bn, why)
                continue
            y = w_node.outputs[0]
            if len(consumers(graph, y)) != 1 or y in graph.outputs:
                self.refuse(bn, f"{w_node.name}'s output has other uses")
                continue
            w = graph.constants[w_node.inputs[1]].astype(np.float64)
            c_out = w.shape[0]
            scale = np.asarray(scale, np.float64).reshape(-1)
            shift = np.asarray(shift, np.float64).reshape(-1)
            if scale.size != c_out:
                self.refuse(bn, f"{scale.size} channels but {w_node.name} has {c_out} outputs")
                continue
            w2 = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
            b = graph.constants[w_node.inputs[2]].astype(np.float64).reshape(-1) if len(w_node.inputs) > 2 \
                else np.zeros(c_out)
            b2 = b * scale + shift
            w_name = new_constant(graph, f"{w_node.name}_weight_bnfold", w2)
            b_name = new_constant(graph, f"{w_node.name}_bias_bnfold", b2)
            w_node.inputs = [w_node.inputs[0], w_name, b_name]
            w_node.attrs = dict(w_node.attrs, folded_batch_norm=bn.module or bn.name)
            remove_node(graph, bn, forward_to=bn.inputs[0])
            self.rewrote(bn, f"folded into {w_node.name}" + (f" through {len(moves)} data move(s)" if moves else ""))
        from .base import drop_unused_constants

        drop_unused_constants(graph)
