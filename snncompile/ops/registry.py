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
* **traits** — what passes and backends may assume, declared on the decorator line (xDSL style:
  consumers ask traits, never op names):

  ==================  ========================================================================================
  ``movement``        one operand, one result; every output element is a copy of one input element
                      (reshape, permute, slice, ...).  Implies ``homogeneous=(0,)`` and a linear map.
                      Its ``"axis"`` hook maps an input axis to the output axis that carries it.
  ``elementwise``     ``out[i] = f(operands broadcast at i)``.
  ``summation``       ``out = Σ signs[k]·operand[k]`` (broadcast): add ``(1, 1)``, sub ``(1, -1)``.
  ``scale``           ``x·c`` / ``x/c`` when an operand listed in :class:`Scale` is a constant ``c``.
  ``linear``          the operands in which the op is linear while the others are held fixed.
  ``homogeneous``     the operands in which ``f(c·x) = c·f(x)`` for every ``c > 0`` (others fixed).
  ``weight``          a weight layer ``y = W ⊛ x (+ b)`` (:class:`WeightLayer`: operands, channel axis).
  ``pooling``         ``"max"`` or ``"avg"`` over windows of the trailing (spatial) axes.
  ``reduction``       ``"sum"``, ``"mean"`` or ``"max"`` over ``attrs["dims"]`` (all axes when absent),
                      ``keepdim`` as torch.
  ``channel_affine``  ``y = scale·x + shift`` per channel of axis 1 (inference BatchNorm): the function
                      ``(node, operand arrays) -> (scale, shift)``.
  ``mixes``           ``(node, rank) -> axes`` along which the op mixes elements or indexes parameters.
  ``neuron``          a neuron (:class:`Neuron`: state, threshold semantics).
  ``across_time``     it carries state from one time step to the next (neurons); every other op acts
                      within a time step.
  ==================  ========================================================================================

* ``hooks`` — per-concern implementations given on the declaration (``hooks={...}``) or attached with
  :func:`implements` (``"axis"``: a movement's axis map, with ``"noop"``, ``"compose"``, ``"resized"``,
  ``"creates_axis"`` for the shape passes and the step program; ``"time"``: a bespoke time-axis rule;
  ``"affine"``: the op as a sparse linear map of one operand, for folds and Lava; ``"patches"``: a weight
  layer's inputs as the vectors each weight row multiplies, ``(graph, node, x) -> [groups, N, fan_in]``, for
  the quantiser's error-compensating rounding; ``"onnx"``/``"nir"``/
  ``"netx"``: emitters, registered by the exporters; ``"torch"``: the op on torch tensors, run by the torch
  engine).

  **Event counting** is one rule per op, stated once by its traits (:func:`produces_events`: synaptic
  events for weight layers, contractions and products of activations; neuron updates and spikes for
  neurons; nothing for every other op, which is refused with that reason) and implemented per engine:
  ``"synops"`` — the synaptic events of one execution on numpy arrays ``(graph, node, args) -> int``, the
  specification (``backends.reference``); ``"count"`` — the same events on torch, the contract of
  :mod:`snncompile.ops.events` (neurons get it from their ``neuron`` trait).
  A consumer asks :meth:`OpDef.hook`; an op without the hook is refused with one line naming the op and
  the concern (:class:`MissingHook`), with the reason declared by :func:`refuses` or implied by the
  op's traits (:meth:`OpDef.why_not`).

Passes, rules and backends look ops up here; nothing outside ``snncompile.ops`` compares op names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import SnnCompileError
from ..ir.domain import Domain
from ..ir.graph import Graph, Node
from ..ir.serialize import load_graph as ir_load_graph
from .events import neuron_rule


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


COST_LABELS = {"ac": "AC", "intmul": "INT×FLOAT", "mac": "MAC", "realmul": "REAL×REAL"}
"""How reports spell the arithmetic kinds of :class:`Cost`."""

DomainRule = Callable[[Node, Sequence[Domain], Graph], Sequence[Domain]]
CostRule = Callable[[Node, Graph], Cost]
Reference = Callable[[Node, Sequence[np.ndarray], dict], Sequence[np.ndarray]]
AxesRule = Callable[[Node, int], Sequence[int]]


@dataclass(frozen=True)
class WeightLayer:
    """``y = W ⊛ x (+ b)`` with constant ``W`` in operand ``weight`` and the bias (when present) in
    operand ``bias``; output channels lie on ``out_axis`` (negative: counted from the end).  Scaling
    output channel ``o`` of ``y`` is scaling ``W[o]`` and ``b[o]``."""

    weight: int = 1
    bias: int = 2
    out_axis: int = 1

    def channel_axis(self, rank: int) -> int:
        return self.out_axis % rank


@dataclass(frozen=True)
class Scale:
    """``x·c`` (``inverse=False``) or ``x/c`` (``inverse=True``) when one of ``constant_operands`` is a
    constant ``c`` and the other operand ``x`` is not."""

    constant_operands: tuple[int, ...]
    inverse: bool = False

    def factor(self, c: float) -> float:
        return 1.0 / c if self.inverse else c


