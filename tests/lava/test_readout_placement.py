"""``lower --readout host|chip``: on chip a non-spiking integrator population sums the readout over T and
is read once per image; the host's mean over T is then a constant scale.  Both placements give the
executor's logits (float mode); a placement that would change the result is refused with its reason."""
import json
import os

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


@pytest.mark.parametrize("model", ["metaspikeformer", "fc_mean"])
def test_float_integrator_cores_count_the_executors_currents(model, tmp_path):
    """Float mode, a weight layer's currents integrated on chip (Meta-SpikeFormer: its head ``fc`` per step;
    ``fc(LIF(fc0(x))).mean(0)``: a head whose LIF is silent on some steps, so some currents are 0): the
    integrator cores' synaptic ops are the nonzero currents the layer sends each step — the reference
    executor's layer output less its bias, which the integrator holds as a constant — times their synapses
    (the nonzeros of the integrator's map ``G``) into each core's compartments; real messages: kind ``mac``,
    one MAC per synapse and step."""
    from lava_models import Case

    from snncompile.backends.lava.host import run_post, step_inputs
    from snncompile.backends.lava.ledger import build_ledger
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate
    from snncompile.backends.reference.steps import run_steps
    from snncompile.loihi.affine import synapse_bias

    if model == "fc_mean":
        graph, x = _fc_mean(4), 4 * np.random.default_rng(1).random((3, 6))
    else:
        case = Case(model)
        graph, x = case.graph, case.x[:2]
    low = lower_graph(graph, mode="float", readout="chip")
    rec = simulate(low.plan, step_inputs(low.program, x), str(tmp_path / "chip"))
    _, host = run_post(low.program, rec.readouts, len(x))
    net = low.prepared.network
    led = build_ledger(net, low.part, rec, samples=len(x), original=graph, host_counts=host)
    (u,) = [u for u in net.of_kind("readout")]
    (proc,) = low.plan.readouts[u.ports[0].value]
    G = low.plan.procs[proc].params["G"].tocsr()
    sources = [t for t in u.ports[0].terms if t.source]
    assert {net.units[t.source].kind for t in sources} == {"synapse"}
    events, silent = np.zeros(G.shape[0]), 0
    for i in range(len(x)):
        sent = run_steps(low.program, [x[i:i + 1]], record=[t.value for t in sources]).steps
        for t in sources:
            b = synapse_bias(net.graph, net.graph.node(net.units[t.source].node))
            msgs = np.stack([np.asarray(v).reshape(-1) - b for v in sent[t.value]])[:, low.plan.emission[t.source]]
            events += ((G != 0).astype(np.int64) @ (msgs != 0).astype(np.int64).T).sum(1)
            silent += int((msgs == 0).sum())
    layer = low.part.layer(u.name)
    cores = layer.core_of(np.arange(G.shape[0]))
    got = {c.core: c for c in led.cores if c.kind == "integrator"}
    assert got and {k: c.synaptic_ops for k, c in got.items()} == \
        {k: int(events[cores == k].sum()) for k in range(layer.first_core, layer.first_core + layer.cores)}
    assert sum(c.synaptic_ops for c in got.values()) > 0 and {c.op_kind for c in got.values()} == {"mac"}
    assert silent > 0 or model != "fc_mean"  # the case where counting every compartment would be wrong
    steps = len(x) * low.program.T
    synapses = np.diff(G.indptr) * len(sources)  # per compartment: one synapse per source and entry of G
    assert {k: c.macs for k, c in got.items()} == \
        {k: int(synapses[cores == k].sum()) * steps for k in range(layer.first_core, layer.first_core + layer.cores)}
    assert {k: c.compartment_updates for k, c in got.items()} == \
        {k: int((cores == k).sum()) * steps for k in range(layer.first_core, layer.first_core + layer.cores)}


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


class _TwoMaps(torch.nn.Module):
    """``(LIF_a(fc_a(x))[..., :2] + LIF_b(fc_b(x))[..., 2:]).mean(0)``: the readout's terms arrive through two
    different maps (two readout processes, each summing into every row)."""

    def __init__(self):
        super().__init__()
        from snncompile.examples.neurons import make_lif

        self.fa, self.la, self.fb, self.lb = torch.nn.Linear(6, 4), make_lif(), torch.nn.Linear(6, 4), make_lif()

    def forward(self, x):
        x = x.unsqueeze(0).repeat(3, 1, 1)
        return (self.la(self.fa(x))[..., :2] + self.lb(self.fb(x))[..., 2:]).mean(0)


