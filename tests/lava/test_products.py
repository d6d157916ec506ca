"""Products of binary spike trains on Loihi: coincidence populations (``snncompile.loihi.coincidence``).

Without Lava: the coincidence neuron's truth table (AND, IAND) in float and fixed point over long random
step sequences, the unit network and plan of SEW AND/IAND, the partition, and the refusal of a product
that is not of spikes.  With Lava (marked ``lava``): torch = reference executor = Lava at every neuron and
product, every step, on SEW AND/IAND, the Spike-driven Transformer's SDSA and QKFormer's token attention;
the ledger's totals = the reference counts; fixed point: Lava = ``FixedStepExecutor`` bit for bit.
"""
import tempfile

import numpy as np
import pytest
import scipy.sparse as sp

from snncompile import ops
from snncompile.backends.lava import lava_status
from snncompile.errors import SnnCompileError, UnsupportedOpError
from snncompile.ir.domain import Domain
from snncompile.loihi import coincidence
from snncompile.loihi.registers import LIFFixed, shift
from snncompile.ops.neurons import initial_state, lif_step

torch = pytest.importorskip("torch")

from product_models import product_model  # noqa: E402  (tests/lava is on the path via conftest's imports)

lava = pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")

# -- the coincidence neuron --------------------------------------------------------------------------------

GATES = {"and": (lambda a, b: a * b, np.array([1.0, 1.0]), 0.0),  # I = a + b
         "iand": (lambda a, b: (1 - a) * b, np.array([-1.0, 1.0]), 1.0)}  # I = 1 − a + b


@pytest.mark.parametrize("gate", sorted(GATES))
def test_coincidence_truth_table_float_and_fixed(gate):
    """Every (a, b) in {0,1}², in a random order over 400 steps (the neuron must keep no memory): the float
    and the fixed-point coincidence neuron emit exactly the gate's value at every step."""
    fn, w, c = GATES[gate]
    rng = np.random.default_rng(0)
    ab = rng.integers(0, 2, size=(400, 2, 3)).astype(np.float64)  # steps × operands × 3 neurons
    attrs = coincidence.float_attrs()
    v, s = initial_state(attrs, (3,), np.float64)
    fx = LIFFixed.from_dict(coincidence.fixed_registers(np.full(3, c)), 3)
    vq = np.zeros(3, dtype=np.int64)
    Wq, e = coincidence.fixed_weights(sp.csr_matrix(w.reshape(1, 2)))  # IAND: mixed sign, exponent −1
    for a, b in ab:
        want = fn(a, b)
        current = w[0] * a + w[1] * b
        s, v = lif_step(attrs, current + c, v, s)
        np.testing.assert_array_equal(s, want)
        acc = (np.stack([a, b], 1).astype(np.int64) @ Wq.toarray().T).reshape(-1)  # Σ w·s per neuron
        sq, vq, _ = fx.step(shift(acc, e), vq)
        np.testing.assert_array_equal(sq, want)
    assert 0 < (ab[:, 0] * ab[:, 1]).sum() < ab[:, 0].size  # both outcomes occurred


def test_fixed_weights_mixed_sign_are_doubled_and_exact():
    """Lava keeps only even mixed-sign weights: ±1 from one population is stored as ±2 with exponent −1."""
    W = sp.csr_matrix(np.array([[1.0, -1.0, 0.0], [0.0, 1.0, 1.0]]))
    Wq, e = coincidence.fixed_weights(W)
    assert e == -1 and set(Wq.data.tolist()) == {2, -2}
    x = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(shift(x @ Wq.toarray().T, e), x @ W.toarray().T)
    Wq, e = coincidence.fixed_weights(sp.csr_matrix(np.array([[-1.0, 0.0]])))
    assert e == 0 and Wq.data.tolist() == [-1]
    with pytest.raises(UnsupportedOpError, match="non-integer"):
        coincidence.fixed_weights(sp.csr_matrix(np.array([[0.5, 1.0]])))


# -- network, plan and partition (no Lava) -------------------------------------------------------------------

_CACHE = {}


