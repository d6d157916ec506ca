"""Loading what users actually have: GPU-trained spikingjelly models, timm-style checkpoints."""
import subprocess
import sys
import textwrap

import pytest
import torch

from snncompile.errors import InputError, UnsafeFileError
from snncompile.frontends.torch.loading import load_model

MODEL_SRC = textwrap.dedent("""
    import torch, torch.nn as nn
    from spikingjelly.clock_driven.neuron import MultiStepLIFNode

    class Net(nn.Module):
        def __init__(self, c=4):
            super().__init__()
            self.fc = nn.Linear(c, c)
            self.lif = MultiStepLIFNode(tau=2.0, detach_reset=True, backend='cupy')  # as the papers' code
            self.fc2 = nn.Linear(c, 2)

        def forward(self, x):
            return self.fc2(self.lif(self.fc(x.unsqueeze(0).repeat(2, 1, 1)))).mean(0)
""")


@pytest.fixture
def gpu_model_dir(tmp_path):
    (tmp_path / "gpumodel.py").write_text(MODEL_SRC)
    script = textwrap.dedent("""
        import argparse, torch
        import spikingjelly.clock_driven.neuron as n
        n.check_backend = lambda backend: None  # pretend cupy exists, as on the authors' GPU machine
        import gpumodel
        m = gpumodel.Net()
        state = {'module.' + k: v for k, v in m.state_dict().items()}  # DataParallel prefix
        torch.save({'state_dict': state, 'arch': 'net', 'epoch': 3,
                    'args': argparse.Namespace(lr=0.1, model='net')}, 'ckpt.pth.tar')
        torch.save(m, 'whole.pt')
    """)
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


def test_timm_style_checkpoint_with_cupy_neurons_loads_safely(gpu_model_dir):
    loaded = load_model(str(gpu_model_dir / "ckpt.pth.tar"), factory="gpumodel:Net",
                        import_paths=[str(gpu_model_dir)], input_shape=[1, 4])
    assert loaded.model.lif.backend == "cupy"  # switched to torch only while tracing
    from snncompile.frontends.torch import trace

    g = trace(loaded.model, loaded.example_input())
    assert [n.op for n in g.nodes].count("lif") == 1


def test_whole_gpu_model_needs_trust_then_traces(gpu_model_dir):
    with pytest.raises(UnsafeFileError, match="gpumodel.Net"):
        load_model(str(gpu_model_dir / "whole.pt"), import_paths=[str(gpu_model_dir)])
    loaded = load_model(str(gpu_model_dir / "whole.pt"), trust_pickle=True, import_paths=[str(gpu_model_dir)],
                        input_shape=[1, 4])
    from snncompile.frontends.torch import trace

    assert trace(loaded.model, loaded.example_input()).nodes


def test_factory_with_wrong_arguments_is_an_input_error(gpu_model_dir):
    with pytest.raises(InputError, match="--model-arg"):
        load_model(str(gpu_model_dir / "ckpt.pth.tar"), factory="gpumodel:Net", factory_args={"bogus": 1},
                   import_paths=[str(gpu_model_dir)])


def test_checkpoint_that_does_not_fit_names_a_key(gpu_model_dir):
    with pytest.raises(InputError, match="does not fit the model"):
        load_model(str(gpu_model_dir / "ckpt.pth.tar"), factory="gpumodel:Net", factory_args={"c": 5},
                   import_paths=[str(gpu_model_dir)])


def test_timesteps_override_sets_model_T():
    loaded = load_model("preset:spikformer:digits", timesteps=2)
    assert loaded.model.T == 2
