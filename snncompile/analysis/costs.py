"""Per-node cost and the list of weight layers, after domain inference."""
from __future__ import annotations

from dataclasses import dataclass

from snncompile import ops
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph, Node

from .regions import Region, classify_regions


@dataclass(frozen=True)
class NodeCost:
    node: Node
    cost: ops.Cost
    region: Region
    input_domain: Domain  # join of the dynamic operands' domains (the one that decides the cost)


def dynamic_input_domain(graph: Graph, node: Node) -> Domain:
    doms = [graph.values[v].domain for v in node.inputs if not graph.values[v].constant]
    doms = [d for d in doms if d is not None]
    if not doms:
        return Domain.real()
    if ops.get(node.op).family == "matmul" and len(doms) == 2:
        # a spike matmul is decided by its non-binary operand when there is one
        non_binary = [d for d in doms if not d.is_binary]
        return non_binary[0] if non_binary else doms[0]
    out = doms[0]
    for d in doms[1:]:
        out = out.join(d)
    return out


def node_costs(graph: Graph) -> list[NodeCost]:
    """Cost of every node in execution order (domains must have been inferred)."""
    regions = classify_regions(graph)
    return [NodeCost(n, ops.get(n.op).cost(n, graph), regions[n.name], dynamic_input_domain(graph, n))
            for n in graph.nodes]
