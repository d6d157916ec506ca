"""Elementwise arithmetic and products of dynamic tensors.

Domains follow interval arithmetic (``snncompile.ir.domain``).  A product of two *dynamic*
tensors is spike-driven only when one operand is binary (a spike gates the other operand: an
accumulate); otherwise it is a ``realmul``.  A product with a constant is a scale that folds into
the next weight layer or threshold.  ``div`` by a dynamic tensor is ``nonlinear``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ir.domain import Domain
from ..ir.graph import Graph, Node
from .registry import Cost, Scale, input_domain_kind, nonzero_mask, op, refuses, same_as_input


def _dyn(graph: Graph, node: Node) -> list[bool]:
    return [not graph.values[v].constant for v in node.inputs]


def _add_domain(node, d, g):
    return [d[0] + d[1]]


def _sub_domain(node, d, g):
    return [d[0] - d[1]]


def _mul_domain(node, d, g):
    return [d[0] * d[1]]


def _gate_cost(node: Node, graph: Graph) -> Cost:
    """Elementwise product: a spike gate (AC) when an operand is binary, else a real product."""
    if not all(_dyn(graph, node)):
        return Cost("none", 0)
    doms = [graph.values[v].domain for v in node.inputs]
    kind = "ac" if any(d is not None and d.is_binary for d in doms) else "realmul"
    return Cost(kind, graph.values[node.outputs[0]].numel)


@op("add", "elementwise", domain=_add_domain, arity=(2, 2), elementwise=True, summation=(1.0, 1.0))
def add(node, inputs, state):
    """``a + b`` (broadcasting); free on Loihi: several OutPorts sum into one InPort."""
    return [inputs[0] + inputs[1]]


@op("sub", "elementwise", domain=_sub_domain, arity=(2, 2), elementwise=True, summation=(1.0, -1.0))
def sub(node, inputs, state):
    """``a − b`` (broadcasting)."""
    return [inputs[0] - inputs[1]]


def gate_synops(a: np.ndarray, b: np.ndarray) -> int:
    """Broadcast positions where both factors of ``a ⊙ b`` are nonzero (one accumulate per spike that gates
    the other factor; for two binary factors, one per coincidence: the spikes of the Loihi coincidence
    population, which is what the Lava ledger counts on its cores)."""
    return int(np.count_nonzero(np.logical_and(a != 0, b != 0)))


@op("mul", "elementwise", domain=_mul_domain, cost=_gate_cost, arity=(2, 2), elementwise=True, linear=(0, 1),
    scale=Scale((0, 1)), hooks={"synops": lambda graph, node, args: gate_synops(args[0], args[1])})
def mul(node, inputs, state):
    """``a · b`` (broadcasting)."""
    return [inputs[0] * inputs[1]]


def _div_domain(node: Node, d: Sequence[Domain], graph: Graph) -> list[Domain]:
    denom = graph.constants.get(node.inputs[1])
    if denom is None or np.any(denom == 0):
        return [Domain.real()]
    recip = Domain.of_array(1.0 / denom.astype(np.float64))
    return [(d[0] * recip).as_real() if not recip.is_integer else d[0] * recip]


def _div_cost(node: Node, graph: Graph) -> Cost:
    if graph.values[node.inputs[1]].constant:
        return Cost("none", 0)
    return Cost("nonlinear", graph.values[node.outputs[0]].numel)


@op("div", "elementwise", domain=_div_domain, cost=_div_cost, arity=(2, 2), elementwise=True, linear=(0,),
    scale=Scale((1,), inverse=True))
def div(node, inputs, state):
    """``a / b``: a scale when ``b`` is constant, a non-spike nonlinearity when it is dynamic."""
    return [inputs[0] / inputs[1]]


@op("neg", "elementwise", domain=lambda n, d, g: [-d[0]], arity=(1, 1), elementwise=True)
def neg(node, inputs, state):
    """``−a``."""
    return [-inputs[0]]


@op("relu", "elementwise", domain=lambda n, d, g: [d[0].relu()], arity=(1, 1), elementwise=True)
def relu(node, inputs, state):
    """``max(a, 0)``."""
    return [np.maximum(inputs[0], 0)]


def _clamp_domain(node, d, g):
    lo, hi = node.attrs.get("min"), node.attrs.get("max")
    x = d[0]
    new_lo = x.lo if lo is None else min(max(x.lo, lo), x.hi if hi is None else hi)
    new_hi = x.hi if hi is None else max(min(x.hi, hi), new_lo)
    integral = x.integer and all(v is None or float(v).is_integer() for v in (lo, hi))
    return [Domain(new_lo, new_hi, integral)]


@op("clamp", "elementwise", domain=_clamp_domain, arity=(1, 1), elementwise=True)
def clamp(node, inputs, state):
    """``min(max(a, min), max)``."""
    return [np.clip(inputs[0], node.attrs.get("min"), node.attrs.get("max"))]


def matmul_terms(graph: Graph, node: Node) -> int:
    """The contraction length K of ``a @ b``."""
    return graph.values[node.inputs[0]].shape[-1]


def _matmul_domain(node: Node, d: Sequence[Domain], graph: Graph) -> list[Domain]:
    k = matmul_terms(graph, node)
    for i, v in enumerate(node.inputs):
        w = graph.constants.get(v)
        if w is not None:  # a weight: use |W| column sums, as a weight layer does
            other = d[1 - i]
            if not np.isfinite([other.lo, other.hi]).all():
                return [Domain.real()]
            mat = w.astype(np.float64).reshape(-1, *w.shape[-2:])
            axis = -2 if i == 1 else -1  # sum over the contraction axis
            pos = np.clip(mat, 0, None).sum(axis)
            neg = np.clip(mat, None, 0).sum(axis)
            lo, hi = pos * other.lo + neg * other.hi, pos * other.hi + neg * other.lo
            return [Domain.real(float(lo.min()), float(hi.max()))]
    return [d[0].dot(d[1], k)]


def _matmul_cost(node: Node, graph: Graph) -> Cost:
    k = matmul_terms(graph, node)
    flops = graph.values[node.outputs[0]].numel * k
    dyn = _dyn(graph, node)
    doms = [graph.values[v].domain for v in node.inputs]
    if not all(dyn):  # a weight layer written as a matmul
        x = doms[dyn.index(True)] if any(dyn) else Domain.real()
        return Cost(input_domain_kind(x), flops, weight_layer=True)
    kind = "ac" if any(d is not None and d.is_binary for d in doms) else "realmul"
    return Cost(kind, flops)


def matmul_synops(a_mask: np.ndarray, b_mask: np.ndarray) -> int:
    """Products with both factors nonzero in ``a @ b`` (masks given; numpy matmul broadcasting)."""
    a = a_mask[None, :] if a_mask.ndim == 1 else a_mask
    b = b_mask[:, None] if b_mask.ndim == 1 else b_mask
    col = a.sum(-2, dtype=np.int64)  # [..., K]: nonzero rows of a per k
    row = b.sum(-1, dtype=np.int64)  # [..., K]: nonzero columns of b per k
    return int((col * row).sum(dtype=np.int64))


def _matmul_events(graph: Graph, node: Node, args) -> int:
    """A constant operand counts as all-nonzero (structural synapses)."""
    masks = [nonzero_mask(x) if dynamic else np.ones(np.shape(x)) for x, dynamic in zip(args, _dyn(graph, node))]
    return matmul_synops(*masks)


def _matmul_time(ctx):
    """Batch axes broadcast like an elementwise op; the last two axes are contracted or indexed."""
    res = ctx.broadcast(batch_only=True)
    if res is not None and res.axis >= len(ctx.out_shape) - 2:
        ctx.fail("matmul contracts or indexes the time axis")
    return res


@op("matmul", "matmul", domain=_matmul_domain, cost=_matmul_cost, arity=(2, 2), linear=(0, 1), homogeneous=(0, 1),
    hooks={"synops": _matmul_events, "time": _matmul_time})
def matmul(node, inputs, state):
    """``a @ b`` with numpy/torch broadcasting of batch axes."""
    return [np.matmul(inputs[0], inputs[1])]


refuses("matmul", "affine", "its map depends on the other operand (a constant operand makes it a weight layer "
                            "written as a matmul, which has no synapse map)")


@op("identity", "shape", domain=same_as_input, arity=(1, 1), movement=True,
    hooks={"axis": lambda node, src, dst, axis, parts: axis, "noop": lambda node, src, dst: True})
def identity(node, inputs, state):
    """Returns its input (contiguous, clone, detach, dropout at inference, dtype casts that keep values)."""
    return [inputs[0]]


# -- torch implementations (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


def _torch_table():
    import torch

    return {
        "add": lambda n, x: x[0] + x[1],
        "sub": lambda n, x: x[0] - x[1],
        "mul": lambda n, x: x[0] * x[1],
        "div": lambda n, x: x[0] / x[1],
        "neg": lambda n, x: -x[0],
        "relu": lambda n, x: torch.clamp_min(x[0], 0),
        "clamp": lambda n, x: torch.clamp(x[0], n.attrs.get("min"), n.attrs.get("max")),
        "matmul": lambda n, x: torch.matmul(x[0], x[1]),
        "identity": lambda n, x: x[0],
    }


def _elementwise_torch(name):
    fns: dict = {}

    def run(node, inputs, state):
        if not fns:
            fns.update(_torch_table())
        return [fns[name](node, inputs)]

    return run


for _name in ("add", "sub", "mul", "div", "neg", "relu", "clamp", "matmul", "identity"):
    implements(_name, "torch")(_elementwise_torch(_name))


@implements("matmul", "count")
def _matmul_count(node, graph, spikes):
    """Products with both factors nonzero: ``Σ_batch Σ_k colnnz(a)[k] · rownnz(b)[k]`` (constants: all)."""
    import torch

    how = ["spikes" if v in spikes else "dynamic" if not graph.values[v].constant else "constant"
           for v in node.inputs]

    def mask(x, h):  # a 0/1 mask; spikes are their own mask
        if h == "constant":
            return torch.ones_like(x, dtype=torch.bool)
        return x if h == "spikes" else x.bool()

    def count(args, outs, nonzero_of):
        a, b = (mask(x, h) for x, h in zip(args, how))
        a = a[None, :] if a.ndim == 1 else a
        b = b[:, None] if b.ndim == 1 else b
        # nonzero rows of a / columns of b per k: integers below 2**24, exact in any float dtype
        col = a.sum(-2).to(torch.float64)  # [..., K]
        row = b.sum(-1).to(torch.float64)  # [..., K]
        return {"synaptic_ops": (col * row).sum().to(torch.int64)}

    return count


@implements("mul", "count")
def _gate_count(node, graph, spikes):
    """A product of two dynamic tensors: broadcast positions where both are nonzero; a scale: not counted."""
    if any(graph.values[v].constant for v in node.inputs):
        return None
    return lambda args, outs, nonzero_of: {"synaptic_ops": (args[0].bool() & args[1].bool()).sum()}
