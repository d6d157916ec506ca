"""ONNX export of the IR, for viewing in Netron and for exchange.

Every IR node becomes standard ONNX operators (default domain, opset ``OPSET``) wherever their
semantics match the IR op exactly, for the recorded (concrete) shapes:

* ``linear`` → ``Gemm`` (2-D input) or ``Transpose``+``MatMul``+``Add``; ``conv1d/2d`` → ``Conv``;
  ``batch_norm`` → ``BatchNormalization`` (inference); ``layer_norm`` → ``LayerNormalization``;
* ``add sub mul div neg relu clamp identity`` → ``Add Sub Mul Div Neg Relu Clip Identity`` (a ``Cast``
  is inserted where an operand's dtype differs from the result's);
* ``matmul`` → ``MatMul``, except a product of two *dynamic* tensors one of which is a spike train
  (``binary`` domain) → ``SpikeMatMul`` in the custom domain (same math as ``MatMul``);
* shapes: ``reshape permute expand repeat slice concat stack split`` → ``Reshape Transpose Expand
  Tile Slice(+Squeeze/Unsqueeze) Concat Unsqueeze+Concat Split``;
* ``max_pool* avg_pool*`` → ``MaxPool AveragePool`` (``ceil_mode`` passed through; exact for
  ``ceil_mode=False``), ``adaptive_avg_pool2d`` → ``GlobalAveragePool``/``AveragePool`` when the
  windows are uniform; ``sum mean amax`` → ``ReduceSum ReduceMean ReduceMax``;
* ``softmax log_softmax exp log sqrt sigmoid tanh gelu pow`` → their ONNX namesakes; ``silu`` →
  ``Sigmoid``+``Mul``.

Spiking neurons (``lif``) become ``LIF`` in the custom domain ``DOMAIN`` (``ai.snncompile``), and any
IR op without an exact ONNX equivalent becomes a custom op named after it in CamelCase.  A custom
node carries the IR attributes as ONNX attributes for display (bool → int, ``None`` omitted — for
``LIF`` an absent ``tau`` means no leak (IF) and an absent ``v_reset`` a soft reset, also spelled
out as ``reset``) and, exactly, the IR op and attributes as JSON in ``ir_op``/``ir_attrs``.

Constants are initializers; every value has a ``value_info`` with its dtype and shape and its value
domain in ``doc_string`` (``domain: int[0,4]``); each node's ``doc_string`` gives module path, source
line and output domains.  ``reference_evaluator(model)`` returns an ``onnx.reference``
evaluator that also runs the custom ops with the IR's reference semantics.

``onnx`` is imported lazily: the rest of snncompile imports without it.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

import numpy as np

from snncompile import __version__, ops
from snncompile.errors import BackendUnavailableError
from snncompile.ir.graph import Graph, Node
from snncompile.ir.serialize import atomic_write, decode_value, encode_value

DOMAIN = "ai.snncompile"
DOMAIN_VERSION = 1
OPSET = 20
INT64_MIN = -(2 ** 63)

_ELEM = {"float32": "FLOAT", "float64": "DOUBLE", "float16": "FLOAT16", "bfloat16": "BFLOAT16",
         "int64": "INT64", "int32": "INT32", "int16": "INT16", "int8": "INT8", "uint8": "UINT8",
         "bool": "BOOL"}
_SIMPLE = {"neg": "Neg", "relu": "Relu", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sigmoid": "Sigmoid",
           "tanh": "Tanh"}
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"}
_REDUCE = {"sum": "ReduceSum", "mean": "ReduceMean", "amax": "ReduceMax"}


def _onnx():
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - onnx is a declared dependency

        raise BackendUnavailableError("ONNX export needs the 'onnx' package (pip install onnx)") from e
    return onnx


def elem_type(dtype: str) -> int:
    """The ``TensorProto`` element type of an IR dtype string (``"float32"`` → ``FLOAT``)."""
    onnx = _onnx()
    if dtype in _ELEM:
        return getattr(onnx.TensorProto, _ELEM[dtype])
    try:
        return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (TypeError, KeyError, ValueError):
        raise ValueError(f"no ONNX element type for dtype {dtype!r}") from None


_CUSTOM_TYPES = {"lif": "LIF", "matmul": "SpikeMatMul"}  # the custom op types that are not CamelCase of the op


def custom_op_type(ir_op: str) -> str:
    """The custom ONNX op type for an IR op: ``lif`` → ``LIF``, ``adaptive_avg_pool2d`` → ``AdaptiveAvgPool2d``."""
    return _CUSTOM_TYPES.get(ir_op) or "".join(p[:1].upper() + p[1:] for p in ir_op.split("_"))


class _Builder:
    """Accumulates ONNX nodes and initializers for one IR graph."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.onnx = _onnx()
        self.nodes: list = []
        self.inits: list = []
        self.taken = set(graph.values) | {n.name for n in graph.nodes}
        self.current: Optional[Node] = None
        self.named: set[str] = set()

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    def const(self, suffix: str, array) -> str:
        name = self.fresh(f"{self.current.name}__{suffix}")
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, suffix: str, values) -> str:
        return self.const(suffix, np.asarray(list(values), dtype=np.int64))

    def add(self, op_type: str, inputs: list[str], outputs: list[str] | None = None, *, domain: str = "",
            **attrs) -> list[str]:
        """Append a node; ``outputs`` default to one fresh temporary.  Returns the output names."""
        n = self.current
        outputs = outputs or [self.fresh(f"{n.name}__{op_type.lower()}")]
        if set(outputs) & set(n.outputs) and n.name not in self.named:
            name = n.name  # the node that defines the IR node's result carries its name
            self.named.add(name)
        else:
            name = self.fresh(f"{n.name}/{op_type}")
        node = self.onnx.helper.make_node(op_type, inputs, outputs, name=name, domain=domain or None,
                                          **{k: v for k, v in attrs.items() if v is not None})
        node.doc_string = _node_doc(self.g, n)
        self.nodes.append(node)
        return outputs

    # -- helpers on IR values ----------------------------------------------------------------------
    def shape(self, value: str) -> tuple[int, ...]:
        return tuple(self.g.values[value].shape)

    def dtype(self, value: str) -> str:
        return self.g.values[value].dtype

    def cast(self, value: str, dtype: str) -> str:
        if self.dtype(value) == dtype:
            return value
        return self.add("Cast", [value], to=elem_type(dtype))[0]

    def scalar(self, suffix: str, x, dtype: str) -> str:
        return self.const(suffix, np.asarray(x, dtype=np.dtype(dtype if dtype != "bfloat16" else "float32")))