def test_fixed_chip_readout_through_several_maps_is_refused():
    """Float mode integrates each map's part; in fixed point the value's bound does not bound each part's
    integer sum, so the placement is refused with that reason."""
    from snncompile.analysis import infer_domains
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.frontends.torch import trace

    torch.manual_seed(0)
    g = trace(_TwoMaps().eval(), torch.rand(1, 6))
    infer_domains(g)
    cal = np.random.default_rng(0).random((4, 6))
    (procs,) = lower_graph(g, readout="chip").plan.readouts.values()
    assert len(procs) == 2
    with pytest.raises(UnsupportedOpError, match=r"--readout chip: readout .* receives its terms through 2 "
                                                 r"different maps; in fixed point the bound"):
        lower_graph(g, mode="fixed", calibration=cal, readout="chip")


def _fc_mean(T: int):
    from snncompile.analysis import infer_domains
    from snncompile.frontends.torch import trace

    torch.manual_seed(0)
    g = trace(_FcMean(T).eval(), torch.rand(1, 6))
    infer_domains(g)
    return g


def test_fixed_integrator_cores_count_the_fixed_executors_currents(tmp_path):
    """Fixed point, ``fc(LIF(fc0(x))).mean(0)``: the integrator cores' synaptic ops are the nonzero integer
    currents the fixed-point executor's head sends each step (0 on the steps its LIF is silent) times their
    nonzero weights in the integer map ``W``; the ledger is built as ``run`` builds it (from the quantised
    step graph)."""
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.ledger import build_ledger
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.fixed import quantise_input
    from snncompile.loihi.network import build_network
    from snncompile.loihi.partition import partition

    cal, x = 4 * np.random.default_rng(0).random((8, 6)), 4 * np.random.default_rng(1).random((3, 6))
    low = lower_graph(_fc_mean(4), mode="fixed", calibration=cal, readout="chip")
    inp = step_inputs(low.program, x)
    name = low.program.step.inputs[0]
    rec = simulate(low.plan, {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])},
                   str(tmp_path / "chip"))
    net = build_network(low.step, [u.ports[0].value for u in low.prepared.network.of_kind("readout")])
    part = partition(net, low.limits, readout="chip")
    led = build_ledger(net, part, rec, samples=len(x))
    (u,) = net.of_kind("readout")
    (proc,) = low.plan.readouts[u.ports[0].value]
    W = low.plan.procs[proc].params["G"].tocsr()
    (t,) = [t for t in u.ports[0].terms if t.source]
    _, sent, _ = run_fixed(low.program, low.step, x, record=[t.value])
    msgs = sent[t.value].reshape(rec.steps, -1)[:, low.plan.emission[t.source]]
    assert 0 < int((msgs == 0).sum()) < msgs.size  # silent steps and active ones
    events = ((W != 0).astype(np.int64) @ (msgs != 0).astype(np.int64).T).sum(1)
    layer = part.layer(u.name)
    cores = layer.core_of(np.arange(W.shape[0]))
    got = {c.core: c.synaptic_ops for c in led.cores if c.kind == "integrator"}
    assert got == {k: int(events[cores == k].sum()) for k in range(layer.first_core, layer.first_core + layer.cores)}


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


# -- fixed point on the shipped families: the CLI's directory, run on Lava -----------------------------------

FIXED_IMAGES = 3
_LOWERED: dict = {}
_RUNS: dict = {}


def _run_fixed_chip(name: str, out: str):
    """The Lava run of the first ``FIXED_IMAGES`` samples on the lowered directory ``out``, once per session:
    (the loaded directory, the samples, the run's result)."""
    from digits_models import load_family

    from snncompile.backends.lava.lower import load_lowered, run_lowered

    if out not in _RUNS:
        low = load_lowered(out)
        x = load_family(name).samples[:FIXED_IMAGES]
        _RUNS[out] = (low, x, run_lowered(low, x))
    return _RUNS[out]


def _lowered_fixed_chip(name: str, tmp_path_factory):
    """``snncompile lower FOLDER/checkpoint.pth --mode fixed --readout chip`` of a shipped family, once per
    session: (family name, the directory, the CLI's JSON)."""
    from cli_harness import invoke
    from digits_models import load_family

    if name not in _LOWERED:
        out = str(tmp_path_factory.mktemp("fixedchip") / "out")
        ckpt = f"{load_family(name).folder}/checkpoint.pth"
        code, stdout, err = invoke("lower", ckpt, "--mode", "fixed", "--readout", "chip", "--format", "json",
                                   "-o", out)
        assert code == 0, f"{name}: snncompile lower --mode fixed --readout chip: {err.strip()}"
        _LOWERED[name] = (name, out, json.loads(stdout))
    return _LOWERED[name]


