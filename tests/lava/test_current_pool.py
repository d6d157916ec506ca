"""Max-pooling of synaptic currents in fixed point (``snncompile.loihi.current_pool``).

A small net with the Spike-driven Transformer's shape: ``p = MaxPool(BN(Conv(x)))`` (padding 1, one channel
whose currents are all negative, per-channel BN scales 20× apart), ``lif1(p)``, a membrane-shortcut stream
``p + conv2(s1)`` read by ``lif2`` (a move) and by a head ``lif3`` through the mean over positions (a map:
``snncompile.loihi.mapped`` makes it an integer layer over the pool), then ``fc(s3).mean(0)``.

Without Lava: the integer pool is the float pool without its bias, in the units of the neurons that read it
(``(P − b_c)·K·f_c/64``, checked against lif1's thresholds), so −∞ padding and per-channel scales are kept;
refusals.  With Lava: Lava = ``FixedStepExecutor`` bit for bit.
"""
import tempfile

import numpy as np
import pytest

from snncompile import ops
from snncompile.backends.lava import lava_status
from snncompile.errors import SnnCompileError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

T = 4
lava = pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")


def _lif(**kw):
    from snncompile.examples.neurons import MultiStepLIF

    return MultiStepLIF(tau=2.0, **kw)


class PoolStream(nn.Module):
    def __init__(self, pool_over_channels: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.c1, self.bn1 = nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
        self.c2, self.c3 = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)
        self.lif1, self.lif2, self.lif3 = _lif(), _lif(), _lif()
        self.fc = nn.Linear(4, 3)
        self.pool_over_channels = pool_over_channels
        with torch.no_grad():
            self.c1.weight[1] = -self.c1.weight[1].abs()  # channel 1: every current < 0 on a positive image
            self.bn1.weight.copy_(torch.tensor([1.5, 0.8, 4.0, 0.2]))
            self.bn1.bias.copy_(torch.tensor([0.4, -0.3, 0.2, 1.2]))
            self.bn1.running_mean.copy_(torch.tensor([0.1, -0.1, 0.0, 0.2]))
            self.c2.weight.mul_(3.0)
            self.c3.weight.mul_(3.0)

    def pooled(self, x):
        y = self.bn1(self.c1(x))
        if self.pool_over_channels:  # windows straddling channels 0|1, 2|3: their biases differ
            return F.max_pool2d(y.reshape(y.shape[0], 1, 32, 8), (3, 1), 2, (1, 0)).reshape(y.shape[0], 4, 4, 4)
        return F.max_pool2d(y, 3, 2, 1)

    def forward(self, x):
        b = x.shape[0]
        p = self.pooled(x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1))
        s1 = self.lif1(p.reshape(T, b, 4, 4, 4)).flatten(0, 1)
        stream = p + self.c2(s1)
        s2 = self.lif2(stream.reshape(T, b, 4, 4, 4)).flatten(0, 1)
        s3 = self.lif3((stream + self.c3(s2)).reshape(T, b, 4, 16).mean(-1))
        return self.fc(s3).mean(0)


class PoolThenConv(PoolStream):
    """The model's own weight layer reads the pooled currents (no neuron between): refused."""

    def forward(self, x):
        p = self.pooled(x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1))
        return self.fc(self.lif3(self.c2(p).reshape(T, x.shape[0], 4, 16).mean(-1))).mean(0)


class PoolMeanOnly(PoolStream):
    """The pool reaches a neuron only through a mean: no neuron's class gives it a scale (refused)."""

    def forward(self, x):
        p = self.pooled(x.unsqueeze(0).repeat(T, 1, 1, 1, 1).flatten(0, 1))
        return self.fc(self.lif3(p.reshape(T, x.shape[0], 4, 16).mean(-1))).mean(0)


def _images(n=5):
    return np.random.default_rng(1).uniform(0.0, 1.0, (n, 1, 8, 8)).astype(np.float32)


_LOWERED = {}


