"""Graded (integer, "multi-bit") spikes on Loihi: the I-LIF digits model (examples/models/ilifnet-digits).

I-LIF neurons (op ``ilif``: ``H = β·V + X; S = clamp(round(H), 0, D); V = H − S``) lower to ``GradedStep``
populations whose spikes travel as graded messages (a payload per event) to lava-nc ``Sparse`` synapses.
Float: torch = reference executor = Lava at every neuron and step, comparing the spike *values* 0..D.
Fixed: Lava = the fixed-point executor bit for bit (spikes, membranes, readouts). Ledger = report counts.
"""
import numpy as np
import pytest

from snncompile.backends.lava import lava_status
from snncompile.backends.reference import ReferenceExecutor, compare_spikes, count_events, neuron_values

torch = pytest.importorskip("torch")

IMAGES = 5
needs_lava = [pytest.mark.lava, pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")]


@pytest.fixture(scope="module")
def ilif_case():
    from lava_models import Case

    case = Case("ilifnet")
    assert case.trained, "the shipped ilifnet-digits model is missing"
    case.x = case.x[:IMAGES]
    return case


def _neurons(graph):
    from snncompile import ops

    return [n for n in graph.nodes if ops.get(n.op).neuron is not None]


# -- the fixed-point neuron (no Lava needed) -----------------------------------------------------------

def test_fixed_ilif_rounds_half_up_clamps_and_resets_by_the_payload():
    """S_v = 2^4 = 16 units per 1.0, D = 3, β = 1 (dv = 0: no leak); the bias sets h exactly, the input adds a << 6."""
    from snncompile.loihi.graded import ILIFFixed

    h_units = np.array([7, 8, 23, 24, 40, 100, -9, -8, 0])  # 0.44, 0.5 (tie), 1.44, 1.5 (tie), 2.5, 6.25, -0.56, -0.5
    n = ILIFFixed(dv=0, shift=4, max_spike=3, bias=h_units)
    s, v, h = n.step(np.zeros(9, dtype=np.int64), np.zeros(9, dtype=np.int64))
    np.testing.assert_array_equal(h, h_units)
    np.testing.assert_array_equal(s, [0, 1, 1, 2, 3, 3, 0, 0, 0])  # ⌊h/16 + ½⌋ clamped to 0..3
    np.testing.assert_array_equal(v, h_units - 16 * s)  # reset by subtracting the payload
    s, v, h = n.step(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0]), v)  # carried membrane, plus 1 << 6 on neuron 0
    assert h[0] == 7 + 7 + 64 and s[0] == 3 and v[0] == h[0] - 48


def test_fixed_ilif_decay_is_lavas_truncating_decay():
    """β = 0.25 is dv = 3072: v·1024 >> 12 in sign-magnitude (toward zero), then the input."""
    from snncompile.loihi.registers import decay
    from snncompile.loihi.graded import ILIFFixed, quantise_graded

    fixed, _ = quantise_graded({"decay": 0.25, "max_spike": 4}, 2 ** 10, "b")
    assert fixed["dv"] == 3072 and fixed["shift"] == 10
    n = ILIFFixed(fixed["dv"], fixed["shift"], 4, np.zeros(4, dtype=np.int64))
    v = np.array([7, -7, 4097, -4097])
    _, _, h = n.step(np.zeros(4, dtype=np.int64), v)
    np.testing.assert_array_equal(h, decay(v, 3072))
    np.testing.assert_array_equal(h, [1, -1, 1024, -1024])


# -- the plan (no Lava needed) -------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_graded_neurons_become_graded_populations(ilif_case, mode):
    """Every I-LIF unit records D and that it is graded; it becomes one ``graded`` process; every Sparse it
    feeds receives graded messages (num_message_bits = GRADED_BITS)."""
    from snncompile.backends.lava.plan import GRADED_BITS

    low = ilif_case.lowered(mode)
    net = low.prepared.network
    graded = net.of_kind("neuron")
    assert graded and all(u.graded and u.max_spike == 4 for u in graded)
    plan = low.plan
    assert {p.type for p in plan.procs.values() if p.unit in {u.name for u in graded}} == {"graded"}
    fed = [c.dst for c in plan.conns if plan.procs[c.src].type == "graded" and plan.procs[c.dst].type == "sparse"]
    assert fed and all(plan.procs[d].params["num_message_bits"] == GRADED_BITS for d in fed)