@pytest.fixture(scope="module", params=["spikformer-digits", "spiking_resnet-digits"])
def fixed_chip(request, tmp_path_factory):
    """Spikformer: the integrator sums the mean over tokens of the residual stream's spike counts;
    spiking_resnet: the zoo's ``fc(x_seq).mean(0)``, the head's integer currents."""
    return _lowered_fixed_chip(request.param, tmp_path_factory)


def test_fixed_chip_readouts_give_the_fixed_executors_sums_and_logits(fixed_chip):
    """The directory the CLI wrote holds integrators and no per-step readout; run on Lava, each integrator's
    integer sum equals the sum over T of the fixed-point executor's readout integers (bit for bit), and the
    host's dequantised sums give the executor's logits (up to float64 rounding order: ``scale·g·S + T·c``
    against ``Σ_t (G·x_t·scale + c)``) and its predictions.  The partition's integrator cores are the run's."""
    from snncompile.backends.reference.fixed import run_fixed

    name, out, doc = fixed_chip
    by_type = doc["processes"]["by_type"]
    assert by_type.get("integrator", 0) >= 1 and "readout" not in by_type
    low, x, res = _run_fixed_chip(name, out)
    T, n = low.program.T, len(x)
    values = list(low.plan.readouts)
    want, rows, _ = run_fixed(low.program, low.step, x, record=values)
    for v, procs in low.plan.readouts.items():
        (proc,) = procs
        p = low.plan.procs[proc].params
        assert p["G"].dtype == np.int64
        per_image = rows[v].reshape(n, T, -1).sum(axis=1) / p["gain"]  # Σ_t (G·x_t)/g = Σ_t W·x_t
        np.testing.assert_array_equal(per_image, np.round(per_image), err_msg=f"{name}: {v} is not integral")
        np.testing.assert_array_equal(res.recordings.integrals[proc], per_image.astype(np.int64),
                                      err_msg=f"{name}: integer sums of {proc}")
    for i in range(n):
        np.testing.assert_allclose(res.outputs[i][0], want[i][0], rtol=1e-12, atol=1e-12,
                                   err_msg=f"{name}: logits of image {i}")
    assert list(res.predictions) == [int(np.argmax(w[0])) for w in want]
    with open(f"{out}/core_map.json", encoding="utf-8") as f:
        planned = {lay["name"]: lay["cores"] for lay in json.load(f)["layers"] if lay["kind"] == "integrator"}
    ran: dict = {}
    for c in res.ledger.cores:
        if c.kind == "integrator":
            ran[c.layer] = ran.get(c.layer, 0) + 1
    assert planned and ran == planned


