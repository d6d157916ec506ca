"""``fold_weight_chain``: two weight layers with no neuron between them become one synaptic layer.

A Loihi synapse process carries spikes (or graded messages) from neurons to compartments; a synaptic
current cannot feed another synapse.  When the output of weight layer ``D`` (the *inner* layer) feeds
only weight layer ``P`` (the *outer* one), their composition is itself a weight layer:

    P(D(x)) = P_W ⊛ (D_W ⊛ x + b_D) + b_P = (P_W ∘ D_W) ⊛ x + (P_W ⊛ b_D + b_P)

Two shapes compose into a layer of the same kind (the rule table :data:`RULES`):

* **dense ∘ dense** — ``y = x Wᵀ + b`` over the last axis (weight ``[out, in]``):
  ``W = P·D``, ``b = P·b_D + b_P``.
* **pointwise ∘ conv** — ``D`` any convolution (kernel, stride, padding, dilation, groups ``g_D``),
  ``P`` a pointwise one (every kernel extent 1, stride 1, no padding; any groups ``g_P``).  With both
  weights expanded to dense channel maps (a grouped weight is block-diagonal: ``D⁺[c, i] = D[c, i − g(c)·C/g_D]``
  inside the block of ``c``, zero outside)

      W[o, i, k…] = Σ_c P⁺[o, c] · D⁺[c, i, k…],    b[o] = Σ_c P⁺[o, c] · b_D[c] + b_P[o],

  with ``D``'s stride, padding and dilation (a 1×1 stride-1 layer moves no window, so the padded
  border of ``D`` — whose output there is ``b_D`` — maps to ``P⁺·b_D + b_P`` exactly).  The composite's
  ``groups`` is the largest ``g`` for which the *structural* product (which synapses exist, whatever
  their values) is block-diagonal; a depthwise ``D`` followed by a dense pointwise ``P`` gives a dense
  k×k convolution (``C_out · C_in · k²`` synapses where the two layers had ``C·k² + C_out·C``).

Refused, with the reason logged: a data move, pooling or any other op between the two layers; ``D``'s
output used elsewhere; two convolutions where the outer one moves its window (kernel > 1, stride > 1 or
padding: the composite would be a wider kernel or resample the inner one's padded border); a dense layer
and a convolution mixed.

Exact in real arithmetic.  The composite weights are one sum of products per entry, computed in float64
(the unfolded graph rounds ``D ⊛ x`` before ``P`` applies), so a float64 run differs from the unfolded
graph only at threshold ties.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from snncompile import ops
from snncompile.ir.graph import Graph, Node
from snncompile.ops.weights import dense_groups

from .base import Pass, new_constant, register_pass, single_use, walk_back


# -- the two weight layers, as a rule sees them ------------------------------------------------------

@dataclass
class Layer:
    """A weight layer's constants and window attributes (float64 copies)."""

    node: Node
    weight: np.ndarray
    bias: Optional[np.ndarray]

    @property
    def channels_last(self) -> bool:
        """Output channels on the last axis (``y = x Wᵀ + b``), as the op's ``weight`` trait declares."""
        return ops.get(self.node.op).weight.out_axis == -1

    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(self.weight.shape[2:])

    @property
    def groups(self) -> int:
        return int(self.node.attrs.get("groups", 1))

    def attr(self, key: str) -> list[int]:
        return list(self.node.attrs.get(key, [1 if key != "padding" else 0] * len(self.kernel)))


def read_layer(graph: Graph, node: Node) -> Layer:
    trait = ops.get(node.op).weight
    w = graph.constants[node.inputs[trait.weight]].astype(np.float64)
    b = graph.constants[node.inputs[trait.bias]].astype(np.float64).reshape(-1) if len(node.inputs) > trait.bias \
        else None
    return Layer(node, w, b)


