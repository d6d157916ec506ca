"""The trait machinery does the work a name list used to: affine maps equal the reference, and an op that
declares itself linear (average pooling) is lowered between Loihi populations with no backend edit."""
from __future__ import annotations

import numpy as np
import pytest

from snncompile import ops
from snncompile.ir.graph import Graph, Node, Value

torch = pytest.importorskip("torch")
nn = torch.nn

RNG = np.random.default_rng(0)


def _one_op(op: str, x_shape, attrs, consts=()):
    """A graph of one node ``op(x, *consts)``, its output shape from the reference."""
    g = Graph()
    g.add_value(Value("x", tuple(x_shape), "float64"))
    g.inputs.append("x")
    names = []
    for i, c in enumerate(consts):
        g.add_constant(f"c{i}", np.asarray(c, np.float64))
        names.append(f"c{i}")
    node = Node("n", op, ["x"] + names, ["y"], dict(attrs))
    x = RNG.normal(size=x_shape)
    y = ops.get(op).reference(node, [x] + [np.asarray(c, np.float64) for c in consts], {})[0]
    g.add_value(Value("y", tuple(y.shape), "float64"))
    g.add_node(node)
    g.outputs.append("y")
    return g, node, x, y


@pytest.mark.parametrize("op,shape,attrs,consts", [
    ("avg_pool2d", (2, 3, 8, 8), {"kernel": [2, 2], "stride": [2, 2], "padding": [0, 0]}, ()),
    ("avg_pool2d", (1, 2, 8, 7), {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil_mode": True}, ()),
    ("avg_pool1d", (2, 3, 10), {"kernel": [4], "stride": [3], "padding": [2], "ceil_mode": True}, ()),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), {"output_size": [3, 2]}, ()),
    ("mean", (2, 5, 4), {"dims": [1], "keepdim": False}, ()),
    ("sum", (2, 5, 4), {"dims": None, "keepdim": False}, ()),
    ("permute", (2, 3, 4), {"dims": [2, 0, 1]}, ()),
    ("slice", (4, 6), {"index": [{"slice": [1, 4, 2]}, "..."]}, ()),
    ("linear", (3, 5), {}, (RNG.normal(size=(4, 5)),)),
    ("conv2d", (1, 2, 6, 6), {"stride": [2, 1], "padding": [1, 0], "dilation": [1, 2], "groups": 2},
     (RNG.normal(size=(4, 1, 3, 2)),)),
    ("div", (3, 4), {}, (np.float64(4.0),)),
])
def test_affine_hook_is_the_reference(op, shape, attrs, consts):
    g, node, x, y = _one_op(op, shape, attrs, consts)
    m = ops.get(op).hook("affine")(g, node, "x")
    np.testing.assert_allclose(m.apply(x).reshape(y.shape), y, rtol=1e-12, atol=1e-12)


def test_a_non_linear_op_refuses_the_affine_concern_in_one_line():
    with pytest.raises(ops.MissingHook, match="max_pool2d.*affine.*not a linear map"):
        ops.get("max_pool2d").hook("affine")


class _LIF(nn.Module):
    def __init__(self):
        super().__init__()
        from snncompile.examples.neurons import MultiStepLIF

        self.lif = MultiStepLIF(v_threshold=1.0)

    def forward(self, x):
        return self.lif(x)


class _PoolBetweenPopulations(nn.Module):
    """Spikes → 2×2 average pooling → conv → spikes: the pool lies between two populations."""

    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 4, 3, padding=1)
        self.lif0 = _LIF()
        self.pool = nn.AvgPool2d(2)
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.lif1 = _LIF()

    def forward(self, x):
        T = 2
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1)
        s = self.lif0(self.conv0(x).reshape(T, -1, 4, 8, 8)).flatten(0, 1)
        y = self.conv1(self.pool(s))
        return self.lif1(y.reshape(T, -1, 4, 4, 4)).mean(0)


def test_average_pooling_between_populations_is_a_term_of_the_synapse():
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import trace
    from snncompile.loihi import prepare
    from snncompile.loihi.affine import term_matrix

    torch.manual_seed(0)
    g = trace(_PoolBetweenPopulations().eval(), torch.rand(1, 1, 8, 8))
    infer_domains(g)
    prepared = prepare(g)
    step = prepared.network.graph
    synapse = next(u for u in prepared.network.of_kind("synapse")
                   if any(ops.get(step.node(n).op).pooling == "avg" for t in u.ports[0].terms for n in t.chain))
    (term,) = synapse.ports[0].terms
    assert prepared.network.units[term.source].kind == "neuron"
    spikes = (RNG.random(step.values[term.value].shape) < 0.3).astype(np.float64)
    chain = [step.node(n) for n in term.chain]
    want = spikes
    for node in chain:
        want = ops.get(node.op).reference(node, [want], {})[0]
    np.testing.assert_allclose(term_matrix(step, term) @ spikes.reshape(-1), want.reshape(-1), rtol=1e-12)
