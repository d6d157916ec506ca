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


def test_chip_readout_is_float_mode_only():
    from snncompile.backends.lava.lower import lower_graph

    g = _traced(mean=True)
    cal = np.random.default_rng(0).random((4, 6))
    assert "integrator" in {p.type for p in lower_graph(g, readout="chip").plan.procs.values()}
    assert "readout" in {p.type for p in lower_graph(g, mode="fixed", calibration=cal).plan.procs.values()}
    with pytest.raises(UnsupportedOpError, match="--readout chip: float mode only"):
        lower_graph(g, mode="fixed", calibration=cal, readout="chip")
