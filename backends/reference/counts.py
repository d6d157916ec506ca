"""Exact event counts of a run: what a Loihi per-core ledger must add up to, and what energy uses.

For every counted node the reference executor's run is observed (nothing is kept alive) and:

**Weight layers** (``linear``, ``conv1d``/``conv2d``, ``matmul`` with a constant operand) — one
*synaptic op* per (nonzero input element, synapse it drives).  Synapses are structural (a zero weight
is still a synapse, as on a core), so the count depends only on which inputs are nonzero:

* ``linear`` ``y = x Wᵀ + b`` with ``W`` ``[out, in]``: ``nnz(x) · out``.
* ``convNd`` (``W`` ``[C_out, C_in/g, *K]``, stride, padding, dilation, groups ``g``): an input element
  drives ``C_out/g`` channels at every output position whose (dilated, strided) window covers it.
  Counted exactly as ``(C_out/g) · Σ conv(nz(x), 1)``: the convolution of the 0/1 nonzero mask with an
  all-ones kernel ``[g, C_in/g, *K]`` (same stride/padding/dilation/groups) counts, for every output
  position and group, the nonzero inputs in its window; zero padding is never counted.
* ``matmul`` ``a @ b`` (constant operands count as all-nonzero):
  ``Σ_batch Σ_k colnnz(a)[k] · rownnz(b)[k] = Σ_batch sum(nz(a) @ nz(b))`` — the number of products
  with both factors nonzero, over the broadcast batch axes.

**Elementwise gates** (``mul`` of two dynamic tensors, e.g. spike ⊙ value): the number of broadcast
positions where both operands are nonzero.

**Neurons** (``lif``): ``neuron_updates`` = elements of the input current (T · neurons for a
multi-step node; neurons for each single-step call), ``spikes`` = nonzero outputs, and the firing
rate ``spikes / neuron_updates``; ``spikes_per_step`` splits spikes over the time axis.

``nonzero_inputs`` / ``input_elements`` give, per dynamic operand, its nonzero and total element
counts (the layer's input firing rate).  ``dense_ops`` is the op's structural FLOP count from its
registered cost rule (all products plus bias adds, activity-independent: the papers' MAC count).
``kind`` is that rule's verdict (``ac``, ``intmul``, ``mac``, ``realmul``, ``neuron``).
All counts are sums over the samples; :meth:`EventCounts.per_sample` divides.

**The MAC convention** (one, used by ``report`` and by the Lava ledger): a weight layer fed real values
(cost kind ``mac``: the encoding layer on the analog input, a readout on a mean) is priced as the dense
layer the papers' energy logs count — :func:`mac_count`, its structural FLOPs: ``K = C_in/g · Π kernel``
products per output element, **padding taps and zero inputs included**, plus one bias add (the FLOPs of
a syops/ptflops-style counter, which Spikformer/Spikingformer multiply by 4.6 pJ; design.md §2).  Every
other weight layer is counted by its exact events (``synaptic_ops``: nonzero inputs × the synapses they
drive, padding taps excluded): accumulates for spikes (0.9 pJ), integer × weight products for spike
counts (4.6 pJ).  ``synaptic_ops`` stays the event count for every kind (the Loihi per-synaptic-op basis).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np

from snncompile import ops
from snncompile.analysis import infer_domains
from snncompile.ir.graph import Graph, Node
from snncompile.ops import nonzero_mask
from snncompile.ops.arith import gate_synops, matmul_synops  # noqa: F401 - the counting formulas, by name
from snncompile.ops.weights import conv_synops, linear_synops  # noqa: F401

from .batching import chunks, repeated, traced_batch
from .executor import ReferenceExecutor


# -- counting formulas: each op's "synops" hook (snncompile.ops); re-exported here by name ----------

nz = nonzero_mask


# -- records -------------------------------------------------------------------------------------

@dataclass
class NodeCount:
    """Counts of one node, summed over samples (see the module docstring for each field)."""

    node: str
    op: str
    module: str
    source: str
    kind: str
    input_elements: list[int] = field(default_factory=list)
    nonzero_inputs: list[int] = field(default_factory=list)
    synaptic_ops: int = 0
    dense_ops: int = 0
    neuron_updates: int = 0
    spikes: int = 0
    spikes_per_step: list[int] = field(default_factory=list)

    @property
    def firing_rate(self) -> Optional[float]:
        """Spikes per neuron update (neurons), or the nonzero fraction of the first dynamic input."""
        if self.neuron_updates:
            return self.spikes / self.neuron_updates
        if self.input_elements and self.input_elements[0]:
            return self.nonzero_inputs[0] / self.input_elements[0]
        return None

    def combine(self, other: "NodeCount", sign: int = 1, scale: Fraction = Fraction(1)) -> None:
        """``self += sign · scale · other`` over every additive field (exact)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, list):
                if not mine:
                    mine = [0] * len(theirs)
                setattr(self, f.name, [_exact(m + sign * scale * t) for m, t in zip(mine, theirs)])
            elif isinstance(mine, int):
                setattr(self, f.name, _exact(mine + sign * scale * theirs))

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["firing_rate"] = self.firing_rate
        return d


def mac_count(graph: Graph, node: Node) -> int:
    """MACs of one execution of weight layer ``node`` under the MAC convention (module docstring): its
    structural FLOPs, ``output elements · (K + bias)``, whatever its input's values."""
    return int(ops.get(node.op).cost(node, graph).flops)


