"""``.snnir`` round trip (save → load gives an equal graph) and one-line errors on bad files."""
import io
import json
import math
import re
import os
import zipfile

import numpy as np
import pytest

from snncompile.errors import InputError
from snncompile.ir import Domain, Graph, Node, Value, save_graph
from snncompile.ops import load_graph
from snncompile.ir.serialize import FORMAT, GRAPH_MEMBER, VERSION, decode_value, encode_value


def small_graph() -> Graph:
    """A hand-built graph exercising awkward attributes, domains and constant dtypes."""
    g = Graph(meta={"model": "tiny", "time_steps": None, "input_shapes": [[2, 3]], "tag": ("a", 1)})
    g.add_value(Value("x", (2, 3), "float32", Domain.real(-3.14854321, 3.31038)))
    g.inputs.append("x")
    g.add_constant("w", np.arange(12, dtype=np.float32).reshape(4, 3) / 7)
    # NaN/inf constant: declared by hand (Domain.of_array has no meaningful interval for NaN)
    g.constants["b"] = np.array([0.1, -np.inf, np.nan, 1e-30], dtype=np.float64)
    g.add_value(Value("b", (4,), "float64", Domain.real(), constant=True))
    g.add_constant("s", np.asarray(0.125, dtype=np.float32))
    g.add_constant("odd name/with slash", np.array([1, 2], dtype=np.int64))
    g.add_value(Value("y", (2, 4), "float32", Domain.real(-math.inf, 2.5)))
    g.add_node(Node("lin", "linear", ["x", "w", "b"], ["y"], {}, "block.0.fc", "model.py:12"))
    g.add_value(Value("z", (2, 4), "float32", Domain.binary()))
    attrs = {"tau": None, "inv_tau": 0.1 + 0.2, "decay_input": True, "v_threshold": 1, "v_reset": None,
             "fire": "ge", "style": "charge-fire-reset", "step_mode": "multi", "beta": -0.0,
             "extra": [math.inf, -math.inf, math.nan, [1, [2.5, None]], {"k": False}],
             "tag_like": {"$float": "inf"}, "empty": {}, "tup": (1, (2.0, "x")), "unicode": "τ ≥ V_th",
             "big": 2 ** 62}
    g.add_node(Node("neuron", "lif", ["y"], ["z"], attrs, "block.0.lif", "model.py:13"))
    g.add_value(Value("u", (2, 2), "float32", Domain.integer_range(0, 4)))
    spec = [{"slice": [None, None, None]}, {"slice": [0, -1, 2]}, None, "..."]
    g.add_node(Node("sl", "slice", ["z"], ["u"], {"index": spec}, "", ""))
    g.add_value(Value("o", (2, 2), "float32", None))
    g.add_node(Node("m", "mul", ["u", "s"], ["o"], {}, "", "model.py:14"))
    g.outputs.append("o")
    return g


@pytest.mark.parametrize("value", [
    None, True, False, 0, -3, 2 ** 70, 1.5, -0.0, math.inf, -math.inf, "s", "$float", [], {}, (),
    [1, 2.0, None, "x"], (1, [2, (3,)]), {"a": {"b": [math.inf]}}, {"$tuple": [1]}, {"$x": 1, "$y": 2},
    [{"slice": [None, 5, -1]}, "...", None, 3],
])
def test_encode_value_round_trips(value):
    text = json.dumps(encode_value(value), allow_nan=False)
    back = decode_value(json.loads(text))
    assert repr(back) == repr(value) and type(back) is type(value)


def test_nan_round_trips():
    back = decode_value(json.loads(json.dumps(encode_value([math.nan]), allow_nan=False)))
    assert math.isnan(back[0])


def test_encode_rejects_unknown_types():
    with pytest.raises(TypeError, match="cannot serialise"):
        encode_value({"a": object()})
    with pytest.raises(TypeError, match="keys must be strings"):
        encode_value({1: 2})