def _node_doc(g: Graph, n: Node) -> str:
    doms = ", ".join(f"{v}: {g.values[v].domain if g.values[v].domain is not None else '?'}" for v in n.outputs)
    lines = [f"snncompile op: {n.op}", f"module: {n.module or '<root>'}"]
    if n.source:
        lines.append(f"source: {n.source}")
    lines.append(f"domains: {doms}")
    return "\n".join(lines)


# -- converters ------------------------------------------------------------------------------------

Converter = Callable[[_Builder, Node], None]


def _converts(*names: str):
    """Register ``fn`` as the ``"onnx"`` hook (emitter) of the ops ``names``."""

    def wrap(fn: Converter) -> Converter:
        for name in names:
            ops.implements(name, "onnx")(fn)
        return fn

    return wrap


@_converts(*_SIMPLE)
def _simple(b: _Builder, n: Node) -> None:
    b.add(_SIMPLE[n.op], [n.inputs[0]], list(n.outputs))


@_converts(*_BINARY)
def _binary(b: _Builder, n: Node) -> None:
    dt = b.dtype(n.outputs[0])
    b.add(_BINARY[n.op], [b.cast(v, dt) for v in n.inputs], list(n.outputs))


@_converts("identity")
def _identity(b: _Builder, n: Node) -> None:
    dt = b.dtype(n.outputs[0])
    if b.dtype(n.inputs[0]) != dt:
        b.add("Cast", [n.inputs[0]], list(n.outputs), to=elem_type(dt))
    else:
        b.add("Identity", [n.inputs[0]], list(n.outputs))


