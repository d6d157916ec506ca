"""Every family with a shipped trained digits model, lowered to Loihi (issue 11, "Done when").

For each family (``digits_models.FAMILIES``), on its first 5 sample images:

* float: torch (float64) = the reference executor = Lava, at every neuron and every step (values, so graded
  spikes count by their payload), mismatches allowed only at ties (``H`` within 1e-9 of a decision: the
  threshold, or a graded neuron's rounding point, as ``compare_spikes`` states it); Lava's
  logits = the executor's;
* fixed: Lava = the fixed-point executor bit for bit (spikes and membranes of every neuron at every step,
  readouts), and the same logits;
* the per-core ledger of the float run totals what ``report`` counts;
* ``snncompile lower`` on the folder's checkpoint, with no option but the mode, writes the plan these tests run.

(Fixed-point accuracy on the whole test split, every family: tests/lava/test_fixed_point_accuracy.py.)

Models are loaded and traced as the CLI does (meta.json's time axis: spikingjelly's zoo nets take
``[T, B, ...]``); neurons are found through the op registry's ``neuron`` trait and torch's outputs captured on
the graph's neuron nodes' module paths.  One Lava run per family and mode per session (``FamilyCase``).
"""
import copy
import json

import numpy as np
import pytest

from snncompile import ops
from snncompile.backends.lava import lava_status
from snncompile.backends.reference import ReferenceExecutor, compare_spikes, count_events, neuron_values
from snncompile.backends.reference.compare import neuron_nodes_by_module

from digits_models import FAMILIES, shipped_preset_models  # noqa: E402  (tests/ is on pytest's pythonpath)
from lava_models import FamilyCase  # noqa: E402

torch = pytest.importorskip("torch")

IMAGES = 5


def runs_lava(test):
    """Mark a test that simulates on Lava (``-m lava``); skipped where Lava is unavailable (a failure in the
    full environment, see tests/conftest.py)."""
    return pytest.mark.lava(pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")(test))


_CASES = {}


@pytest.fixture(scope="module", params=FAMILIES)
def family(request):
    if request.param not in _CASES:
        _CASES[request.param] = FamilyCase(request.param, images=IMAGES)
    return _CASES[request.param]


def _neurons(graph):
    """The graph's neuron nodes (ops registry trait ``neuron``), in graph order."""
    return [n for n in graph.nodes if ops.get(n.op).neuron is not None]


def test_every_shipped_family_is_listed():
    """A trained digits model added to examples/models is a family these tests must cover."""
    shipped = set(shipped_preset_models())
    assert shipped == set(FAMILIES), (f"shipped but not tested: {sorted(shipped - set(FAMILIES))}; "
                                      f"tested but not shipped: {sorted(set(FAMILIES) - shipped)}")


@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_the_cli_lowers_what_these_tests_run(family, mode, tmp_path):
    """``snncompile lower FOLDER/checkpoint.pth --mode MODE`` (no option but the mode: the model says its own
    time axis, fixed point calibrates on inputs.npy) exits 0 and writes the plan the Lava tests below run:
    the same processes by type and the same cores."""
    from cli_harness import invoke

    ckpt = f"{family.digits.folder}/checkpoint.pth"
    code, out, err = invoke("lower", ckpt, "--mode", mode, "--format", "json", "-o", str(tmp_path / "out"))
    assert code == 0, f"{family.arch}: snncompile lower --mode {mode}: {err.strip()}"
    doc = json.loads(out)
    low = family.lowered(mode)
    assert doc["processes"] == json.loads(json.dumps(low.plan.summary()))
    assert doc["cores"] == low.part.cores


class _NeuronCapture:
    """torch forward hooks on the modules of the graph's neuron nodes: module path -> outputs, one per call
    (a multi-step module's ``[T, B, ...]`` output is one call, as its graph node is one node)."""

    def __init__(self, model, graph):
        self.calls = {}
        self._hooks = [model.get_submodule(path).register_forward_hook(self._hook(path))
                       for path in neuron_nodes_by_module(graph)]

    def _hook(self, path):
        def record(module, args, out):
            spikes = out[0] if isinstance(out, (tuple, list)) else out  # snnTorch-style (spikes, membrane)
            if not torch.is_tensor(spikes):
                raise TypeError(f"{path}: a neuron module returned {type(out).__name__}, not a tensor of spikes")
            self.calls.setdefault(path, []).append(spikes.detach().numpy().copy())
        return record

    def remove(self):
        for h in self._hooks:
            h.remove()


def test_float_torch_equals_executor(family):
    """torch (float64, the model's own forward on its own input layout) and the reference executor (float64,
    the traced graph) give the same spike values at every neuron, every call and every step."""
    from snncompile.frontends.torch.neurons import reset_states

    g = family.graph
    model = copy.deepcopy(family.model).double().eval()
    capture = _NeuronCapture(model, g)
    ex = ReferenceExecutor()
    compared = tie_flips = 0
    try:
        for i in range(len(family.x)):
            x = family.x[i:i + 1]
            r = ex.run(g, x, dtype=np.float64, record=neuron_values(g))
            capture.calls.clear()
            reset_states(model)  # stateful neurons (spikingjelly's) keep V from the previous image otherwise
            with torch.no_grad():
                model(family.digits.model_input(x, torch.float64))
            cmp = compare_spikes(g, r, capture.calls)
            assert cmp.ok, f"{family.arch}, image {i}: torch vs executor: {cmp}"
            compared += cmp.compared
            tie_flips += cmp.mismatches  # cmp.ok: every mismatch is at a threshold tie
    finally:
        capture.remove()
    print(f"{family.arch}: {compared} spike values compared over {len(family.x)} images, "
          f"{tie_flips} differ (at threshold ties)")
    assert compared > 0 and len(family.x) == IMAGES


@runs_lava
def test_float_lava_equals_executor(family):
    """Lava (float64, the lowered and folded network) gives the executor's spike values at every neuron and
    step, and its logits."""
    from snncompile.backends.lava.host import run_post

    low = family.lowered("float")
    rec = family.lava("float")
    g = family.graph
    T = low.program.T
    ex = ReferenceExecutor()
    outs, _ = run_post(low.program, rec.readouts, len(family.x))
    compared = tie_flips = 0
    for i in range(len(family.x)):
        r = ex.run(g, family.x[i:i + 1], dtype=np.float64, record=neuron_values(g))
        lava = {}
        for n in _neurons(g):
            lava.setdefault(n.module, []).append(rec.spikes[n.name][i * T:(i + 1) * T])
        cmp = compare_spikes(g, r, lava)
        assert cmp.ok, f"{family.arch}, image {i}: Lava vs executor: {cmp}"
        compared += cmp.compared
        tie_flips += cmp.mismatches  # cmp.ok: every mismatch is at a threshold tie
        for got, want in zip(outs[i], r.outputs):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=f"{family.arch}: logits, image {i}")
    print(f"{family.arch}: {compared} spike values compared over {len(family.x)} images, "
          f"{tie_flips} differ (at threshold ties)")
    assert compared > 0


