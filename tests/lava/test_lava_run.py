"""Lava simulations of the digits models (marked ``lava``): spikes, fixed-point bit-exactness, ledger."""
import numpy as np
import pytest

from snncompile.backends.lava import lava_status
from snncompile.backends.reference import ReferenceExecutor, compare_spikes, count_events, neuron_values

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")]


def _lava_by_module(case, rec, graph):
    """module path -> [spikes reshaped like the reference's [T, ...] per image, concatenated over images]"""
    T = case.lowered("float").program.T
    out = {}
    for n in graph.nodes:
        if n.op == "lif":
            out[n.module] = rec.spikes[n.name]
    return out, T


def test_float_lava_equals_executor_and_torch(case):
    """torch (float64), the reference executor (float64, unfolded graph) and Lava (float64, folded) give the
    same spikes at every neuron and step; mismatches are allowed only at threshold ties (|H − V_th| ≤ 1e-9)."""
    rec = case.lava("float")
    g = case.graph
    ex = ReferenceExecutor()
    T = case.lowered("float").program.T
    model = case.model.double()
    captured = {}
    hooks = []
    for name, m in model.named_modules():
        if type(m).__name__ in ("MultiStepLIF", "MultiStepLIFNode"):
            hooks.append(m.register_forward_hook(
                lambda mod, args, out, name=name: captured.setdefault(name, []).append(out.detach().numpy())))
    ties = {"lava": 0, "torch": 0}
    compared = 0
    try:
        for i in range(len(case.x)):
            r = ex.run(g, case.x[i:i + 1], dtype=np.float64, record=neuron_values(g))
            lava = {n.module: [rec.spikes[n.name][i * T:(i + 1) * T]] for n in g.nodes if n.op == "lif"}
            cmp = compare_spikes(g, r, lava)
            assert cmp.ok, f"image {i}: Lava vs executor: {cmp}"
            ties["lava"] += cmp.mismatches
            compared += cmp.compared
            captured.clear()
            with torch.no_grad():
                model(torch.from_numpy(case.x[i:i + 1]).double())
            cmp_t = compare_spikes(g, r, captured)
            assert cmp_t.ok, f"image {i}: torch vs executor: {cmp_t}"
            ties["torch"] += cmp_t.mismatches
    finally:
        for h in hooks:
            h.remove()
        case.model.float()
    print(f"{case.arch}: {compared} spikes compared over {len(case.x)} images; mismatches at ties: {ties}")
    assert compared > 0


def test_float_lava_logits_equal_executor(case):
    from snncompile.backends.lava.host import run_post

    low = case.lowered("float")
    rec = case.lava("float")
    outs, _ = run_post(low.program, rec.readouts, len(case.x))
    ex = ReferenceExecutor()
    for i in range(len(case.x)):
        ref = ex.run(case.graph, case.x[i:i + 1], dtype=np.float64).output
        np.testing.assert_allclose(outs[i][0], ref, rtol=1e-9, atol=1e-9)


def test_ledger_totals_equal_executor_counts(case):
    from snncompile.backends.lava.host import run_post
    from snncompile.backends.lava.ledger import build_ledger

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
    assert tot["by_kind"] == by_kind
    # the sum of per-core ACs is the model's SOPs (spike-driven synaptic ops)
    assert sum(c.synaptic_ops for c in led.cores if c.op_kind == "ac") == by_kind["ac"]
    assert sum(c.synaptic_ops for c in led.cores) + sum(h["synaptic_ops"] for h in led.host.values()) \
        == counts.synaptic_ops


def test_fixed_lava_is_bit_exact(case):
    """Fixed point: Lava and the fixed-point executor agree bit for bit on every spike and every membrane
    value (H before the reset), and on the readout values."""
    from lava_models import assert_lava_equals_fixed_executor

    assert_lava_equals_fixed_executor(case.lowered("fixed"), case.lava("fixed"), case.x, label=case.arch)


def test_weight_shared_synapses_are_bit_exact_too(spikformer_case):
    """The weight-shared synapse process (used for layers too large for lava-nc's Sparse, e.g.
    Spikformer-4-384) computes what Sparse computes: forcing it everywhere keeps fixed point bit-exact."""
    import tempfile

    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.plan import make_plan
    from snncompile.backends.lava.simulate import simulate
    from snncompile.loihi import build_network
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.fixed import quantise_input

    case = spikformer_case  # one architecture is enough for this path
    low = case.lowered("fixed")
    x = case.x[:3]
    net = build_network(low.step, [u.ports[0].value for u in low.prepared.network.of_kind("readout")])
    plan = make_plan(net, low.program.T, mode="fixed", shared_above=0)
    assert plan.summary()["by_type"].get("shared", 0) == len(net.of_kind("synapse"))
    name = low.program.step.inputs[0]
    inp = step_inputs(low.program, x)
    inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    rec = simulate(plan, inp, tempfile.mkdtemp(prefix="snncompile-test-"), record_membrane=True)
    lifs = [n for n in low.step.nodes if n.op == "lif"]
    _, rows, _ = run_fixed(low.program, low.step, x, record=[n.outputs[0] for n in lifs], record_membrane=True)
    for n in lifs:
        np.testing.assert_array_equal(rec.spikes[n.name], rows[n.outputs[0]].reshape(rec.steps, -1))
        np.testing.assert_array_equal(rec.membranes[n.name], rows[f"h:{n.name}"].reshape(rec.steps, -1))