def _case(name: str, n: int = 5):
    """(torch model, inputs, traced graph, time_major) of a product model (cached per session)."""
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import declare_time_axis, trace

    if name not in _CACHE:
        model, x = product_model(name, n)
        time_major = name.startswith("sew_")  # spikingjelly's multi-step nets take [T, B, ...]
        domains = [Domain.binary()] if name == "events" else None  # the input is binary events
        g = trace(model, torch.from_numpy(x[:1]), domains, time_major=time_major)
        if time_major:
            declare_time_axis(g, 0, x.shape[1])
        infer_domains(g)
        _CACHE[name] = (model, x, g, time_major)
    return _CACHE[name]


def _lowered(name: str, mode: str):
    from snncompile.backends.lava.lower import lower_graph

    key = (name, mode)
    if key not in _CACHE:
        _, x, g, _ = _case(name)
        _CACHE[key] = lower_graph(g, mode=mode, calibration=x)
    return _CACHE[key]


@pytest.mark.parametrize("name", ["sew_and", "sew_iand"])
def test_sew_products_are_coincidence_populations(name):
    """SEW AND/IAND: every block's connect function is a product unit with ports a, b; IAND's operand
    ``1 − a`` enters as a weight −1 from ``a`` and a bias 1; the Sparse weights are unit weights."""
    low = _lowered(name, "float")
    net, plan = low.prepared.network, low.plan
    products = net.of_kind("product")
    assert len(products) == 2  # layer1, layer2
    for u in products:
        assert [p.name for p in u.ports] == ["a", "b"]
        proc = plan.procs[f"neuron:{u.name}"]
        assert proc.params["attrs"] == coincidence.float_attrs()
        weights = np.concatenate([plan.procs[c.src].params["weights"].data for c in plan.conns
                                  if c.dst == proc.name])
        constants = [t for p in u.ports for t in p.terms if not t.source]
        if name == "sew_iand":
            assert len(constants) == 1
            np.testing.assert_array_equal(proc.params["bias"], 1.0)
            assert sorted(set(weights.tolist())) == [-1.0, 1.0]
        else:
            assert not constants
            np.testing.assert_array_equal(proc.params["bias"], 0.0)
            assert set(weights.tolist()) == {1.0}


@pytest.mark.parametrize("name", ["sew_and", "sdt", "qkformer", "sdt_digits", "qkformer_digits"])
def test_partition_places_products_on_cores(name):
    low = _lowered(name, "float")
    for u in low.prepared.network.of_kind("product"):
        layer = low.part.layer(u.name)
        assert layer.kind == "product" and layer.cores >= 1
        assert layer.neurons == int(np.prod(low.prepared.network.graph.values[u.output].shape))
        cores = layer.core_of(np.arange(layer.neurons))
        assert cores.min() == layer.first_core and cores.max() < layer.first_core + layer.cores


def test_lower_cli_writes_product_layers(tmp_path):
    """``snncompile lower`` on the shipped SEW IAND checkpoint: exit 0, the core map holds its two coincidence
    populations, the process list their neurons and unit-weight synapses."""
    import json
    import os

    from cli_harness import invoke
    from product_models import MODELS

    out = tmp_path / "iand.loihi"
    code, stdout, err = invoke("lower", os.path.join(MODELS, "sew_resnet-digits-iand", "checkpoint.pth"),
                               "--mode", "float", "-o", str(out))
    assert code == 0, err
    core_map = json.loads((out / "core_map.json").read_text())
    assert [layer["module"] for layer in core_map["layers"] if layer["kind"] == "product"] == ["layer1", "layer2"]
    procs = json.loads((out / "network.json").read_text())["processes"]
    products = [u for u in json.loads((out / "network.json").read_text())["units"] if u["kind"] == "product"]
    for u in products:
        assert procs[f"neuron:{u['name']}"]["type"] == "neuron"
        assert sum(1 for n, p in procs.items() if p["unit"] == u["name"] and p["type"] == "sparse") == 2