@dataclass(frozen=True)
class Neuron:
    """A neuron population: ``state`` is carried from one time step to the next; ``threshold`` states
    how a spike is decided; ``binary``: its spikes are 0/1 (False: graded integer spikes)."""

    state: tuple[str, ...]
    threshold: str
    binary: bool = True


@dataclass(frozen=True)
class LinearMap:
    """``y = M·x`` over flat row-major arrays: ``M[rows[k], cols[k]] = data[k]`` (duplicates add), of
    ``shape`` (output elements, input elements).  numpy only; backends convert it to their sparse type."""

    rows: np.ndarray
    cols: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.rows, weights=self.data * np.asarray(x, np.float64).reshape(-1)[self.cols],
                           minlength=self.shape[0])


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
    # -- traits (see the module docstring) --
    movement: bool = False
    elementwise: bool = False
    summation: tuple[float, ...] = ()
    scale: Optional[Scale] = None
    linear: tuple[int, ...] = ()
    homogeneous: tuple[int, ...] = ()
    weight: Optional[WeightLayer] = None
    pooling: Optional[str] = None
    reduction: Optional[str] = None
    channel_affine: Optional[Callable] = None
    mixes: Optional[AxesRule] = None
    neuron: Optional[Neuron] = None
    hooks: dict = field(default_factory=dict, compare=False, hash=False)
    """concern name -> implementation, filled by :func:`implements`."""
    refusals: dict = field(default_factory=dict, compare=False, hash=False)
    """concern name -> why this op cannot be handled by that concern, filled by :func:`refuses`."""

    @property
    def across_time(self) -> bool:
        """Whether the op carries state from one time step to the next (else it acts within a step)."""
        return self.neuron is not None

    @property
    def linear_operands(self) -> tuple[int, ...]:
        """Operands in which the op is linear while the others are held fixed: declared, or implied by
        movement.  (A summation is linear in all operands jointly, not in one with the others fixed.)"""
        return tuple(sorted(set(self.linear) | ({0} if self.movement else set())))

    @property
    def homogeneous_operands(self) -> tuple[int, ...]:
        """Operands in which the op commutes with a positive scale: declared, or implied by movement."""
        return tuple(sorted(set(self.homogeneous) | ({0} if self.movement else set())))

    def hook(self, concern: str) -> Callable:
        """This op's implementation for ``concern``; :class:`MissingHook` (with the declared or implied
        reason, if any) when it has none."""
        try:
            return self.hooks[concern]
        except KeyError:
            raise MissingHook(self.name, concern, self.why_not(concern)) from None

    def has_hook(self, concern: str) -> bool:
        return concern in self.hooks

    def why_not(self, concern: str) -> Optional[str]:
        """Why this op has no ``concern`` hook: declared with :func:`refuses`, or implied by its traits
        (e.g. an op that is linear in no operand has no affine map); None when nothing says why."""
        if concern in self.refusals:
            return self.refusals[concern]
        implied = _IMPLIED_REFUSALS.get(concern)
        return implied(self) if implied is not None else None

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
       arity: Optional[tuple[int, int]] = None, attrs: tuple[str, ...] = (), hooks: Optional[dict] = None,
       **traits: Any) -> Callable[[Reference], Reference]:
    """Decorator form: ``@op("relu", "elementwise", domain=..., elementwise=True)`` over the reference
    function; keyword ``traits`` are :class:`OpDef`'s trait fields, ``hooks`` its per-concern
    implementations (more can be attached later with :func:`implements`)."""

    def wrap(reference: Reference) -> Reference:
        opdef = register(OpDef(name, family, domain, reference, cost or (lambda n, g: Cost()), arity, attrs,
                               (reference.__doc__ or "").strip(), **traits))
        opdef.hooks.update(hooks or {})
        for concern, derive in _DERIVED_HOOKS.items():
            fn = derive(opdef)
            if fn is not None and concern not in opdef.hooks:
                opdef.hooks[concern] = fn
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


def attr(node: Node, key: str, default: Any = None) -> Any:
    return node.attrs.get(key, default)


def nonzero_mask(a: np.ndarray) -> np.ndarray:
    """The 0/1 nonzero mask of ``a`` (float64 so that mask arithmetic is exact)."""
    return (np.asarray(a) != 0).astype(np.float64)


# -- trait queries shared by passes and backends ----------------------------------------------------

def is_constant(graph: Graph, value: str) -> bool:
    return graph.values[value].constant


def scaled_operand(graph: Graph, node: Node) -> Optional[tuple[str, str]]:
    """For a scale ``x·c`` / ``x/c`` with a constant ``c``: ``(x, c)`` (value names), else None."""
    scale = get(node.op).scale
    if scale is None:
        return None
    for i in scale.constant_operands:
        others = [v for j, v in enumerate(node.inputs) if j != i]
        if is_constant(graph, node.inputs[i]) and len(others) == 1 and not is_constant(graph, others[0]):
            return others[0], node.inputs[i]
    return None