def largest_groups(structure: np.ndarray) -> int:
    """The largest ``g`` dividing both channel counts of ``structure`` (``[O, C]`` booleans) such that
    every True entry lies in a diagonal block of the ``g × g`` block grid."""
    o, c = structure.shape
    for g in sorted((d for d in range(1, min(o, c) + 1) if o % d == 0 and c % d == 0), reverse=True):
        og, cg = o // g, c // g
        rows, cols = np.nonzero(structure)
        if np.all(rows // og == cols // cg):
            return g
    return 1


def regroup(w: np.ndarray, groups: int) -> np.ndarray:
    """The dense ``[O, C, …]`` weight as a grouped ``[O, C/g, …]`` one (inverse of :func:`dense_groups`)."""
    if groups == 1:
        return w
    o, c = w.shape[:2]
    og, cg = o // groups, c // groups
    return np.concatenate([w[g * og:(g + 1) * og, g * cg:(g + 1) * cg] for g in range(groups)], axis=0)


def composite_bias(p: np.ndarray, inner: Layer, outer: Layer) -> Optional[np.ndarray]:
    """``P⁺·b_D + b_P`` (``p`` = ``P⁺`` as ``[O, C]``), or None when neither layer has a bias."""
    if inner.bias is None and outer.bias is None:
        return None
    b = p @ inner.bias if inner.bias is not None else np.zeros(p.shape[0])
    return b + (outer.bias if outer.bias is not None else 0.0)


# -- the composition rules -------------------------------------------------------------------------

@dataclass(frozen=True)
class Composite:
    """The folded layer: its weight, bias (or None) and the attributes that change."""

    weight: np.ndarray
    bias: Optional[np.ndarray]
    attrs: dict


@dataclass(frozen=True)
class Rule:
    """``matches(outer, inner)``: the pair has this rule's shape; ``refusal``: why this pair of that shape
    does not compose (None: it does); ``compose``: the folded layer."""

    name: str
    matches: Callable[[Layer, Layer], bool]
    refusal: Callable[[Layer, Layer], Optional[str]]
    compose: Callable[[Layer, Layer], Composite]


def _dense_refusal(outer: Layer, inner: Layer) -> Optional[str]:
    return None


def _dense_compose(outer: Layer, inner: Layer) -> Composite:
    return Composite(outer.weight @ inner.weight, composite_bias(outer.weight, inner, outer), {})


def _conv_refusal(outer: Layer, inner: Layer) -> Optional[str]:
    if len(outer.kernel) != len(inner.kernel):
        return "convolutions of different dimensionality"
    moves = [f"kernel {list(outer.kernel)}" if any(k != 1 for k in outer.kernel) else "",
             f"stride {outer.attr('stride')}" if any(s != 1 for s in outer.attr("stride")) else "",
             f"padding {outer.attr('padding')}" if any(p != 0 for p in outer.attr("padding")) else ""]
    moves = [m for m in moves if m]
    if moves:
        return (f"{outer.node.name} is not pointwise ({', '.join(moves)}): the composite of two windowed "
                f"convolutions is not one layer of {inner.node.name}'s shape")
    return None


def _conv_compose(outer: Layer, inner: Layer) -> Composite:
    p = dense_groups(outer.weight, outer.groups).reshape(outer.weight.shape[0], -1)  # [O, C]
    d = dense_groups(inner.weight, inner.groups)  # [C, C_in, *K]
    w = np.tensordot(p, d, axes=(1, 0))  # [O, C_in, *K]
    structure = (dense_groups(np.ones(outer.weight.shape[:2]), outer.groups) @
                 dense_groups(np.ones(inner.weight.shape[:2]), inner.groups)) > 0  # which synapses exist
    g = largest_groups(structure)
    return Composite(regroup(w, g), composite_bias(p, inner, outer), {"groups": g})


RULES: tuple[Rule, ...] = (
    Rule("dense∘dense", lambda o, i: o.channels_last and i.channels_last and o.weight.ndim == i.weight.ndim == 2,
         _dense_refusal, _dense_compose),
    Rule("pointwise∘conv", lambda o, i: not o.channels_last and not i.channels_last and o.weight.ndim >= 3
         and i.weight.ndim >= 3, _conv_refusal, _conv_compose),
)
"""Which pairs of weight layers compose, and how (outer ∘ inner)."""


def rule_for(outer: Layer, inner: Layer) -> Optional[Rule]:
    return next((r for r in RULES if r.matches(outer, inner)), None)


# -- the pass --------------------------------------------------------------------------------------

def inner_weight_layer(graph: Graph, value: str):
    """Walk back from ``value`` through ops that are neither neurons nor weight layers, to the weight layer
    (if any) whose output reaches it without crossing a neuron: ``found`` and the ops ``passed`` between."""

    def step(v: str, producer: Optional[Node]):
        if producer is None:
            return "graph input"
        d = ops.get(producer.op)
        if d.weight is not None:
            return producer
        if d.neuron is not None:
            return "a neuron"
        dynamic = [u for u in producer.inputs if not graph.values[u].constant]
        if len(dynamic) != 1:
            return f"{producer.name} ({producer.op}) joins several values"
        return (dynamic[0],)

    return walk_back(graph, value, step)


@register_pass
class FoldWeightChain(Pass):
    name = "fold_weight_chain"
    summary = "compose two weight layers with no neuron between them into one (dense∘dense, pointwise∘conv)"

    def apply(self, graph: Graph) -> None:
        for outer_node in [n for n in graph.nodes if ops.get(n.op).weight is not None]:
            if outer_node.name not in graph.node_names:
                continue
            if not graph.values[outer_node.inputs[ops.get(outer_node.op).weight.weight]].constant:
                continue
            walk = inner_weight_layer(graph, outer_node.inputs[0])
            inner_node = walk.found
            if inner_node is None:
                continue
            if walk.passed:
                between = ", ".join(f"{n.name} ({n.op})" for n in walk.passed)
                self.refuse(outer_node, f"{between} lies between it and {inner_node.name}: only adjacent weight "
                                        f"layers compose")
                continue
            if not single_use(graph, inner_node.outputs[0]):
                self.refuse(outer_node, f"{inner_node.name}'s output has other uses")
                continue
            inner_trait = ops.get(inner_node.op).weight
            if any(not graph.values[inner_node.inputs[k]].constant
                   for k in (inner_trait.weight, inner_trait.bias) if k < len(inner_node.inputs)):
                self.refuse(outer_node, f"{inner_node.name}'s weights are not constants")
                continue
            outer, inner = read_layer(graph, outer_node), read_layer(graph, inner_node)
            rule = rule_for(outer, inner)
            if rule is None:
                self.refuse(outer_node, f"no rule composes {outer_node.op} after {inner_node.op} "
                                        f"(weights {list(outer.weight.shape)} after {list(inner.weight.shape)})")
                continue
            why = rule.refusal(outer, inner)
            if why:
                self.refuse(outer_node, why)
                continue
            self._fold(graph, outer_node, inner_node, rule.compose(outer, inner), rule.name)
        graph.drop_unused_constants()

    def _fold(self, graph: Graph, outer: Node, inner: Node, c: Composite, rule: str) -> None:
        """``outer`` becomes the composite, reading ``inner``'s input with ``inner``'s op and window; ``inner``
        is erased (the composite keeps ``outer``'s name and output value, so its consumers are untouched)."""
        inputs = [inner.inputs[0], new_constant(graph, f"{outer.name}_weight_chain", c.weight)]
        if c.bias is not None:
            inputs.append(new_constant(graph, f"{outer.name}_bias_chain", c.bias))
        folded = list(outer.attrs.get("folded_layers", [])) + [inner.module or inner.name] + \
            list(inner.attrs.get("folded_layers", []))
        attrs = dict(inner.attrs)
        attrs.update(c.attrs)
        for key in ("folded_batch_norm", "folded_input_decay"):
            attrs.pop(key, None)
        attrs.update({k: v for k, v in outer.attrs.items() if k.startswith("folded_")})
        attrs["folded_layers"] = folded
        outer.op = inner.op
        outer.attrs = attrs
        graph.set_inputs(outer, inputs)
        graph.erase_node(inner)
        self.rewrote(outer, f"{rule}: {inner.name} folded in ({'x'.join(map(str, c.weight.shape))} weights)")
