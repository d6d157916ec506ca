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

from snncompile.ir.graph import Graph, Node

from .base import Pass, consumers, register_pass, remove_node


def is_noop(graph: Graph, node: Node) -> bool:
    """Whether ``node`` returns its input unchanged (same shape, same element order)."""
    if node.op == "identity":
        return True
    if len(node.inputs) != 1:
        return False
    src = graph.values[node.inputs[0]]
    dst = graph.values[node.outputs[0]]
    if node.op in ("reshape", "expand"):
        return tuple(src.shape) == tuple(dst.shape)
    if node.op == "permute":
        dims = list(node.attrs["dims"])
        return dims == sorted(dims) or _order_preserved(src.shape, dims)
    return False


def _order_preserved(shape, dims) -> bool:
    """A permutation that only moves size-1 axes keeps the row-major element order."""
    moved = [d for d in dims if shape[d] != 1]
    return moved == sorted(moved)


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
            if node.op == "permute" and graph.values[src].shape != graph.values[out].shape:
                # a permutation of size-1 axes keeps the order but changes the shape: make it a reshape
                node.op, node.attrs = "reshape", {"shape": list(graph.values[out].shape)}
                self.rewrote(node, "permute of size-1 axes became a reshape")
                continue
            remove_node(graph, node, forward_to=src)
            self.rewrote(node, f"removed {node.op} (returns its input)")


@register_pass
class SimplifyShapes(Pass):
    name = "simplify_shapes"
    summary = "compose reshape/permute chains and drop the resulting no-ops (exact)"

    def apply(self, graph: Graph) -> None:
        changed = True
        while changed:
            changed = False
            for node in list(graph.nodes):
                if node not in graph.nodes or node.op not in ("reshape", "permute"):
                    continue
                src = node.inputs[0]
                prev = graph.producer(src) if graph.values[src].producer else None
                if prev is None or prev.op != node.op or src in graph.outputs or len(consumers(graph, src)) != 1:
                    continue
                if node.op == "reshape":
                    node.inputs = [prev.inputs[0]]
                    detail = f"merged {prev.name} into it"
                else:
                    p, q = list(prev.attrs["dims"]), list(node.attrs["dims"])
                    node.attrs = dict(node.attrs, dims=[p[i] for i in q])
                    node.inputs = [prev.inputs[0]]
                    detail = f"composed permutation of {prev.name} into it"
                remove_node(graph, prev)
                self.rewrote(node, detail)
                changed = True
            for node in list(graph.nodes):
                if node.op in ("reshape", "permute") and is_noop(graph, node) and \
                        graph.values[node.inputs[0]].shape == graph.values[node.outputs[0]].shape:
                    if node.outputs[0] in graph.outputs and node.inputs[0] in graph.inputs:
                        continue
                    remove_node(graph, node, forward_to=node.inputs[0])
                    self.rewrote(node, f"removed no-op {node.op}")
                    changed = True
        graph._index = None