def linear_operand(graph: Graph, node: Node) -> Optional[str]:
    """The one dynamic operand in which ``node`` is linear while every other operand is constant, or None."""
    dynamic = [i for i, v in enumerate(node.inputs) if not is_constant(graph, v)]
    if len(dynamic) == 1 and dynamic[0] in get(node.op).linear_operands:
        return node.inputs[dynamic[0]]
    return None


def is_dynamic_product(graph: Graph, node: Node) -> bool:
    """An elementwise product of dynamic tensors (a spike gate when one is binary)."""
    d = get(node.op)
    return d.elementwise and len(d.linear) > 1 and all(not is_constant(graph, v) for v in node.inputs)


def is_dynamic_contraction(graph: Graph, node: Node) -> bool:
    """A contraction (matmul) of two dynamic tensors: no weights, products of activations."""
    d = get(node.op)
    return (not d.elementwise and d.weight is None and len(d.linear) > 1
            and all(not is_constant(graph, v) for v in node.inputs))


def is_synaptic(graph: Graph, node: Node) -> bool:
    """Whether ``node`` does synaptic arithmetic a run counts: a weight layer, a matmul, a dynamic product."""
    d = get(node.op)
    return d.weight is not None or (len(d.linear) > 1 and not d.elementwise) or is_dynamic_product(graph, node)


def produces_events(d: "OpDef") -> Optional[str]:
    """What events a run of the op produces, as its traits say: ``"neuron"`` (updates, spikes),
    ``"synaptic"`` (a weight layer, a contraction or product of operands — whether a node really does
    depends on which operands are constant: :func:`is_synaptic`), or None (data moves and arithmetic that a
    core does not count as events)."""
    if d.neuron is not None:
        return "neuron"
    if d.weight is not None or len(d.linear) > 1:
        return "synaptic"
    return None


# -- hooks implied by traits -----------------------------------------------------------------------

def _flat_index(shape) -> np.ndarray:
    return np.arange(int(np.prod(shape)) if shape else 1, dtype=np.int64).reshape(shape)


def _selection(graph: Graph, node: Node, value: str, out_index: np.ndarray) -> LinearMap:
    cols = np.ascontiguousarray(out_index).reshape(-1)
    n_in = int(np.prod(graph.values[value].shape)) if graph.values[value].shape else 1
    return LinearMap(np.arange(cols.size), cols, np.ones(cols.size), (cols.size, n_in))


def movement_map(graph: Graph, node: Node, value: str) -> LinearMap:
    """A data move as a selection: found by running the op's own reference on element indices."""
    idx = _flat_index(graph.values[value].shape)
    return _selection(graph, node, value, get(node.op).reference(node, [idx], {})[0])


def broadcast_map(graph: Graph, node: Node, value: str) -> LinearMap:
    """Operand ``value`` broadcast to the output (a summation term; its sign is the caller's)."""
    idx = _flat_index(graph.values[value].shape)
    return _selection(graph, node, value, np.broadcast_to(idx, graph.values[node.outputs[0]].shape))


def scale_map(graph: Graph, node: Node, value: str) -> LinearMap:
    """``x·c`` / ``x/c`` as ``diag(f)·broadcast``, ``f`` the factor broadcast to the output."""
    x, c = scaled_operand(graph, node) or (None, None)
    if x != value:
        raise MissingHook(node.op, "affine", f"{node.name} is not a scale of {value} by a constant")
    out_shape = graph.values[node.outputs[0]].shape
    c_arr = graph.constants[c].astype(np.float64)
    f = np.broadcast_to(1.0 / c_arr if get(node.op).scale.inverse else c_arr, out_shape)
    sel = broadcast_map(graph, node, value)
    return LinearMap(sel.rows, sel.cols, np.ascontiguousarray(f).reshape(-1), sel.shape)


_DERIVED_HOOKS: dict[str, Callable[[OpDef], Optional[Callable]]] = {
    "affine": lambda d: (movement_map if d.movement else broadcast_map if d.summation
                         else scale_map if d.scale is not None else None),
    "count": lambda d: neuron_rule(d.neuron.binary) if d.neuron is not None else None,
}
"""Hooks an op gets from its traits when it is registered (an op may not also implement them)."""

_IMPLIED_REFUSALS: dict[str, Callable[[OpDef], Optional[str]]] = {
    "affine": lambda d: None if d.linear_operands or d.summation else "it is not a linear map of any operand",
    "synops": lambda d: (None if produces_events(d) == "synaptic"
                         else "it does no synaptic arithmetic (no weights, no product of activations)"),
    "count": lambda d: (None if produces_events(d) is not None
                        else "it produces no events (no synapses, no neuron): only its operands' counts are read"),
    "axis": lambda d: None if d.movement else "it is not a data movement",
    "patches": lambda d: None if d.weight is not None else "it is not a weight layer (no weight rows to round)",
}
"""Why an op without a hook has none, as its traits say."""
