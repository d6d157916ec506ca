"""Split weight layers (16-bit fixed point, two 8-bit synapses per connection) in the partition and the ledger:
the synapses, synapse memory and synaptic ops the low synapses add, against hand computations.  No Lava."""
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from snncompile.loihi import LOIHI1, LOIHI2, partition, prepare
from snncompile.loihi.limits import synapse_bits_per_axon

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.nolava


class _SpikesThroughLayers(torch.nn.Module):
    """``LIF(layers(LIF(x)))`` over one time step, a LIF after every weight layer."""

    def __init__(self, *layers):
        super().__init__()
        from snncompile.examples.neurons import make_lif

        self.lif_in = make_lif()
        self.layers = torch.nn.ModuleList(layers)
        self.lifs = torch.nn.ModuleList([make_lif() for layer in layers if not isinstance(layer, torch.nn.MaxPool2d)])

    def forward(self, x):
        s = self.lif_in(x.unsqueeze(0)).flatten(0, 1)
        lifs = iter(self.lifs)
        for layer in self.layers:
            if isinstance(layer, torch.nn.Linear):
                s = s.flatten(1)
            s = layer(s)
            if not isinstance(layer, torch.nn.MaxPool2d):
                s = next(lifs)(s.unsqueeze(0)).flatten(0, 1)
        return s


def _prepared(model, shape):
    from snncompile.frontends.torch import trace

    return prepare(trace(model.eval(), torch.rand(*shape)))


def _conv_pool_fc():
    torch.manual_seed(0)
    return _prepared(_SpikesThroughLayers(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.MaxPool2d(2),
                                          torch.nn.Linear(36, 5)), (1, 2, 6, 6))


@pytest.mark.parametrize("lim", [LOIHI1, LOIHI2], ids=lambda lim: lim.name)
def test_two_planes_double_every_weight_layers_synapses_and_memory_and_nothing_else(lim):
    """``synapse_planes=2``: a conv's and a linear layer's synapses (per core and in all) and synapse bits double
    (the low plane is a second synapse set with its own format: the nengo-loihi memory of one more 8-bit set);
    input axons, compartments and tiles do not change; pools and relay neurons are not weight layers."""
    p = _conv_pool_fc()
    one, two = partition(p.network, lim), partition(p.network, lim, synapse_planes=2)
    kinds = {layer.kind for layer in one.layers}
    assert {"conv", "linear", "pool"} <= kinds
    weight = 0
    for a, b in zip(one.layers, two.layers):
        assert (a.name, a.neurons, a.cores, a.tile.neurons, a.tile.axons) == \
            (b.name, b.neurons, b.cores, b.tile.neurons, b.tile.axons)
        planes = 2 if a.kind in ("conv", "linear") else 1
        weight += planes == 2
        assert (a.planes, b.planes) == (1, planes), a.name
        assert b.synapses == planes * a.synapses and b.tile.synapses == planes * a.tile.synapses
        np.testing.assert_array_equal(b.synapses_per_core(), planes * a.synapses_per_core())
        assert b.tile.synapse_bits == planes * a.tile.synapse_bits
        assert b.to_dict()["synapse_planes"] == planes and b.to_dict()["synapses"] == b.synapses
    assert weight == 2
    assert two.synapses == one.synapses + sum(a.synapses for a in one.layers if a.kind in ("conv", "linear"))
    (fc,) = [layer for layer in two.layers if layer.kind == "linear"]
    t = fc.tile  # a dense tile: rb tokens × c_in axons, each driving wb synapses per plane
    assert t.synapse_bits == 2 * t.axons * synapse_bits_per_axon(t.wb, t.neurons, lim.weight_bits) > 0
    assert "planes" not in one.table().splitlines()[0] and "planes" in two.table().splitlines()[0]
    assert "2 synapses per connection" in two.table()


def _one_linear(n_in=16, n_out=32):
    torch.manual_seed(0)
    return _prepared(_SpikesThroughLayers(torch.nn.Linear(n_in, n_out)), (1, n_in))


