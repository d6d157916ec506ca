"""Rules: stable codes with their own documentation and one check function each.

A rule's ``check(context)`` yields :class:`~snncompile.diagnostic.Diagnostic` records.
Rules are registered by code; ``snncompile rules`` lists them and ``snncompile rules CODE``
prints the docs (what, why, example, fix).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from snncompile.analysis.costs import NodeCost
from snncompile.config import Policy
from snncompile.ir.graph import Graph
from snncompile.diagnostic import Diagnostic


@dataclass
class CheckContext:
    graph: Graph
    costs: list[NodeCost]
    policy: Policy


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str  # "error" | "warning" | "note"
    summary: str
    why: str
    example: str
    fix: str
    check: Optional[Callable[[CheckContext], Iterable[Diagnostic]]] = field(default=None, compare=False)

    def docs(self) -> str:
        return (f"{self.code} {self.name} [{self.severity}]\n\n{self.summary}\n\nWhy it matters\n  "
                f"{_indent(self.why)}\n\nExample\n  {_indent(self.example)}\n\nFix\n  {_indent(self.fix)}\n")

    def diagnostic(self, nc: NodeCost, message: str, *, fix: Optional[str] = None) -> Diagnostic:
        file, _, line = nc.node.source.rpartition(":")
        return Diagnostic(
            rule=self.code, name=self.name, severity=self.severity, message=message,
            module=nc.node.module, op=nc.node.op, node=nc.node.name, input_domain=str(nc.input_domain),
            region=nc.region.value, file=file or None, line=int(line) if line.isdigit() else None,
            fix=fix or self.fix)


def _indent(text: str) -> str:
    return "\n  ".join(text.strip().splitlines())


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.code in RULES:
        raise ValueError(f"rule {rule.code} registered twice")
    RULES[rule.code] = rule
    return rule
