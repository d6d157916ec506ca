"""Values that hold spikes by construction: 0/1 tensors whose nonzero count is their sum.

A value is *spike-valued* when a neuron op with binary spikes produced it (its first output:
``Θ(H − V_th)`` cast to the float dtype; graded-spike neurons are not: their spikes are integers up to
``max_spike``), or a ``shape``-family op (reshape, permute, slice, concat, …: they only move
elements) produced it from spike-valued operands only.  Unlike a ``binary`` value domain, this does
not trust the declared domain of the graph inputs (a user may declare event frames binary that hold
counts), so counting engines may use ``nnz(x) = Σ x`` on these values and stay exact.
"""
from __future__ import annotations

import weakref

from snncompile import ops
from snncompile.ir.graph import Graph

_CACHE: dict[int, tuple] = {}  # id(graph) -> (weakref to it, node count, result)


def spike_valued(graph: Graph) -> frozenset:
    """Names of the spike-valued values of ``graph`` (cached per graph and node count)."""
    hit = _CACHE.get(id(graph))
    if hit is not None and hit[0]() is graph and hit[1] == len(graph.nodes):
        return hit[2]
    found: set[str] = set()
    for node in graph.nodes:
        d = ops.get(node.op)
        if d.neuron is not None:
            if d.neuron.binary:
                found.add(node.outputs[0])
        elif d.family == "shape":
            dyn = [v for v in node.inputs if not graph.values[v].constant]
            if dyn and all(v in found for v in dyn):
                found.update(node.outputs)
    result = frozenset(found)
    for key in [k for k, e in _CACHE.items() if e[0]() is None]:
        del _CACHE[key]
    _CACHE[id(graph)] = (weakref.ref(graph), len(graph.nodes), result)
    return result
