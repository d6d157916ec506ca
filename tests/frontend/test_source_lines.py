"""Source lines name the model code that called an op: the file defining the calling module (a library's
model file for zoo networks), never torch's or snncompile's internals nor the code that called the model."""
import inspect
import os
import sys
import textwrap

import torch
from click.testing import CliRunner

from snncompile.cli import main
from snncompile.frontends.torch import trace


def test_every_node_of_a_zoo_net_points_at_model_code():
    from spikingjelly.activation_based.model import spiking_resnet

    from snncompile.examples import zoo

    torch.manual_seed(0)
    g = trace(zoo.ZooResNet(kind="spiking").eval(), torch.rand(1, 4, 1, 16, 16), time_major=True)
    files = {n.source.rpartition(":")[0] for n in g.nodes}
    model_files = {os.path.relpath(zoo.__file__), os.path.relpath(spiking_resnet.__file__)}
    assert files - {""} <= model_files, files
    assert "" in files  # the toolchain's own transpose of the batch-first input belongs to no model line
    sn2 = next(n for n in g.nodes if n.module == "layer1.sn2")
    lines, first = inspect.getsourcelines(spiking_resnet.BasicBlock.forward)
    assert sn2.source.startswith(os.path.relpath(spiking_resnet.__file__))
    assert lines[int(sn2.source.rpartition(":")[2]) - first].strip() == "out = self.sn2(out)"


MODEL_FILE = textwrap.dedent('''
    import torch.nn as nn
    from snncompile.examples.neurons import MultiStepLIF


    def residual(a, b):
        return a + b


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lif1 = MultiStepLIF()
            self.lif2 = MultiStepLIF()
            self.fc = nn.Linear(8, 8)
            self.lif3 = MultiStepLIF()
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            x = x.unsqueeze(0).repeat(2, 1, 1)
            s = residual(self.lif1(x), self.lif2(x))
            y = self.fc(s)  # CALLS FC
            return self.head(self.lif3(y)).mean(0)
''')


def test_a_model_in_a_temp_file_is_located_in_that_file(tmp_path):
    (tmp_path / "my_net_for_lines.py").write_text(MODEL_FILE)
    sys.path.insert(0, str(tmp_path))
    try:
        import my_net_for_lines

        ckpt = tmp_path / "net.pth"
        torch.save(my_net_for_lines.Net().state_dict(), ckpt)
        r = CliRunner().invoke(main, ["check", str(ckpt), "--model", "my_net_for_lines:Net", "--import-path",
                                      str(tmp_path), "--input-shape", "1,8", "--format", "json"])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_net_for_lines", None)
    import json

    rep = json.loads(r.stdout)
    (f,) = rep["findings"]
    want_line = MODEL_FILE.splitlines().index("        y = self.fc(s)  # CALLS FC") + 1
    assert (f["rule"], f["module"], f["line"]) == ("SNN101", "fc", want_line)
    assert os.path.samefile(f["file"], tmp_path / "my_net_for_lines.py")
