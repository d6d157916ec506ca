"""The spike-graph IR: a dataflow graph of ops over typed tensors.

* A :class:`Value` is a tensor: a name, a shape, a dtype, a value :class:`Domain` and whether it is
  *constant* (a weight, a buffer, a literal) or *dynamic* (it depends on the model input).
  Constant values carry their array in ``Graph.constants``.
* A :class:`Node` applies one registered op (``snncompile.ops``) to input values and defines output
  values.  It remembers the module path that called it (as ``named_modules()`` spells it) and the
  source line of the call.
* Nodes are kept in a topological (execution) order.  Time is explicit: neuron ops are stateful
  over the leading time axis of their input; every other op acts elementwise in time.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from .domain import Domain


@dataclass
class Value:
    """A tensor in the graph."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    domain: Optional[Domain] = None
    constant: bool = False
    producer: Optional[str] = None  # name of the node that defines it; None for inputs/constants

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass
class Node:
    """One application of a registered op."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    module: str = ""  # module path as named_modules() spells it ("" = the root module)
    source: str = ""  # "file:line" of the call in the user's code

    @property
    def location(self) -> str:
        where = self.module or "<root>"
        return f"{self.name} ({self.op} in {where}{' at ' + self.source if self.source else ''})"


EXACT_DOMAIN_LIMIT = 4096  # constants up to this size get their exact domain; larger ones a bound


def constant_domain(array: np.ndarray) -> Domain:
    """Exact domain of small constants (scalars, scales); ``[min, max]`` (integer only for integer
    dtypes) for large ones, such as weights, whose rules read the array itself — a sound bound
    that avoids scanning every weight for integrality."""
    if array.size <= EXACT_DOMAIN_LIMIT or array.dtype.kind in "biu":
        return Domain.of_array(array)
    lo, hi = float(np.min(array)), float(np.max(array))
    return Domain.real(lo, hi) if np.isfinite([lo, hi]).all() else Domain.real()


class GraphError(ValueError):
    """A malformed graph: dangling value, duplicate name, cycle."""


@dataclass
class Graph:
    """A traced model: values, nodes in execution order, constants, inputs and outputs."""

    values: dict[str, Value] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    # -- construction -------------------------------------------------------------------------------
    def add_value(self, value: Value) -> Value:
        if value.name in self.values:
            raise GraphError(f"duplicate value name {value.name!r}")
        self.values[value.name] = value
        return value

    def add_constant(self, name: str, array: np.ndarray) -> Value:
        array = np.asarray(array)
        value = Value(name, tuple(array.shape), str(array.dtype), constant_domain(array), True)
        self.constants[name] = array
        return self.add_value(value)

    def add_node(self, node: Node) -> Node:
        for v in node.inputs:
            if v not in self.values:
                raise GraphError(f"{node.name}: input {v!r} is not defined")
        for v in node.outputs:
            if v not in self.values:
                raise GraphError(f"{node.name}: output {v!r} is not declared")
            self.values[v].producer = node.name
        self.nodes.append(node)
        self._index = None
        if getattr(self, "_uses", None) is not None:
            for v in node.inputs:
                self._uses.setdefault(v, {})[node.name] = node
        if getattr(self, "_names_cache", None) is not None:
            self._names_cache.add(node.name)
            self._names_len = len(self.nodes)
        return node

    def unique_name(self, base: str) -> str:
        base = base or "v"
        taken = getattr(self, "_names_cache", None)
        if taken is None or getattr(self, "_names_len", -1) != len(self.nodes):  # nodes edited directly
            taken = self._names_cache = self.node_names
            self._names_len = len(self.nodes)
        name, i = base, 1
        while name in self.values or name in taken:
            name = f"{base}_{i}"
            i += 1
        taken.add(name)
        return name

    # -- queries ------------------------------------------------------------------------------------
    @property
    def node_names(self) -> set[str]:
        return {n.name for n in self.nodes}

    def node(self, name: str) -> Node:
        if getattr(self, "_index", None) is None:
            self._index = {n.name: n for n in self.nodes}
        return self._index[name]

    def producer(self, value: str) -> Optional[Node]:
        p = self.values[value].producer
        return self.node(p) if p else None

    def consumers(self, value: str) -> list[Node]:
        """The nodes that read ``value``, in execution order (from the maintained use-lists)."""
        users = self._use_lists().get(value)
        if not users:
            return []
        if len(users) == 1:
            return list(users.values())
        order = self._positions()
        return sorted(users.values(), key=lambda n: order[n.name])

    def dynamic_inputs(self, node: Node) -> list[Value]:
        return [self.values[v] for v in node.inputs if not self.values[v].constant]

    # -- surgery (torch.fx style: the graph keeps its indexes current) ----------------------------------
    # Passes change the graph only through these methods (and add_node / add_constant), so the
    # producer index and the use-lists never go stale.

    def copy(self) -> "Graph":
        """A deep copy of the structure.  Constant arrays are shared: passes never write into an array,
        they add new constants and drop the unused ones."""
        return Graph(values=copy.deepcopy(self.values), nodes=copy.deepcopy(self.nodes),
                     constants=dict(self.constants), inputs=list(self.inputs), outputs=list(self.outputs),
                     meta=copy.deepcopy(self.meta))

    def set_inputs(self, node: Node, inputs: Sequence[str]) -> None:
        """Rewire ``node`` to read ``inputs``."""
        for v in inputs:
            if v not in self.values:
                raise GraphError(f"{node.name}: input {v!r} is not defined")
        uses = self._use_lists()
        for v in node.inputs:
            uses.get(v, {}).pop(node.name, None)
        node.inputs = list(inputs)
        for v in node.inputs:
            uses.setdefault(v, {})[node.name] = node

    def replace_all_uses_with(self, old: str, new: str) -> None:
        """Every use of value ``old`` (node inputs, graph outputs) now reads ``new``."""
        for n in self.consumers(old):
            self.set_inputs(n, [new if v == old else v for v in n.inputs])
        self.outputs = [new if v == old else v for v in self.outputs]

    def erase_node(self, node: Node, *, forward_to: Optional[str] = None) -> None:
        """Delete ``node``; with ``forward_to``, uses of its (single) output read that value instead.  Its
        outputs that nothing reads any more are forgotten."""
        if forward_to is not None:
            self.replace_all_uses_with(node.outputs[0], forward_to)
        uses = self._use_lists()
        for v in node.inputs:
            uses.get(v, {}).pop(node.name, None)
        self.nodes = [n for n in self.nodes if n is not node]
        self._index = self._order = None
        for v in node.outputs:
            if not uses.get(v) and v not in self.outputs:
                self.values.pop(v, None)

    def drop_unused_constants(self) -> None:
        uses = self._use_lists()
        for name in [c for c in self.constants if not uses.get(c) and c not in self.outputs]:
            del self.constants[name]
            self.values.pop(name, None)

    def _use_lists(self) -> dict[str, dict[str, Node]]:
        if getattr(self, "_uses", None) is None:
            self._uses = {}
            for n in self.nodes:
                for v in n.inputs:
                    self._uses.setdefault(v, {})[n.name] = n
        return self._uses

    def _positions(self) -> dict[str, int]:
        if getattr(self, "_order", None) is None or len(self._order) != len(self.nodes):
            self._order = {n.name: i for i, n in enumerate(self.nodes)}
        return self._order

    def to_networkx(self):
        """A ``networkx.MultiDiGraph`` of nodes; each edge carries the value it transports."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for n in self.nodes:
            g.add_node(n.name, op=n.op, module=n.module)
        for n in self.nodes:
            for v in n.inputs:
                p = self.values[v].producer
                if p is not None:
                    g.add_edge(p, n.name, value=v)
        return g

    def downstream(self, node: Node) -> list[Node]:
        """All nodes reachable from ``node`` (excluding itself), in execution order."""
        reached: set[str] = set(node.outputs)
        out = []
        start = self.nodes.index(node)
        for n in self.nodes[start + 1:]:
            if any(v in reached for v in n.inputs):
                out.append(n)
                reached.update(n.outputs)
        return out

    def validate(self) -> None:
        """Every input defined before use, every value produced at most once, outputs defined."""
        defined = set(self.inputs) | {v for v, val in self.values.items() if val.constant}
        for n in self.nodes:
            for v in n.inputs:
                if v not in defined:
                    raise GraphError(f"{n.location}: uses {v!r} before it is defined")
            for v in n.outputs:
                if v in defined:
                    raise GraphError(f"{n.location}: redefines {v!r}")
                defined.add(v)
        for v in self.outputs:
            if v not in defined:
                raise GraphError(f"graph output {v!r} is never defined")

    def prune(self) -> "Graph":
        """Drop nodes whose outputs reach no graph output (and constants no node uses)."""
        live = set(self.outputs)
        kept = []
        for n in reversed(self.nodes):
            if any(v in live for v in n.outputs):
                kept.append(n)
                live.update(n.inputs)
                live.update(n.outputs)
        self.nodes = list(reversed(kept))
        self._index = self._order = self._uses = None
        for name in list(self.values):
            if name not in live and name not in self.inputs:
                del self.values[name]
                self.constants.pop(name, None)
        return self

    def __iter__(self) -> Iterable[Node]:
        return iter(self.nodes)