@pytest.mark.parametrize("other", ["real", "graded"])
def test_product_of_spikes_and_non_spikes_is_refused(other):
    """A spike gating a real (the analog input) or graded (a spike count) tensor: one line with the reason."""
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.examples.neurons import MultiStepLIF
    from snncompile.frontends.torch import trace

    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = MultiStepLIF(tau=2.0), MultiStepLIF(tau=2.0)

        def forward(self, x):
            x = x.unsqueeze(0).repeat(4, 1, 1)
            s = self.a(x)
            y = x if other == "real" else s + self.b(x)
            return (s * y).mean(0)

    g = trace(Gate(), torch.rand(1, 8))
    infer_domains(g)
    with pytest.raises(SnnCompileError) as err:
        lower_graph(g, mode="float")
    msg = str(err.value)
    assert "\n" not in msg
    assert "binary spike trains only" in msg and "ProdNeuron" in msg


def test_max_pooled_currents_must_feed_neurons():
    """A max-pool of a weight layer's currents (SDT's and QKFormer's stems) lowers only before a neuron:
    feeding another weight layer, its currents would be taken for spikes, so it is refused in one line."""
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.examples.neurons import MultiStepLIF
    from snncompile.frontends.torch import trace

    class PoolThenConv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Conv2d(2, 2, 3, padding=1)
            self.lif = MultiStepLIF(tau=2.0)

        def forward(self, x):
            x = x.unsqueeze(0).repeat(4, 1, 1, 1, 1).flatten(0, 1)
            y = self.c2(torch.nn.functional.max_pool2d(self.c1(x), 2))
            return self.lif(y.reshape(4, 1, 2, 4, 4)).flatten(2).mean(0)

    g = trace(PoolThenConv(), torch.rand(1, 1, 8, 8))
    infer_domains(g)
    with pytest.raises(UnsupportedOpError) as err:
        lower_graph(g, mode="float")
    assert "\n" not in str(err.value) and "must feed neurons only" in str(err.value)


def test_fixed_product_of_input_events_is_refused():
    """Fixed point sends the graph input scaled (``x·2^k``): a product reading it is refused in one line
    (float mode lowers it, see the Lava tests)."""
    from snncompile.backends.lava.lower import lower_graph

    _, x, g, _ = _case("events")
    with pytest.raises(UnsupportedOpError) as err:
        lower_graph(g, mode="fixed", calibration=x)
    assert "\n" not in str(err.value) and "reads the graph input" in str(err.value)


# -- Lava runs -----------------------------------------------------------------------------------------------

def _run(name: str, mode: str):
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.simulate import simulate
    from snncompile.loihi.fixed import quantise_input

    key = (name, mode, "run")
    if key not in _CACHE:
        low = _lowered(name, mode)
        _, x, _, _ = _case(name)
        inp = step_inputs(low.program, x)
        if mode == "fixed":
            v = low.program.step.inputs[0]
            inp = {v: quantise_input(inp[v], low.step.meta["fixed"]["inputs"][v])}
        _CACHE[key] = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-test-"), record_membrane=True)
    return _CACHE[key]


FLOAT_CASES = ["sew_and", "sew_iand", "sdt", "qkformer", "sdt_digits", "qkformer_digits", "gates", "events"]


