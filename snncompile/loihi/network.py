"""The Loihi view of a one-step graph: *units* (what becomes cores and Lava processes) and the terms
that connect them.

The one-step graph (``snncompile.passes.slice_time`` after the Loihi pass pipeline) is cut at the ops
that a neuromorphic chip implements as a population:

============  ============================================================================================
unit kind     IR anchor
============  ============================================================================================
``input``     a graph input (the host sends it every step: the analog image, or events)
``synapse``   a weight layer (``weight`` trait: linear, conv): the weights and the compartments that
              accumulate them
``neuron``    a neuron op (``neuron`` trait): one population of neurons
``pool``      max-pooling (``pooling="max"``) of spikes (an OR over each window, a unit-weight, threshold-1
              population) or of one weight layer's currents (a programmable-neuron max; in fixed point see
              :mod:`.current_pool`)
``attention`` a contraction of a contraction of spike trains, ``(a·b)·c`` or ``a·(b·c)`` (SSA's
              ``(QKᵀ)V`` / ``Q(KᵀV)``): no weights, products of spikes
``product``   an elementwise product of two dynamic binary tensors (``a ⊙ b``; SEW's AND/IAND, SDT's
              ``K ⊙ V``, QKFormer's ``mask ⊙ K``): a *coincidence population* with ports ``a`` and ``b``
              (:mod:`.coincidence`); operands of any other domain are refused there
``readout``   a value the post-time-loop graph reads (e.g. the mean over tokens before the mean over T)
============  ============================================================================================

A neuron whose trait says it is not binary (I-LIF, ``ilif``) emits *graded* spikes ``0..D``: its unit records
``graded`` and ``max_spike`` = D (the upper end of its output's value domain), and its spikes travel as graded
messages (a payload per event) to the synapses it feeds.

Everything between units is a linear map of one producer: an op with an ``"affine"`` hook that is linear
in its one dynamic operand (data moves, a multiplication by a constant, a mean or sum over non-time axes,
average pooling), or a summation (``add``/``sub``: several producers summed into one input; Lava sums
OutPorts that share an InPort).  :func:`build_network` records, for every
unit input *port*, its **terms**: (producer unit, the chain of IR nodes from the producer's output to
the port, sign).  Nothing here needs Lava or materialises a weight matrix, so it works for ImageNet-size
graphs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from snncompile import ops
from snncompile.errors import UnsupportedOpError
from snncompile.ir.graph import Graph, Node

from .coincidence import check_operands


@dataclass
class Term:
    source: str  # producer unit name
    value: str  # the producer's output value
    chain: list[str]  # IR node names from the producer's output to the port value (moves/sums/scales)
    sign: float = 1.0


@dataclass
class Port:
    name: str  # port name on the unit ("in", "a", "b", "c")
    value: str  # the IR value this port reads
    terms: list[Term] = field(default_factory=list)


@dataclass
class Unit:
    name: str
    kind: str  # input | synapse | neuron | pool | attention | product | readout
    node: Optional[str]  # anchor IR node (None for inputs/readouts)
    module: str
    output: Optional[str]  # the IR value it produces (None for readouts)
    ports: list[Port] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    consumers: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        return [t.source for p in self.ports for t in p.terms if t.source]  # constant terms have none

    @property
    def graded(self) -> bool:
        """Whether the unit emits graded spikes (integers 0..max_spike, a payload per event)."""
        return bool(self.attrs.get("graded", False))

    @property
    def max_spike(self) -> int:
        """The largest value of one emitted spike: D for a graded neuron, 1 for a binary population."""
        return int(self.attrs.get("max_spike", 1))


@dataclass
class Network:
    graph: Graph  # the one-step graph
    units: dict[str, Unit]
    order: list[str]  # units in execution (topological) order
    value_unit: dict[str, str]  # producer value -> unit name

    def of_kind(self, *kinds: str) -> list[Unit]:
        return [self.units[u] for u in self.order if self.units[u].kind in kinds]


def _unit_kind(graph: Graph, n: Node, inner_matmuls: set[str]) -> Optional[str]:
    """The kind of unit ``n`` anchors, by its op's traits (None: ``n`` lies between units)."""
    opdef = ops.get(n.op)
    if opdef.neuron is not None:
        return "neuron"
    if opdef.weight is not None:
        return "synapse"
    if opdef.pooling == "max":
        return "pool"
    if ops.is_dynamic_contraction(graph, n) and n.name not in inner_matmuls:
        return "attention"
    if ops.is_dynamic_product(graph, n):
        return "product"
    return None


def _between_units(graph: Graph, p: Node) -> Optional[str]:
    """The operand through which ``p`` is a linear map of one producer (None if it is not one)."""
    x = ops.linear_operand(graph, p)
    return x if x is not None and ops.get(p.op).has_hook("affine") else None