@pytest.mark.parametrize("limit", ["synapses_per_core", "synapse_bits_per_core"])
def test_a_layer_that_fits_one_core_with_one_plane_takes_two_with_two(limit):
    """Linear 16 → 32 (512 synapses) under a core that holds the layer once but not twice: one core at one plane,
    two at two planes (16 outputs each: 2 × 16 × 16 synapses per core)."""
    p = _one_linear()
    at_one = partition(p.network, LOIHI1).layer(p.network.of_kind("synapse")[0].name)
    assert at_one.cores == 1 and at_one.synapses == 512
    cap = {"synapses_per_core": 600, "synapse_bits_per_core": at_one.tile.synapse_bits}[limit]
    lim = replace(LOIHI1, name="tiny", **{limit: cap})
    one = partition(p.network, lim).layer(at_one.name)
    two = partition(p.network, lim, synapse_planes=2).layer(at_one.name)
    assert one.cores == 1 and one.tile.synapses == 512
    assert two.cores == 2 and two.tile.neurons == 16 and two.tile.synapses == 2 * 16 * 16 == 512
    assert getattr(two.tile, {"synapses_per_core": "synapses", "synapse_bits_per_core": "synapse_bits"}[limit]) <= cap
    assert two.synapses == 1024 and two.tile.axons == one.tile.axons == 16


def test_a_compartment_whose_two_planes_exceed_a_core_does_not_fit_and_says_why():
    """16 inputs: 16 synapses per compartment at one plane, 32 at two, under a core of 20 synapses."""
    from snncompile.loihi.partition import DoesNotFitError

    p = _one_linear()
    lim = replace(LOIHI2, name="tiny", synapses_per_core=20)
    assert partition(p.network, lim).layer(p.network.of_kind("synapse")[0].name).tile.synapses <= 20
    with pytest.raises(DoesNotFitError, match=r"32 synapses .* per compartment \(2 synapses per connection"):
        partition(p.network, lim, synapse_planes=2)
    with pytest.raises(ValueError, match="synapse_planes must be 1 or 2"):
        partition(p.network, LOIHI2, synapse_planes=3)


# -- the ledger ----------------------------------------------------------------------------------------------

def _tiny_fixed():
    """``x → fc1 → LIF → fc2 → LIF``, T = 2, quantised: fc1 reads the (integer) input, fc2 spikes."""
    from snncompile.analysis import infer_domains
    from snncompile.examples.neurons import MultiStepLIF
    from snncompile.frontends.torch import trace
    from snncompile.loihi import build_network
    from snncompile.loihi.fixed import quantise

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(4, 3), torch.nn.Linear(3, 3)
            self.lif1, self.lif2 = MultiStepLIF(), MultiStepLIF()

        def forward(self, x):
            return self.lif2(self.fc2(self.lif1(self.fc1(x.unsqueeze(0).repeat(2, 1, 1))))).mean(0)

    torch.manual_seed(0)
    g = trace(Tiny().eval(), torch.rand(1, 4))
    infer_domains(g)
    net = prepare(g).network
    fg, _ = quantise(net, {net.graph.inputs[0]: (0.0, 1.0)})
    return fg, build_network(fg, [u.ports[0].value for u in net.of_kind("readout")])


def _split(fg, node_name: str, low: np.ndarray) -> None:
    """Make ``node_name`` a split layer whose low plane holds the mantissas ``low`` (exponent ``e − 8``)."""
    node = fg.node(node_name)
    fg.add_constant(f"{node_name}_wlow", np.asarray(low, dtype=np.float64))
    node.attrs = dict(node.attrs, fixed_low={"weight": f"{node_name}_wlow", "exp": node.attrs["fixed_exp"] - 8})


def _recordings(net, steps: int, seed: int = 0):
    """Recorded activity with silent and active elements: integer inputs 0..4, binary spikes."""
    rng = np.random.default_rng(seed)
    (inp,) = net.of_kind("input")
    n_in = int(np.prod(net.graph.values[inp.output].shape))
    spikes = {u.name: (rng.random((steps, int(np.prod(net.graph.values[u.output].shape)))) < 0.5).astype(np.float64)
              for u in net.of_kind("neuron")}
    return SimpleNamespace(steps=steps, inputs={inp.name: rng.integers(0, 5, (steps, n_in)).astype(np.float64)},
                           spikes=spikes, currents={}, attention_ops={})