def test_binary_neurons_keep_binary_messages():
    """A binary LIF's Sparse consumers still get 0-bit (binary) messages: graded handling is per source."""
    from lava_models import Case

    low = Case("spikformer").lowered("float")
    net = low.prepared.network
    assert not any(u.graded for u in net.of_kind("neuron"))
    bits = {p.params["num_message_bits"] for c in low.plan.conns
            if low.plan.procs[c.src].type == "neuron" and low.plan.procs[c.dst].type == "sparse"
            for p in [low.plan.procs[c.dst]]}
    assert 0 in bits


def test_graded_spikes_into_a_max_pool_are_refused_with_a_reason():
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.errors import UnsupportedOpError
    from snncompile.examples.neurons import MultiStepILIF
    from snncompile.frontends.torch import trace

    class PoolAfterILIF(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.lif = MultiStepILIF(decay=0.5, max_spike=3)
            self.pool = torch.nn.MaxPool2d(2)
            self.fc = torch.nn.Linear(4 * 4 * 4, 3)

        def forward(self, x):
            x = x.unsqueeze(0).repeat(2, 1, 1, 1, 1)
            y = self.conv(x.flatten(0, 1)).reshape(2, x.shape[1], 4, 8, 8)
            s = self.pool(self.lif(y).flatten(0, 1))
            return self.fc(s.flatten(1)).reshape(2, x.shape[1], 3).mean(0)

    g = trace(PoolAfterILIF().eval(), torch.rand(1, 1, 8, 8))
    infer_domains(g)
    with pytest.raises(UnsupportedOpError, match="graded spikes"):
        lower_graph(g, mode="float")


# -- Lava runs -----------------------------------------------------------------------------------------



@pytest.mark.lava
@pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")
def test_float_lava_equals_executor_and_torch_on_graded_values(ilif_case):
    """torch (float64), the reference executor and Lava emit the same integer spikes at every I-LIF neuron and
    step on 5 images; differences are allowed only where H lies within 1e-9 of a rounding point k + ½."""
    case = ilif_case
    rec = case.lava("float")
    g = case.graph
    T = case.lowered("float").program.T
    ex = ReferenceExecutor()
    model = case.model.double()
    captured = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, name=name: captured.setdefault(name, []).append(
        out.detach().numpy())) for name, m in model.named_modules() if type(m).__name__ == "MultiStepILIF"]
    compared, values = 0, np.zeros(5, dtype=np.int64)
    try:
        for i in range(len(case.x)):
            r = ex.run(g, case.x[i:i + 1], dtype=np.float64, record=neuron_values(g))
            lava = {n.module: [rec.spikes[n.name][i * T:(i + 1) * T]] for n in _neurons(g)}
            cmp = compare_spikes(g, r, lava)
            assert cmp.ok and cmp.mismatches == 0, f"image {i}: Lava vs executor: {cmp}"
            captured.clear()
            with torch.no_grad():
                model(torch.from_numpy(case.x[i:i + 1]).double())
            cmp_t = compare_spikes(g, r, captured)
            assert cmp_t.ok, f"image {i}: torch vs executor: {cmp_t}"
            compared += cmp.compared
            for n in _neurons(g):
                values += np.bincount(r.values[n.outputs[0]].astype(np.int64).reshape(-1), minlength=5)[:5]
    finally:
        for h in hooks:
            h.remove()
        case.model.float()
    assert compared > 0
    assert np.all(values[2:] > 0), f"the comparison must cover graded values 2..4, got counts {values}"