def test_hand_built_round_trip(tmp_path, graphs_equal):
    g = small_graph()
    path = tmp_path / "g.snnir"
    save_graph(g, path)
    g2 = load_graph(path)
    graphs_equal(g, g2)
    assert math.isnan(g2.nodes[1].attrs["extra"][2])
    assert g2.nodes[1].attrs["tag_like"] == {"$float": "inf"}
    assert g2.values["x"].domain.lo == -3.14854321  # str() would have rounded it
    # saving the loaded graph gives the same graph.json
    save_graph(g2, tmp_path / "g2.snnir")
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(tmp_path / "g2.snnir") as b:
        assert a.read(GRAPH_MEMBER) == b.read(GRAPH_MEMBER)


def test_file_is_npz_compatible(tmp_path):
    g = small_graph()
    path = tmp_path / "g.snnir"
    save_graph(g, path)
    with np.load(path) as npz:
        assert "w" in npz.files and "s" in npz.files
        np.testing.assert_array_equal(npz["w"], g.constants["w"])
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read(GRAPH_MEMBER))
        assert json.dumps(doc, allow_nan=False)  # strict JSON: no Infinity / NaN literals
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    entry = next(v for v in doc["values"] if v["name"] == "x")
    assert entry["domain"] == {"lo": -3.14854321, "hi": 3.31038, "integer": False}


def test_traced_model_round_trip(traced, tmp_path, graphs_equal):
    g = traced
    assert any(n.op == "lif" for n in g.nodes) and any(n.op == "matmul" for n in g.nodes)
    assert {"conv2d", "batch_norm", "linear", "max_pool2d", "mul", "add", "mean"} <= {n.op for n in g.nodes}
    # the test is only meaningful if some domain does not survive str() → parse()
    assert any(v.domain is not None and Domain.parse(str(v.domain)) != v.domain for v in g.values.values())
    path = tmp_path / "model.snnir"
    save_graph(g, path)
    g2 = load_graph(path)
    graphs_equal(g, g2)
    # the loaded graph supports the analyses: re-inferring domains changes nothing
    from snncompile.analysis import infer_domains

    before = {k: v.domain for k, v in g2.values.items()}
    infer_domains(g2)
    assert before == {k: v.domain for k, v in g2.values.items()}


def test_save_is_atomic(tmp_path):
    path = tmp_path / "g.snnir"
    save_graph(small_graph(), path)
    before = path.read_bytes()
    bad = small_graph()
    bad.nodes[1].attrs["oops"] = object()
    with pytest.raises(TypeError, match="cannot serialise"):
        save_graph(bad, path)
    assert path.read_bytes() == before
    with pytest.raises(TypeError, match="cannot serialise"):
        save_graph(bad, tmp_path / "new.snnir")
    assert sorted(os.listdir(tmp_path)) == ["g.snnir"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "g.snnir"
    save_graph(small_graph(), path)
    before = path.read_bytes()
    calls = []

    def failing_save(fh, arr, allow_pickle=False):
        calls.append(1)
        if len(calls) == 2:
            fh.write(b"partial")
            raise OSError("disk full")
        np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=allow_pickle)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_graph(small_graph(), path)
    with pytest.raises(OSError, match="disk full"):
        calls.clear()
        save_graph(small_graph(), tmp_path / "other.snnir")
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["g.snnir"]


# -- bad files -------------------------------------------------------------------------------------