def build_network(step: Graph, readout_values: Optional[list[str]] = None) -> Network:
    """Cut the one-step graph into units (see the module docstring)."""
    units: dict[str, Unit] = {}
    order: list[str] = []
    value_unit: dict[str, str] = {}
    for name in step.inputs:
        u = Unit(name, "input", None, "", name)
        units[name], value_unit[name] = u, name
        order.append(name)
    inner_matmuls = set()
    for n in step.nodes:
        if ops.is_dynamic_contraction(step, n):
            inner = _inner_matmul(step, n)
            if inner is not None:
                inner_matmuls.add(inner.name)
    for n in step.nodes:
        kind = _unit_kind(step, n, inner_matmuls)
        if kind is not None:
            u = Unit(n.name, kind, n.name, n.module, n.outputs[0])
            if kind == "attention":
                u.ports, u.attrs = _attention_ports(step, n)
            elif kind == "product":
                check_operands(step, n)
                u.ports = [Port("a", n.inputs[0]), Port("b", n.inputs[1])]
            else:
                if kind == "neuron" and not ops.get(n.op).neuron.binary:
                    u.attrs = _graded_attrs(step, n)
                u.ports = [Port("in", n.inputs[0])]
            units[n.name] = u
            value_unit[n.outputs[0]] = n.name
            order.append(n.name)
    for u in units.values():
        for p in u.ports:
            p.terms = _terms(step, p.value, value_unit, u)
    if readout_values is None:
        readout_values = list(step.outputs)
    for v in readout_values:
        name = f"readout:{v}"
        u = Unit(name, "readout", None, "", None, [Port("in", v)])
        u.ports[0].terms = _terms(step, v, value_unit, u)
        units[name] = u
        order.append(name)
    for name in order:
        for src in units[name].sources:
            if name not in units[src].consumers:
                units[src].consumers.append(name)
    return Network(step, units, order, value_unit)


def _graded_attrs(graph: Graph, n: Node) -> dict:
    """A graded neuron's unit attributes: its largest spike D, from its output's value domain."""
    d = graph.values[n.outputs[0]].domain
    if d is None or not d.integer or not np.isfinite(d.hi) or d.lo < 0:
        raise UnsupportedOpError(f"{n.location}: {n.op} emits non-binary spikes without a bounded non-negative "
                                 f"integer range ({d}); a graded spike needs a payload 0..D")
    return {"graded": True, "max_spike": int(d.hi)}


def _inner_matmul(graph: Graph, outer: Node) -> Optional[Node]:
    """The dynamic matmul feeding one operand of ``outer`` through moves/scales (SSA's chain), if any."""
    found = None
    for v in outer.inputs:
        n = _through_moves(graph, v)
        if n is not None and ops.is_dynamic_contraction(graph, n):
            if found is not None:
                return None
            found = n
    return found


def _through_moves(graph: Graph, value: str) -> Optional[Node]:
    """The first non-move producer of ``value`` (moves and constant scales are skipped)."""
    while True:
        p = graph.producer(value) if graph.values[value].producer else None
        if p is None:
            return None
        scaled = ops.scaled_operand(graph, p)
        if ops.get(p.op).movement or scaled is not None:
            value = scaled[0] if scaled is not None else p.inputs[0]
            continue
        return p


def _attention_ports(graph: Graph, outer: Node) -> tuple[list[Port], dict]:
    inner = _inner_matmul(graph, outer)
    if inner is None:
        raise UnsupportedOpError(f"{outer.location}: a product of two dynamic tensors that is not SSA's "
                                 f"matmul chain (QKᵀ)V or Q(KᵀV); the Loihi backend cannot map it")
    first = _through_moves(graph, outer.inputs[0])
    if first is inner:  # (a @ b) @ c
        order = "ab_c"
        leaves = [inner.inputs[0], inner.inputs[1], outer.inputs[1]]
        inner_value = outer.inputs[0]
    else:  # a @ (b @ c)
        order = "a_bc"
        leaves = [outer.inputs[0], inner.inputs[0], inner.inputs[1]]
        inner_value = outer.inputs[1]
    ports = [Port(p, v) for p, v in zip("abc", leaves)]
    return ports, {"order": order, "inner": inner.name, "inner_value": inner_value}


def _terms(graph: Graph, value: str, value_unit: dict[str, str], unit: Unit) -> list[Term]:
    """Producer terms of ``value``: walk back through moves, sums and constant scales."""
    out: list[Term] = []

    def walk(v: str, chain: list[str], sign: float) -> None:
        if v in value_unit and value_unit[v] != unit.name:
            out.append(Term(value_unit[v], v, list(reversed(chain)), sign))
            return
        val = graph.values[v]
        if val.constant:
            out.append(Term("", v, list(reversed(chain)), sign))  # a constant term (bias-like)
            return
        p = graph.producer(v) if val.producer else None
        if p is None:
            raise UnsupportedOpError(f"value {v} has no producer")
        signs = ops.get(p.op).summation
        linear_in = _between_units(graph, p)
        if signs:
            for operand, s in zip(p.inputs, signs):
                walk(operand, chain + [p.name], sign * s)
        elif linear_in is not None:
            walk(linear_in, chain + [p.name], sign)
        elif unit.kind == "attention" and p.name == unit.attrs.get("inner"):
            out.append(Term(unit.name + ":inner", v, list(reversed(chain)), sign))
        else:
            raise UnsupportedOpError(
                f"{p.location}: op {p.op} between two Loihi populations is not supported by the Loihi backend "
                f"(supported between populations: data moves, add/sub, constant scales, linear maps such as "
                f"means and average pooling)")

    walk(value, [], 1.0)
    return out
