"""Registry coverage of the torch engine and its refusals."""
from __future__ import annotations

import pytest
import torch

from snncompile.ops import registry


def test_every_op_runs_on_torch():
    missing = [name for name, op in registry.all_ops().items()
               if not op.has_hook("torch") and "torch" not in op.refusals]
    assert missing == []


def test_every_counted_family_declares_its_count():
    counted = {name for name, op in registry.all_ops().items() if op.family in ("weight", "matmul", "neuron")}
    counted.add("mul")
    assert counted and all(registry.get(n).has_hook("count") for n in counted)


def test_an_op_without_a_torch_hook_is_refused_in_one_line(monkeypatch):
    from snncompile.backends.torch import TorchExecutor
    from snncompile.frontends.torch import trace

    graph = trace(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()), torch.rand(2, 4))
    op = registry.get("relu")
    monkeypatch.delitem(op.hooks, "torch")
    with pytest.raises(registry.MissingHook) as e:
        TorchExecutor().run(graph, [torch.rand(2, 4)])
    assert "relu" in str(e.value) and "torch" in str(e.value) and "\n" not in str(e.value)


def test_cuda_refused_in_one_line_without_cuda():
    from snncompile.backends.torch import resolve_device
    from snncompile.errors import InputError

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(InputError, match="cpu or cuda"):
        resolve_device("tpu")
    assert resolve_device("cpu").type == "cpu"


def test_float32_counts_close_to_float64():
    """In the model's float32 the spikes may differ at threshold ties; the counts stay close."""
    from snncompile.backends.torch import count_events_torch
    from snncompile.frontends.torch import trace

    from reference.models import build

    model = build("spikformer").double()
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    graph = trace(model, x[:2])
    a = count_events_torch(graph, x.numpy())
    b = count_events_torch(graph, x.numpy(), dtype=torch.float32)
    assert b.samples == a.samples == 4
    assert abs(b.synaptic_ops - a.synaptic_ops) <= 0.01 * a.synaptic_ops


def test_ilif_on_torch_equals_the_reference():
    """The torch implementation of the integer-spike neuron against its numpy reference (the spec), both step
    modes, rounding ties included (half to even)."""
    import numpy as np

    from snncompile.ir.graph import Node

    ilif = registry.get("ilif")
    rng = np.random.default_rng(4)
    x = rng.normal(0, 2, (4, 3, 5)).round(1)
    x[0, 0, :3] = [0.5, 1.5, 2.5]  # ties at the first step (V = 0): round half to even
    for mode in ("multi", "single"):
        node = Node("n", "ilif", ["x"], ["s", "v"], {"max_spike": 3, "decay": 0.5, "step_mode": mode})
        steps = [x] if mode == "multi" else list(x)
        ref_state, torch_state = {}, {}
        for xs in steps:
            want = ilif.reference(node, [xs], ref_state)
            got = ilif.hook("torch")(node, [torch.as_tensor(xs)], torch_state)
            for w, g in zip(want, got):
                np.testing.assert_array_equal(g.numpy(), w)
        assert set(np.unique(want[0])) <= {0.0, 1.0, 2.0, 3.0} and want[0].max() > 1


def test_event_counting_rules_follow_the_traits():
    """Every op that produces events has a torch counting rule; neurons get theirs from the neuron trait; every
    other op is refused with the trait's reason (no hand-written refusals)."""
    for name, op in registry.all_ops().items():
        kind = registry.produces_events(op)
        if kind is None:
            assert not op.has_hook("count") and "no events" in op.why_not("count"), name
            assert "count" not in op.refusals, name
        else:
            assert op.has_hook("count"), name
        if kind == "synaptic":
            assert op.has_hook("synops"), name
    assert registry.produces_events(registry.get("ilif")) == "neuron" and not registry.get("ilif").neuron.binary
