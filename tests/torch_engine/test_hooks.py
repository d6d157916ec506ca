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
