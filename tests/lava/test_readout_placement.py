"""``lower --readout host|chip``: on chip a non-spiking integrator population sums the readout over T and
is read once per image; the host's mean over T is then a constant scale.  Both placements give the
executor's logits (float mode); a placement that would change the result is refused with its reason."""
import numpy as np
import pytest

from snncompile.backends.lava import lava_status
from snncompile.backends.reference import ReferenceExecutor
from snncompile.errors import UnsupportedOpError

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")]

IMAGES = 3


@pytest.mark.parametrize("arch", ["spikformer", "metaspikeformer"])
def test_host_and_chip_readouts_give_the_executors_logits(arch, tmp_path):
    """Spikformer: the mean over tokens per step is integrated (then mean over T and the head on the host);
    Meta-SpikeFormer: the head (fc per step) feeds the integrator (then the mean over T is a scale)."""
    from lava_models import Case

    from snncompile.backends.lava.host import run_post, step_inputs
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate

    case = Case(arch)
    x = case.x[:IMAGES]
    ex = ReferenceExecutor()
    want = [ex.run(case.graph, x[i:i + 1], dtype=np.float64).output for i in range(IMAGES)]
    for place in ("host", "chip"):
        low = lower_graph(case.graph, mode="float", readout=place)
        types = {p.type for p in low.plan.procs.values()}
        assert ("integrator" in types) == (place == "chip") and ("readout" in types) == (place == "host")
        rec = simulate(low.plan, step_inputs(low.program, x), str(tmp_path / place))
        outs, _ = run_post(low.program, rec.readouts, IMAGES)
        for i in range(IMAGES):
            np.testing.assert_allclose(outs[i][0], want[i], rtol=1e-12, atol=1e-12, err_msg=f"{place}, image {i}")


class _TwoLayers(torch.nn.Module):
    """``LIF(fc(LIF(fc0(x))))`` over T = 2 steps, returned per step or as its mean over T."""

    def __init__(self, mean: bool):
        super().__init__()
        from snncompile.examples.neurons import make_lif

        self.mean = mean
        self.fc0, self.lif_in, self.fc, self.lif_out = torch.nn.Linear(6, 5), make_lif(), torch.nn.Linear(5, 3), \
            make_lif()

    def forward(self, x):
        s = self.lif_out(self.fc(self.lif_in(self.fc0(x).unsqueeze(0).repeat(2, 1, 1))))
        return s.mean(0) if self.mean else s


def _traced(mean: bool):
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import trace

    torch.manual_seed(0)
    g = trace(_TwoLayers(mean).eval(), torch.rand(1, 6))
    infer_domains(g)
    return g


def test_chip_readout_is_refused_where_the_host_needs_every_step():
    """The per-step spike train is the model's output: the host needs every step, the readout stays there."""
    from snncompile.backends.lava.lower import lower_graph

    g = _traced(mean=False)
    assert "readout" in {p.type for p in lower_graph(g, readout="host").plan.procs.values()}
    with pytest.raises(UnsupportedOpError, match="--readout chip: readout .* is a graph output"):
        lower_graph(g, readout="chip")


def test_fixed_chip_readout_is_an_integer_integrator():
    """Fixed point: the readout (the output spikes, mean over T on the host) becomes an integrator with
    integer weights, a host gain and the number of steps its 24-bit sum holds; no per-step readout is left."""
    from snncompile.backends.lava.lower import lower_graph

    g = _traced(mean=True)
    cal = np.random.default_rng(0).random((4, 6))
    assert "readout" in {p.type for p in lower_graph(g, mode="fixed", calibration=cal).plan.procs.values()}
    plan = lower_graph(g, mode="fixed", calibration=cal, readout="chip").plan
    specs = [p for p in plan.procs.values() if p.type in ("readout", "integrator")]
    assert [p.type for p in specs] == ["integrator"]
    p = specs[0].params
    assert p["G"].dtype == np.int64 and set(p["G"].data) == {1} and p["max_steps"] >= plan.T


class _FcMean(torch.nn.Module):
    """``fc(LIF(fc0(x))).mean(0)`` over ``T`` steps: the zoo's readout, a weight layer read by the host."""

    def __init__(self, T: int):
        super().__init__()
        from snncompile.examples.neurons import make_lif

        self.T = T
        self.fc0, self.lif, self.fc = torch.nn.Linear(6, 8), make_lif(), torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.lif(self.fc0(x).unsqueeze(0).repeat(self.T, 1, 1))).mean(0)


def _fc_mean(T: int):
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import trace

    torch.manual_seed(0)
    g = trace(_FcMean(T).eval(), torch.rand(1, 6))
    infer_domains(g)
    return g


def test_fixed_chip_readout_is_refused_where_its_sum_may_overflow():
    """The head's integer currents summed over T = 4 steps fit the integrator's 24 bits (by the quantiser's
    bound on the head's value); over 64 steps they may not: refused with the bound, while the host readout
    and the float integrator lower."""
    from snncompile.backends.lava.lower import lower_graph

    cal = np.random.default_rng(0).random((4, 6))
    plan = lower_graph(_fc_mean(4), mode="fixed", calibration=cal, readout="chip").plan
    assert [p.params["max_steps"] >= 4 for p in plan.procs.values() if p.type == "integrator"] == [True]
    g = _fc_mean(64)
    assert "readout" in {p.type for p in lower_graph(g, mode="fixed", calibration=cal).plan.procs.values()}
    assert "integrator" in {p.type for p in lower_graph(g, readout="chip").plan.procs.values()}
    with pytest.raises(UnsupportedOpError, match=r"--readout chip: readout .*: its integer sum over T = 64 steps "
                                                 r"may reach .* > 2\^23 - 1, the integrator's 24-bit register"):
        lower_graph(g, mode="fixed", calibration=cal, readout="chip")
