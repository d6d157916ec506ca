import pytest
from click.testing import CliRunner

from snncompile.check import check_graph
from snncompile.examples import presets
from snncompile.frontends.torch import trace
from snncompile.frontends.torch.loading import _describe_example


def check_preset(arch, name, neuron="own", **overrides):
    model = presets.build(arch, name, neuron=neuron, **overrides)
    loaded = _describe_example(model, f"{arch}-{name}")
    graph = trace(model, loaded.example_input(1), [loaded.input_domain], name=loaded.name)
    return check_graph(graph)


@pytest.fixture(name="check_preset")
def check_preset_fixture():
    return check_preset


@pytest.fixture
def runner():
    return CliRunner()
