"""The ``lif`` reference against every supported neuron class, multi- and single-step, in float64.

Inputs are drawn on a grid of 1/8 so that the membrane often lands exactly on the threshold: the
``≥`` (spikingjelly) vs ``>`` (snnTorch) comparison is exercised at equality, and must still agree.
"""
from __future__ import annotations

import numpy as np
import pytest
import snntorch as snn
import torch
import torch.nn as nn
from spikingjelly.activation_based import neuron as ab
from spikingjelly.clock_driven import neuron as cd

from snncompile.backends.reference import compare_spikes, neuron_values, run
from snncompile.backends.reference.compare import membrane_traces
from snncompile.frontends.torch import trace

from .models import capture_spikes

T, SHAPE = 6, (3, 40)


class MultiStep(nn.Module):
    def __init__(self, neuron):
        super().__init__()
        self.neuron = neuron

    def forward(self, x):  # x: [T, ...]
        return self.neuron(x)


class SingleStep(nn.Module):
    def __init__(self, neuron):
        super().__init__()
        self.neuron = neuron

    def forward(self, x):
        return torch.stack([self.neuron(x[t]) for t in range(x.shape[0])])


class SnnTorchStep(nn.Module):
    def __init__(self, neuron):
        super().__init__()
        self.neuron = neuron

    def forward(self, x):
        mem = self.neuron.reset_mem()
        out = []
        for t in range(x.shape[0]):
            spk, mem = self.neuron(x[t], mem)
            out.append(spk.to(x.dtype))
        return torch.stack(out)


NEURONS = [
    ("cd-lif", lambda: MultiStep(cd.MultiStepLIFNode(tau=2.0, detach_reset=True, backend="torch"))),
    ("cd-lif-vth0.5", lambda: MultiStep(cd.MultiStepLIFNode(tau=2.0, v_threshold=0.5, backend="torch"))),
    ("cd-lif-soft", lambda: MultiStep(cd.MultiStepLIFNode(tau=2.0, v_reset=None, backend="torch"))),
    ("cd-lif-vreset", lambda: MultiStep(cd.MultiStepLIFNode(tau=1.5, v_reset=-0.25, backend="torch"))),
    ("cd-lif-nodecay", lambda: MultiStep(cd.MultiStepLIFNode(tau=2.0, decay_input=False, backend="torch"))),
    ("cd-if", lambda: MultiStep(cd.MultiStepIFNode(backend="torch"))),
    ("cd-plif", lambda: MultiStep(cd.MultiStepParametricLIFNode(init_tau=2.5, backend="torch"))),
    ("cd-lif-single", lambda: SingleStep(cd.LIFNode(tau=2.0))),
    ("ab-lif-m", lambda: MultiStep(ab.LIFNode(tau=2.0, step_mode="m", backend="torch"))),
    ("ab-lif-m-soft", lambda: MultiStep(ab.LIFNode(tau=3.0, v_reset=None, step_mode="m"))),
    ("ab-if-m", lambda: MultiStep(ab.IFNode(step_mode="m"))),
    ("ab-plif-m", lambda: MultiStep(ab.ParametricLIFNode(init_tau=2.0, step_mode="m"))),
    ("ab-lif-s", lambda: SingleStep(ab.LIFNode(tau=2.0, step_mode="s"))),
    ("ab-lif-s-nodecay", lambda: SingleStep(ab.LIFNode(tau=2.0, decay_input=False, step_mode="s"))),
    ("snntorch-subtract", lambda: SnnTorchStep(snn.Leaky(beta=0.5))),
    ("snntorch-zero", lambda: SnnTorchStep(snn.Leaky(beta=0.75, threshold=0.5, reset_mechanism="zero"))),
]


@pytest.mark.parametrize("name,make", NEURONS, ids=[n[0] for n in NEURONS])
def test_lif_reference_matches_library(name, make):
    torch.manual_seed(1)
    model = make().double().eval()
    x = torch.randint(-4, 17, (T,) + SHAPE).double() / 8  # 1/8 grid: exact threshold ties happen
    graph = trace(model, x)
    assert [n.op for n in graph.nodes].count("lif") in (1, T)
    _, seen = capture_spikes(model, x)
    result = run(graph, [x.numpy()], record=neuron_values(graph))
    cmp = compare_spikes(graph, result, seen)
    assert cmp.ok, str(cmp)
    assert cmp.mismatches == 0, str(cmp)  # identical float64 arithmetic: even ties agree
    spikes = sum(int(a.sum()) for arrs in seen.values() for a in arrs)
    assert 0 < spikes < cmp.compared, f"{name}: degenerate test ({spikes} spikes)"
    print(f"{name}: {cmp}")


@pytest.mark.parametrize("name,make", NEURONS, ids=[n[0] for n in NEURONS])
def test_lif_charge_is_the_membrane_its_spikes_are_decided_on(name, make):
    """The ``charge`` hook's ``H`` (replayed from the recorded inputs, state shared as the executor shares
    it, explicit membrane inputs included) decides every spike the run emitted: ``S = Θ(H − V_th)``."""
    torch.manual_seed(1)
    model = make().double().eval()
    x = torch.randint(-4, 17, (T,) + SHAPE).double() / 8
    graph = trace(model, x)
    result = run(graph, [x.numpy()], record=neuron_values(graph))
    traces = membrane_traces(graph, result)
    lifs = [n for n in graph.nodes if n.op == "lif"]
    assert lifs and set(traces) == {n.name for n in lifs}
    for n in lifs:
        h, a = traces[n.name], n.attrs
        fired = h >= a["v_threshold"] if a.get("fire", "ge") == "ge" else h > a["v_threshold"]
        np.testing.assert_array_equal(result.values[n.outputs[0]], fired.astype(h.dtype), err_msg=n.name)


def test_fresh_state_every_run():
    """Two runs of a single-step loop on the same input give the same spikes (no state leaks)."""
    model = SingleStep(ab.LIFNode(tau=2.0, step_mode="s")).double()
    x = torch.rand((T,) + SHAPE, dtype=torch.float64) * 2
    graph = trace(model, x)
    first = run(graph, [x.numpy()]).output
    from snncompile.backends.reference import ReferenceExecutor

    ex = ReferenceExecutor()
    a, b = ex.run(graph, [x.numpy()]), ex.run(graph, [x.numpy()])
    np.testing.assert_array_equal(a.output, b.output)
    np.testing.assert_array_equal(first, a.output)
    assert set(a.states) == {"neuron"}  # one shared state for the T single-step calls
