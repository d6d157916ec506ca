"""Value-domain inference: one forward sweep applying each op's registered domain rule.

Graph inputs keep the domain the frontend gave them (``real`` for an analog image, ``binary``
for events); constants get the exact domain of their array.  Because the graph is in execution
order and every rule is monotone, one sweep computes the least fixed point.
"""
from __future__ import annotations

from snncompile import ops
from snncompile.errors import SnnCompileError
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph


def infer_domains(graph: Graph) -> Graph:
    for name in graph.inputs:
        if graph.values[name].domain is None:
            graph.values[name].domain = Domain.real()
    for node in graph.nodes:
        opdef = ops.get(node.op)
        problem = opdef.verify(node)
        if problem:
            raise SnnCompileError(f"{node.location}: {problem}")
        domains = [graph.values[v].domain for v in node.inputs]
        out = opdef.domain(node, domains, graph)
        for v, d in zip(node.outputs, out):
            graph.values[v].domain = d
    return graph
