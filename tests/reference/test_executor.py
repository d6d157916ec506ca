"""The executor's contract (recording, memory, errors), domain violations on a hand-made graph, and
event counts recomputed by hand."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from snncompile.analysis import infer_domains
from snncompile.backends.reference import (ExecutionError, ReferenceExecutor, count_events, run,
                                           verify_domains)
from snncompile.backends.reference.batching import chunks
from snncompile.backends.reference.counts import conv_synops, matmul_synops
from snncompile.backends.reference.executor import make_plan
from snncompile.errors import InputError, SnnCompileError
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph, Node, Value

from .models import build


# -- a hand-made graph: y = W·x (x binary), c = Σ_j x_j, z = c · 0.5 ------------------------------

def hand_graph(batch: int = 2) -> Graph:
    g = Graph(meta={"batch": batch})
    g.add_value(Value("x", (batch, 8), "float64", Domain.binary()))
    g.inputs.append("x")
    g.add_constant("w", np.random.default_rng(0).normal(size=(5, 8)))
    g.add_constant("half", np.asarray(0.5))
    for name, shape in (("y", (batch, 5)), ("c", (batch,)), ("z", (batch,))):
        g.add_value(Value(name, shape, "float64"))
    g.add_node(Node("fc", "linear", ["x", "w"], ["y"], module="fc", source="net.py:10"))
    g.add_node(Node("count", "sum", ["x"], ["c"], {"dims": [1], "keepdim": False}, module="pool",
                    source="net.py:11"))
    g.add_node(Node("scale", "mul", ["c", "half"], ["z"], module="", source="net.py:12"))
    g.outputs += ["y", "z"]
    return infer_domains(g)


def binary_samples(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 8)) < 0.6).astype(np.float64)


def test_hand_graph_runs_and_verifies():
    g = hand_graph()
    x = binary_samples(2)
    y, z = run(g, [x]).outputs
    np.testing.assert_allclose(y, x @ g.constants["w"].T)
    np.testing.assert_array_equal(z, x.sum(1) * 0.5)
    assert str(g.values["c"].domain) == "int[0,8]"
    assert verify_domains(g, binary_samples(5)).ok


def test_too_narrow_domain_is_reported():
    g = hand_graph()
    g.values["c"].domain = Domain.integer_range(0, 2)  # wrong: up to 8 spikes are summed
    g.values["y"].domain = Domain.real(-0.1, 0.1)  # wrong: far too narrow for the weights
    g.values["z"].domain = Domain.integer_range(0, 8)  # wrong: halves of odd counts are not integers
    samples = binary_samples(7)
    report = verify_domains(g, samples)
    assert not report.ok
    by_value = {v.value: v for v in report.violations}
    assert set(by_value) == {"c", "y", "z"}
    c = by_value["c"]
    assert c.static == Domain.integer_range(0, 2)
    assert c.observed.hi == samples.sum(1).max() > 2 and c.observed.integral
    assert "count (sum in pool at net.py:11)" in c.node
    assert by_value["z"].reason == "non-integer value in an integer domain"
    text = str(report)
    assert "3 violation(s)" in text and "int[0,2]" in text and "net.py:11" in text
    assert report.to_dict()["violations"][0]["static_domain"]


def test_real_bound_allows_rounding_only():
    g = hand_graph()
    x = np.ones((1, 8))
    exact = float((x @ g.constants["w"].T).max())
    g.values["y"].domain = Domain.real(-100, exact * (1 - 1e-13))  # rounding-level: accepted
    assert verify_domains(g, x).ok
    g.values["y"].domain = Domain.real(-100, exact - 1e-3)  # a real violation
    assert not verify_domains(g, x).ok


def test_chunks_pad_with_real_samples():
    g = hand_graph(batch=4)
    samples = binary_samples(10)
    got = list(chunks(g, samples))
    assert [c.real for c in got] == [4, 4, 2] and got[-1].padding == 2
    np.testing.assert_array_equal(got[-1].inputs[0][2:], np.repeat(samples[8:9], 2, axis=0))


# -- executor contract ---------------------------------------------------------------------------

def test_record_modes_and_hooks():
    g = hand_graph()
    x = binary_samples(2)
    ex = ReferenceExecutor()
    assert ex.run(g, [x]).values.keys() <= {"y", "z"}
    every = ex.run(g, [x], record=True).values
    assert set(every) == {"x", "y", "c", "z"}
    assert set(ex.run(g, [x], record={"c"}).values) == {"c"}
    seen = []
    ex.run(g, [x], hooks=[lambda node, args, outs: seen.append((node.name, [a.shape for a in outs]))])
    assert seen == [("fc", [(2, 5)]), ("count", [(2,)]), ("scale", [(2,)])]
    with pytest.raises(InputError, match="unknown value"):
        ex.run(g, [x], record={"nope"})


def test_values_are_released_after_last_use():
    model = build("spikformer").double()
    from snncompile.frontends.torch import trace

    g = trace(model, torch.rand(1, 1, 8, 8, dtype=torch.float64))
    plan = make_plan(g)
    released = [v for vs in plan.release for v in vs]
    assert len(released) == len(set(released))
    dynamic = {v for v, val in g.values.items() if not val.constant}
    assert set(released) == dynamic - set(g.outputs)
    last_use = {}
    for i, n in enumerate(g.nodes):
        for v in n.inputs:
            last_use[v] = i
    for i, vs in enumerate(plan.release):
        for v in vs:
            assert last_use.get(v, i) == i
    # peak live values stay far below the number of values
    live, peak = set(g.inputs), 0
    for i, n in enumerate(g.nodes):
        live |= set(n.outputs)
        peak = max(peak, len(live))
        live -= set(plan.release[i])
    assert peak < len(dynamic) / 4


def test_input_shape_must_match_traced_batch():
    g = hand_graph(batch=2)
    with pytest.raises(InputError, match="traced with"):
        run(g, [binary_samples(3)])


def test_constants_are_read_only_for_ops():
    g = hand_graph()
    consts = ReferenceExecutor().constants(g, np.float32)
    assert consts["w"].dtype == np.float32 and not consts["w"].flags.writeable
    assert g.constants["w"].flags.writeable and g.constants["w"].dtype == np.float64


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        y = self.fc(x)
        return y.reshape(2, 2, 2)  # the line the error must name


def test_execution_error_names_node_and_source_line():
    from snncompile.frontends.torch import trace

    g = trace(Broken(), torch.rand(2, 6))
    node = next(n for n in g.nodes if n.op == "reshape")
    node.attrs["shape"] = [3, 3]  # corrupt it: 8 elements cannot become 3×3
    with pytest.raises(ExecutionError, match="reshape") as info:
        run(g, [np.random.rand(2, 6)])
    msg = str(info.value)
    assert "\n" not in msg
    assert node.name in msg and "reshape" in msg
    line = [i for i, text in enumerate(open(__file__), 1) if "the line the error must name" in text][0]
    assert re.search(rf"test_executor\.py:{line}\b", msg), msg
    assert "ValueError" in msg and "cannot reshape" in msg
    assert isinstance(info.value, SnnCompileError) and info.value.node is node
    assert info.value.one_line().startswith("error: while executing")


def test_wrong_output_shape_is_an_execution_error():
    g = hand_graph()
    g.values["c"].shape = (3,)
    with pytest.raises(ExecutionError, match=r"count \(sum in pool at net.py:11\).*declares \(3,\)"):
        run(g, [binary_samples(2)])


# -- counts recomputed by hand ---------------------------------------------------------------------

class Fn(nn.Module):
    def __init__(self, fn, **consts):
        super().__init__()
        self.fn = fn
        for k, v in consts.items():
            self.register_buffer(k, v)

    def forward(self, *xs):
        return self.fn(self, *xs)


def _spikes(shape, p=0.3, seed=0):
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float64)


def test_linear_counts_by_hand():
    from snncompile.frontends.torch import trace

    w, b = torch.randn(5, 8, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    model = Fn(lambda m, x: F.linear(x, m.w, m.b), w=w, b=b)
    x = _spikes((3, 4, 8))
    g = trace(model, torch.from_numpy(x), input_domains=[Domain.binary()])
    c = count_events(g, x)  # 3 samples of [4, 8], the traced batch
    fc = c.nodes[next(iter(c.nodes))]
    by_hand = 0
    for idx in np.ndindex(*x.shape):
        if x[idx] != 0:
            by_hand += 5  # one synapse to each of the 5 outputs
    assert fc.synaptic_ops == by_hand
    assert fc.nonzero_inputs == [int((x != 0).sum())] and fc.input_elements == [x.size]
    assert fc.kind == "ac"
    assert fc.dense_ops == 3 * 4 * 5 * (8 + 1)  # products + bias adds per output


def test_conv_counts_by_hand():
    from snncompile.frontends.torch import trace

    cin, cout, groups, k = 4, 6, 2, (3, 2)
    stride, pad, dil = (2, 1), (1, 2), (2, 1)
    w = torch.randn(cout, cin // groups, *k, dtype=torch.float64)
    model = Fn(lambda m, x: F.conv2d(x, m.w, None, stride, pad, dil, groups), w=w)
    x = _spikes((2, cin, 7, 6), seed=3)
    g = trace(model, torch.from_numpy(x), input_domains=[Domain.binary()])
    node = next(n for n in g.nodes if n.op == "conv2d")
    c = count_events(g, x).nodes[node.name]
    _, _, oh, ow = g.values[node.outputs[0]].shape
    by_hand = 0
    for n, o, i, j in np.ndindex(2, cout, oh, ow):
        grp = o // (cout // groups)
        for ci in range(grp * (cin // groups), (grp + 1) * (cin // groups)):
            for a, bb in np.ndindex(*k):
                hi, wi = i * stride[0] - pad[0] + a * dil[0], j * stride[1] - pad[1] + bb * dil[1]
                if 0 <= hi < 7 and 0 <= wi < 6 and x[n, ci, hi, wi] != 0:
                    by_hand += 1
    assert c.synaptic_ops == by_hand > 0
    assert conv_synops(x, w.shape, stride, pad, dil, groups) == by_hand
    assert c.kind == "ac" and c.dense_ops == 2 * cout * oh * ow * (cin // groups) * k[0] * k[1]


def test_matmul_and_gate_counts_by_hand():
    a, b = _spikes((2, 3, 4, 5), seed=1), _spikes((2, 1, 5, 6), seed=2)
    b[0, 0, 1] = 3.0  # an integer operand
    by_hand = sum(1 for i0, i1, i, k, j in np.ndindex(2, 3, 4, 5, 6) if a[i0, i1, i, k] and b[i0, 0, k, j])
    assert matmul_synops(a != 0, b != 0) == by_hand
    from snncompile.frontends.torch import trace

    g = trace(Fn(lambda m, s, v: s @ v), (torch.from_numpy(a), torch.from_numpy(b)),
              input_domains=[Domain.binary(), Domain.integer_range(0, 3)])
    c = count_events(g, (a, b))
    (mm,) = c.nodes.values()
    assert mm.synaptic_ops == by_hand and mm.kind == "ac"
    assert mm.nonzero_inputs == [int((a != 0).sum()), int((b != 0).sum())]

    s_, v_ = _spikes((2, 5), seed=4), np.random.default_rng(5).integers(0, 3, (2, 5)).astype(np.float64)
    g = trace(Fn(lambda m, s, v: s * v), (torch.from_numpy(s_), torch.from_numpy(v_)))
    (gate,) = count_events(g, (s_, v_)).nodes.values()
    assert gate.op == "mul" and gate.synaptic_ops == int(((s_ != 0) & (v_ != 0)).sum())


def test_neuron_counts_and_firing_rates():
    from snncompile.frontends.torch import trace

    model = build("activation_based").double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    g = trace(model, x)
    lif = [n for n in g.nodes if n.op == "lif"]
    result = run(g, [x.numpy()], record={n.outputs[0] for n in lif})
    counts = count_events(g, x.numpy())
    for n in lif:
        c = counts.nodes[n.name]
        s = result.values[n.outputs[0]]
        assert c.neuron_updates == s.size and c.spikes == int(s.sum())
        assert c.spikes_per_step == [int(s[t].sum()) for t in range(s.shape[0])]
        assert c.firing_rate == pytest.approx(s.mean())
    assert counts.totals()["neuron"]["spikes"] == counts.spikes
