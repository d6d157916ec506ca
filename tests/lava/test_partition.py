"""Limits tables, partitioning over Loihi cores (digits and ImageNet presets) and the Lava plan — no Lava."""
import json

import numpy as np
import pytest

from snncompile.errors import InputError
from snncompile.loihi import LOIHI1, LOIHI2, get_limits, partition, prepare
from snncompile.loihi.limits import synapse_bits_per_axon
from snncompile.loihi.partition import DoesNotFitError

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.nolava


def test_limits_tables_name_their_sources():
    assert LOIHI1.neurons_per_core == 1024 and LOIHI1.input_axons_per_core == 4096
    assert LOIHI1.synapse_bits_per_core == 1_048_576 and LOIHI1.cores_per_chip == 128
    assert LOIHI2.neurons_per_core == 8192 and LOIHI2.neurons_per_chip == 1_048_576
    assert "nengo-loihi" in LOIHI1.source and "Loihi 2" in LOIHI2.source
    assert get_limits(None) is LOIHI2 and get_limits("loihi1") is LOIHI1


def test_limits_override_json_and_toml(tmp_path):
    p = tmp_path / "chip.json"
    p.write_text(json.dumps({"base": "loihi1", "neurons_per_core": 512}))
    lim = get_limits(str(p))
    assert lim.neurons_per_core == 512 and lim.input_axons_per_core == 4096
    t = tmp_path / "chip.toml"
    t.write_text("[limits]\nneurons_per_core = 2048\ncores_per_chip = 64\n")
    lim = get_limits(str(t))
    assert lim.neurons_per_core == 2048 and lim.cores_per_chip == 64 and lim.synapses_per_chip == 120_000_000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"neurons_per_cor": 1}))
    with pytest.raises(InputError, match="unknown field"):
        get_limits(str(bad))
    with pytest.raises(InputError, match="neither a file nor one of loihi1, loihi2"):
        get_limits(str(tmp_path / "missing.json"))