def test_integrator_cores_count_the_messages_the_fixed_executor_sends(fixed_chip):
    """The ledger's integrator cores: per core, every nonzero value the fixed-point executor's sources send in
    a step (Spikformer: spikes of the residual stream's neurons and pool; spiking_resnet: the head's integer
    currents) times its nonzero weights in the integrator's integer map ``W`` into that core's compartments,
    and one compartment update per compartment and step.  The other cores are those of the host placement's
    ledger of the same recordings, and the chip's totals exceed it by the integrators' ops alone."""
    from snncompile.backends.lava.ledger import build_ledger
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.network import build_network
    from snncompile.loihi.partition import partition

    name, out, _ = fixed_chip
    low, x, res = _run_fixed_chip(name, out)
    steps = len(x) * low.program.T
    net = build_network(low.step, low.doc["readout_values"])
    part = partition(net, low.limits, readout="chip")
    want_ops: dict = {}
    want_updates: dict = {}
    for u in net.of_kind("readout"):
        (proc,) = low.plan.readouts[u.ports[0].value]
        W = low.plan.procs[proc].params["G"].tocsr()  # [compartments, source elements in emission order]
        sources = [t for t in u.ports[0].terms if t.source]
        _, sent, _ = run_fixed(low.program, low.step, x, record=[t.value for t in sources])
        events = np.zeros(W.shape[0])
        for t in sources:
            msgs = sent[t.value].reshape(steps, -1)[:, low.plan.emission[t.source]]
            events += ((W != 0).astype(np.int64) @ (msgs != 0).astype(np.int64).T).sum(1)
        layer = part.layer(u.name)
        cores = layer.core_of(np.arange(W.shape[0]))
        for k in range(layer.first_core, layer.first_core + layer.cores):
            want_ops[k] = int(events[cores == k].sum())
            want_updates[k] = int((cores == k).sum()) * steps
    led = res.ledger
    got = {c.core: c for c in led.cores if c.kind == "integrator"}
    assert want_ops and sum(want_ops.values()) > 0
    assert {k: c.synaptic_ops for k, c in got.items()} == want_ops
    assert {k: c.compartment_updates for k, c in got.items()} == want_updates
    kinds = {c.op_kind for c in got.values()}
    assert kinds == ({"mac"} if name.startswith("spiking_resnet") else {"ac"})
    tot = led.totals()
    assert tot["integrator"] == {"synaptic_ops": sum(want_ops.values()),
                                 "compartment_updates": sum(want_updates.values())}

    host = build_ledger(net, partition(net, low.limits, readout="host"), res.recordings, samples=len(x),
                        host_counts=led.host)
    assert not [c for c in host.cores if c.kind == "integrator"]
    fields = ("layer", "kind", "op_kind", "synaptic_ops", "spikes", "neuron_updates", "macs",
              "unit_synapse_events", "compartment_updates")
    assert [[getattr(c, f) for f in fields] for c in led.cores if c.kind != "integrator"] == \
        [[getattr(c, f) for f in fields] for c in host.cores]
    htot = host.totals()
    (kind,) = kinds
    assert tot["on_chip"]["synaptic_ops"] == htot["on_chip"]["synaptic_ops"] + tot["integrator"]["synaptic_ops"]
    assert tot["by_kind"][kind] == htot["by_kind"].get(kind, 0) + tot["integrator"]["synaptic_ops"]
    assert htot["integrator"] == {"synaptic_ops": 0, "compartment_updates": 0}
    assert tot["coincidence"] == htot["coincidence"] and tot["host_synaptic_ops"] == htot["host_synaptic_ops"]


def test_run_refuses_more_steps_than_the_integrators_sum_holds(tmp_path_factory, tmp_path):
    """``run --steps N`` beyond the steps the integrator's 24 bits hold (``max_steps``, from the quantiser's
    bound; the zoo's head: a few dozen): one line, exit 2, no ledger written."""
    from cli_harness import assert_one_line_error, invoke
    from digits_models import load_family

    from snncompile.backends.lava.lower import load_lowered

    name, out, _ = _lowered_fixed_chip("spiking_resnet-digits", tmp_path_factory)
    low = load_lowered(out)
    (most,) = [p.params["max_steps"] for p in low.plan.procs.values() if p.type == "integrator"]
    assert low.program.T <= most < 64
    with open(f"{out}/report.txt", encoding="utf-8") as f:
        assert f"holds {most} steps" in f.read()  # the lowering report says how many steps the sums hold
    steps = most + 1
    x = load_family(name).samples[:1]
    axis = low.program.input_axes[low.program.step.inputs[0]]
    if axis is not None:  # an input with a time axis (the zoo's): as many steps as the run has
        x = np.take(x, np.arange(steps) % axis.size, axis=axis.axis)
    np.save(tmp_path / "x.npy", x)
    code, stdout, err = invoke("run", out, "--input", str(tmp_path / "x.npy"), "--steps", str(steps))
    assert_one_line_error(code, stdout, err, f"{steps} steps per input may overflow the integrator's 24-bit sum",
                          f"at most {most} fit")
    assert not os.path.exists(f"{out}/ledger.json") and not os.path.exists(f"{out}/core_load.png")


def test_the_cli_refuses_a_fixed_chip_readout_that_may_overflow(tmp_path):
    """I-LIF net traced over 64 steps: its head's integer currents may sum past 24 bits on chip; ``lower``
    says so in one line, exits 2 and writes nothing."""
    from cli_harness import assert_one_line_error, invoke
    from digits_models import load_family

    out = tmp_path / "out"
    ckpt = f"{load_family('ilifnet-digits').folder}/checkpoint.pth"
    code, stdout, err = invoke("lower", ckpt, "--mode", "fixed", "--readout", "chip", "-T", "64", "-o", str(out))
    assert_one_line_error(code, stdout, err, "--readout chip: readout ", "its integer sum over T = 64 steps may "
                          "reach", "the integrator's 24-bit register", "(use --readout host)")
    assert not out.exists() and os.listdir(tmp_path) == []