@_converts("clamp")
def _clamp(b: _Builder, n: Node) -> None:
    dt = b.dtype(n.inputs[0])
    lo, hi = n.attrs.get("min"), n.attrs.get("max")
    ins = [n.inputs[0], "" if lo is None else b.scalar("min", lo, dt), "" if hi is None else b.scalar("max", hi, dt)]
    while ins and ins[-1] == "":
        ins.pop()
    b.add("Clip", ins, list(n.outputs))


@_converts("matmul")
def _matmul(b: _Builder, n: Node) -> None:
    vals = [b.g.values[v] for v in n.inputs]
    spikes = [i for i, v in enumerate(vals) if v.domain is not None and v.domain.is_binary]
    if not any(v.constant for v in vals) and spikes:
        _custom(b, n, extra={"spike_operands": spikes})
    else:
        b.add("MatMul", list(n.inputs), list(n.outputs))


@_converts("linear")
def _linear(b: _Builder, n: Node) -> None:
    x, w = n.inputs[0], n.inputs[1]
    bias = n.inputs[2] if len(n.inputs) > 2 else None
    if len(b.shape(x)) == 2:
        b.add("Gemm", [x, w] + ([bias] if bias else []), list(n.outputs), transB=1)
        return
    wt = b.add("Transpose", [w], perm=[1, 0])[0]
    if bias is None:
        b.add("MatMul", [x, wt], list(n.outputs))
    else:
        y = b.add("MatMul", [x, wt])[0]
        b.add("Add", [y, bias], list(n.outputs))


@_converts("conv1d", "conv2d")
def _conv(b: _Builder, n: Node) -> None:
    a = n.attrs
    kernel = list(b.shape(n.inputs[1])[2:])
    b.add("Conv", list(n.inputs), list(n.outputs), kernel_shape=kernel, strides=list(a["stride"]),
          pads=list(a["padding"]) * 2, dilations=list(a["dilation"]), group=int(a.get("groups", 1)))


@_converts("batch_norm")
def _batch_norm(b: _Builder, n: Node) -> None:
    x, mean, var, gamma, beta = n.inputs
    c = b.shape(mean)[0]
    dt = b.dtype(mean)
    if b.g.values[gamma].constant and b.g.constants.get(gamma) is not None and b.g.constants[gamma].size == 0:
        gamma = b.scalar("gamma", np.ones(c), dt)
    if b.g.values[beta].constant and b.g.constants.get(beta) is not None and b.g.constants[beta].size == 0:
        beta = b.scalar("beta", np.zeros(c), dt)
    b.add("BatchNormalization", [x, gamma, beta, mean, var], list(n.outputs), epsilon=float(n.attrs["eps"]))


@_converts("layer_norm")
def _layer_norm(b: _Builder, n: Node) -> None:
    k = len(n.attrs["normalized_shape"])
    x = n.inputs[0]
    scale = n.inputs[1] if len(n.inputs) > 1 else b.scalar("scale", np.ones(b.shape(x)[-k:]), b.dtype(x))
    ins = [x, scale] + list(n.inputs[2:3])
    b.add("LayerNormalization", ins, list(n.outputs), axis=-k, epsilon=float(n.attrs["eps"]))


@_converts("reshape")
def _reshape(b: _Builder, n: Node) -> None:
    b.add("Reshape", [n.inputs[0], b.ints("shape", n.attrs["shape"])], list(n.outputs))


@_converts("permute")
def _permute(b: _Builder, n: Node) -> None:
    b.add("Transpose", [n.inputs[0]], list(n.outputs), perm=[int(d) for d in n.attrs["dims"]])


