"""``fold_weight_chain``: the folded graph computes what the unfolded one does (random weights and inputs,
float64, onnxscript style: run both, compare), and every shape it must not fold is refused with a reason."""
import numpy as np
import pytest

from snncompile.analysis import infer_domains
from snncompile.backends.reference import ReferenceExecutor, compare_spikes, neuron_values
from snncompile.passes import LOIHI_PIPELINE, get_pass, run_passes
from snncompile.ops.weights import dense_groups
from snncompile.passes.fold_weights import largest_groups, regroup

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.nolava


class Chain(nn.Module):
    """``outer(mid(inner(x)))`` with an optional BatchNorm (``mid``) between the two layers."""

    def __init__(self, inner, outer, mid=None):
        super().__init__()
        self.inner, self.outer = inner, outer
        self.mid = mid if mid is not None else nn.Identity()

    def forward(self, x):
        return self.outer(self.mid(self.inner(x)))


def _excite(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 2)
                m.bias.uniform_(-1, 1)
    return model.eval()


def _fold(model, x):
    from snncompile.frontends.torch import trace

    g = trace(model, torch.from_numpy(x))
    infer_domains(g)
    g2, logs = run_passes(g, ["drop_identity", "fold_batch_norm", "simplify_shapes", "fold_weight_chain"])
    return g, g2, logs[-1]


