"""ACs with real firing rates, recomputed by hand from a float64 torch forward."""
import numpy as np
import pytest
import torch

from snncompile.energy import HOROWITZ_45NM, LOIHI_SOP, Samples, build_report, stream_counts
from snncompile.frontends.torch import trace

from .conftest import activated, digits_inputs


def inputs_of(model, modules, x):
    """The input tensor of each module in ``modules`` during a float64 forward on ``x``."""
    seen, handles = {}, []
    named = dict(model.named_modules())
    def hook(name):
        def keep(module, args, out):
            seen[name] = args[0].detach().clone()  # returns None: the output is unchanged
        return keep

    for name in modules:
        handles.append(named[name].register_forward_hook(hook(name)))
    with torch.no_grad():
        model(torch.as_tensor(x, dtype=torch.float64))
    for h in handles:
        h.remove()
    return seen


@pytest.fixture(scope="module")
def spikingformer_run():
    model = activated("spikingformer")
    x = digits_inputs(11)
    graph = trace(model, torch.as_tensor(x[:4]), name="spikingformer-digits")  # traced batch 4: 3 runs, last padded
    counts = stream_counts(graph, Samples.from_array(x, "test"), dtype=np.float64)
    rep = build_report(graph, counts, data="test")
    seen = inputs_of(model.double(), ["block.0.mlp.mlp1_conv", "block.1.attn.q_conv", "patch_embed.block2_conv"], x)
    return rep, seen, len(x)


def row(rep, module):
    (r,) = [r for r in rep.rows if r.module == module]
    return r


def test_one_layer_by_hand_with_bias(spikingformer_run):
    """mlp1: 1x1 conv 64 -> 256 (bias) over 16 tokens, T = 4: FLOPs, fr, SOPs = fr·T·FLOPs_step, exact ACs."""
    rep, seen, n = spikingformer_run
    x = seen["block.0.mlp.mlp1_conv"].numpy()  # [T·B, 64, 4, 4] binary spikes
    assert set(np.unique(x)) <= {0.0, 1.0}
    T, tokens, c_in, c_out = 4, 16, 64, 256
    flops_step = tokens * c_out * (c_in + 1)  # per image, one time step, bias adds included
    fr = np.count_nonzero(x) / x.size
    r = row(rep, "block.0.mlp.mlp1_conv")
    assert r.steps == T and r.flops == T * flops_step == 1_064_960
    assert 0.02 < fr < 0.9 and r.in_rate == pytest.approx(fr, rel=1e-12)
    assert r.sops == pytest.approx(fr * T * flops_step, rel=1e-12)  # the papers' formula
    acs = np.count_nonzero(x) * c_out / n  # every spike drives c_out synapses; bias adds are not ACs
    assert r.acs == pytest.approx(acs, rel=1e-12)
    assert r.sops == pytest.approx(r.acs * (c_in + 1) / c_in, rel=1e-12)  # the estimate adds fr x bias adds
    assert r.e45 == pytest.approx(HOROWITZ_45NM.pj_per_ac * acs, rel=1e-12)
    assert r.e45_papers == pytest.approx(0.9 * fr * T * flops_step, rel=1e-12)
    assert r.e_loihi == pytest.approx(LOIHI_SOP.pj_per_sop * acs, rel=1e-12)


def test_bias_free_1x1_layer_exact_equals_estimate(spikingformer_run):
    rep, seen, n = spikingformer_run
    x = seen["block.1.attn.q_conv"].numpy()
    r = row(rep, "block.1.attn.q_conv")
    assert r.acs == pytest.approx(np.count_nonzero(x) * 64 / n, rel=1e-12)
    assert r.sops == pytest.approx(r.acs, rel=1e-12)


def test_3x3_conv_exact_acs_skip_zero_padding(spikingformer_run):
    """A 3x3 conv: exact ACs count each spike once per output window covering it (border windows fewer)."""
    rep, seen, n = spikingformer_run
    x = seen["patch_embed.block2_conv"].numpy()  # [T·B, C_in, H, W] spikes
    c_out = 32
    ones = torch.nn.functional.conv2d(torch.as_tensor((x != 0).astype(np.float64)),
                                      torch.ones(1, x.shape[1], 3, 3, dtype=torch.float64), padding=1)
    r = row(rep, "patch_embed.block2_conv")
    assert r.acs == pytest.approx(float(ones.sum()) * c_out / n, rel=1e-12)
    assert r.acs < r.sops  # the estimate also counts padded window positions


def test_totals_split_by_region_and_neuron_rates(spikingformer_run):
    rep, _, n = spikingformer_run
    t = rep.totals
    assert rep.samples == n
    for f in ("flops", "macs", "acs", "synops", "e45", "e_loihi"):
        assert t["all"][f] == pytest.approx(sum(t[r][f] for r in ("encoding", "body", "readout")), rel=1e-12)
    assert t["encoding"]["acs"] == 0 and t["encoding"]["macs"] == 4 * 16 * 16 * 8 * 9
    assert t["all"]["intmuls"] == 0  # Spikingformer: no integer x float multiplication
    assert 0.0 < t["all"]["firing_rate"] < 1.0
    assert all(0.0 <= nr.firing_rate <= 1.0 for nr in rep.neurons)


def test_spikformer_integer_layers_are_int_float_multiplications(firing_checkpoints):
    from snncompile.frontends.torch.loading import load_model

    loaded = load_model(firing_checkpoints["spikformer"])
    graph = trace(loaded.model, loaded.example_input(4), [loaded.input_domain])
    counts = stream_counts(graph, Samples.from_array(loaded.samples, "inputs.npy", limit=6))
    rep = build_report(graph, counts)
    q = row(rep, "block.0.attn.q_linear")
    assert q.kind == "INT×FLOAT" and q.input_domain == "int[0,2]"
    assert q.acs is None and q.intmuls > 0
    assert q.e45 == pytest.approx(HOROWITZ_45NM.pj_per_mac * q.intmuls)  # priced as MACs
    assert q.e45_papers == pytest.approx(0.9 * q.sops)  # the papers' scripts count them as ACs
    assert rep.totals["all"]["e45"] > rep.totals["all"]["e45_papers"]


def test_batch_size_does_not_change_counts():
    model = activated("spikformer")
    x = digits_inputs(7)
    results = []
    for b in (2, 3, 7):
        graph = trace(model, torch.as_tensor(x[:b]))
        counts = stream_counts(graph, Samples.from_array(x, "t"))
        results.append({name: (c.synaptic_ops, c.spikes) for name, c in counts.nodes.items() if c.module})
    assert results[0] == results[1] == results[2]
