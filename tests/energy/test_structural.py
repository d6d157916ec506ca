"""Structural FLOPs as the papers' energy logs print them (trace only, no executor run)."""
import pytest

from snncompile.energy import build_report
from snncompile.examples import presets
from snncompile.frontends.torch import trace
from snncompile.frontends.torch.loading import _describe_example


def traced(arch, name):
    model = presets.build(arch, name)
    loaded = _describe_example(model, f"{arch}-{name}")
    return model, trace(model, loaded.example_input(1), [loaded.input_domain], name=loaded.name)


@pytest.fixture(scope="module")
def spikingformer_8_512():
    model, graph = traced("spikingformer", "8-512")
    return model, build_report(graph)


def by_module(report, module, op=None):
    rows = [r for r in report.rows if r.module == module and (op is None or r.label == op)]
    assert len(rows) == 1, (module, op, [(r.module, r.label) for r in report.rows if r.module == module])
    return rows[0]


def test_spikingformer_8_512_flops_match_the_authors_log(spikingformer_8_512):
    """Spikingformer-8-512, 224×224, T = 4 (test_spikingformer-8-512_eg.log of the authors' repository)."""
    model, rep = spikingformer_8_512
    first = by_module(rep, "patch_embed.proj_conv")
    assert (first.flops, first.kind, first.region, first.steps) == (346_816_512, "MAC", "encoding", 4)
    assert first.macs == 346_816_512  # the first conv's MACs x T: 346.8 M
    head = by_module(rep, "head")
    assert (head.flops, head.kind, head.region, head.steps) == (513_000, "MAC", "readout", 1)  # after the mean over T
    for i in range(8):
        fc1 = by_module(rep, f"block.{i}.mlp.mlp1_conv")  # 1x1 conv 512 -> 2048 over 196 tokens, with bias
        assert (fc1.flops, fc1.kind, fc1.steps) == (823_689_216, "AC", 4)
        assert by_module(rep, f"block.{i}.mlp.mlp2_conv").flops == 822_484_992
        assert by_module(rep, f"block.{i}.attn.q_conv").flops == 205_520_896  # no bias
        assert by_module(rep, f"block.{i}.attn.proj_conv").flops == 205_922_304  # with bias
        # SSA, decomposed order Q(KᵀV), from the graph: T·heads·N·d² each (the authors' SSA_Nac_base)
        kv = by_module(rep, f"block.{i}.attn", "k_lif @ v_lif")
        qkv = by_module(rep, f"block.{i}.attn", "q_lif @ (k_lif @ v_lif)")
        assert kv.flops == qkv.flops == 4 * 8 * 196 * 64 * 64 == 25_690_112
        assert kv.kind == qkv.kind == "AC"
    for name in ("proj1_conv", "proj2_conv", "proj3_conv"):
        assert by_module(rep, f"patch_embed.{name}").flops == 3_699_376_128
    assert by_module(rep, "patch_embed.proj4_conv").flops == 1_849_688_064
    # "0.347329512 G MACs" in the authors' log: first conv + head
    assert rep.totals["all"]["macs"] == 347_329_512
    assert rep.totals["encoding"]["macs"] == 346_816_512
    # parameter totals as sum(p.numel()) prints them
    assert rep.parameters == sum(p.numel() for p in model.parameters()) == 29_689_384
    # without a run: no rates, no AC energy, MAC energy only where every layer is a MAC
    assert rep.totals["all"]["acs"] is None and rep.totals["all"]["e45"] is None
    assert rep.totals["encoding"]["e45"] == pytest.approx(4.6 * 346_816_512)


def test_both_attention_orders_are_found_in_the_graph():
    """(QKᵀ)V on the CIFAR-style digits preset: T·heads·N²·d FLOPs for each product."""
    _, graph = traced("spikingformer", "digits")
    rep = build_report(graph)
    qk = by_module(rep, "block.0.attn", "q_lif @ k_lif")
    qkv = by_module(rep, "block.0.attn", "(q_lif @ k_lif) @ v_lif")
    assert qk.flops == qkv.flops == 4 * 4 * 16 * 16 * 16
    assert qk.out_neuron is None and qkv.out_neuron == "block.0.attn.attn_lif"
