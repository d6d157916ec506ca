"""A model with two weight layers and no neuron between them (Meta-SpikeFormer's separable convolution:
dwconv → BN → pwconv2 → BN) lowers once ``fold_weight_chain`` has composed them: float mode gives the
same spikes as torch and the reference executor at every neuron and step (5 digits images), and fixed
mode is bit-exact with the fixed-point executor (a small SepConv network with a host readout)."""
import tempfile

import numpy as np
import pytest

from snncompile.backends.lava import lava_status
from snncompile.backends.reference import ReferenceExecutor, compare_spikes, neuron_values

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")]

IMAGES = 5


@pytest.fixture(scope="module")
def metaspikeformer():
    from lava_models import Case

    case = Case("metaspikeformer")
    case.x = case.x[:IMAGES]
    return case


def _lif_outputs(model):
    """Forward hooks capturing every multi-step LIF's output, by module path."""
    captured, hooks = {}, []
    for name, m in model.named_modules():
        if type(m).__name__ in ("MultiStepLIF", "MultiStepLIFNode"):
            hooks.append(m.register_forward_hook(
                lambda mod, args, out, name=name: captured.setdefault(name, []).append(out.detach().numpy())))
    return captured, hooks


def test_metaspikeformer_float_lava_equals_executor_and_torch(metaspikeformer):
    case = metaspikeformer
    low = case.lowered("float")
    assert any(r.pass_name == "fold_weight_chain" for log in low.prepared.pass_logs for r in log.rewrites)
    rec = case.lava("float")
    g, T = case.graph, low.program.T
    ex = ReferenceExecutor()
    model = case.model.double()
    captured, hooks = _lif_outputs(model)
    compared = 0
    try:
        for i in range(len(case.x)):
            r = ex.run(g, case.x[i:i + 1], dtype=np.float64, record=neuron_values(g))
            lava = {n.module: [rec.spikes[n.name][i * T:(i + 1) * T]] for n in g.nodes if n.op == "lif"}
            cmp = compare_spikes(g, r, lava)
            assert cmp.ok, f"image {i}: Lava vs executor: {cmp}"
            compared += cmp.compared
            captured.clear()
            with torch.no_grad():
                model(torch.from_numpy(case.x[i:i + 1]).double())
            cmp_t = compare_spikes(g, r, captured)
            assert cmp_t.ok, f"image {i}: torch vs executor: {cmp_t}"
    finally:
        for h in hooks:
            h.remove()
        case.model.float()
    assert compared > 0


def test_metaspikeformer_float_lava_logits_equal_executor(metaspikeformer):
    from snncompile.backends.lava.host import run_post

    case = metaspikeformer
    outs, _ = run_post(case.lowered("float").program, case.lava("float").readouts, len(case.x))
    ex = ReferenceExecutor()
    for i in range(len(case.x)):
        np.testing.assert_allclose(outs[i][0], ex.run(case.graph, case.x[i:i + 1], dtype=np.float64).output,
                                   rtol=1e-9, atol=1e-9)


class TinySepConv(nn.Module):
    """``LIF(BN(conv3×3(x)))`` → ``LIF(BN(pw(BN(dw3×3(·)))))`` (no neuron between dw and pw) → mean over T →
    Linear head on the host; T = 3, the static image repeated."""

    T = 3

    def __init__(self):
        super().__init__()
        from snncompile.examples.neurons import make_lif

        self.conv, self.bn0, self.lif0 = nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), make_lif()
        self.dw, self.bn1 = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), nn.BatchNorm2d(4)
        self.pw, self.bn2, self.lif1 = nn.Conv2d(4, 6, 1, bias=False), nn.BatchNorm2d(6), make_lif()
        self.head = nn.Linear(6 * 8 * 8, 3)

    def forward(self, x):
        B = x.shape[0]
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1).flatten(0, 1)
        x = self.lif0(self.bn0(self.conv(x)).reshape(self.T, B, 4, 8, 8)).flatten(0, 1)
        x = self.lif1(self.bn2(self.pw(self.bn1(self.dw(x)))).reshape(self.T, B, 6, 8, 8))
        return self.head(x.mean(0).flatten(1))