@pytest.mark.lava
@lava
@pytest.mark.parametrize("name", FLOAT_CASES)
def test_float_torch_equals_executor_equals_lava(name):
    """Every neuron and every product, every step, 5 images: torch (float64, hooks on the graph's neuron
    modules) = reference executor (float64) = Lava; the products' spikes are the IR ``mul`` values."""
    from snncompile.backends.reference import ReferenceExecutor, compare_spikes, neuron_values
    from spikingjelly.activation_based.functional import reset_net

    model, x, g, time_major = _case(name)
    low = _lowered(name, "float")
    rec = _run(name, "float")
    T = low.program.T
    neurons = [n for n in g.nodes if ops.get(n.op).neuron is not None]
    products = [u.name for u in low.prepared.network.of_kind("product")]
    assert products and all(p in g.node_names for p in products)
    model = model.double()
    modules = dict(model.named_modules())
    captured = {}
    hooks = [modules[m].register_forward_hook(
        lambda mod, args, out, m=m: captured.setdefault(m, []).append(out.detach().numpy()))
        for m in sorted({n.module for n in neurons})]
    ex = ReferenceExecutor()
    compared = 0
    try:
        for i in range(len(x)):
            record = neuron_values(g) | {g.node(p).outputs[0] for p in products}
            r = ex.run(g, x[i:i + 1], dtype=np.float64, record=record)
            spikes = {}
            for n in neurons:
                spikes.setdefault(n.module, []).append(rec.spikes[n.name][i * T:(i + 1) * T])
            cmp = compare_spikes(g, r, spikes)
            assert cmp.ok and cmp.mismatches == 0, f"image {i}: Lava vs executor: {cmp}"
            for p in products:
                ref = r.values[g.node(p).outputs[0]].reshape(T, -1)
                np.testing.assert_array_equal(rec.spikes[p][i * T:(i + 1) * T], ref, err_msg=f"product {p}")
                compared += ref.size
            captured.clear()
            reset_net(model)  # spikingjelly's neurons keep their membrane between calls
            xi = torch.from_numpy(x[i:i + 1]).double()
            with torch.no_grad():
                model(xi.transpose(0, 1) if time_major else xi)
            cmp_t = compare_spikes(g, r, captured)
            assert cmp_t.ok, f"image {i}: torch vs executor: {cmp_t}"
            compared += cmp.compared
    finally:
        for h in hooks:
            h.remove()
        model.float()
    for p in products:  # the products were exercised: both outcomes occur
        assert 0 < rec.spikes[p].sum() < rec.spikes[p].size, p
    assert compared > 0


@pytest.mark.lava
@lava
@pytest.mark.parametrize("name", FLOAT_CASES)
def test_ledger_totals_equal_reference_counts(name):
    """The ledger (per core, from Lava's recorded spikes) and the reference counts agree on synaptic ops
    (products: one per coincidence), spikes and neuron updates; the coincidence populations' own work
    (unit-synapse events, compartment updates) is counted apart and is positive."""
    from snncompile.backends.lava.host import run_post
    from snncompile.backends.lava.ledger import build_ledger
    from snncompile.backends.reference import count_events
    from snncompile.backends.torch.counting import count_events_torch

    _, x, g, _ = _case(name)
    low = _lowered(name, "float")
    rec = _run(name, "float")
    _, host = run_post(low.program, rec.readouts, len(x))
    led = build_ledger(low.prepared.network, low.part, rec, samples=len(x), original=g, host_counts=host)
    counts = count_events(g, x)
    tot = led.totals()
    assert tot["synaptic_ops"] == counts.synaptic_ops
    assert count_events_torch(g, x).synaptic_ops == counts.synaptic_ops  # report's torch engine: same rule
    assert tot["on_chip"]["spikes"] == counts.spikes
    assert tot["on_chip"]["neuron_updates"] == counts.neuron_updates
    by_kind = {k: v["synaptic_ops"] for k, v in counts.totals().items() if v["synaptic_ops"]}
    assert tot["by_kind"] == by_kind
    products = low.prepared.network.of_kind("product")
    coincidences = sum(int(rec.spikes[u.name].sum()) for u in products)
    on_product_cores = sum(c.synaptic_ops for c in led.cores if c.kind == "product")
    assert on_product_cores == coincidences
    assert tot["coincidence"]["compartment_updates"] == sum(
        rec.spikes[u.name].size for u in products)
    assert tot["coincidence"]["unit_synapse_events"] > 0


FIXED_CASES = ["sew_and_spikes", "sew_iand_spikes", "sew_and", "sew_iand", "gates"]


@pytest.mark.lava
@lava
@pytest.mark.parametrize("name", FIXED_CASES)
def test_fixed_lava_is_bit_exact_with_products(name):
    """Fixed point, trained SEW AND/IAND read out before the head: Lava = ``FixedStepExecutor`` on every
    neuron's spikes and membrane, every product's spikes, and the readout, every step."""
    from lava_models import assert_lava_equals_fixed_executor

    _, x, _, _ = _case(name)
    low = _lowered(name, "fixed")
    rec = _run(name, "fixed")
    products = [low.step.node(u.name) for u in low.prepared.network.of_kind("product")]
    assert products
    assert_lava_equals_fixed_executor(low, rec, x, extra=products, label=name)
    for n in products:  # the products fire, but not everywhere
        assert 0 < rec.spikes[n.name].sum() < rec.spikes[n.name].size