@runs_lava
def test_fixed_lava_equals_fixed_executor(family):
    """Fixed point: Lava and the fixed-point executor agree bit for bit on every neuron's spikes and
    membrane (H before the reset) at every step, on the readouts, and on the logits."""
    from snncompile.backends.lava.host import run_post

    from lava_models import assert_lava_equals_fixed_executor

    low = family.lowered("fixed")
    rec = family.lava("fixed")
    outs, _ = assert_lava_equals_fixed_executor(low, rec, family.x, label=family.arch)
    lava_outs, _ = run_post(low.program, rec.readouts, len(family.x))
    for i, (got, want) in enumerate(zip(lava_outs, outs)):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b, err_msg=f"{family.arch}: logits of image {i}")


@runs_lava
def test_ledger_totals_equal_report_counts(family):
    """The per-core ledger of the float Lava run totals what ``report`` counts on the same images: synaptic
    ops (in all and per kind), spikes and neuron updates; the cores' and the host's ops add up to the whole.
    The chip runs the graph after the Loihi passes: where ``fold_weight_chain`` joined two weight layers
    (Meta-SpikeFormer's separable convolutions) the ledger counts the composite layer, so the reference is
    ``report``'s count of that graph; on every other family it equals the count of the traced graph."""
    from snncompile.backends.lava.host import run_post
    from snncompile.backends.lava.ledger import build_ledger

    low = family.lowered("float")
    rec = family.lava("float")
    _, host = run_post(low.program, rec.readouts, len(family.x))
    led = build_ledger(low.prepared.network, low.part, rec, samples=len(family.x), original=family.graph,
                       host_counts=host)
    counts = count_events(low.prepared.graph, family.x)
    folded = [r for log in low.prepared.pass_logs if log.name == "fold_weight_chain" for r in log.rewrites]
    if not folded:  # events (not dense ops: folded BN is no op of its own) equal the traced graph's
        events = ("synaptic_ops", "neuron_updates", "spikes")
        traced = count_events(family.graph, family.x).totals()
        assert {k: {e: v[e] for e in events} for k, v in traced.items()} == \
            {k: {e: v[e] for e in events} for k, v in counts.totals().items()}
    tot = led.totals()
    assert tot["synaptic_ops"] == counts.synaptic_ops
    assert tot["on_chip"]["spikes"] == counts.spikes
    assert tot["on_chip"]["neuron_updates"] == counts.neuron_updates
    by_kind = {k: v["synaptic_ops"] for k, v in counts.totals().items() if v["synaptic_ops"]}
    assert tot["by_kind"] == by_kind
    assert sum(c.synaptic_ops for c in led.cores) + sum(h["synaptic_ops"] for h in led.host.values()) \
        == counts.synaptic_ops