def _assert_one_line_input_error(path, match=None):
    with pytest.raises(InputError, match=re.escape(str(path))) as info:
        load_graph(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    assert "\n" not in info.value.one_line()
    if match:
        assert match in text, text
    return text


def _rewrite(src, dst, *, doc=None, drop=(), replace=None):
    """Copy archive ``src`` to ``dst`` with graph.json replaced by ``doc`` and members dropped/replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename in drop:
                continue
            data = zin.read(item.filename)
            if item.filename == GRAPH_MEMBER and doc is not None:
                data = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
            if replace and item.filename in replace:
                data = replace[item.filename]
            zout.writestr(item.filename, data)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.snnir"
    save_graph(small_graph(), path)
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read(GRAPH_MEMBER))
    return path, doc


def test_missing_file_and_directory(tmp_path):
    _assert_one_line_input_error(tmp_path / "nope.snnir", "no such file")
    _assert_one_line_input_error(tmp_path, "directory")


def test_random_bytes_and_empty_file(tmp_path):
    p = tmp_path / "random.snnir"
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    _assert_one_line_input_error(p, "not a valid snncompile IR file")
    e = tmp_path / "empty.snnir"
    e.write_bytes(b"")
    _assert_one_line_input_error(e)
    t = tmp_path / "model.pt"
    t.write_text("this is text, not a graph\n")
    _assert_one_line_input_error(t)


def test_truncated_files(saved, tmp_path):
    path, _ = saved
    data = path.read_bytes()
    for cut in sorted({1, 10, 100, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1}):
        p = tmp_path / f"cut{cut}.snnir"
        p.write_bytes(data[:cut])
        _assert_one_line_input_error(p)


def test_flipped_bytes_detected(saved, tmp_path):
    path, _ = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(GRAPH_MEMBER)
    data[info.header_offset + 30 + len(GRAPH_MEMBER) + 5] ^= 0xFF  # inside compressed graph.json
    p = tmp_path / "flipped.snnir"
    p.write_bytes(bytes(data))
    _assert_one_line_input_error(p)


def test_other_zip_or_npz_is_not_a_graph(tmp_path):
    p = tmp_path / "arrays.npz"
    np.savez(p, a=np.zeros(3))
    _assert_one_line_input_error(p, f"no {GRAPH_MEMBER}")


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(format="something-else"), "does not declare format"),
    (lambda d: d.update(version=VERSION + 1), "newer than this snncompile reads"),
    (lambda d: d.update(version="1"), "not an integer"),
    (lambda d: d["nodes"][0].update(op="no_such_op"), "unknown op 'no_such_op'"),
    (lambda d: d["nodes"][1]["inputs"].__setitem__(0, "ghost"), "ghost"),
    (lambda d: d.update(outputs=["ghost"]), "ghost"),
    (lambda d: d["nodes"][1]["attrs"].pop("v_threshold"), "v_threshold"),
    (lambda d: d["values"][0].update(shape=[2, "3"]), "bad shape"),
    (lambda d: d["values"][0].update(domain={"lo": "a", "hi": 1, "integer": False}), "malformed"),
    (lambda d: d["values"][0].pop("dtype"), "missing field 'dtype'"),
    (lambda d: d.update(values=7), "not a list"),
    (lambda d: next(v for v in d["values"] if v["name"] == "w").update(shape=[3, 4]), "does not match"),
    (lambda d: d["nodes"].reverse(), "before it is defined"),
])
def test_corrupt_graph_json(saved, tmp_path, mutate, match):
    path, doc = saved
    mutate(doc)
    p = tmp_path / "bad.snnir"
    _rewrite(path, p, doc=doc)
    _assert_one_line_input_error(p, match)


def test_bad_json_and_missing_or_bad_arrays(saved, tmp_path):
    path, doc = saved
    p = tmp_path / "badjson.snnir"
    _rewrite(path, p, doc=b"{not json")
    _assert_one_line_input_error(p, "not valid JSON")
    p = tmp_path / "noarray.snnir"
    _rewrite(path, p, drop=("w.npy",))
    _assert_one_line_input_error(p, "w.npy is missing")
    p = tmp_path / "badarray.snnir"
    _rewrite(path, p, replace={"w.npy": b"\x93NUMPY garbage"})
    _assert_one_line_input_error(p, "unreadable")
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    p = tmp_path / "pickled.snnir"
    _rewrite(path, p, replace={"w.npy": buf.getvalue()})
    _assert_one_line_input_error(p, "unreadable")  # never unpickles
