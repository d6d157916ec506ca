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

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from snncompile.analysis import infer_domains
from snncompile.errors import SnnCompileError
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
        g = graph.copy()
        self.apply(g)
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


# -- the shared pattern helpers (graph surgery itself is Graph's: set_inputs, replace_all_uses_with,
#    erase_node, drop_unused_constants) ------------------------------------------------------------------

Step = Callable[[str, Optional[Node]], "Node | str | tuple[str]"]


@dataclass
class Walk:
    """Where a walk through the graph ended: the node it was looking for (or None), the nodes it passed
    on the way, and why it stopped when it found nothing."""

    found: Optional[Node]
    passed: list[Node] = field(default_factory=list)
    why: str = ""


def walk_back(graph: Graph, value: str, step: Step) -> Walk:
    """Follow ``value`` back through its producers.  ``step(value, producer)`` decides each move: a
    ``Node`` (found it), a ``str`` (stop, and why) or a 1-tuple ``(next value,)`` to continue through
    the producer (which is then recorded as passed)."""
    passed: list[Node] = []
    while True:
        producer = graph.producer(value) if graph.values[value].producer else None
        verdict = step(value, producer)
        if isinstance(verdict, Node):
            return Walk(verdict, passed)
        if isinstance(verdict, str):
            return Walk(None, passed, verdict)
        passed.append(producer)
        (value,) = verdict


def walk_forward(graph: Graph, start: str, through: Callable[[Node], bool]) -> Walk:
    """Follow ``start`` forward through nodes accepted by ``through`` while every value on the way has
    exactly one consumer (and is no graph output).  ``found`` is the first node not accepted — None when
    the chain forks, ends, or reaches a graph output."""
    passed: list[Node] = []
    v = start
    while True:
        if v in graph.outputs:
            return Walk(None, passed, "graph output")
        users = graph.consumers(v)
        if len(users) != 1:
            return Walk(None, passed, "fork or end")
        n = users[0]
        if not through(n):
            return Walk(n, passed)
        passed.append(n)
        v = n.outputs[0]


def single_use(graph: Graph, value: str) -> bool:
    """Whether ``value`` feeds exactly one node and is no graph output (so rewriting its producer is local)."""
    return value not in graph.outputs and len(graph.consumers(value)) == 1


def new_constant(graph: Graph, hint: str, array: np.ndarray) -> str:
    name = graph.unique_name(hint)
    graph.add_constant(name, np.asarray(array))
    return name


def constant_scalar(graph: Graph, value: str) -> Optional[float]:
    """The value of a constant holding one number (any shape of size 1), else None."""
    val = graph.values.get(value)
    if val is None or not val.constant:
        return None
    arr = graph.constants[value]
    return float(arr.reshape(-1)[0]) if arr.size == 1 else None
