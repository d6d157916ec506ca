"""A readable text dump of a graph (``snncompile show``), in the spirit of MLIR / ``torch.fx`` print.

Layout::

    # model: M (pkg.models.M)
    # time steps: 4, batch: 1, parameters: 2,054, nodes: 71
    graph M(%input : f32[1,1,8,8] real) {
      # 3 constants, 2,054 elements
      @conv_weight : f32[16,1,3,3] real[-0.33,0.33]
      @const : f32[] real[0.125,0.125] = 0.125
      %conv__conv2d_out : f32[4,16,8,8] real = conv2d(%input, @conv_weight) {stride=[1,1], ...}  # conv  m.py:31
      %lif__lif_out : f32[4,16,8,8] binary = lif(%conv__conv2d_out) {tau=2, v_threshold=1, ...}  # lif  m.py:32
      return %head__linear_out
    }

``%name`` is a dynamic value, ``@name`` a constant; every value shows its dtype, shape and value
domain (``?`` before domain inference); ``show_constants`` adds each constant's values (small
arrays in full, larger ones as their first and last elements).  After ``#`` a node line gives the
module path as ``named_modules()`` spells it (``<root>`` for the model itself) and the source line
of the call.  Scalar (one-element) constants print their value.  Attributes print in their stored
order; floats with up to 6 significant digits, lists longer than 8 items abbreviated, slice specs as
Python indexing (``[:,0,...]``), ``neuron_class`` as the bare class name.  The output depends only
on the graph: it is deterministic.
"""
from __future__ import annotations

import math
from typing import Any

from .graph import Graph, Value

_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16", "int64": "i64",
           "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "bool"}
MAX_LIST = 8


def format_graph(graph: Graph, *, show_constants: bool = False) -> str:
    """The text dump of ``graph``; with ``show_constants`` each constant's values are printed too."""
    meta = graph.meta
    name = str(meta.get("model") or "graph")
    lines = []
    head = f"# model: {name}"
    if meta.get("model_class"):
        head += f" ({meta['model_class']})"
    lines.append(head)
    n_const = sum(int(a.size) for a in graph.constants.values())
    params = meta.get("parameters")
    facts = []
    if meta.get("time_steps") is not None:
        facts.append(f"time steps: {meta['time_steps']}")
    if meta.get("batch") is not None:
        facts.append(f"batch: {meta['batch']}")
    facts.append(f"parameters: {params:,}" if isinstance(params, int) else f"parameters: {n_const:,} (constants)")
    facts.append(f"nodes: {len(graph.nodes)}")
    lines.append("# " + ", ".join(facts))
    ins = ", ".join(f"{_ref(graph, v)} : {_type(graph.values[v])}" for v in graph.inputs)
    lines.append(f"graph {name}({ins}) {{")
    if graph.constants:
        lines.append(f"  # {len(graph.constants)} constants, {n_const:,} elements")
    for v in graph.values.values():
        if v.constant:
            lines.append("  " + _constant_line(graph, v, show_constants))
    for n in graph.nodes:
        outs = ", ".join(_ref(graph, v) for v in n.outputs)
        types = ", ".join(_type(graph.values[v]) for v in n.outputs)
        args = ", ".join(_ref(graph, v) for v in n.inputs)
        line = f"  {outs} : {types} = {n.op}({args})"
        if n.attrs:
            line += " {" + ", ".join(f"{k}={_attr(_short(k, v))}" for k, v in n.attrs.items()) + "}"
        line += f"  # {n.module or '<root>'}"
        if n.source:
            line += f"  {n.source}"
        lines.append(line)
    lines.append("  return " + ", ".join(_ref(graph, v) for v in graph.outputs))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _ref(graph: Graph, name: str) -> str:
    v = graph.values.get(name)
    return ("@" if v is not None and v.constant else "%") + name


def short_dtype(dtype: str) -> str:
    return _DTYPES.get(dtype, dtype)


def _type(v: Value) -> str:
    dom = "?" if v.domain is None else str(v.domain)
    return f"{short_dtype(v.dtype)}[{','.join(str(s) for s in v.shape)}] {dom}"


def _constant_line(graph: Graph, v: Value, show: bool) -> str:
    line = f"@{v.name} : {_type(v)}"
    arr = graph.constants.get(v.name)
    if arr is None:
        return line
    if arr.size == 1:
        return line + " = " + _num(arr.reshape(-1)[0].item())
    if show:
        if arr.size <= 2 * MAX_LIST:
            line += " = " + _attr(arr.tolist())
        else:
            flat = arr.reshape(-1)
            items = [_num(x) for x in flat[:3].tolist()] + ["..."] + [_num(x) for x in flat[-2:].tolist()]
            line += f" = [{','.join(items)}] ({arr.size:,} elements, row-major)"
    return line


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        return "nan"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _short(key: str, v: Any) -> Any:
    """``neuron_class`` prints as the bare class name (its module is noise in a dump)."""
    if key == "neuron_class" and isinstance(v, str):
        return v.rsplit(".", 1)[-1]
    return v


def _index(spec: list) -> str:
    parts = []
    for it in spec:
        if isinstance(it, dict) and "slice" in it:
            start, stop, step = (list(it["slice"]) + [None] * 3)[:3]
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            parts.append(text + (f":{step}" if step is not None else ""))
        elif it is None:
            parts.append("None")
        else:
            parts.append(str(it))
    return "[" + ",".join(parts) + "]"


def _attr(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, (list, tuple)):
        if any(isinstance(x, dict) and "slice" in x for x in v):
            return _index(list(v))
        items = [_attr(x) for x in v]
        if len(items) > MAX_LIST:
            return "[" + ",".join(items[:3] + ["..."] + items[-2:]) + f"] ({len(v)} items)"
        return "[" + ",".join(items) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_attr(x)}" for k, x in v.items()) + "}"
    return _num(v)
