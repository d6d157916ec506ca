"""The op registry: one declaration per op, holding everything the toolchain knows about it.

An :class:`OpDef` states, in one place,

* ``arity`` — how many operands the op takes (``None`` = variadic) and which attributes it needs;
* ``domain`` — the value-domain transfer rule ``(node, input domains, graph) -> output domains``;
* ``cost`` — the cost rule ``(node, graph) -> Cost``: structural FLOPs and what kind of arithmetic
  they are once the input domains are known;
* ``reference`` — the reference semantics ``(node, input arrays, state) -> output arrays`` on numpy
  arrays, used by the reference executor (``state`` is a per-node dict for stateful ops);
* ``family`` — a coarse class used by rules and reports (``neuron``, ``weight``, ``matmul``,
  ``elementwise``, ``shape``, ``pool``, ``reduce``, ``norm``, ``nonlinear``);
* ``hooks`` — optional per-concern implementations (``"torch"``: the op on torch tensors for the
  counting engine; ``"onnx"``/``"nir"``/``"netx"``: emitters; ...), attached beside the declaration
  with :func:`implements`.  A consumer asks :meth:`OpDef.hook`; an op without the hook is refused
  with one line naming the op and the concern (:class:`MissingHook`).

Passes, rules and backends look ops up here; nothing dispatches on Python types.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import SnnCompileError
from ..ir.domain import Domain
from ..ir.graph import Graph, Node
from ..ir.serialize import load_graph as ir_load_graph


@dataclass(frozen=True)
class Cost:
    """The arithmetic of one node over the traced tensor (all time steps, the traced batch).

    ``kind`` is ``"ac"`` (accumulate: an operand is binary), ``"intmul"`` (a non-binary integer
    times a float weight), ``"mac"`` (real × weight), ``"realmul"`` (a dynamic real × dynamic real
    product), ``"neuron"`` (state updates) or ``"none"``.  ``flops`` counts multiply-accumulates
    (plus bias adds) as the papers count them; ``weight_layer`` marks layers with constant weights
    (Conv, Linear, matmul with a parameter), whose arithmetic the input domain decides.
    """

    kind: str = "none"
    flops: int = 0
    weight_layer: bool = False


DomainRule = Callable[[Node, Sequence[Domain], Graph], Sequence[Domain]]
CostRule = Callable[[Node, Graph], Cost]
Reference = Callable[[Node, Sequence[np.ndarray], dict], Sequence[np.ndarray]]


@dataclass(frozen=True)
class OpDef:
    name: str
    family: str
    domain: DomainRule
    reference: Reference
    cost: CostRule = field(default=lambda node, graph: Cost())
    arity: Optional[tuple[int, int]] = None  # (min, max) operands; None = any
    attrs: tuple[str, ...] = ()  # required attributes
    doc: str = ""
    hooks: dict = field(default_factory=dict, compare=False, hash=False)
    """concern name -> implementation, filled by :func:`implements`."""
    refusals: dict = field(default_factory=dict, compare=False, hash=False)
    """concern name -> why this op cannot be handled by that concern, filled by :func:`refuses`."""

    def hook(self, concern: str) -> Callable:
        """This op's implementation for ``concern``; :class:`MissingHook` (with the declared reason,
        if any) when it has none."""
        try:
            return self.hooks[concern]
        except KeyError:
            raise MissingHook(self.name, concern, self.refusals.get(concern)) from None

    def has_hook(self, concern: str) -> bool:
        return concern in self.hooks

    def verify(self, node: Node) -> Optional[str]:
        """Why ``node`` violates this op's operand constraints, or None."""
        if self.arity is not None:
            lo, hi = self.arity
            if not lo <= len(node.inputs) <= hi:
                return f"{self.name} takes {lo}..{hi} operands, got {len(node.inputs)}"
        missing = [a for a in self.attrs if a not in node.attrs]
        if missing:
            return f"{self.name} needs attribute(s) {', '.join(missing)}"
        return None


class MissingHook(SnnCompileError):
    """A consumer (backend, engine, exporter) asked an op for a concern the op does not implement."""

    def __init__(self, op_name: str, concern: str, reason: Optional[str] = None):
        why = reason or f"no {concern!r} implementation is declared for it"
        super().__init__(f"op {op_name!r} is not supported by {concern}: {why}")
        self.op_name, self.concern, self.reason = op_name, concern, reason


_REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name!r} registered twice")
    _REGISTRY[opdef.name] = opdef
    return opdef


def op(name: str, family: str, *, domain: DomainRule, cost: CostRule | None = None,
       arity: Optional[tuple[int, int]] = None, attrs: tuple[str, ...] = ()) -> Callable[[Reference], Reference]:
    """Decorator form: ``@op("relu", "elementwise", domain=...)`` over the reference function."""

    def wrap(reference: Reference) -> Reference:
        register(OpDef(name, family, domain, reference, cost or (lambda n, g: Cost()), arity, attrs,
                       (reference.__doc__ or "").strip()))
        return reference

    return wrap


def implements(name: str, concern: str) -> Callable[[Callable], Callable]:
    """Attach ``fn`` as op ``name``'s implementation of ``concern``; written beside the op's
    declaration: ``@implements("linear", "torch")``."""

    def wrap(fn: Callable) -> Callable:
        opdef = get(name)
        if concern in opdef.hooks:
            raise ValueError(f"op {name!r} already implements {concern!r}")
        opdef.hooks[concern] = fn
        return fn

    return wrap


def refuses(name: str, concern: str, reason: str) -> None:
    """Declare that op ``name`` is deliberately not handled by ``concern``, and why (shown to users
    in the refusal, and counted as covered by the registry-completeness test)."""
    opdef = get(name)
    if concern in opdef.hooks:
        raise ValueError(f"op {name!r} both implements and refuses {concern!r}")
    opdef.refusals[concern] = reason


def get(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None


def all_ops() -> dict[str, OpDef]:
    return dict(_REGISTRY)


def check_node(node: Node) -> Optional[str]:
    """What is wrong with ``node`` as an instance of its op (unknown op, operands, attributes), or None."""
    opdef = _REGISTRY.get(node.op)
    if opdef is None:
        return f"unknown op {node.op!r}"
    return opdef.verify(node)


def load_graph(path) -> Graph:
    """``snncompile.ir.load_graph`` that also checks every node against this registry."""
    return ir_load_graph(path, check_node=check_node)


# -- helpers shared by op declarations -----------------------------------------------------------

def same_as_input(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    """Domain rule of ops that move or copy elements: output = first input."""
    return [domains[0]] * len(node.outputs)


def joined(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    """Domain rule of ops that gather elements from several inputs (cat, stack)."""
    out = domains[0]
    for d in domains[1:]:
        out = out.join(d)
    return [out] * len(node.outputs)


def real_output(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    return [Domain.real()] * len(node.outputs)


def input_domain_kind(d: Domain) -> str:
    """Cost kind of a weight layer fed a tensor of domain ``d``."""
    if d.is_binary:
        return "ac"
    if d.is_integer:
        return "intmul"
    return "mac"


def shape_of(graph: Graph, value: str) -> tuple[int, ...]:
    return graph.values[value].shape


def attr(node: Node, key: str, default: Any = None) -> Any:
    return node.attrs.get(key, default)
