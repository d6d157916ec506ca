"""The fixed-point readout integrator's semantics (``snncompile.loihi.integrator``), without Lava: the split of a
readout map into integer weights and a host gain, the 24-bit accumulation, the bound that refuses a sum that
may not fit, and the host's dequantisation of the sum (= the sum of the per-step dequantised readouts)."""
import numpy as np
import pytest
import scipy.sparse as sp

from snncompile.errors import UnsupportedOpError
from snncompile.loihi.integrator import (WEIGHT_MAX, accumulate, dequantise_sums, integer_rows, integrator_params,
                                         max_steps, step_bound)
from snncompile.loihi.registers import V_MAX

# the integer semantics need neither Lava nor a shipped model: nolava; the partition test loads the shipped
# models (spiking_resnet's needs spikingjelly, not in the core-only environment): full environment only


@pytest.mark.nolava
def test_a_mean_over_tokens_is_unit_weights_and_a_gain_of_one_over_n():
    N, C = 12, 3
    G = sp.kron(sp.eye(C), np.full((1, N), 1.0 / N)).tocsr()  # row c: the mean of channel c's N tokens
    W, g = integer_rows(G)
    assert W.dtype == np.int64 and set(W.data) == {1} and W.nnz == C * N
    np.testing.assert_allclose(g, 1.0 / N, rtol=1e-15)
    np.testing.assert_allclose((sp.diags(g) @ W).toarray(), G.toarray(), rtol=1e-15)


@pytest.mark.nolava
def test_rows_of_mixed_ratios_take_the_largest_common_gain():
    G = sp.csr_matrix(np.array([[2 / 3, 1.0, 0.0], [0.0, -0.5, 1.5], [0.0, 0.0, 0.0]]))
    W, g = integer_rows(G)
    np.testing.assert_array_equal(W.toarray(), [[2, 3, 0], [0, -1, 3], [0, 0, 0]])
    np.testing.assert_allclose(g[:2], [1 / 3, 0.5], rtol=1e-15)


@pytest.mark.nolava
@pytest.mark.parametrize("row", [[1.0, np.pi], [1.0, 1000.0]])
def test_a_row_that_is_no_small_integer_multiple_is_refused(row):
    """π: no common gain; 1000: the weight would exceed the 8-bit mantissa."""
    with pytest.raises(UnsupportedOpError, match=f"no integer multiple of one gain with weights of at most "
                                                 f"{WEIGHT_MAX}"):
        integer_rows(sp.csr_matrix(np.array([row])))


@pytest.mark.nolava
def test_the_register_saturates_at_24_bits():
    W = sp.csr_matrix(np.array([[1, 1], [-1, 0], [2, -1]], dtype=np.int64))
    v = accumulate(np.array([V_MAX - 3, -V_MAX + 1, 5]), W, np.array([2, 3]))
    np.testing.assert_array_equal(v, [V_MAX, -V_MAX, 6])


@pytest.mark.nolava
def test_the_bound_sets_how_many_steps_fit():
    readout = {"scale": [0.5, 0.25], "c": [1.0, -3.0], "bound": 7.0}
    B = step_bound(readout, 2)
    np.testing.assert_array_equal(B, [16.0, 40.0])  # (R + |c|)/scale
    g = np.array([1.0, 0.5])
    assert max_steps(B, g) == V_MAX // 80  # the second row: 40/0.5 = 80 per step
    G = sp.csr_matrix(np.diag(g))
    assert integrator_params(G, readout, V_MAX // 80, c=None)["max_steps"] == V_MAX // 80
    with pytest.raises(UnsupportedOpError, match=rf"its integer sum over T = {V_MAX // 80 + 1} steps may reach "):
        integrator_params(G, readout, V_MAX // 80 + 1, c=None)
    with pytest.raises(UnsupportedOpError, match="no finite bound"):
        integrator_params(G, dict(readout, bound=None), 4, c=None)


@pytest.mark.nolava
def test_dequantising_the_sum_equals_summing_the_dequantised_steps():
    """``scale·g·S + T·c`` = Σ_t ((G·x_t)·scale + c), up to float64 rounding order."""
    rng = np.random.default_rng(0)
    T, n_in = 6, 40
    G = sp.csr_matrix(rng.integers(0, 3, (5, n_in)) / 8.0)
    readout = {"scale": list(rng.uniform(1e-2, 2e-2, 5)), "c": list(rng.normal(size=5)), "bound": 50.0}
    p = integrator_params(G, readout, T, c=np.asarray(readout["c"]))
    x = rng.integers(-200, 200, (T, n_in))  # |G·x| ≤ 2000: |real| ≤ 40 + |c| within the bound
    v = np.zeros(5, dtype=np.int64)
    for t in range(T):
        v = accumulate(v, p["G"], x[t])
    want = sum((G @ x[t]) * np.asarray(readout["scale"]) + np.asarray(readout["c"]) for t in range(T))
    np.testing.assert_allclose(dequantise_sums(v[None], p, T)[0], want, rtol=1e-12, atol=1e-12)


@pytest.mark.nolava
def test_a_compartment_without_synapses_does_not_limit_the_steps():
    """A row of the map with no synapse sums nothing (its value is the host's constant alone), whatever its
    constant: only the rows with synapses bound T."""
    readout = {"scale": 0.5, "c": [0.0, 1e9], "bound": 7.0}
    G = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert integrator_params(G, readout, 4, c=None)["max_steps"] == V_MAX // 14


@pytest.mark.parametrize("family", ["spikformer-digits", "spiking_resnet-digits"])
def test_the_partition_counts_the_fixed_integrators_as_the_float_ones(family):
    """``lower`` partitions the float network; ``run`` re-partitions the quantised step graph it loads: with
    ``readout="chip"`` both have the same integrator layers (compartments, synapses, cores), and the fixed
    integrators' synapses (the integer map, once per sending population) are the partition's."""
    from digits_models import load_family

    from snncompile.backends.lava.lower import lower_graph
    from snncompile.loihi import build_network, partition

    d = load_family(family)
    low = lower_graph(d.graph, mode="fixed", calibration=d.samples, readout="chip")
    net = build_network(low.step, [u.ports[0].value for u in low.prepared.network.of_kind("readout")])
    rerun = partition(net, low.limits, readout="chip")

    def integrators(part):
        return {lay.name: (lay.neurons, lay.synapses, lay.cores) for lay in part.layers
                if lay.kind == "integrator"}

    planned = integrators(low.part)
    assert planned and integrators(rerun) == planned
    # every population sending into an integrator (its InPort sums them) reaches it through the integer map
    senders = {n: sum(c.dst == n for c in low.plan.conns) for n in planned}
    synapses = {n: p.params["G"].nnz * senders[n] for n, p in low.plan.procs.items() if p.type == "integrator"}
    assert synapses == {n: s for n, (_, s, _) in planned.items()}
