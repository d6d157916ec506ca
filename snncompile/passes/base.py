"""Graph passes: named, registered rewrites of the IR, each logging what it did and what it refused.

A :class:`Pass` has a ``name`` (its registry key), a one-line ``summary`` and a ``run(graph)`` that
returns a **new** graph (the input graph is never modified).  While running, a pass records one
:class:`Rewrite` per pattern it rewrote and one :class:`Refusal` per pattern it matched but could not
rewrite, each naming the node and the reason, so that a user can see why e.g. a BatchNorm stayed.

Passes are registered with :func:`register_pass` and looked up with :func:`get_pass`;
:func:`run_passes` applies a list of them in order and returns the final graph and every log.

Every pass in this package preserves the graph's semantics *exactly in real arithmetic*; where float
rounding can differ (a folded product is rounded once instead of twice), the docstring says so and
the tests compare spikes with the executor, counting threshold ties.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from snncompile.analysis import infer_domains
from snncompile.errors import SnnCompileError
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph, Node


@dataclass
class Rewrite:
    """One applied rewrite: the pass, the node it is anchored at, and what changed."""

    pass_name: str
    node: str
    detail: str

    def __str__(self) -> str:
        return f"{self.pass_name}: {self.node}: {self.detail}"


@dataclass
class Refusal:
    """A matched pattern the pass left alone, and why."""

    pass_name: str
    node: str
    reason: str

    def __str__(self) -> str:
        return f"{self.pass_name}: {self.node}: not rewritten: {self.reason}"


@dataclass
class PassLog:
    name: str
    rewrites: list[Rewrite] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"pass": self.name, "rewrites": [r.__dict__ for r in self.rewrites],
                "refusals": [r.__dict__ for r in self.refusals]}


class Pass:
    """Base class: subclasses set ``name``/``summary`` and implement :meth:`apply` (in place on a copy)."""

    name: str = ""
    summary: str = ""

    def __init__(self, **options):
        self.options = options
        self.log = PassLog(self.name)

    def run(self, graph: Graph) -> Graph:
        """A rewritten copy of ``graph``; the log of this run is in ``self.log``."""
        self.log = PassLog(self.name)
        g = clone(graph)
        self.apply(g)
        g._index = None
        g.validate()
        if any(v.domain is not None for v in g.values.values() if not v.constant):
            infer_domains(g)  # rewrites change downstream domains (e.g. a folded scale)
        return g

    def apply(self, graph: Graph) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- logging helpers ----------------------------------------------------------------------------
    def rewrote(self, node: Node | str, detail: str) -> None:
        self.log.rewrites.append(Rewrite(self.name, getattr(node, "name", node), detail))

    def refuse(self, node: Node | str, reason: str) -> None:
        self.log.refusals.append(Refusal(self.name, getattr(node, "name", node), reason))


_PASSES: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _PASSES and _PASSES[cls.name] is not cls:
        raise ValueError(f"pass {cls.name!r} registered twice")
    _PASSES[cls.name] = cls
    return cls


def get_pass(name: str, **options) -> Pass:
    try:
        return _PASSES[name](**options)
    except KeyError:
        raise SnnCompileError(f"unknown pass {name!r}; known: {', '.join(sorted(_PASSES))}") from None


def all_passes() -> dict[str, type[Pass]]:
    return dict(_PASSES)


def run_passes(graph: Graph, names: Sequence[str | Pass]) -> tuple[Graph, list[PassLog]]:
    """Apply passes in order; returns the final graph and one log per pass."""
    logs = []
    for item in names:
        p = item if isinstance(item, Pass) else get_pass(item)
        graph = p.run(graph)
        logs.append(p.log)
    return graph, logs


# -- graph surgery helpers shared by passes --------------------------------------------------------

def clone(graph: Graph) -> Graph:
    """A deep copy of the structure.  Constant arrays are shared: passes never write into an array,
    they add new constants (:func:`new_constant`) and drop the unused ones."""
    g = Graph(values=copy.deepcopy(graph.values), nodes=copy.deepcopy(graph.nodes),
              constants=dict(graph.constants),
              inputs=list(graph.inputs), outputs=list(graph.outputs), meta=copy.deepcopy(graph.meta))
    g._index = None
    return g


def consumers(graph: Graph, value: str) -> list[Node]:
    return [n for n in graph.nodes if value in n.inputs]


def replace_uses(graph: Graph, old: str, new: str) -> None:
    """Every use of value ``old`` (node inputs, graph outputs) now reads ``new``."""
    for n in graph.nodes:
        n.inputs = [new if v == old else v for v in n.inputs]
    graph.outputs = [new if v == old else v for v in graph.outputs]


def remove_node(graph: Graph, node: Node, *, forward_to: Optional[str] = None) -> None:
    """Delete ``node``; if ``forward_to`` is given, uses of its (single) output read that value."""
    if forward_to is not None:
        replace_uses(graph, node.outputs[0], forward_to)
    graph.nodes = [n for n in graph.nodes if n is not node]
    graph._index = None
    for v in node.outputs:
        if not any(v in n.inputs for n in graph.nodes) and v not in graph.outputs:
            graph.values.pop(v, None)


def drop_unused_constants(graph: Graph) -> None:
    used = {v for n in graph.nodes for v in n.inputs} | set(graph.outputs)
    for name in [c for c in graph.constants if c not in used]:
        del graph.constants[name]
        graph.values.pop(name, None)


def set_constant(graph: Graph, name: str, array: np.ndarray) -> None:
    """Replace a constant's array (and its declared shape/dtype/domain)."""

    array = np.asarray(array)
    graph.constants[name] = array
    v = graph.values[name]
    v.shape, v.dtype, v.domain = tuple(array.shape), str(array.dtype), Domain.of_array(array)


def new_constant(graph: Graph, hint: str, array: np.ndarray) -> str:
    name = graph.unique_name(hint)
    graph.add_constant(name, np.asarray(array))
    return name


def single_chain(graph: Graph, start: str, through: Callable[[Node], bool]) -> tuple[list[Node], Optional[Node]]:
    """Follow ``start`` forward through nodes accepted by ``through`` while every value on the way has
    exactly one consumer (and is no graph output).  Returns (the nodes passed through, the first node
    not accepted) — the latter is None when the chain forks, ends, or reaches a graph output."""
    chain: list[Node] = []
    v = start
    while True:
        if v in graph.outputs:
            return chain, None
        users = consumers(graph, v)
        if len(users) != 1:
            return chain, None
        n = users[0]
        if not through(n):
            return chain, n
        chain.append(n)
        v = n.outputs[0]


def constant_scalar(graph: Graph, value: str) -> Optional[float]:
    """The value of a constant holding one number (any shape of size 1), else None."""
    val = graph.values.get(value)
    if val is None or not val.constant:
        return None
    arr = graph.constants[value]
    return float(arr.reshape(-1)[0]) if arr.size == 1 else None


def iter_nodes(graph: Graph, *ops: str) -> Iterable[Node]:
    """A snapshot of the matching nodes (safe while the pass edits the node list)."""
    return [n for n in graph.nodes if not ops or n.op in ops]
