"""The text dump (``format_graph``): a golden check on a hand-built graph and a traced model's dump."""
import numpy as np

from snncompile.analysis import infer_domains
from snncompile.ir import Domain, Graph, Node, Value, format_graph, load_graph, save_graph


def golden_graph() -> Graph:
    g = Graph(meta={"model": "Tiny", "model_class": "pkg.models.Tiny", "time_steps": 2, "batch": 1,
                    "parameters": 12})
    g.add_value(Value("x", (2, 1, 4), "float32", Domain.real()))
    g.inputs.append("x")
    g.add_constant("fc_weight", np.array([[0.5, -0.25, 0, 1], [1, 1, 1, 1], [-1, 0, 0, 0]], dtype=np.float32))
    g.add_constant("const", np.asarray(0.125, dtype=np.float32))
    g.add_value(Value("h", (2, 1, 3)))
    g.add_node(Node("fc__linear", "linear", ["x", "fc_weight"], ["h"], {}, "block.0.fc", "model.py:12"))
    g.add_value(Value("s", (2, 1, 3)))
    g.add_node(Node("lif__lif", "lif", ["h"], ["s"],
                    {"tau": 2.0, "v_threshold": 1.0, "v_reset": None, "fire": "ge", "step_mode": "multi",
                     "neuron_class": "spikingjelly.clock_driven.neuron.MultiStepLIFNode"},
                    "block.0.lif", "model.py:13"))
    g.add_value(Value("t", (1, 3)))
    g.add_node(Node("sl", "slice", ["s"], ["t"], {"index": [0, "...", {"slice": [None, 3, None]}]},
                    "block.0", "model.py:14"))
    g.add_value(Value("r", (1,)))
    g.add_node(Node("sum", "sum", ["t"], ["r"], {"dims": [1], "keepdim": False}, "", "model.py:15"))
    g.add_value(Value("y", (1,)))
    g.add_node(Node("scale", "mul", ["r", "const"], ["y"], {}, "", "model.py:15"))
    g.outputs.append("y")
    return infer_domains(g)


GOLDEN = """\
# model: Tiny (pkg.models.Tiny)
# time steps: 2, batch: 1, parameters: 12, nodes: 5
graph Tiny(%x : f32[2,1,4] real) {
  # 2 constants, 13 elements
  @fc_weight : f32[3,4] real[-1,1]
  @const : f32[] real[0.125,0.125] = 0.125
  %h : f32[2,1,3] real = linear(%x, @fc_weight)  # block.0.fc  model.py:12
  %s : f32[2,1,3] binary = lif(%h) {tau=2, v_threshold=1, v_reset=None, fire="ge", step_mode="multi", \
neuron_class="MultiStepLIFNode"}  # block.0.lif  model.py:13
  %t : f32[1,3] binary = slice(%s) {index=[0,...,:3]}  # block.0  model.py:14
  %r : f32[1] int[0,3] = sum(%t) {dims=[1], keepdim=False}  # <root>  model.py:15
  %y : f32[1] real[0,0.375] = mul(%r, @const)  # <root>  model.py:15
  return %y
}
"""


def test_golden():
    assert format_graph(golden_graph()) == GOLDEN


def test_show_constants_prints_values():
    text = format_graph(golden_graph(), show_constants=True)
    assert "@fc_weight : f32[3,4] real[-1,1] = [[0.5,-0.25,0,1],[1,1,1,1],[-1,0,0,0]]" in text
    g = golden_graph()
    g.add_constant("big", np.arange(100, dtype=np.float32))
    assert "@big : f32[100] int[0,99] = [0,1,2,...,98,99] (100 elements, row-major)" in \
        format_graph(g, show_constants=True)
    assert "@big : f32[100] int[0,99]\n" in format_graph(g)


def test_before_domain_inference_and_long_lists():
    g = Graph()
    g.add_value(Value("x", tuple(range(1, 11))))
    g.inputs.append("x")
    g.add_value(Value("y", (3628800,)))
    g.add_node(Node("r", "reshape", ["x"], ["y"], {"shape": [3628800]}))
    g.add_value(Value("z", tuple(range(1, 11))))
    g.add_node(Node("p", "permute", ["y"], ["z"], {"dims": list(range(10))}))
    g.outputs.append("z")
    text = format_graph(g)
    assert text.startswith("# model: graph\n")
    assert "%x : f32[1,2,3,4,5,6,7,8,9,10] ?" in text
    assert "{dims=[0,1,2,...,8,9] (10 items)}  # <root>\n" in text


def test_traced_model_dump(traced, tmp_path):
    text = format_graph(traced)
    assert text == format_graph(traced)  # deterministic
    for needle in ("# model: Tiny", "block.0.q_lif", "block.0.q_linear", "block.0.attn_lif", "  # bn  ",
                   " binary = lif(", " = matmul(", "int[0,", "real[", "conftest.py:",
                   "return %"):
        assert needle in text, needle
    weight = traced.nodes[next(i for i, n in enumerate(traced.nodes) if n.module == "block.0.q_linear")].inputs[1]
    assert f"\n  @{weight} : f32[8,8] real[" in text
    lif_line = next(line for line in text.splitlines() if "# block.0.k_lif" in line)
    assert "tau=2" in lif_line and 'neuron_class="MultiStepLIFNode"' in lif_line
    # a saved and reloaded graph prints identically
    save_graph(traced, tmp_path / "m.snnir")
    assert format_graph(load_graph(tmp_path / "m.snnir")) == text
