"""Every pass preserves the network: float64 reference runs before/after give the same outputs (to
rounding) and the same spikes at every neuron, every step (mismatches only at threshold ties)."""
import numpy as np
import pytest

from snncompile.analysis import infer_domains
from snncompile.backends.reference import ReferenceExecutor, compare_spikes, neuron_values
from snncompile.backends.reference.steps import run_steps
from snncompile.passes import LOIHI_PIPELINE, TimeAxisError, get_pass, run_passes, slice_time

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.nolava


def _spikes_by_module(graph, result):
    out = {}
    for n in graph.nodes:
        if n.op == "lif":
            out.setdefault(n.module, []).append(result.values[n.outputs[0]])
    return out


def _check_equivalent(g0, g1, x):
    ex = ReferenceExecutor()
    ties = 0
    for i in range(len(x)):
        r0 = ex.run(g0, x[i:i + 1], dtype=np.float64, record=neuron_values(g0))
        r1 = ex.run(g1, x[i:i + 1], dtype=np.float64, record=neuron_values(g1))
        np.testing.assert_allclose(r1.output, r0.output, rtol=1e-9, atol=1e-9)
        cmp = compare_spikes(g0, r0, _spikes_by_module(g1, r1))
        assert cmp.ok, str(cmp)
        ties += cmp.mismatches
    return ties


NOTHING_TO_DO_ON_THE_SEEDS = {
    "fold_weight_chain": "every weight layer of the seeds is fed by a neuron (tests/passes/test_fold_weights.py)",
}
"""Passes whose pattern the two seed models do not contain: they must leave them untouched."""


@pytest.mark.parametrize("name", LOIHI_PIPELINE)
def test_each_pass_preserves_spikes(traced, name):
    arch, model, g, x = traced
    before = g
    for prior in LOIHI_PIPELINE[:LOIHI_PIPELINE.index(name)]:
        before = get_pass(prior).run(before)
    p = get_pass(name)
    after = p.run(before)
    if name in NOTHING_TO_DO_ON_THE_SEEDS:
        assert not p.log.rewrites, f"{name} rewrote {arch}: {p.log.to_dict()}"
    else:
        assert p.log.rewrites, f"{name} rewrote nothing on {arch}"
    _check_equivalent(before, after, x[:4])


def test_pipeline_result(traced):
    arch, model, g, x = traced
    g2, logs = run_passes(g, LOIHI_PIPELINE)
    ops = [n.op for n in g2.nodes]
    assert "batch_norm" not in ops and "identity" not in ops
    assert not any(n.op == "mul" for n in g2.nodes), "the attention scale 0.125 should be folded"
    attn = [n for n in g2.nodes if n.op == "lif" and n.module.endswith("attn_lif")]
    assert attn and all(n.attrs["v_threshold"] == 4.0 for n in attn)  # 0.5 / 0.125
    assert len(g2.nodes) < len(g.nodes)
    _check_equivalent(g, g2, x[:4])
    # the original graph is untouched
    assert any(n.op == "batch_norm" for n in g.nodes)


def test_torch_matches_folded_graph(traced):
    arch, model, g, x = traced
    g2, _ = run_passes(g, LOIHI_PIPELINE)
    with torch.no_grad():
        ref = model.double()(torch.from_numpy(x[:2]).double()).numpy()
        model.float()
    ex = ReferenceExecutor()
    for i in range(2):
        out = ex.run(g2, x[i:i + 1], dtype=np.float64).output
        np.testing.assert_allclose(out, ref[i:i + 1], rtol=1e-9, atol=1e-9)


def test_step_program_equals_full_graph(traced):
    arch, model, g, x = traced
    g2, _ = run_passes(g, LOIHI_PIPELINE)
    prog = slice_time(g2)
    assert prog.T == 4
    assert all(n.attrs.get("step_mode") == "single" for n in prog.step.nodes if n.op == "lif")
    lifs = [n for n in g2.nodes if n.op == "lif"]
    ex = ReferenceExecutor()
    for i in range(3):
        full = ex.run(g2, x[i:i + 1], dtype=np.float64, record=[n.outputs[0] for n in lifs])
        run = run_steps(prog, [x[i:i + 1]], record=[n.outputs[0] for n in lifs])
        np.testing.assert_allclose(run.outputs[0], full.output, rtol=0, atol=1e-12)
        for n in lifs:
            steps = np.concatenate(run.steps[n.outputs[0]], axis=0)
            np.testing.assert_array_equal(steps, full.values[n.outputs[0]])


