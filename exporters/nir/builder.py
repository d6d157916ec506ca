"""Building a NIR graph from the one-step IR graph, node by node.

The builder walks the step graph (``snncompile.passes.slice_time``) in order and asks each node's
op for its ``"nir"`` emitter (``OpDef.hook("nir")``, declared in :mod:`.emitters`).  It owns what the
emitters share:

* **features** — NIR tensors have no batch axis.  Every step value carries ``lead`` leading axes of
  size 1 (the traced batch and what remains of the time axis); its *feature shape* is the rest.
  The graph inputs have one (the batch axis); emitters state the lead of what they define.
* **sources** — a value is the *sum* of the outputs of one or more NIR nodes: a residual add
  defines no node, its operands' producers all connect to each consumer (NIR sums fan-in edges).
* **cuts** — a node whose op refuses (``MissingHook``) or whose instance cannot be stated
  (:class:`NotExpressible`) is cut.  A value it would have defined is then read through a named
  ``Input`` node (``input_<value>``), and a value it would have read becomes a named ``Output``
  (``output_<value>``), so the expressible subgraphs are complete NIR graphs with named boundaries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from snncompile import ops
from snncompile.errors import SnnCompileError
from snncompile.ir.graph import Graph, Node
from snncompile.ops.registry import MissingHook


class NotExpressible(SnnCompileError):
    """This node (with these attributes/shapes) has no NIR form; the message says why."""


@dataclass
class Cut:
    node: str
    op: str
    module: str
    source: str
    reason: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Boundary:
    nir_node: str
    value: str
    shape: list[int]
    kind: str  # "input" (model input / read after a cut) | "output" (model output / read by a cut)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class NirBuilder:
    step: Graph
    dt: float
    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict)
    lead: dict[str, int] = field(default_factory=dict)
    cuts: list[Cut] = field(default_factory=list)
    boundaries: list[Boundary] = field(default_factory=list)
    _cut_values: set = field(default_factory=set)

    # -- what emitters ask ---------------------------------------------------------------------------
    def features(self, value: str) -> tuple[int, ...]:
        """The shape of ``value`` without its leading batch/time axes."""
        return tuple(int(s) for s in self.step.values[value].shape[self.lead_of(value):])

    def lead_of(self, value: str) -> int:
        if value not in self.lead:  # a graph input (its batch axis) or a value only a cut node defines
            shape = self.step.values[value].shape
            self.lead[value] = (min(1, max(len(shape) - 1, 0)) if value in self.step.inputs
                                else _leading_ones(shape))
        return self.lead[value]

    def constant(self, value: str) -> Optional[np.ndarray]:
        return self.step.constants.get(value)

    def dynamic(self, node: Node) -> list[str]:
        return [v for v in node.inputs if not self.step.values[v].constant]

    def is_binary(self, value: str) -> bool:
        d = self.step.values[value].domain
        return d is not None and d.is_binary

    def feature_constant(self, value: str, like: str) -> np.ndarray:
        """A constant operand broadcast against dynamic ``like``, as an array of ``like``'s feature shape
        (refused when it varies along a leading axis)."""
        c = np.asarray(self.constant(value), dtype=np.float64)
        full = self.step.values[like].shape
        try:
            b = np.broadcast_to(c, np.broadcast_shapes(c.shape, full))
        except ValueError:
            raise NotExpressible(f"constant {value} does not broadcast against {like}") from None
        if b.shape != tuple(full):
            raise NotExpressible("a constant operand enlarges the tensor (broadcast beyond the dynamic operand)")
        return np.array(b[(0,) * self.lead[like]])

    # -- what emitters do ----------------------------------------------------------------------------
    def emit(self, node: Node, nir_node, feed: str, *, name: Optional[str] = None,
             lead: Optional[int] = None, define: bool = True) -> str:
        """Add ``nir_node`` (named ``name``, default the IR node's name) fed by value ``feed``; with
        ``define`` it becomes the source of the node's first output, whose lead is ``lead`` (default:
        the lead of ``feed``)."""
        name = name or node.name
        srcs = self.sources_of(feed)
        self.nodes[name] = nir_node
        self.edges.extend((s, name) for s in srcs)
        if define:
            self.define(node.outputs[0], [name], self.lead[feed] if lead is None else lead)
        return name

    def chain(self, first: str, nir_node, name: str) -> str:
        """Add ``nir_node`` fed by NIR node ``first``."""
        self.nodes[name] = nir_node
        self.edges.append((first, name))
        return name

    def define(self, value: str, sources: list[str], lead: int) -> None:
        self.sources[value] = list(sources)
        self.lead[value] = lead

    def alias(self, value: str, *operands: str) -> None:
        """``value`` is the sum of ``operands`` (one operand: the same tensor relabelled)."""
        shapes = {self.features(v) for v in operands}
        if len(shapes) > 1:
            raise NotExpressible(f"operands of different feature shapes {sorted(shapes)} (broadcasting): NIR sums "
                                 f"fan-in edges of equal shape only")
        lead = len(self.step.values[value].shape) - len(next(iter(shapes)))
        if lead < 0:
            raise NotExpressible("the result has fewer axes than its operands' features")
        self.define(value, [s for v in operands for s in self.sources_of(v)], lead)

    # -- graph inputs, cuts and boundaries -----------------------------------------------------------
    def sources_of(self, value: str) -> list[str]:
        if value not in self.sources:
            self._open_input(value)
        return self.sources[value]

    def _open_input(self, value: str) -> None:
        import nir

        feat = list(self.features(value))
        name = _safe(("input" if len(self.step.inputs) == 1 else f"input_{value}")
                     if value in self.step.inputs else f"input_{value}")
        self.nodes[name] = nir.Input(input_type=np.array(feat))
        self.sources[value] = [name]
        self.boundaries.append(Boundary(name, value, feat, "input"))

    def close_output(self, value: str, name: str) -> None:
        import nir

        feat = list(self.features(value))
        self.nodes[name] = nir.Output(output_type=np.array(feat))
        self.edges.extend((s, name) for s in self.sources_of(value))
        self.boundaries.append(Boundary(name, value, feat, "output"))

    def cut(self, node: Node, reason: str) -> None:
        self.cuts.append(Cut(node.name, node.op, node.module, node.source, reason))
        for v in self.dynamic(node):
            srcs = self.sources.get(v)
            if not srcs or v in self._cut_values or all(type(self.nodes[s]).__name__ == "Input" for s in srcs):
                continue  # defined by a cut node, already closed, or a plain input: nothing to hand over
            self._cut_values.add(v)
            self.close_output(v, _safe(f"output_{v}"))
        for v in node.outputs:
            self.lead[v] = _leading_ones(self.step.values[v].shape)

    # -- the walk ------------------------------------------------------------------------------------
    def run(self) -> None:
        for name in self.step.inputs:
            self.sources_of(name)
        for node in self.step.nodes:
            try:
                ops.get(node.op).hook("nir")(self, node)
            except MissingHook as e:
                self.cut(node, e.reason or f"no NIR emitter for op {node.op!r}")
            except NotExpressible as e:
                self.cut(node, str(e))
        outs = self.step.outputs
        for v in outs:
            if any(c.node == (self.step.values[v].producer or "") for c in self.cuts):
                continue  # its producer was cut: the boundary outputs before the cut stand for it
            self.close_output(v, "output" if len(outs) == 1 else _safe(f"output_{v}"))


def _leading_ones(shape) -> int:
    k = 0
    while k < len(shape) - 1 and shape[k] == 1:
        k += 1
    return k


def _safe(name: str) -> str:
    """NIR node names become torch module names in consumers: no dots."""
    return name.replace(".", "_")
