"""Every op's value domain against what its numpy reference computes, and the arithmetic ops' domain and cost
rules against interval arithmetic worked by hand.

Soundness: for every case of :mod:`test_ops`, the inputs' domains are those of the concrete inputs, and every
value the executor computes lies in the domain that ``infer_domains`` gave it (the spike-purity verdicts
and the fixed-point scales rest on these intervals).  Tightness and costs: a wrong but sound rule (e.g. an
unbounded interval) would pass the first test; the hand-worked cases pin the arithmetic rules down.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from snncompile import ops
from snncompile.analysis import infer_domains
from snncompile.backends.reference import ReferenceExecutor
from snncompile.frontends.torch import trace
from snncompile.ir.domain import Domain

from .test_ops import CASES, Fn, _inputs

# reals are computed in float64; an interval bound is a float64 too
REAL_SLACK = 1e-9


@pytest.mark.parametrize("name,fn,specs,consts,op", [pytest.param(*c, id=c[0]) for c in CASES])
def test_every_computed_value_lies_in_its_inferred_domain(name, fn, specs, consts, op):
    torch.manual_seed(zlib.crc32(name.encode()) % 1000)
    model = Fn(fn, **consts).double()
    xs = _inputs(specs)
    graph = trace(model, tuple(xs), [Domain.of_array(x.numpy()) for x in xs])
    infer_domains(graph)
    result = ReferenceExecutor().run(graph, [x.numpy() for x in xs], dtype=np.float64, record=True)
    checked = 0
    for v, arr in result.values.items():
        dom = graph.values[v].domain
        assert dom is not None, f"{name}: {v} has no domain"
        seen = Domain.of_array(arr)
        slack = 0 if dom.integer else REAL_SLACK * max(1.0, abs(dom.lo), abs(dom.hi))
        assert dom.contains(seen.lo + slack, seen.hi - slack, seen.integer), f"{name}: {v} in {seen}, inferred {dom}"
        checked += 1
    assert checked >= 1, f"{name}: nothing recorded"


def _binary_graph(fn, a: Domain, b: Domain):
    model = Fn(fn).double()
    xs = (torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64))
    graph = trace(model, xs, [a, b])
    infer_domains(graph)
    return graph


@pytest.mark.parametrize("fn,a,b,want", [
    (lambda m, a, b: a + b, Domain.binary(), Domain.integer_range(0, 2), "int[0,3]"),
    (lambda m, a, b: a + b, Domain.integer_range(-3, 1), Domain.integer_range(2, 5), "int[-1,6]"),
    (lambda m, a, b: a - b, Domain.binary(), Domain.integer_range(0, 2), "int[-2,1]"),
    (lambda m, a, b: a - b, Domain.integer_range(-3, 1), Domain.integer_range(2, 5), "int[-8,-1]"),
    (lambda m, a, b: a * b, Domain.integer_range(-1, 2), Domain.integer_range(0, 3), "int[-3,6]"),
    (lambda m, a, b: a * b, Domain.integer_range(-2, -1), Domain.integer_range(-3, 4), "int[-8,6]"),
    (lambda m, a, b: a * b, Domain.binary(), Domain.real(-0.5, 2.0), "real[-0.5,2]"),
], ids=["add-int", "add-neg", "sub-int", "sub-neg", "mul-int", "mul-neg", "mul-gate"])
def test_arithmetic_domains_are_interval_arithmetic(fn, a, b, want):
    graph = _binary_graph(fn, a, b)
    assert str(graph.values[graph.outputs[0]].domain) == want


def _mul_cost(graph):
    node = next(n for n in graph.nodes if n.op == "mul")
    return ops.get("mul").cost(node, graph)


def test_product_costs_a_spike_gate_a_real_product_or_nothing():
    gate = _mul_cost(_binary_graph(lambda m, a, b: a * b, Domain.binary(), Domain.real(-1, 1)))
    assert (gate.kind, gate.flops) == ("ac", 6)
    gate = _mul_cost(_binary_graph(lambda m, a, b: a * b, Domain.real(-1, 1), Domain.binary()))
    assert (gate.kind, gate.flops) == ("ac", 6)
    real = _mul_cost(_binary_graph(lambda m, a, b: a * b, Domain.real(-1, 1), Domain.integer_range(0, 3)))
    assert (real.kind, real.flops) == ("realmul", 6)
    model = Fn(lambda m, x: x * m.c, c=torch.full((2, 3), 0.5, dtype=torch.float64)).double()
    graph = trace(model, (torch.zeros(2, 3, dtype=torch.float64),), [Domain.real(-1, 1)])
    infer_domains(graph)
    scale = _mul_cost(graph)
    assert (scale.kind, scale.flops) == ("none", 0)


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_binary_arithmetic_takes_exactly_two_operands(op):
    from snncompile.ir.graph import Node

    def node(n):
        return Node(f"{op}_{n}", op, [f"x{i}" for i in range(n)], ["y"])

    assert ops.get(op).verify(node(2)) is None
    for n in (1, 3):
        assert ops.get(op).verify(node(n)) == f"{op} takes 2..2 operands, got {n}"