def test_the_low_synapses_are_counted_apart_in_the_totals_and_both_energies():
    """Both layers split: each core's low synaptic ops equal its (report's) synaptic ops — by hand, nonzero inputs
    × 3 outputs — and its low MACs its MACs; ``synaptic_ops`` and ``macs`` per core stay as without the split;
    totals, ``by_kind`` and both energies grow by exactly the low synapses' work."""
    from snncompile.backends.lava.ledger import build_ledger

    fg, net = _tiny_fixed()
    rec = _recordings(net, steps=6)
    plain = build_ledger(net, partition(net, LOIHI1), rec, samples=3)
    _split(fg, "fc1__linear", np.full((3, 4), 100.0))
    _split(fg, "fc2__linear", np.full((3, 3), -100.0))
    led = build_ledger(net, partition(net, LOIHI1, synapse_planes=2), rec, samples=3)

    fields = ("core", "layer", "kind", "op_kind", "synaptic_ops", "spikes", "neuron_updates", "macs")
    row = lambda c: [getattr(c, f) for f in fields]  # noqa: E731
    assert [row(c) for c in led.cores] == [row(c) for c in plain.cores]
    by_layer = {c.layer: c for c in led.cores}
    (inp,) = net.of_kind("input")
    want = {"fc1__linear": int((rec.inputs[inp.name] != 0).sum()) * 3,
            "fc2__linear": int((rec.spikes["lif1__lif"] != 0).sum()) * 3}
    assert {k: by_layer[k].op_kind for k in want} == {"fc1__linear": "mac", "fc2__linear": "ac"}
    assert {k: by_layer[k].synaptic_ops for k in want} == want
    assert {k: by_layer[k].low_synapse_ops for k in want} == want
    assert by_layer["fc1__linear"].low_macs == by_layer["fc1__linear"].macs > 0
    assert by_layer["fc2__linear"].low_macs == 0

    low_ops, low_macs = sum(want.values()), by_layer["fc1__linear"].macs
    tot, ptot = led.totals(), plain.totals()
    assert tot["split_synapses"] == {"synaptic_ops": low_ops, "macs": low_macs}
    assert ptot["split_synapses"] == {"synaptic_ops": 0, "macs": 0}
    assert tot["on_chip"]["synaptic_ops"] == ptot["on_chip"]["synaptic_ops"] + low_ops
    assert tot["synaptic_ops"] == ptot["synaptic_ops"] + low_ops and tot["macs"] == ptot["macs"] + low_macs
    assert tot["by_kind"]["ac"] == ptot["by_kind"]["ac"] + want["fc2__linear"]
    assert tot["by_kind"]["mac"] == ptot["by_kind"]["mac"] + want["fc1__linear"]
    np.testing.assert_array_equal(led.per_step_ops - plain.per_step_ops,
                                  3 * ((rec.inputs[inp.name] != 0).sum(1) + (rec.spikes["lif1__lif"] != 0).sum(1)))
    e, pe = led.energy(23.6), plain.energy(23.6)
    assert e["chip_pJ"] == pytest.approx(pe["chip_pJ"] + 23.6 * low_ops)
    # 45 nm: the spike-fed layer's low ops are ACs; the input layer's cost is its MACs (its events are not priced)
    assert e["paper_45nm_pJ"] == pytest.approx(pe["paper_45nm_pJ"] + 0.9 * want["fc2__linear"] + 4.6 * low_macs)


@pytest.mark.parametrize("layer", ["fc1__linear", "fc2__linear"])
def test_a_split_layers_current_is_the_sum_of_its_two_shifted_planes(layer):
    """``layer_currents`` of a split layer: ``⌊W_hi·x · 2^e⌋ + ⌊W_lo·x · 2^(e−8)⌋`` (floors of each plane's
    shift), computed here by hand; it differs from the high plane's alone."""
    from snncompile.backends.lava.ledger import layer_currents

    fg, _ = _tiny_fixed()
    node = fg.node(layer)
    w_hi, e = fg.constants[node.inputs[1]].astype(np.int64), node.attrs["fixed_exp"]
    assert "fixed_input_gain" not in node.attrs  # the input is used as it is (integers)
    rng = np.random.default_rng(1)
    n_out, n_in = w_hi.shape
    x = rng.integers(0, 2, (5, n_in)) if layer == "fc2__linear" else rng.integers(0, 2 ** 11, (5, n_in))
    high_only = layer_currents(fg, node, x.astype(np.float64))
    w_lo = rng.integers(-127, 128, (n_out, n_in)) * 2
    _split(fg, layer, w_lo)
    got = layer_currents(fg, node, x.astype(np.float64))
    want = np.floor((x @ w_hi.T) * 2.0 ** e) + np.floor((x @ w_lo.T) * 2.0 ** (e - 8))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(high_only, np.floor((x @ w_hi.T) * 2.0 ** e))
    assert not np.array_equal(got, high_only)
