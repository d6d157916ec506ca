"""Whole models: torch (float64) and the reference executor (float64) spike for spike at every neuron,
every step; and the static value domains hold on real runs (``--verify-domains``).

A spike may differ only where the membrane lies within 1e-9 of the threshold; such ties are counted
and printed (run with ``-s``).
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from snncompile.backends.reference import compare_spikes, count_events, neuron_values, run, verify_domains
from snncompile.frontends.torch import trace

from .models import MODELS, build, capture_spikes, excite

BATCH = 3


def _tiny(name):
    model = build(name).double()
    x = torch.rand(BATCH, 1, 8, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    return model, x


def _presets():
    try:
        return importlib.import_module("snncompile.examples.presets")
    except ImportError as e:
        pytest.skip(f"snncompile.examples.presets not importable yet ({e})")


def _digits(arch, neuron):
    presets = _presets()
    torch.manual_seed(0)
    model = excite(presets.build(arch, "digits", neuron=neuron), seed=3).double()
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    return model, x


CASES = [pytest.param("tiny", name, id=name) for name in MODELS] + [
    pytest.param("digits", (arch, neuron), id=f"digits-{arch}-{neuron}")
    for arch in ("spikformer", "spikingformer") for neuron in ("own", "spikingjelly")]


def _model(kind, spec):
    return _tiny(spec) if kind == "tiny" else _digits(*spec)


@pytest.mark.parametrize("kind,spec", CASES)
def test_spike_for_spike(kind, spec):
    model, x = _model(kind, spec)
    graph = trace(model, x)
    want, seen = capture_spikes(model, x)
    result = run(graph, [x.numpy()], record=neuron_values(graph))
    cmp = compare_spikes(graph, result, seen)
    print(f"{kind} {spec}: {cmp}")
    assert cmp.ok, str(cmp)
    assert len(seen) >= 2 and cmp.compared > 0
    total = sum(int(a.sum()) for arrs in seen.values() for a in arrs)
    assert total > 0.02 * cmp.compared, "the model barely spikes: the comparison would be vacuous"
    np.testing.assert_allclose(result.output, want.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind,spec", CASES)
def test_verify_domains_passes(kind, spec):
    model, x = _model(kind, spec)
    graph = trace(model, x)
    samples = np.random.default_rng(0).random((2 * x.shape[0] + 1,) + tuple(x.shape[1:]))  # padded last run
    report = verify_domains(graph, samples)
    assert report.ok, str(report)
    assert report.samples == samples.shape[0]
    dynamic = [v for v, val in graph.values.items() if not val.constant]
    assert report.checked == len(dynamic)


@pytest.mark.parametrize("name", ["spikformer", "activation_based"])
def test_counts_independent_of_batching(name):
    """Counts over 5 samples through a batch-3 graph (one padded run) equal the per-sample sums."""
    model, x = _tiny(name)
    samples = np.random.default_rng(1).random((5, 1, 8, 8))
    batched = count_events(trace(model, x), samples)
    single_graph = trace(model, x[:1])
    singles = [count_events(single_graph, samples[i:i + 1]) for i in range(5)]
    assert batched.samples == 5
    for node, c in batched.nodes.items():
        assert c.synaptic_ops == sum(s.nodes[node].synaptic_ops for s in singles), node
        assert c.spikes == sum(s.nodes[node].spikes for s in singles), node
        assert c.nonzero_inputs == [sum(z) for z in zip(*(s.nodes[node].nonzero_inputs for s in singles))], node
    assert batched.spikes > 0 and batched.synaptic_ops > 0