def mac_count_per_output(graph: Graph, node: Node) -> int:
    """:func:`mac_count` of one output element (``K + bias``: every output element costs the same)."""
    n_out = int(np.prod(graph.values[node.outputs[0]].shape))
    total = mac_count(graph, node)
    if total % max(n_out, 1):
        raise ArithmeticError(f"{node.name}: {total} FLOPs over {n_out} outputs is not a whole count per output")
    return total // max(n_out, 1)


def _exact(x) -> int:
    x = Fraction(x)
    if x.denominator != 1:
        raise ArithmeticError(f"count {x} is not an integer: samples are not independent in the batch")
    return int(x)


@dataclass
class EventCounts:
    """Per-node counts over ``samples`` samples, in graph order."""

    samples: int
    nodes: dict[str, NodeCount] = field(default_factory=dict)

    def add_nodes(self, nodes: dict[str, NodeCount], samples: int) -> None:
        """Fold the per-node counts of ``samples`` more samples into these (node by node; new nodes kept)."""
        for name, c in nodes.items():
            if name in self.nodes:
                self.nodes[name].combine(c)
            else:
                self.nodes[name] = c
        self.samples += samples

    def add(self, other: "EventCounts") -> None:
        """Fold ``other`` (counts of further samples) into these."""
        self.add_nodes(other.nodes, other.samples)

    def totals(self) -> dict[str, dict[str, int]]:
        """Per cost kind: summed ``synaptic_ops``, ``dense_ops``, ``neuron_updates``, ``spikes``."""
        out: dict[str, dict[str, int]] = {}
        for c in self.nodes.values():
            t = out.setdefault(c.kind, {"synaptic_ops": 0, "dense_ops": 0, "neuron_updates": 0, "spikes": 0})
            for k in t:
                t[k] += getattr(c, k)
        return out

    @property
    def spikes(self) -> int:
        return sum(c.spikes for c in self.nodes.values())

    @property
    def neuron_updates(self) -> int:
        return sum(c.neuron_updates for c in self.nodes.values())

    @property
    def synaptic_ops(self) -> int:
        return sum(c.synaptic_ops for c in self.nodes.values())

    def per_sample(self, field_name: str = "synaptic_ops") -> dict[str, float]:
        return {n: getattr(c, field_name) / self.samples for n, c in self.nodes.items()}

    def to_dict(self) -> dict:
        return {"samples": self.samples, "totals": self.totals(),
                "nodes": [c.to_dict() for c in self.nodes.values()]}


# -- counting a run ------------------------------------------------------------------------------

def counted(graph: Graph, node: Node) -> bool:
    """Whether ``node`` is a weight layer, matmul, dynamic gate or neuron (the counted nodes): an op that
    produces events (:func:`snncompile.ops.produces_events`) and, unless a neuron, is synaptic here."""
    return ops.produces_events(ops.get(node.op)) == "neuron" or ops.is_synaptic(graph, node)


def node_counts(graph: Graph, node: Node, args: Sequence[np.ndarray], outs: Sequence[np.ndarray]) -> NodeCount:
    """The counts of one execution of ``node`` on ``args`` giving ``outs``."""
    cost = ops.get(node.op).cost(node, graph)
    c = NodeCount(node.name, node.op, node.module, node.source, cost.kind, dense_ops=int(cost.flops))
    dyn = [not graph.values[v].constant for v in node.inputs]
    for a, d in zip(args, dyn):
        if d:
            c.input_elements.append(int(a.size))
            c.nonzero_inputs.append(int(np.count_nonzero(a)))
    opdef = ops.get(node.op)
    if opdef.neuron is not None:
        s = outs[0]
        c.neuron_updates = int(args[0].size)
        c.spikes = int(np.count_nonzero(s))
        multi = node.attrs.get("step_mode") == "multi"
        c.spikes_per_step = ([int(np.count_nonzero(s[t])) for t in range(s.shape[0])] if multi else [c.spikes])
    elif ops.is_synaptic(graph, node):
        c.synaptic_ops = opdef.hook("synops")(graph, node, args)
    return c


def _run_counts(executor: ReferenceExecutor, graph: Graph, inputs, dtype) -> dict[str, NodeCount]:
    found: dict[str, NodeCount] = {}

    def hook(node, args, outs):
        if counted(graph, node):
            found[node.name] = node_counts(graph, node, args, outs)

    executor.run(graph, inputs, dtype=dtype, hooks=[hook])
    return found


def count_events(graph: Graph, samples, *, dtype=np.float64,
                 executor: Optional[ReferenceExecutor] = None) -> EventCounts:
    """Run every sample and return exact :class:`EventCounts` summed over them.

    Samples go through in runs of the traced batch B; a padded last run (r real samples, B − r
    copies of its first sample s₀) is corrected exactly by one extra run of B copies of s₀:
    ``counts(real) = counts(padded) − (B − r)/B · counts(B × s₀)``.
    """
    if any(val.domain is None for val in graph.values.values() if not val.constant):
        infer_domains(graph)
    executor = executor or ReferenceExecutor()
    b = traced_batch(graph)
    result = EventCounts(0)
    for chunk in chunks(graph, samples):
        got = _run_counts(executor, graph, chunk.inputs, dtype)
        if chunk.padding:
            copies = _run_counts(executor, graph, repeated(chunk), dtype)
            for name, c in got.items():
                c.combine(copies[name], -1, Fraction(chunk.padding, b))
        result.add_nodes(got, chunk.real)
    return result