def test_synapse_memory_model():
    # nengo-loihi: 8 weight bits + 6 index bits per synapse, blocks of 64 with a 10-bit header, 64-bit words
    assert synapse_bits_per_axon(1, 10) == 64
    assert synapse_bits_per_axon(64, 10) == -64 * (-(64 * 14 + 10) // 64)
    assert synapse_bits_per_axon(65, 1000) == synapse_bits_per_axon(64, 1000) + 64


def _digits(arch):
    from snncompile.examples import presets
    from snncompile.frontends.torch import trace

    model = presets.build(arch, "digits", neuron="own").eval()
    return prepare(trace(model, torch.rand(1, 1, 16, 16)))


@pytest.mark.parametrize("arch", ["spikformer", "spikingformer"])
def test_partition_digits_respects_limits(arch):
    p = _digits(arch)
    for lim in (LOIHI1, LOIHI2):
        part = partition(p.network, lim)
        assert part.cores == sum(layer.cores for layer in part.layers)
        for layer in part.layers:
            t = layer.tile
            assert t.neurons <= lim.neurons_per_core
            if lim.input_axons_per_core:
                assert t.axons <= lim.input_axons_per_core
            if lim.synapse_bits_per_core:
                assert t.synapse_bits <= lim.synapse_bits_per_core
            if lim.synapses_per_core:
                assert t.synapses <= lim.synapses_per_core
            if lim.output_axons_per_core:
                assert layer.output_axons <= lim.output_axons_per_core
            # the tiles cover every compartment exactly once
            g = layer.geometry
            n = g.c_out * g.h_out * g.w_out if layer.kind == "attention" else layer.neurons
            cores = layer.core_of(np.arange(n))
            assert cores.min() == layer.first_core and cores.max() < layer.first_core + layer.cores
            if layer.kind != "attention":  # attention tiles also hold intermediate products
                assert np.bincount(cores - layer.first_core).max() <= t.neurons
        assert part.chips >= 1
    assert partition(p.network, LOIHI1).cores > partition(p.network, LOIHI2).cores


@pytest.mark.parametrize("arch", ["spikformer", "spikingformer"])
def test_partition_imagenet_preset(arch):
    """ImageNet presets cannot be simulated here but partition in seconds (traced with T = 1)."""
    import time

    from snncompile.examples import presets
    from snncompile.frontends.torch import trace

    model = presets.build(arch, "8-384", neuron="own", T=1).eval()
    t0 = time.perf_counter()
    p = prepare(trace(model, torch.rand(1, 3, 224, 224)))
    part = partition(p.network, LOIHI2)
    assert time.perf_counter() - t0 < 300
    assert part.cores > 128 and part.chips >= 2  # far more than one chip
    assert {layer.kind for layer in part.layers} >= {"conv", "attention", "pool"}
    assert part.neurons > 1_000_000
    # on Loihi 1 a 196-token attention head needs every K and V spike on each of its cores: > 4096 axons
    with pytest.raises(DoesNotFitError, match=r"layer \S+ does not fit on loihi1"):
        partition(p.network, LOIHI1)


@pytest.mark.parametrize("arch", ["spikformer", "spikingformer"])
def test_plan_lags_are_consistent(arch):
    """Every InPort receives its producers on the same Lava step: a Sparse adds one step, a StepDelay its
    delay, every other process none."""
    from snncompile.backends.lava.plan import make_plan

    p = _digits(arch)
    plan = make_plan(p.network, p.program.T)
    for c in plan.conns:
        src, dst = plan.procs[c.src], plan.procs[c.dst]
        out_lag = src.params["tap_lags"][int(c.src_port[3:])] if src.type == "delay" else src.lag
        want = out_lag + (1 if dst.type in ("sparse", "shared") else 0)
        assert dst.lag == want, f"{c}: {out_lag} -> {dst.lag}"
    kinds = plan.summary()["by_type"]
    assert kinds["attention"] == 2 and kinds["neuron"] >= 18 and kinds["readout"] == 1
    assert plan.process_count < 80


@pytest.mark.parametrize("arch", ["spikformer", "spikingformer"])
def test_fanout_by_core_equals_the_synapse_matrix(arch):
    """The ledger's analytic per-core fan-out equals the definition from the structural synapse matrix."""
    from snncompile.backends.lava.ledger import fanout_by_core, fanout_by_core_matrix

    p = _digits(arch)
    for lim in (LOIHI1, LOIHI2):
        part = partition(p.network, lim)
        for u in p.network.of_kind("synapse"):
            layer = part.layer(u.name)
            n = int(np.prod(p.network.graph.values[u.output].shape))
            co = layer.core_of(np.arange(n)) - layer.first_core
            a = fanout_by_core(p.network.graph, u.node, co, layer.cores)
            b = fanout_by_core_matrix(p.network.graph, u.node, co, layer.cores).toarray()
            np.testing.assert_array_equal(a, b, err_msg=u.name)


def test_partition_largest_imagenet_preset_splits_attention_heads():
    """Spikformer-8-768: a head (d = 96) needs more compartments than one Loihi 2 core holds, so its
    attention is tiled by output rows × columns; the whole model still partitions (in seconds)."""
    from snncompile.examples import presets
    from snncompile.frontends.torch import trace

    model = presets.build("spikformer", "8-768", neuron="own", T=1).eval()
    part = partition(prepare(trace(model, torch.rand(1, 3, 224, 224))).network, LOIHI2)
    attn = [layer for layer in part.layers if layer.kind == "attention"]
    assert attn and all(layer.tile.cb == 1 and (layer.tile.rb < layer.geometry.h_out or
                                                  layer.tile.wb < layer.geometry.w_out) for layer in attn)
    assert all(layer.tile.neurons <= LOIHI2.neurons_per_core for layer in part.layers)
    # the README's figure (21,085 cores, 165 chips), and chips follow from cores
    assert part.cores == 21_085 and part.chips == -(-part.cores // LOIHI2.cores_per_chip) == 165


class _SpikesThroughConv(torch.nn.Module):
    """``LIF(conv(LIF(x)))`` over one time step: a conv fed spikes, as a synapse unit of its own."""

    def __init__(self, conv):
        super().__init__()
        from snncompile.examples.neurons import make_lif

        self.lif_in, self.conv, self.lif_out = make_lif(), conv, make_lif()

    def forward(self, x):
        s = self.lif_in(x.unsqueeze(0)).flatten(0, 1)
        return self.lif_out(self.conv(s).unsqueeze(0))


def test_padding_taps_are_no_synapses():
    """A 3×3 padded conv on a 1×1 map: its synapse matrix has C_out·C_in entries (the centre tap), not
    9·C_out·C_in (issue 11: 2,359,296 synapses and 3 cores listed for 262,144)."""
    conv = torch.nn.Conv2d(512, 512, 3, padding=1, bias=False)
    from snncompile.frontends.torch import trace

    p = prepare(trace(_SpikesThroughConv(conv).eval(), torch.rand(1, 512, 1, 1)))
    part = partition(p.network, LOIHI2)
    (layer,) = [lay for lay in part.layers if lay.kind == "conv"]
    assert layer.synapses == 512 * 512 == 262_144
    assert layer.cores == 1 and layer.tile.synapses == 262_144
    assert part.synapses == 262_144 + sum(lay.synapses for lay in part.layers if lay.kind != "conv")


def _structural_synapses_per_core(p, layer, unit):
    """Row nnz of the unit's structural synapse matrix (pools: the window taps that read an input), summed
    over the outputs each core of ``layer`` holds."""
    from snncompile.loihi.affine import pool_windows, synapse_matrix

    g = p.network.graph
    node = g.node(unit.node)
    if unit.kind == "pool":
        per = (pool_windows(g, node) >= 0).sum(1)
    else:
        per = np.diff(synapse_matrix(g, node, structural=True).tocsr().indptr)
    core = layer.core_of(np.arange(per.size)) - layer.first_core
    return np.bincount(core, weights=per, minlength=layer.cores).astype(np.int64)


@pytest.mark.parametrize("arch", ["spikformer", "spikingformer", "metaspikeformer"])
def test_tile_synapses_are_the_synapse_matrix_entries_they_hold(arch):
    """Every core's synapse count is the number of structural synapse-matrix entries in the rows (outputs)
    it holds; the worst core's is the tile's, and the layer's total is the matrix's nnz."""
    p = _digits(arch)
    checked = 0
    for lim in (LOIHI1, LOIHI2):
        part = partition(p.network, lim)
        for u in p.network.of_kind("synapse", "pool"):
            layer = part.layer(u.name)
            want = _structural_synapses_per_core(p, layer, u)
            np.testing.assert_array_equal(layer.synapses_per_core(), want, err_msg=u.name)
            assert layer.tile.synapses == want.max() and layer.synapses == want.sum(), u.name
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("arch", ["spikformer", "metaspikeformer"])
def test_chip_readouts_are_integrator_layers(arch):
    """``readout="chip"``: each readout becomes an integrator layer (one compartment per readout element, one
    synapse per entry of its term matrices); nothing else changes."""
    from snncompile.loihi.affine import numel, term_matrix

    p = _digits(arch)
    host, chip = partition(p.network, LOIHI2), partition(p.network, LOIHI2, readout="chip")
    integ = [lay for lay in chip.layers if lay.kind == "integrator"]
    readouts = p.network.of_kind("readout")
    assert len(integ) == len(readouts) >= 1 and not any(lay.kind == "integrator" for lay in host.layers)
    assert set(host.host) - set(chip.host) == {u.name for u in readouts}
    for lay, u in zip(integ, readouts):
        rows = sum(np.diff(term_matrix(p.network.graph, t).tocsr().indptr) for t in u.ports[0].terms if t.source)
        assert lay.neurons == numel(p.network.graph, u.ports[0].value) == rows.size
        assert lay.synapses == rows.sum() > 0
        per_core = np.bincount(lay.core_of(np.arange(rows.size)) - lay.first_core, weights=rows,
                               minlength=lay.cores)
        np.testing.assert_array_equal(lay.synapses_per_core(), per_core)
        assert lay.tile.synapses == per_core.max() and lay.tile.neurons <= LOIHI2.neurons_per_core
    assert chip.cores == host.cores + sum(lay.cores for lay in integ)
    assert chip.synapses == host.synapses + sum(lay.synapses for lay in integ)


def test_a_constant_term_has_no_producer_unit():
    """``sum(conv(s) for conv in convs)`` starts from Python's 0: a constant term of the neuron's input (its bias),
    not a unit (it crashed the network build with KeyError '')."""
    from snncompile.backends.lava.plan import make_plan
    from snncompile.examples.neurons import make_lif
    from snncompile.frontends.torch import trace

    class SumOfConvs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lif0, self.lif1 = make_lif(), make_lif()
            self.convs = torch.nn.ModuleList([torch.nn.Conv2d(1, 2, 3, padding=1) for _ in range(2)])

        def forward(self, x):
            s = self.lif0(x.unsqueeze(0).repeat(2, 1, 1, 1, 1)).flatten(0, 1)
            return self.lif1(sum(conv(s) for conv in self.convs).reshape(2, 1, 2, 4, 4))

    p = prepare(trace(SumOfConvs().eval(), torch.rand(1, 1, 4, 4)))
    (lif1,) = [u for u in p.network.of_kind("neuron") if u.module == "lif1"]
    assert any(not t.source for t in lif1.ports[0].terms) and "" not in lif1.sources
    assert sorted(lif1.sources) == sorted(u.name for u in p.network.of_kind("synapse"))
    make_plan(p.network, p.program.T)  # the constant becomes the neuron's bias