def test_folded_layer_is_bit_exact_in_fixed_point():
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.frontends.torch import trace
    from snncompile.loihi.fixed import quantise_input

    torch.manual_seed(0)
    model = TinySepConv().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(1.0, 3.0)
                m.bias.uniform_(0.2, 1.0)
    x = np.random.default_rng(0).random((IMAGES, 1, 8, 8)).astype(np.float32)
    g = trace(model, torch.from_numpy(x[:1]))
    infer_domains(g)
    low = lower_graph(g, mode="fixed", calibration=x)
    assert [r.node for log in low.prepared.pass_logs if log.name == "fold_weight_chain" for r in log.rewrites] \
        == ["pw__conv2d"]
    name = low.program.step.inputs[0]
    inp = step_inputs(low.program, x)
    inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    rec = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-test-"), record_membrane=True)
    lifs = [n for n in low.step.nodes if n.op == "lif"]
    _, rows, readouts = run_fixed(low.program, low.step, x, record=[n.outputs[0] for n in lifs],
                                  record_membrane=True)
    fired = 0
    for n in lifs:
        np.testing.assert_array_equal(rec.spikes[n.name], rows[n.outputs[0]].reshape(rec.steps, -1),
                                      err_msg=f"spikes of {n.name}")
        np.testing.assert_array_equal(rec.membranes[n.name], rows[f"h:{n.name}"].reshape(rec.steps, -1),
                                      err_msg=f"membrane of {n.name}")
        fired += int(rec.spikes[n.name].sum())
    for v, arr in readouts.items():
        np.testing.assert_allclose(rec.readouts[v], arr, rtol=1e-12, atol=1e-12)
    assert 0 < fired < sum(rec.spikes[n.name].size for n in lifs)


def test_metaspikeformer_fixed_lava_is_bit_exact(metaspikeformer):
    """Fixed point with the folded separable convolutions: Lava = the fixed-point executor on every spike
    and membrane value and on the readout (5 images)."""
    from lava_models import assert_lava_equals_fixed_executor

    case = metaspikeformer
    assert_lava_equals_fixed_executor(case.lowered("fixed"), case.lava("fixed"), case.x, label="metaspikeformer")


def test_metaspikeformer_ledger_counts_the_folded_layer(metaspikeformer):
    """The chip runs the composite layer, so the ledger equals the executor's counts of the graph after the
    Loihi passes (the folded conv is fed spikes: accumulates), event for event and by kind; the traced graph
    counts the two layers as written (the outer one fed real values)."""
    from snncompile.backends.lava.host import run_post
    from snncompile.backends.lava.ledger import build_ledger
    from snncompile.backends.reference import count_events

    case = metaspikeformer
    low = case.lowered("float")
    rec = case.lava("float")
    n = len(case.x)
    _, host = run_post(low.program, rec.readouts, n)
    led = build_ledger(low.prepared.network, low.part, rec, samples=n, original=case.graph, host_counts=host)
    folded = count_events(low.prepared.graph, case.x)
    tot = led.totals()
    assert tot["synaptic_ops"] == folded.synaptic_ops
    assert tot["on_chip"]["spikes"] == folded.spikes and tot["on_chip"]["neuron_updates"] == folded.neuron_updates
    assert tot["by_kind"] == {k: v["synaptic_ops"] for k, v in folded.totals().items() if v["synaptic_ops"]}
    composite = [c for c in led.cores if "pwconv2" in c.layer]
    assert composite and all(c.op_kind == "ac" for c in composite)
    written = count_events(case.graph, case.x)
    assert written.nodes["ConvBlock1_0_Conv_pwconv2__conv2d"].kind == "mac"