# -- refusals and errors on small hand-made models ----------------------------------------------------

def _trace(model, x):
    from snncompile.frontends.torch import trace

    g = trace(model.eval(), x)
    infer_domains(g)
    return g


class _LIF(nn.Module):
    """A minimal multi-step LIF (the example models' own neuron)."""

    def __init__(self, v_threshold=1.0):
        super().__init__()
        from snncompile.examples.neurons import MultiStepLIF

        self.lif = MultiStepLIF(v_threshold=v_threshold)

    def forward(self, x):
        return self.lif(x)


class _Shared(nn.Module):
    """A Linear whose output feeds both a BatchNorm and the output: the BN cannot be folded."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.lif = _LIF()

    def forward(self, x):
        x = x.unsqueeze(0).repeat(2, 1, 1)
        y = self.fc(x.flatten(0, 1))
        s = self.lif(self.bn(y).reshape(2, -1, 4))
        return s.mean(0) + y.reshape(2, -1, 4).mean(0)


class _NegScale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.lif = _LIF()
        self.c = c

    def forward(self, x):
        x = x.unsqueeze(0).repeat(2, 1, 1)
        y = self.fc(x.flatten(0, 1)) * self.c
        return self.lif(y.reshape(2, -1, 4)).mean(0)


def test_fold_batch_norm_refuses_shared_output():
    g = _trace(_Shared(), torch.rand(1, 4))
    p = get_pass("fold_batch_norm")
    g2 = p.run(g)
    assert not p.log.rewrites
    assert p.log.refusals and "other uses" in p.log.refusals[0].reason
    assert any(n.op == "batch_norm" for n in g2.nodes)


def test_fold_scale_refuses_negative_and_folds_positive():
    g = _trace(_NegScale(-0.5), torch.rand(1, 4))
    p = get_pass("fold_scale")
    p.run(g)
    assert p.log.refusals and "not positive" in p.log.refusals[0].reason
    torch.manual_seed(1)
    model = _NegScale(3.0)
    g = _trace(model, torch.rand(1, 4))
    p = get_pass("fold_scale")
    g2 = p.run(g)
    assert p.log.rewrites and not any(n.op == "mul" for n in g2.nodes)
    lif = next(n for n in g2.nodes if n.op == "lif")
    assert lif.attrs["v_threshold"] == pytest.approx(1 / 3.0)
    x = np.random.default_rng(0).random((6, 4)).astype(np.float32) * 3
    _check_equivalent(g, g2, x)


class _TimeSlice(nn.Module):
    def __init__(self):
        super().__init__()
        self.lif = _LIF()

    def forward(self, x):
        x = x.unsqueeze(0).repeat(4, 1, 1)
        s = self.lif(x)
        return s[1:].mean(0)  # drops the first step: not a per-step computation


def test_time_axis_error_names_the_node():
    g = _trace(_TimeSlice(), torch.rand(1, 4))
    with pytest.raises(TimeAxisError, match="slic"):
        slice_time(g)


def test_retime_runs_the_same_steps_for_another_T(traced):
    """A step program retimed from T = 4 to T = 2 computes what the model traced with T = 2 computes."""
    from snncompile.frontends.torch import trace
    from snncompile.passes import retime

    arch, model, g, x = traced
    prog = slice_time(run_passes(g, LOIHI_PIPELINE)[0])
    model.T = 2
    try:
        g2 = trace(model, torch.from_numpy(x[:1]))
    finally:
        model.T = 4
    two = retime(prog, 2)
    ex = ReferenceExecutor()
    for i in range(2):
        ref = ex.run(g2, x[i:i + 1], dtype=np.float64).output
        np.testing.assert_allclose(run_steps(two, [x[i:i + 1]]).outputs[0], ref, rtol=1e-9, atol=1e-9)