@pytest.mark.lava
@pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")
def test_float_lava_logits_equal_executor(ilif_case):
    from snncompile.backends.lava.host import run_post

    low = ilif_case.lowered("float")
    rec = ilif_case.lava("float")
    outs, _ = run_post(low.program, rec.readouts, len(ilif_case.x))
    ex = ReferenceExecutor()
    for i in range(len(ilif_case.x)):
        ref = ex.run(ilif_case.graph, ilif_case.x[i:i + 1], dtype=np.float64).output
        np.testing.assert_allclose(outs[i][0], ref, rtol=1e-9, atol=1e-9)


@pytest.mark.lava
@pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")
def test_fixed_lava_is_bit_exact_with_the_fixed_executor(ilif_case):
    """Fixed point: Lava and the fixed-point executor agree bit for bit on every graded spike, every membrane
    value (H before the emission) and the readout values."""
    from lava_models import assert_lava_equals_fixed_executor

    rec = ilif_case.lava("fixed")
    _, neurons = assert_lava_equals_fixed_executor(ilif_case.lowered("fixed"), rec, ilif_case.x, label="ilif")
    assert max(int(rec.spikes[n.name].max()) for n in neurons) > 1


@pytest.mark.lava
@pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")
def test_ledger_equals_report_counts_with_graded_events(ilif_case):
    """One convention for report and ledger: a graded spike is one event (whatever its payload) and drives its
    fan-out of integer×weight synaptic ops (cost kind ``intmul``); ledger totals = the executor's counts, and
    the spikes are events, not summed payloads."""
    from snncompile.backends.lava.host import run_post
    from snncompile.backends.lava.ledger import build_ledger

    case = ilif_case
    low = case.lowered("float")
    rec = case.lava("float")
    _, host = run_post(low.program, rec.readouts, len(case.x))
    led = build_ledger(low.prepared.network, low.part, rec, samples=len(case.x), original=case.graph,
                       host_counts=host)
    counts = count_events(case.graph, case.x)
    tot = led.totals()
    assert tot["synaptic_ops"] == counts.synaptic_ops
    assert tot["on_chip"]["spikes"] == counts.spikes
    assert tot["on_chip"]["neuron_updates"] == counts.neuron_updates
    by_kind = {k: v["synaptic_ops"] for k, v in counts.totals().items() if v["synaptic_ops"]}
    assert tot["by_kind"] == by_kind and by_kind.get("intmul", 0) > 0
    from snncompile.backends.torch.counting import count_events_torch

    engine = count_events_torch(case.graph, case.x, dtype=torch.float64)  # report's default engine
    assert (engine.synaptic_ops, engine.spikes, engine.neuron_updates) == \
        (counts.synaptic_ops, counts.spikes, counts.neuron_updates)
    payload = sum(int(s.sum()) for s in rec.spikes.values())
    assert counts.spikes < payload, "graded spikes must be counted as events, not as summed payloads"


# torch, fixed-point executor and torch/fixed agreement: correct images out of the 360 test digits, as measured
# (99.72 % -> 99.17 %; calibrated on the training images). The target, a loss of at most 0.5 point
# (fixed >= 358), is NOT met yet: the loss is 2 images (0.56 point); see /work/notes/graded.md.
ILIF_FIGURES = {"torch": 359, "fixed": 357, "agree": 358}


