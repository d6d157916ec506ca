"""Models for the Loihi backend tests: the digits example models (trained artefacts when present, else
the preset with excited BatchNorm statistics), traced, lowered, and — for tests marked ``lava`` — run once
per session on Lava in float and fixed mode.  :class:`Case` builds the two transformer presets by
architecture; :class:`FamilyCase` loads any shipped family's folder the way the CLI does (time axis, sample
layout, calibration on the folder's inputs.npy)."""
import tempfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from digits_models import digits_model, load_family  # noqa: E402  (tests/ is on pytest's pythonpath)


class Case:
    """One digits model: traced graph, lowered float and fixed, and (lazily) their Lava runs."""

    def __init__(self, arch):
        from snncompile.analysis import infer_domains
        from snncompile.frontends.torch import trace

        self.arch = arch
        self.model, x, self.labels, self.trained = digits_model(arch)
        self.x = x[:20] if self.trained else x[:4]
        self.graph = trace(self.model, torch.from_numpy(x[:1]))
        infer_domains(self.graph)
        self._low = {}
        self._runs = {}

    calibration = property(lambda self: self.x)  # the fixed-point input scale's samples

    def lowered(self, mode):
        from snncompile.backends.lava.lower import lower_graph

        if mode not in self._low:
            self._low[mode] = lower_graph(self.graph, mode=mode, calibration=self.calibration)
        return self._low[mode]

    def lava(self, mode):
        """(recordings, per-step inputs) of a Lava run of ``self.x`` (float: natural inputs; fixed: quantised)."""
        from snncompile.backends.lava.host import step_inputs
        from snncompile.backends.lava.simulate import simulate

        if mode not in self._runs:
            low = self.lowered(mode)
            inp = step_inputs(low.program, self.x)
            if mode == "fixed":
                from snncompile.loihi.fixed import quantise_input

                name = low.program.step.inputs[0]
                inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
            rec = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-test-"), record_membrane=True)
            self._runs[mode] = rec
        return self._runs[mode]


class FamilyCase(Case):
    """A shipped family (``examples/models/<folder>``), loaded and traced as ``snncompile lower`` does; Lava
    runs its first ``images`` samples; fixed mode is calibrated on all of inputs.npy, as the CLI is."""

    def __init__(self, name, images=5):
        self.arch = name
        self.digits = load_family(name)
        self.model, self.labels, self.trained = self.digits.model, self.digits.labels, True
        self.graph = self.digits.graph
        self.x = self.digits.samples[:images]
        self._low = {}
        self._runs = {}

    calibration = property(lambda self: self.digits.samples)


def assert_lava_equals_fixed_executor(low, rec, x, *, extra=(), label: str = ""):
    """Lava's fixed-point run ``rec`` of the inputs ``x`` against the fixed-point executor (the specification
    of that run) bit for bit: every neuron's spikes (graded values included) and membrane (H before the reset)
    at every step, the outputs of the ``extra`` nodes (e.g. coincidence populations), and every readout value.
    Returns (the executor's per-image outputs, the neuron nodes compared)."""
    from snncompile import ops
    from snncompile.backends.reference.fixed import run_fixed

    neurons = [n for n in low.step.nodes if ops.get(n.op).neuron is not None]
    assert neurons, f"{label}: no neuron in the fixed-point graph"
    extra = list(extra)
    outs, rows, readouts = run_fixed(low.program, low.step, x, record=[n.outputs[0] for n in neurons + extra],
                                     record_membrane=True)
    for n in neurons:
        np.testing.assert_array_equal(rec.spikes[n.name], rows[n.outputs[0]].reshape(rec.steps, -1),
                                      err_msg=f"{label}: spikes of {n.name}")
        np.testing.assert_array_equal(rec.membranes[n.name], rows[f"h:{n.name}"].reshape(rec.steps, -1),
                                      err_msg=f"{label}: membrane of {n.name}")
    for n in extra:
        np.testing.assert_array_equal(rec.spikes[n.name], rows[n.outputs[0]].reshape(rec.steps, -1),
                                      err_msg=f"{label}: outputs of {n.name}")
    for v, arr in readouts.items():
        np.testing.assert_array_equal(rec.readouts[v], arr, err_msg=f"{label}: readout {v}")
    return outs, neurons
