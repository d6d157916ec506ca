"""Models for the Loihi backend tests: the digits example models (trained artefacts when present, else
the preset with excited BatchNorm statistics), traced, lowered, and — for tests marked ``lava`` — run once
per session on Lava in float and fixed mode."""
import os
import tempfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def digits_model(arch: str):
    """(model, inputs float32 [N, 1, 16, 16], labels or None, trained?)"""
    from snncompile.examples import presets

    root = os.environ.get("SNNCOMPILE_MODELS") or os.path.join(os.path.dirname(presets.__file__), "models")
    folder = os.path.join(root, f"{arch}-digits")
    ckpt = os.path.join(folder, "checkpoint.pth")
    if os.path.isfile(ckpt) and os.path.isfile(os.path.join(folder, "inputs.npy")):
        model = presets.build_from_checkpoint(ckpt, neuron="own").eval()
        x = np.load(os.path.join(folder, "inputs.npy")).astype(np.float32)
        lab = os.path.join(folder, "labels.npy")
        y = np.load(lab) if os.path.isfile(lab) else None
        return model, x, y, True
    torch.manual_seed(0)
    model = presets.build(arch, "digits", neuron="own").eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(1.0, 4.0)
                m.bias.uniform_(0.0, 1.0)
    rng = np.random.default_rng(0)
    return model, rng.random((8, 1, 16, 16)).astype(np.float32), None, False


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

    def lowered(self, mode):
        from snncompile.backends.lava.lower import lower_graph

        if mode not in self._low:
            self._low[mode] = lower_graph(self.graph, mode=mode, calibration=self.x)
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