@_converts("expand")
def _expand(b: _Builder, n: Node) -> None:
    b.add("Expand", [n.inputs[0], b.ints("shape", n.attrs["shape"])], list(n.outputs))


@_converts("repeat")
def _repeat(b: _Builder, n: Node) -> None:
    reps = [int(r) for r in n.attrs["repeats"]]
    x = n.inputs[0]
    shape = b.shape(x)
    if len(reps) > len(shape):
        x = b.add("Reshape", [x, b.ints("shape", (1,) * (len(reps) - len(shape)) + shape)])[0]
    b.add("Tile", [x, b.ints("repeats", reps)], list(n.outputs))


@_converts("slice")
def _slice(b: _Builder, n: Node) -> None:
    """Basic indexing → Slice over the sliced axes, Squeeze the int-indexed ones, Unsqueeze for None."""
    shape = b.shape(n.inputs[0])
    spec = list(n.attrs["index"])
    consuming = sum(1 for it in spec if isinstance(it, dict) or (isinstance(it, int) and not isinstance(it, bool)))
    items: list = []
    for it in spec:
        if it == "...":
            items.extend([{"slice": [None, None, None]}] * (len(shape) - consuming))
        else:
            items.append(it)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_pos = 0
    for it in items:
        if it is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        dim = shape[axis]
        if isinstance(it, dict):
            start, stop, step = slice(*it["slice"]).indices(dim)
            if (start, stop, step) != (0, dim, 1):
                if step < 0 and stop < 0:
                    stop = INT64_MIN
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_pos += 1
        else:
            i = int(it) + (dim if int(it) < 0 else 0)
            starts.append(i), ends.append(i + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        axis += 1
    x = n.inputs[0]
    stages = [bool(axes), bool(squeeze), bool(unsqueeze)]
    last = max([i for i, s in enumerate(stages) if s], default=-1)
    if last < 0:
        b.add("Identity", [x], list(n.outputs))
        return
    if axes:
        x = b.add("Slice", [x, b.ints("starts", starts), b.ints("ends", ends), b.ints("axes", axes),
                            b.ints("steps", steps)], list(n.outputs) if last == 0 else None)[0]
    if squeeze:
        x = b.add("Squeeze", [x, b.ints("squeeze_axes", squeeze)], list(n.outputs) if last == 1 else None)[0]
    if unsqueeze:
        b.add("Unsqueeze", [x, b.ints("unsqueeze_axes", unsqueeze)], list(n.outputs))


@_converts("concat")
def _concat(b: _Builder, n: Node) -> None:
    b.add("Concat", list(n.inputs), list(n.outputs), axis=int(n.attrs["axis"]))


@_converts("stack")
def _stack(b: _Builder, n: Node) -> None:
    axes = b.ints("axes", [int(n.attrs["axis"])])
    parts = [b.add("Unsqueeze", [v, axes])[0] for v in n.inputs]
    b.add("Concat", parts, list(n.outputs), axis=int(n.attrs["axis"]))


@_converts("split")
def _split(b: _Builder, n: Node) -> None:
    b.add("Split", [n.inputs[0], b.ints("split", n.attrs["sizes"])], list(n.outputs), axis=int(n.attrs["axis"]))


def _pooled(b: _Builder, n: Node, nd: int, op_type: str, **attrs) -> None:
    """Apply an N-C-spatial pool, folding any other leading axes into C (pools act per channel)."""
    x, shape = n.inputs[0], b.shape(n.inputs[0])
    if len(shape) == nd + 2:
        b.add(op_type, [x], list(n.outputs), **attrs)
        return
    lead = int(np.prod(shape[:-nd])) if len(shape) > nd else 1
    x = b.add("Reshape", [x, b.ints("nc_shape", (1, lead) + shape[-nd:])])[0]
    y = b.add(op_type, [x], **attrs)[0]
    b.add("Reshape", [y, b.ints("out_shape", b.shape(n.outputs[0]))], list(n.outputs))


@_converts("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d")
def _pool(b: _Builder, n: Node) -> None:
    a = n.attrs
    nd = len(a["kernel"])
    common = dict(kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=list(a["padding"]) * 2,
                  ceil_mode=int(bool(a.get("ceil_mode", False))))
    if ops.get(n.op).pooling == "max":
        _pooled(b, n, nd, "MaxPool", dilations=list(a.get("dilation", [1] * nd)), **common)
    else:
        _pooled(b, n, nd, "AveragePool", count_include_pad=1, **common)


@_converts("adaptive_avg_pool2d")
def _adaptive(b: _Builder, n: Node) -> None:
    h, w = b.shape(n.inputs[0])[-2:]
    oh, ow = n.attrs["output_size"]
    if (oh, ow) == (1, 1):
        _pooled(b, n, 2, "GlobalAveragePool")
    elif h % oh == 0 and w % ow == 0:
        k = [h // oh, w // ow]
        _pooled(b, n, 2, "AveragePool", kernel_shape=k, strides=k)
    else:
        _custom(b, n)


@_converts(*_REDUCE)
def _reduce(b: _Builder, n: Node) -> None:
    dims = n.attrs.get("dims")
    ins = [n.inputs[0]] + ([b.ints("axes", dims)] if dims is not None else [])
    b.add(_REDUCE[n.op], ins, list(n.outputs), keepdims=int(bool(n.attrs.get("keepdim", False))))


_ALONG_AXIS = {"softmax": "Softmax", "log_softmax": "LogSoftmax"}


@_converts(*_ALONG_AXIS)
def _softmax(b: _Builder, n: Node) -> None:
    b.add(_ALONG_AXIS[n.op], [n.inputs[0]], list(n.outputs), axis=int(n.attrs.get("axis", -1)))


@_converts("gelu")
def _gelu(b: _Builder, n: Node) -> None:
    b.add("Gelu", [n.inputs[0]], list(n.outputs), approximate="none")


@_converts("silu")
def _silu(b: _Builder, n: Node) -> None:
    s = b.add("Sigmoid", [n.inputs[0]])[0]
    b.add("Mul", [n.inputs[0], s], list(n.outputs))


@_converts("pow")
def _pow(b: _Builder, n: Node) -> None:
    e = b.scalar("exponent", n.attrs["exponent"], b.dtype(n.inputs[0]))
    b.add("Pow", [n.inputs[0], e], list(n.outputs))


@_converts("lif")
def _lif(b: _Builder, n: Node) -> None:
    _custom(b, n, extra={"reset": "soft" if n.attrs.get("v_reset", 0.0) is None else "hard"})


def _custom(b: _Builder, n: Node, extra: Optional[dict] = None) -> None:
    """A node in the custom domain: readable attributes plus the exact IR op and attributes."""

    attrs: dict[str, Any] = {}
    for k, v in list(n.attrs.items()) + list((extra or {}).items()):
        conv = _display_attr(v)
        if conv is not None:
            attrs[k] = conv
    attrs["ir_op"] = n.op
    attrs["ir_attrs"] = json.dumps(encode_value(dict(n.attrs), f"node {n.name}"), allow_nan=False,
                                   sort_keys=False)
    b.add(custom_op_type(n.op), list(n.inputs), list(n.outputs), domain=DOMAIN, **attrs)


for _op in ops.all_ops().values():  # the rest export as themselves, in the custom domain
    if not _op.has_hook("onnx"):
        ops.implements(_op.name, "onnx")(_custom)


def _display_attr(v: Any):
    """An ONNX attribute value for display: None → omitted, bool → int, nested → JSON text."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, str)):
        return v
    if isinstance(v, (list, tuple)) and v:
        if all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return [int(x) for x in v]
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            return [float(x) for x in v]
        if all(isinstance(x, str) for x in v):
            return list(v)

    return json.dumps(encode_value(v), allow_nan=False)


# -- model -----------------------------------------------------------------------------------------

def to_onnx(graph: Graph):
    """The ``onnx.ModelProto`` of ``graph`` (see the module docstring for the op mapping)."""
    onnx = _onnx()
    helper = onnx.helper
    b = _Builder(graph)
    for n in graph.nodes:
        b.current = n
        ops.get(n.op).hooks.get("onnx", _custom)(b, n)  # an op registered after this module: custom domain
    for name in graph.constants:
        if name in graph.values:
            b.inits.append(onnx.numpy_helper.from_array(np.asarray(graph.constants[name]), name))

    def info(name: str):
        v = graph.values[name]
        vi = helper.make_tensor_value_info(name, elem_type(v.dtype), list(v.shape))
        vi.doc_string = f"domain: {v.domain if v.domain is not None else '?'}" + \
                        (" (constant)" if v.constant else "")
        return vi

    io = set(graph.inputs) | set(graph.outputs)
    value_info = [info(v) for v in graph.values if v not in io]
    meta = graph.meta
    g = helper.make_graph(b.nodes, str(meta.get("model") or "snncompile_graph"),
                          [info(v) for v in graph.inputs], [info(v) for v in graph.outputs],
                          initializer=b.inits, value_info=value_info,
                          doc_string="spike-graph IR exported by snncompile")
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, DOMAIN_VERSION)]
    model = helper.make_model(g, opset_imports=opsets, producer_name="snncompile",
                              producer_version=_version())
    model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    props = {"snncompile.meta": json.dumps(_json_meta(meta), allow_nan=False, sort_keys=True),
             "snncompile.domains": json.dumps({k: str(v.domain) for k, v in graph.values.items()
                                               if v.domain is not None}, sort_keys=True)}
    helper.set_model_props(model, props)
    return model


def _json_meta(meta: dict) -> Any:
    try:
        return encode_value(dict(meta), "graph meta")
    except TypeError:
        return {k: str(v) for k, v in meta.items()}


def _version() -> str:
    return __version__


def save_onnx(graph: Graph, path: str | os.PathLike, *, check: bool = True) -> None:
    """Export ``graph`` and write it to ``path`` atomically (checked with ``onnx.checker`` first)."""

    onnx = _onnx()
    model = to_onnx(graph)
    if check:
        onnx.checker.check_model(model)
    data = model.SerializeToString()
    atomic_write(path, lambda fh: fh.write(data))


# -- reference execution of the custom domain ------------------------------------------------------

def reference_evaluator(model, **kwargs):
    """An ``onnx.reference.ReferenceEvaluator`` that also runs the ``ai.snncompile`` custom ops.

    Each custom node is evaluated by the IR op's registered reference implementation
    (``snncompile.ops``) from its exact ``ir_op``/``ir_attrs``; single-step neurons sharing a
    ``state_key`` share their state for the evaluator's lifetime, as the IR executor does.
    """
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun


    shared: dict[str, dict] = {}

    def _run(self, *inputs, **attrs):
        ir_op = attrs["ir_op"]
        ir_attrs = decode_value(json.loads(attrs["ir_attrs"]))
        node = Node(self.onnx_node.name, ir_op, list(self.onnx_node.input), list(self.onnx_node.output), ir_attrs)
        stateful = ops.get(ir_op).across_time and ir_attrs.get("step_mode") == "single"
        key = ir_attrs.get("state_key") if stateful else None
        state = shared.setdefault(key, {}) if key is not None else {}
        return tuple(ops.get(ir_op).reference(node, list(inputs), state))

    types = {n.op_type for n in model.graph.node if n.domain == DOMAIN}
    new_ops = [type(t, (OpRun,), {"op_domain": DOMAIN, "_run": _run}) for t in sorted(types)]
    return ReferenceEvaluator(model, new_ops=new_ops, **kwargs)
