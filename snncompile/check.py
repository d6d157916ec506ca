"""``snncompile check``: trace → infer domains → cost every node → run the rules.

The verdict for each weight layer follows from its input domain (binary → AC; non-binary
integer → integer×float multiplication; real → MAC) and its region (encoding / body / readout).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from snncompile import rules as rules_pkg
from snncompile.analysis.costs import NodeCost, node_costs
from snncompile.analysis.domains import infer_domains
from snncompile.analysis.regions import Region
from snncompile.config import Policy
from snncompile.diagnostic import Diagnostic
from snncompile.ir.graph import Graph
from snncompile.ops import COST_LABELS



@dataclass(frozen=True)
class Layer:
    """One weight layer as the reports show it."""

    module: str
    op: str
    node: str
    input_domain: str
    cost: str  # AC | INT×FLOAT | MAC
    region: str
    allowed: bool  # an encoding/readout MAC the policy allows
    flops: int  # structural FLOPs per traced batch (all time steps)
    file: Optional[str]
    line: Optional[int]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class CheckResult:
    graph: Graph
    policy: Policy
    findings: list[Diagnostic]
    layers: list[Layer]
    costs: list[NodeCost] = field(repr=False, default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def failing(self) -> list[Diagnostic]:
        """Findings that fail the gate: errors and warnings (notes such as SNN105 only inform)."""
        return [d for d in self.findings if d.severity != "note"]

    def max_integer_into_weights(self) -> Optional[int]:
        """The largest integer any weight layer receives (None if all inputs are binary or real)."""
        his = [nc.input_domain.hi for nc in self.costs
               if nc.cost.weight_layer and nc.input_domain.is_integer]
        return int(max(his)) if his else None


def _layer(nc: NodeCost, findings_nodes: set[str]) -> Layer:
    file, _, line = nc.node.source.rpartition(":")
    allowed = nc.cost.kind != "ac" and nc.node.name not in findings_nodes and nc.region in (
        Region.ENCODING, Region.READOUT)
    label = "GRADED" if nc.input_domain.is_graded else COST_LABELS.get(nc.cost.kind, nc.cost.kind)
    return Layer(nc.node.module, nc.node.op, nc.node.name, str(nc.input_domain), label, nc.region.value,
                 allowed, nc.cost.flops, file or None, int(line) if line.isdigit() else None)


def check_graph(graph: Graph, policy: Policy = Policy()) -> CheckResult:
    infer_domains(graph)
    costs = node_costs(graph)
    ctx = rules_pkg.CheckContext(graph, costs, policy)
    findings: list[Diagnostic] = []
    for code, rule in sorted(rules_pkg.RULES.items()):
        if rule.check is not None and policy.enabled(code):
            findings.extend(rule.check(ctx))
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    findings.sort(key=lambda d: (order.get(d.node, 0), d.rule))
    flagged = {d.node for d in findings}
    layers = [_layer(nc, flagged) for nc in costs if nc.cost.weight_layer]
    return CheckResult(graph, policy, findings, layers, costs)
