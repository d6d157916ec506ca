"""Spike-for-spike comparison of a reference run with another run (torch, Lava).

Two float runs of the same network may differ only where a neuron's membrane ``H`` (the value
compared with the threshold) lies within ``tie_tol`` of ``V_th``: there, a last-bit rounding
difference flips ``H ≥ V_th``.  A neuron op states its charge (hook ``charge``) and may state its decision
(hook ``margin``: a graded I-LIF's decisions are the rounding points ``k + ½``).
:func:`membrane_traces` recomputes every neuron node's ``H`` from a run that recorded the neurons' inputs
(``record=neuron_values(graph)``) by replaying the op's own steps (its ``charge`` hook) with the same state
sharing as the executor; :func:`compare_spikes` then counts mismatches, ties, and mismatches that are not ties.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from snncompile import ops
from snncompile.ir.graph import Graph, Node

from .executor import ExecutionResult


def membrane_traces(graph: Graph, result: ExecutionResult) -> dict[str, np.ndarray]:
    """``H`` of every neuron node (same shape as its spikes), from recorded neuron inputs: the op's ``charge``
    hook, its state shared between nodes as the executor shares it (``state_key``)."""
    states: dict[str, dict] = {}
    traces: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        opdef = ops.get(node.op)
        if opdef.neuron is None:
            continue
        state = states.setdefault(node.attrs.get("state_key") or node.name, {})
        traces[node.name] = opdef.hook("charge")(node, [_value(graph, result, v) for v in node.inputs], state)
    return traces


def _value(graph: Graph, result: ExecutionResult, name: str) -> np.ndarray:
    if name in graph.constants:
        return np.asarray(graph.constants[name], dtype=np.float64)
    if name not in result.values:
        raise KeyError(f"value {name} was not recorded: run with record=neuron_values(graph)")
    return result.values[name]


def neuron_spikes_by_module(graph: Graph, result: ExecutionResult) -> dict[str, list[np.ndarray]]:
    """Recorded spikes of every neuron node grouped by module path, one entry per call, in order."""
    out: dict[str, list[np.ndarray]] = {}
    for node in graph.nodes:
        if ops.get(node.op).neuron is not None:
            out.setdefault(node.module, []).append(result.values[node.outputs[0]])
    return out


def neuron_nodes_by_module(graph: Graph) -> dict[str, list[Node]]:
    out: dict[str, list[Node]] = {}
    for node in graph.nodes:
        if ops.get(node.op).neuron is not None:
            out.setdefault(node.module, []).append(node)
    return out


def _margin(node: Node, h: np.ndarray) -> np.ndarray:
    """Distance of ``H`` from the neuron's decision: ``|H − V_th|``, or the op's ``margin`` hook (graded
    neurons: the nearest rounding boundary)."""
    opdef = ops.get(node.op)
    if opdef.has_hook("margin"):
        return opdef.hook("margin")(node, h)
    return np.abs(h - node.attrs["v_threshold"])


@dataclass
class SpikeComparison:
    """Outcome of :func:`compare_spikes` over every neuron, every call, every step."""

    compared: int = 0  # spike elements compared
    mismatches: int = 0  # elements where the spikes differ
    ties: int = 0  # elements whose membrane lies within tie_tol of the threshold
    unexplained: list[str] = field(default_factory=list)  # mismatches that are not ties
    missing: list[str] = field(default_factory=list)  # modules present on one side only

    @property
    def ok(self) -> bool:
        return not self.unexplained and not self.missing

    def __str__(self) -> str:
        text = (f"{self.compared} spikes compared: {self.mismatches} mismatch(es), {self.ties} tie(s) "
                f"within tolerance of the threshold")
        for line in self.missing + self.unexplained:
            text += f"\n  {line}"
        return text


def compare_spikes(graph: Graph, result: ExecutionResult, other: Mapping[str, Sequence[np.ndarray]],
                   *, tie_tol: float = 1e-9) -> SpikeComparison:
    """Compare the reference ``result`` (recorded with ``neuron_values``) with ``other``: module path →
    spike arrays, one per call, in call order (e.g. captured by torch forward hooks)."""
    traces = membrane_traces(graph, result)
    nodes = neuron_nodes_by_module(graph)
    cmp = SpikeComparison()
    for module in sorted(set(nodes) | set(other)):
        mine, theirs = nodes.get(module, []), list(other.get(module, []))
        if len(mine) != len(theirs):
            cmp.missing.append(f"{module or '<root>'}: {len(mine)} reference call(s), {len(theirs)} other")
            continue
        for node, spikes in zip(mine, theirs):
            ref = result.values[node.outputs[0]]
            spikes = np.asarray(spikes).reshape(ref.shape)
            h = traces[node.name]
            tie = _margin(node, h) <= tie_tol
            diff = ref != spikes
            cmp.compared += ref.size
            cmp.mismatches += int(diff.sum())
            cmp.ties += int(tie.sum())
            bad = int((diff & ~tie).sum())
            if bad:
                cmp.unexplained.append(f"{node.location}: {bad} spike(s) differ away from the threshold")
    return cmp
