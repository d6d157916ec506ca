"""Multi-step inputs: declaring the input's time axis (--time-axis, T=/B= labels), tracing time-major models
batch first, and the time-axis analysis knowing the input varies over time."""
import json

import pytest
import torch
from click.testing import CliRunner

from snncompile.cli import main
from snncompile.errors import InputError
from snncompile.frontends.torch import trace
from snncompile.frontends.torch.inputs import batch_first, declare_time_axis, parse_input_shape
from snncompile.passes.time import TimeAxis, TimeAxisError, time_axes


@pytest.mark.parametrize("text,shape,axis", [
    ("1,3,32,32", [1, 3, 32, 32], None),
    ("T=4,B=2,1,16,16", [4, 2, 1, 16, 16], 0),
    ("B=2,T=8,2,32,32", [2, 8, 2, 32, 32], 1),
    ("t=4, b=1, C=1, H=16, W=16", [4, 1, 1, 16, 16], 0),
])
def test_parse_input_shape(text, shape, axis):
    assert parse_input_shape(text) == (shape, axis)


@pytest.mark.parametrize("text", ["4,B=1,T=2,3", "T=4,X=1", "T=four,1"])
def test_parse_input_shape_refuses(text):
    with pytest.raises(InputError):
        parse_input_shape(text)


def test_batch_first_is_its_own_inverse():
    assert batch_first((4, 2, 1, 16, 16), 0) == (2, 4, 1, 16, 16)
    assert batch_first(batch_first((4, 2, 3), 0), 0) == (4, 2, 3)
    assert batch_first((2, 4, 3), 1) == (2, 4, 3)


def zoo(kind="sew", cnf="ADD"):
    from snncompile.examples.zoo import ZooResNet

    torch.manual_seed(0)
    return ZooResNet(kind=kind, cnf=cnf).eval()


def test_time_major_model_is_traced_batch_first_and_timed():
    x_bf = torch.rand(2, 4, 1, 16, 16)  # [B, T, C, H, W]
    g = trace(zoo(), x_bf, time_major=True)
    assert list(g.values[g.inputs[0]].shape) == [2, 4, 1, 16, 16] and g.meta["batch"] == 2
    declare_time_axis(g, 0, model_T=4)
    axes = time_axes(g)
    assert axes[g.inputs[0]] == TimeAxis(1, 4)
    neurons = [n for n in g.nodes if n.op == "lif"]
    assert neurons and all(axes[n.outputs[0]] == TimeAxis(0, 4) for n in neurons)


def test_undeclared_time_axis_says_how_to_declare_it():
    g = trace(zoo(), torch.rand(4, 2, 1, 16, 16))  # the model's own layout, nothing declared: "static"
    with pytest.raises(TimeAxisError, match="--time-axis"):
        time_axes(g)


def test_declared_T_must_match_the_model():
    g = trace(zoo(), torch.rand(2, 4, 1, 16, 16), time_major=True)
    with pytest.raises(InputError, match="T is 6"):
        declare_time_axis(g, 0, model_T=6)


@pytest.fixture
def zoo_state_dict(tmp_path):
    path = tmp_path / "zoo.pth"
    torch.save(zoo("spiking").state_dict(), path)
    return str(path)


FACTORY = ["--model", "snncompile.examples.zoo:ZooResNet", "--model-arg", "kind=spiking"]


@pytest.mark.parametrize("how", [["--time-axis", "0", "--input-shape", "4,1,1,16,16"],
                                 ["--input-shape", "T=4,B=1,1,16,16"]])
def test_check_and_report_take_a_declared_time_axis(zoo_state_dict, how):
    r = CliRunner().invoke(main, ["check", zoo_state_dict, *FACTORY, *how, "--format", "json"])
    assert r.exit_code == 0, r.stderr
    r = CliRunner().invoke(main, ["report", zoo_state_dict, *FACTORY, *how, "--format", "json"])
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["layers"][0]["module"] == "conv1" and rep["layers"][0]["steps"] == 4  # runs once per step
    sn1 = next(n for n in rep["neurons"] if n["module"] == "sn1")
    assert sn1["updates"] == 16 * 16 * 16 * 4  # 16 channels × 16×16 pixels × T = 4, one image


def test_contradicting_declarations_are_one_line_errors(zoo_state_dict):
    r = CliRunner().invoke(main, ["check", zoo_state_dict, *FACTORY, "--input-shape", "T=4,B=1,1,16,16",
                                  "--time-axis", "1"])
    assert r.exit_code == 2 and "contradicts" in r.stderr and len(r.stderr.strip().splitlines()) == 1