def test_fixed_point_keeps_the_trained_accuracy_of_graded_spikes():
    """No Lava needed: the fixed-point executor is the specification of the Lava fixed run (bit-exact above)."""
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.examples.data import load_digits
    from snncompile.frontends.torch import trace

    from digits_models import digits_model

    split = load_digits(img_size=16)
    x_train, x_test, y = split.x_train.numpy(), split.x_test.numpy().astype(np.float32), split.y_test.numpy()
    assert len(y) == 360
    model, _, _, trained = digits_model("ilifnet")
    assert trained
    with torch.no_grad():
        torch_pred = model(torch.from_numpy(x_test)).argmax(1).numpy()
    graph = trace(model, torch.from_numpy(x_test[:1]))
    infer_domains(graph)
    low = lower_graph(graph, mode="fixed", calibration=x_train)
    outs, _, _ = run_fixed(low.program, low.step, x_test)
    fixed_pred = np.array([o[0].argmax() for o in outs])
    got = {"torch": int((torch_pred == y).sum()), "fixed": int((fixed_pred == y).sum()),
           "agree": int((torch_pred == fixed_pred).sum())}
    summary = ", ".join(f"{k} {v}/360 (measured before: {ILIF_FIGURES[k]})" for k, v in got.items())
    assert got["torch"] == ILIF_FIGURES["torch"], f"the float model changed: {summary}"
    assert got["fixed"] >= ILIF_FIGURES["fixed"], f"fixed point lost accuracy: {summary}"
    assert got["agree"] >= ILIF_FIGURES["agree"], f"fixed point drifted from torch: {summary}"


# -- a current through a linear map in fixed point (snncompile.loihi.mapped): any neuron kind ----------------

class _MeanHead(torch.nn.Module):
    """conv → LIF → conv → mean over positions → neuron → fc, mean over T: the head neuron reads the second
    conv's current through a mean (a map with entries 1/16), as ilifnet's head does."""

    def __init__(self, neuron):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.lif1 = neuron()
        self.conv2 = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.lif2 = neuron()
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        T, B = 2, x.shape[0]
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        y = self.conv1(x.flatten(0, 1)).reshape(T, B, 4, 4, 4)
        y = self.conv2(self.lif1(y).flatten(0, 1)).reshape(T, B, 8, 16).mean(3)
        return self.fc(self.lif2(y)).mean(0)


@pytest.mark.lava
@pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")
@pytest.mark.parametrize("neuron", ["lif", "ilif"])
def test_fixed_point_current_through_a_mean_is_its_own_layer_and_bit_exact(neuron, tmp_path):
    """In fixed point the head neuron's input, conv2's current averaged over positions, is a separated integer
    layer (weights M·A) that Lava and the fixed-point executor run identically; LIF and I-LIF alike."""
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.examples.neurons import MultiStepILIF, MultiStepLIF
    from snncompile.frontends.torch import trace
    from snncompile.loihi.fixed import quantise_input
    from snncompile.loihi.mapped import mapped_terms

    torch.manual_seed(0)
    make = (lambda: MultiStepLIF(tau=2.0, v_threshold=0.5)) if neuron == "lif" else \
        (lambda: MultiStepILIF(decay=0.5, max_spike=3))
    model = _MeanHead(make).eval()
    with torch.no_grad():
        model.conv1.weight.mul_(3.0)
        model.conv2.weight.mul_(4.0)
        model.conv2.bias.fill_(0.6)
    x = np.random.default_rng(0).random((6, 1, 4, 4)).astype(np.float32)
    g = trace(model, torch.from_numpy(x[:1]))
    infer_domains(g)
    low = lower_graph(g, mode="fixed", calibration=x)
    before = low.prepared.network
    assert [len(mapped_terms(before, u)) for u in before.of_kind("neuron")] == [0, 1]
    name = low.program.step.inputs[0]
    inp = step_inputs(low.program, x)
    inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    rec = simulate(low.plan, inp, str(tmp_path), record_membrane=True)
    neurons = _neurons(low.step)
    _, rows, readouts = run_fixed(low.program, low.step, x, record=[n.outputs[0] for n in neurons],
                                  record_membrane=True)
    for n in neurons:
        np.testing.assert_array_equal(rec.spikes[n.name], rows[n.outputs[0]].reshape(rec.steps, -1))
        np.testing.assert_array_equal(rec.membranes[n.name], rows[f"h:{n.name}"].reshape(rec.steps, -1))
    for v, arr in readouts.items():
        np.testing.assert_allclose(rec.readouts[v], arr, rtol=1e-12, atol=1e-12)
    assert all(rec.spikes[n.name].any() for n in neurons), {n.name: int(rec.spikes[n.name].sum()) for n in neurons}