def _lowered(model_cls=PoolStream, **kw):
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.frontends.torch import trace

    key = (model_cls.__name__, tuple(sorted(kw.items())))
    if key not in _LOWERED:
        model = model_cls(**kw).eval()
        g = trace(model, torch.from_numpy(_images(1)))
        infer_domains(g)
        _LOWERED[key] = (model, lower_graph(g, mode="fixed", calibration=_images(20)))
    return _LOWERED[key]


def _node(step, module):
    """The neuron node of ``module``."""
    return next(n for n in step.nodes if n.module == module and ops.get(n.op).neuron is not None)


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_layer"])
def test_integer_pool_is_the_float_pool_in_its_neurons_units(per_channel):
    """Every pooled value at step 0 (the input is the same every step, so the pooled currents are too):
    ``P_int = (P − b_c)·K·f_c/64``, the scale of the neuron lif1 that reads it (``vth/(θ·64)·k``, k = 1/τ
    its input decay), up to the weights' and input's rounding.  Zero padding, or the bias left in the pool,
    or a pool in other units than its neuron's, is off by far more."""
    from snncompile.backends.reference.fixed import run_fixed

    from snncompile.loihi.fixed import QuantConfig, quantise

    model, low = _lowered()
    config = QuantConfig() if per_channel else QuantConfig.per_layer()
    step, _ = quantise(low.prepared.network, {low.program.step.inputs[0]: (0.0, 1.0)}, config=config)
    pool = next(n for n in step.nodes if ops.get(n.op).pooling == "max")
    _, rows, _ = run_fixed(low.program, step, _images(2), record=[pool.outputs[0]])
    p_int = rows[pool.outputs[0]].reshape(2, T, 4, 4, 4)[:, 0].astype(np.float64)
    with torch.no_grad():
        p_float = model.double().pooled(torch.from_numpy(_images(2)).double()).numpy()
    bn = model.bn1
    bias = (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double().numpy()
    lif1 = _node(step, "lif1")
    fx = lif1.attrs["fixed"]
    vth = (np.asarray(step.constants[fx["vth"]], dtype=np.float64).reshape(1, 4, 4, 4)
           if isinstance(fx["vth"], str) else np.full((1, 4, 4, 4), float(fx["vth"])))
    scale = vth * 0.5 / (1.0 * 64)  # S_v·k = K·f/64 per neuron: vth = θ·S_v (θ = 1)
    want = (p_float - bias.reshape(1, 4, 1, 1)) * scale
    assert np.all(p_float[:, 1] < bias[1])  # channel 1 pools only negative currents: padding must be −∞
    err = np.abs(p_int - want)
    assert err.max() <= 0.01 * np.abs(want).max() + 2, f"max error {err.max()} of {np.abs(want).max()}"


def test_per_channel_scales_survive_the_pool():
    """The pool joins its layer's and its neuron's element scales channel by channel (not pinned to one
    scale): lif1's thresholds differ between channels (BN scales 20× apart) and are one per channel."""
    _, low = _lowered()
    fx = _node(low.step, "lif1").attrs["fixed"]
    assert isinstance(fx["vth"], str), "lif1 got one threshold: the pool pinned its class to one scale"
    vth = np.asarray(low.step.constants[fx["vth"]]).reshape(4, 16)
    assert np.all(vth == vth[:, :1]) and len(np.unique(vth[:, 0])) > 1


def test_head_reads_the_pool_through_an_integer_layer():
    """lif3 reads the mean over positions of a stream holding the pool: the fixed graph gives it integer
    layers (one over the pool), and the pool has the head's layer among its readers."""
    _, low = _lowered()
    pool = next(n for n in low.step.nodes if ops.get(n.op).pooling == "max")
    readers = {low.step.node(c).op for c in [n.name for n in low.step.nodes if any(
        v == pool.outputs[0] for v in n.inputs)]}
    assert "reshape" in readers  # flat(pool) → linear_for_lif3, besides the add of the stream
    layers = [n for n in low.step.nodes if n.name.endswith("_for_" + _node(low.step, "lif3").name)]
    assert layers and all("fixed_exp" in n.attrs for n in layers)


def test_fixed_spikes_agree_with_float_spikes():
    """The pool's bias, moved past the max into lif1, lif2 (a move) and lif3 (through the head's layer), keeps
    every neuron's fixed-point spikes on the float ones (``measure_agreement``, 8 calibration images)."""
    _, low = _lowered()
    agree = {_node(low.step, m).name: low.quant.agreement[_node(low.step, m).name] for m in ("lif1", "lif2", "lif3")}
    assert all(a >= 0.98 for a in agree.values()), agree


def test_bias_varying_inside_a_window_is_refused():
    """A window across two channels with different biases: max would not commute with the bias."""
    with pytest.raises(SnnCompileError) as err:
        _lowered(pool_over_channels=True)
    assert "\n" not in str(err.value) and "bias varies inside a window" in str(err.value)


def test_a_weight_layer_reading_pooled_currents_is_refused_in_fixed_point():
    with pytest.raises(SnnCompileError) as err:
        _lowered(PoolThenConv)
    assert "\n" not in str(err.value) and "must feed neurons only" in str(err.value)


def test_a_pool_read_only_through_a_mean_is_refused():
    with pytest.raises(SnnCompileError) as err:
        _lowered(PoolMeanOnly)
    assert "\n" not in str(err.value) and "needs a neuron reading it directly" in str(err.value)


@pytest.mark.lava
@lava
def test_fixed_lava_equals_fixed_executor():
    """Lava = ``FixedStepExecutor``: every neuron's spikes and membrane at every step, and the readout."""
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.simulate import simulate
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.fixed import quantise_input

    _, low = _lowered()
    x = _images(3)
    inp = step_inputs(low.program, x)
    v = low.program.step.inputs[0]
    inp = {v: quantise_input(inp[v], low.step.meta["fixed"]["inputs"][v])}
    rec = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-test-"), record_membrane=True)
    lifs = [n for n in low.step.nodes if ops.get(n.op).neuron is not None]
    _, rows, readouts = run_fixed(low.program, low.step, x, record=[n.outputs[0] for n in lifs],
                                  record_membrane=True)
    for n in lifs:
        spikes = rows[n.outputs[0]].reshape(rec.steps, -1)
        assert 0 < spikes.sum() < spikes.size, f"{n.module} is silent or saturated: a weak test"
        np.testing.assert_array_equal(rec.spikes[n.name], spikes, err_msg=f"spikes of {n.name}")
        np.testing.assert_array_equal(rec.membranes[n.name], rows[f"h:{n.name}"].reshape(rec.steps, -1),
                                      err_msg=f"membrane of {n.name}")
    for name, arr in readouts.items():
        np.testing.assert_array_equal(rec.readouts[name], arr, err_msg=f"readout {name}")


@pytest.mark.lava
@lava
def test_run_records_pooled_currents_and_counts_the_head_layer(tmp_path):
    """``run`` on the saved fixed lowering: Lava records the pooled currents (not spikes), the logits are the
    executor's, and the ledger counts the head's layer over the pool by its rule for dense layers: one synaptic
    op per nonzero pooled value and output of the layer (structural: the 4 head elements, zero weights
    included)."""
    from snncompile.backends.lava.lower import load_lowered, run_lowered, save_lowered
    from snncompile.backends.reference.fixed import run_fixed

    _, low = _lowered()
    x = _images(2)
    res = run_lowered(load_lowered(save_lowered(low, str(tmp_path / "low"))), x)
    pool = next(n for n in low.step.nodes if ops.get(n.op).pooling == "max")
    cur = res.recordings.currents[pool.name]
    assert pool.name not in res.recordings.spikes and np.any(cur < 0)  # signed currents, not spikes
    outs, _, _ = run_fixed(low.program, low.step, x)
    np.testing.assert_array_equal(np.concatenate([o[0].reshape(1, -1) for o in outs]),
                                  np.concatenate([o[0].reshape(1, -1) for o in res.outputs]))
    head = _node(low.step, "lif3").name
    layer = next(n.name for n in low.step.nodes if n.op == "linear" and n.inputs[0] != pool.outputs[0]
                 and n.name.startswith(pool.name + "_for_" + head))
    counted = sum(e.synaptic_ops for e in res.ledger.cores if e.layer == layer)
    assert counted == 4 * int((cur != 0).sum()) > 0