CASES = {
    "linear∘linear": (lambda: Chain(nn.Linear(12, 7), nn.Linear(7, 5)), (2, 3, 12)),
    "linear∘linear, no biases": (lambda: Chain(nn.Linear(12, 7, bias=False), nn.Linear(7, 5, bias=False)),
                                   (4, 12)),
    "pw∘BN∘depthwise 7×7 (SepConv)": (lambda: Chain(nn.Conv2d(6, 6, 7, padding=3, groups=6, bias=False),
                                                    nn.Conv2d(6, 4, 1, bias=False), nn.BatchNorm2d(6)),
                                      (2, 6, 8, 8)),
    "grouped pw∘strided dilated grouped conv": (lambda: Chain(nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2,
                                                                    groups=4), nn.Conv2d(8, 6, 1, groups=2)),
                                                (1, 8, 9, 11)),
    "pw∘dense 5×3 conv, odd padding": (lambda: Chain(nn.Conv2d(3, 5, (5, 3), stride=(1, 2), padding=(2, 0)),
                                                     nn.Conv2d(5, 2, 1)), (1, 3, 7, 6)),
    "conv1d pw∘k3": (lambda: Chain(nn.Conv1d(4, 6, 3, padding=1, groups=2), nn.Conv1d(6, 3, 1)), (2, 4, 10)),
    "three linears in a row": (lambda: Chain(nn.Linear(12, 7), nn.Linear(5, 4), nn.Linear(7, 5)), (3, 12)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fold_computes_the_same_function(name):
    make, shape = CASES[name]
    torch.manual_seed(0)
    model = _excite(make())
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    g, g2, log = _fold(model, x)
    assert log.rewrites and not log.refusals, log.to_dict()
    layers = [n for n in g.nodes if n.op in ("linear", "conv1d", "conv2d")]
    (folded,) = [n for n in g2.nodes if n.op in ("linear", "conv1d", "conv2d")]
    assert sorted([folded.module] + folded.attrs["folded_layers"]) == sorted(n.module for n in layers)
    assert sum(1 for n in g2.nodes if n.op in ("linear", "conv1d", "conv2d")) == 1
    assert not any(n.op == "batch_norm" for n in g2.nodes)
    ex = ReferenceExecutor()
    for seed in range(3):
        xs = np.random.default_rng(seed + 10).standard_normal(shape) * 3
        want = ex.run(g, xs, dtype=np.float64).output
        got = ex.run(g2, xs, dtype=np.float64).output
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        ref = model.double()(torch.from_numpy(xs)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_depthwise_then_dense_pointwise_becomes_a_dense_conv():
    """The composite's groups are those of the synapses that exist: depthwise ∘ dense 1×1 is dense."""
    torch.manual_seed(0)
    model = _excite(Chain(nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False), nn.Conv2d(6, 4, 1)))
    x = np.zeros((1, 6, 5, 5), np.float32)
    _, g2, _ = _fold(model, x)
    (conv,) = [n for n in g2.nodes if n.op == "conv2d"]
    assert conv.attrs["groups"] == 1 and g2.values[conv.inputs[1]].shape == (4, 6, 3, 3)
    assert conv.attrs["folded_layers"] == ["inner"]


REFUSED = {
    "two 3×3 convs": (lambda: Chain(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 3, padding=1)), (1, 3, 6, 6),
                      "not pointwise (kernel [3, 3], padding [1, 1])"),
    "a strided 1×1 conv": (lambda: Chain(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1, stride=2)), (1, 3, 7, 7),
                           "not pointwise (stride [2, 2])"),
    "a padded 1×1 conv": (lambda: Chain(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1, padding=1)), (1, 3, 7, 7),
                          "not pointwise (padding [1, 1])"),
    "a max-pool between": (lambda: Chain(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1), nn.MaxPool2d(2)), (1, 3, 8, 8),
                           "lies between it and inner__conv2d"),
    "a ReLU between": (lambda: Chain(nn.Linear(5, 4), nn.Linear(4, 3), nn.ReLU()), (2, 5),
                       "lies between it and inner__linear"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_other_shapes_are_refused_with_a_reason(name):
    make, shape, why = REFUSED[name]
    torch.manual_seed(0)
    model = _excite(make())
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    g, g2, log = _fold(model, x)
    assert not log.rewrites
    assert len(log.refusals) == 1 and why in log.refusals[0].reason, log.to_dict()
    assert [n.op for n in g2.nodes if n.op in ("linear", "conv2d")] == [n.op for n in g.nodes
                                                                        if n.op in ("linear", "conv2d")]


def test_a_layer_whose_output_is_used_twice_is_not_folded():
    class Fork(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.outer = nn.Linear(5, 4), nn.Linear(4, 3)

        def forward(self, x):
            y = self.inner(x)
            return self.outer(y), y

    x = np.random.default_rng(1).standard_normal((2, 5)).astype(np.float32)
    _, g2, log = _fold(Fork().eval(), x)
    assert not log.rewrites and "other uses" in log.refusals[0].reason


def test_group_helpers_round_trip():
    w = np.arange(6 * 2 * 3, dtype=np.float64).reshape(6, 2, 3) + 1
    dense = dense_groups(w, 3)
    assert dense.shape == (6, 6, 3) and np.count_nonzero(dense) == w.size
    assert np.array_equal(regroup(dense, 3), w)
    assert largest_groups(np.abs(dense).sum(2) > 0) == 3
    assert largest_groups(np.ones((4, 6), bool)) == 1


def test_metaspikeformer_separable_convs_fold_and_keep_every_spike():
    """The SDT-V2 SepConv (dwconv → BN → pwconv2 → BN) folds in the Loihi pipeline; every neuron fires
    identically at every step on the digits images (float64; mismatches only at threshold ties)."""
    from digits_models import digits_model
    from snncompile.frontends.torch import trace

    model, x, _, _ = digits_model("metaspikeformer")
    g = trace(model, torch.from_numpy(x[:1]))
    infer_domains(g)
    p = get_pass("fold_weight_chain")
    before = g
    for name in LOIHI_PIPELINE[:LOIHI_PIPELINE.index("fold_weight_chain")]:
        before = get_pass(name).run(before)
    after = p.run(before)
    folded = sorted(r.node for r in p.log.rewrites)
    assert folded and all("pwconv2" in n for n in folded), p.log.to_dict()
    g2, _ = run_passes(g, LOIHI_PIPELINE)
    ex = ReferenceExecutor()
    compared = 0
    for i in range(3):
        r0 = ex.run(g, x[i:i + 1], dtype=np.float64, record=neuron_values(g))
        r1 = ex.run(g2, x[i:i + 1], dtype=np.float64, record=neuron_values(g2))
        np.testing.assert_allclose(r1.output, r0.output, rtol=1e-9, atol=1e-9)
        spikes = {}
        for n in g2.nodes:
            if n.op == "lif":
                spikes.setdefault(n.module, []).append(r1.values[n.outputs[0]])
        cmp = compare_spikes(g, r0, spikes)
        assert cmp.ok, str(cmp)
        compared += cmp.compared
    assert compared > 0 and after is not before
