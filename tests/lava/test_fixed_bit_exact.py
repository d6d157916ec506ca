"""Lava runs the quantiser's whole repertoire bit for bit as the fixed-point executor specifies it (marked
``lava``; 2 test digits each): per-neuron thresholds and per-channel weights (Spikformer), spikes added
straight to a membrane (Spiking ResNet's ``sn(bn(conv(x)) + x)``), and a weight layer read by the host with
an integer input gain and per-element dequantisation (SEW ResNet ADD's ``fc(avgpool(x))``)."""
import tempfile

import numpy as np
import pytest

from snncompile.backends.lava import lava_status

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_status()[0], reason=lava_status()[1] or "lava")]

# shipped model folder -> what the fixed graph must contain for the run to test that feature
FEATURES = {
    "spikformer-digits": "per-neuron thresholds",
    "spiking_resnet-digits": "spikes into a membrane",
    "sew_resnet-digits-add": "host-read weight layer",
}


def _has(feature, low) -> bool:
    step = low.step
    if feature == "per-neuron thresholds":
        return any(isinstance(n.attrs.get("fixed", {}).get("vth"), str) for n in step.nodes)
    if feature == "spikes into a membrane":
        return any(n.attrs.get("fixed_operand_gain") for n in step.nodes)
    return any(n.attrs.get("fixed_input_gain") for n in step.nodes) and \
        any(np.ndim(r["scale"]) for r in step.meta["fixed"]["readouts"].values())


@pytest.mark.parametrize("folder", sorted(FEATURES))
def test_fixed_lava_is_bit_exact_on_every_quantiser_feature(folder):
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate
    from snncompile.examples.data import load_digits
    from snncompile.loihi.fixed import quantise_input

    from digits_models import load_family
    from lava_models import assert_lava_equals_fixed_executor

    split = load_digits(img_size=16)
    family = load_family(folder)
    low = lower_graph(family.graph, mode="fixed",
                      calibration=family.graph_input(split.x_train.numpy().astype(np.float32)))
    assert _has(FEATURES[folder], low), f"{folder}: the fixed graph has no {FEATURES[folder]}"
    x = family.graph_input(split.x_test.numpy().astype(np.float32)[:2])
    name = low.program.step.inputs[0]
    inp = step_inputs(low.program, x)
    inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    rec = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-test-"), record_membrane=True)
    assert_lava_equals_fixed_executor(low, rec, x, label=folder)
