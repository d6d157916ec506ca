"""Shape clean-up passes: ``drop_identity`` and ``simplify_shapes``.

``drop_identity`` removes ops that return their input unchanged: ``identity`` (contiguous, clone,
dropout at inference), a ``reshape``/``expand`` to the input's own shape, a ``permute`` by the identity
permutation.  Exact: no arithmetic is involved.

``simplify_shapes`` composes chains of data-movement ops whose intermediate values have no other use:
``reshape ∘ reshape = reshape`` (row-major reshapes compose to the last shape) and
``permute(q) ∘ permute(p) = permute(p[q])``; what becomes a no-op is dropped.  This removes the
reshapes that only split and re-merge the time axis with the batch (``[T·B, …] → [T, B, …] → [T·B, …]``)
and the transpose pairs left around a folded BatchNorm1d.  Exact.
"""
from __future__ import annotations

from snncompile import ops
from snncompile.ir.graph import Graph, Node

from .base import Pass, register_pass, single_use


def is_noop(graph: Graph, node: Node) -> bool:
    """Whether ``node`` returns its input unchanged (same element order): its op's ``"noop"`` hook says."""
    opdef = ops.get(node.op)
    if not opdef.has_hook("noop") or len(node.inputs) != 1:
        return False
    return bool(opdef.hook("noop")(node, graph.values[node.inputs[0]].shape, graph.values[node.outputs[0]].shape))


@register_pass
class DropIdentity(Pass):
    name = "drop_identity"
    summary = "remove identity ops and no-op reshapes/permutes/expands (exact)"

    def apply(self, graph: Graph) -> None:
        for node in [n for n in graph.nodes]:
            if not is_noop(graph, node):
                continue
            src, out = node.inputs[0], node.outputs[0]
            if out in graph.outputs and src in graph.inputs:
                self.refuse(node, "it connects a graph input straight to a graph output")
                continue
            if graph.values[src].shape != graph.values[out].shape:
                # keeps the element order but changes the shape (a permutation of size-1 axes): a reshape
                was = node.op
                node.op, node.attrs = "reshape", {"shape": list(graph.values[out].shape)}
                self.rewrote(node, f"{was} of size-1 axes became a reshape")
                continue
            graph.erase_node(node, forward_to=src)
            self.rewrote(node, f"removed {node.op} (returns its input)")


@register_pass
class SimplifyShapes(Pass):
    name = "simplify_shapes"
    summary = "compose reshape/permute chains and drop the resulting no-ops (exact)"

    def apply(self, graph: Graph) -> None:
        changed = True
        while changed:
            changed = self._compose_pairs(graph) | self._drop_noops(graph)

    def _compose_pairs(self, graph: Graph) -> bool:
        """``second ∘ first`` of two single-use moves of one kind → one (the op's ``"compose"`` hook)."""
        changed = False
        for node in list(graph.nodes):
            opdef = ops.get(node.op)
            if node not in graph.nodes or not opdef.has_hook("compose"):
                continue
            src = node.inputs[0]
            prev = graph.producer(src) if graph.values[src].producer else None
            if prev is None or prev.op != node.op or not single_use(graph, src):
                continue
            node.attrs = opdef.hook("compose")(prev, node)
            graph.set_inputs(node, [prev.inputs[0]])
            graph.erase_node(prev)
            self.rewrote(node, f"composed {prev.name} into it")
            changed = True
        return changed

    def _drop_noops(self, graph: Graph) -> bool:
        changed = False
        for node in list(graph.nodes):
            if ops.get(node.op).has_hook("compose") and is_noop(graph, node) and \
                    graph.values[node.inputs[0]].shape == graph.values[node.outputs[0]].shape:
                if node.outputs[0] in graph.outputs and node.inputs[0] in graph.inputs:
                    continue
                graph.erase_node(node, forward_to=node.inputs[0])
                self.rewrote(node, f"removed no-op {node.op}")
                changed = True
        return changed
