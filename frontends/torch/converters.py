"""The converter table: torch function or tensor method → IR nodes.

Keys are canonical names (``torch.add``, ``Tensor.add``, ``Tensor.__add__`` and ``Tensor.__radd__``
all become ``add``; in-place ``add_``/``__iadd__`` too).  Each converter receives the tracer, the
positional and keyword arguments of the call and its concrete result, and emits nodes with the
recorded output shapes.  A call with dynamic operands and no converter is an error (SNN900).
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from snncompile.errors import UnsupportedOpError

Converter = Callable[..., None]
CONVERTERS: dict[str, Converter] = {}


def converts(*names: str):
    def wrap(fn: Converter) -> Converter:
        for n in names:
            CONVERTERS[n] = fn
        return fn

    return wrap


_REFLECTED = {"radd": "add", "rsub": "rsub", "rmul": "mul", "rtruediv": "rdiv", "rdiv": "rdiv",
              "rmatmul": "rmatmul"}


def canonical_name(func) -> str:
    name = getattr(func, "__name__", None) or str(func)
    if name.startswith("__") and name.endswith("__"):
        core = name[2:-2]
        if core in _REFLECTED:
            return _REFLECTED[core]
        if core.startswith("i") and core[1:] in ("add", "sub", "mul", "truediv", "div", "matmul"):
            core = core[1:]
        return {"truediv": "div", "getitem": "getitem", "setitem": "setitem"}.get(core, core)
    if name.endswith("_") and not name.startswith("_"):
        name = name[:-1]  # in-place variant: record the value it produces
    return {"true_divide": "div", "divide": "div", "multiply": "mul", "subtract": "sub",
            "concatenate": "cat", "concat": "cat", "swapaxes": "transpose", "swapdims": "transpose",
            "_max_pool1d": "max_pool1d", "_max_pool2d": "max_pool2d",
            "max_pool1d_with_indices": "max_pool1d", "max_pool2d_with_indices": "max_pool2d"}.get(name, name)


def convert(tr, func, args, kwargs, out) -> None:
    name = canonical_name(func)
    fn = CONVERTERS.get(name)
    if fn is None:
        raise UnsupportedOpError(
            f"unsupported op {_pretty(func)} in module {tr.current_module or '<root>'}"
            f"{' at ' + tr.source_line() if tr.source_line() else ''}: snncompile has no IR op for it")
    fn(tr, args, kwargs, out)


def _pretty(func) -> str:
    owner = getattr(func, "__objclass__", None) or getattr(func, "__module__", "") or ""
    owner = getattr(owner, "__name__", owner)
    return f"{owner}.{getattr(func, '__name__', func)}" if owner else str(getattr(func, "__name__", func))


def _arg(args, kwargs, i, key, default=None):
    if key in kwargs:
        return kwargs[key]
    return args[i] if len(args) > i else default


def _tup(x, n) -> list[int]:
    if isinstance(x, (list, tuple)):
        return [int(v) for v in x] if len(x) == n else [int(x[0])] * n
    return [int(x)] * n


# -- weight layers ---------------------------------------------------------------------------------

@converts("linear")
def _linear(tr, args, kwargs, out):
    x, w, b = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
    ins = [tr.value(x), tr.value(w, "weight")] + ([tr.value(b, "bias")] if b is not None else [])
    tr.emit("linear", ins, [out])


def _conv(nd: int):
    def convert_conv(tr, args, kwargs, out):
        x, w, b = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
        stride = _tup(_arg(args, kwargs, 3, "stride", 1), nd)
        padding = _arg(args, kwargs, 4, "padding", 0)
        dilation = _tup(_arg(args, kwargs, 5, "dilation", 1), nd)
        groups = int(_arg(args, kwargs, 6, "groups", 1))
        if isinstance(padding, str):
            if padding == "valid":
                padding = [0] * nd
            else:  # 'same' with stride 1: symmetric where the kernel allows it
                k = w.shape[2:]
                if any((dilation[i] * (k[i] - 1)) % 2 for i in range(nd)):
                    raise UnsupportedOpError(f"asymmetric 'same' padding in {tr.current_module}")
                padding = [dilation[i] * (k[i] - 1) // 2 for i in range(nd)]
        ins = [tr.value(x), tr.value(w, "weight")] + ([tr.value(b, "bias")] if b is not None else [])
        tr.emit(f"conv{nd}d", ins, [out], {"stride": stride, "padding": _tup(padding, nd), "dilation": dilation,
                                           "groups": groups})

    return convert_conv


CONVERTERS["conv1d"] = _conv(1)
CONVERTERS["conv2d"] = _conv(2)


@converts("batch_norm")
def _batch_norm(tr, args, kwargs, out):
    x = _arg(args, kwargs, 0, "input")
    mean, var = _arg(args, kwargs, 1, "running_mean"), _arg(args, kwargs, 2, "running_var")
    weight, bias = _arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias")
    training = _arg(args, kwargs, 5, "training", False)
    eps = float(_arg(args, kwargs, 7, "eps", 1e-5))
    if training or mean is None:
        raise UnsupportedOpError(f"batch norm in training mode (no running statistics) in {tr.current_module}")
    c = mean.shape[0]
    weight = weight if weight is not None else torch.ones(c)
    bias = bias if bias is not None else torch.zeros(c)
    ins = [tr.value(x), tr.value(mean, "running_mean"), tr.value(var, "running_var"),
           tr.value(weight, "bn_weight"), tr.value(bias, "bn_bias")]
    tr.emit("batch_norm", ins, [out], {"eps": eps})


@converts("layer_norm")
def _layer_norm(tr, args, kwargs, out):
    x, shape = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "normalized_shape")
    w, b = _arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")
    eps = float(_arg(args, kwargs, 4, "eps", 1e-5))
    ins = [tr.value(x)] + [tr.value(t, "ln_param") for t in (w, b) if t is not None]
    tr.emit("layer_norm", ins, [out], {"normalized_shape": list(shape), "eps": eps})


# -- arithmetic ------------------------------------------------------------------------------------

def _binary(op: str, swap: bool = False):
    def convert_binary(tr, args, kwargs, out):
        a, b = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "other")
        alpha = kwargs.get("alpha", 1)
        if swap:
            a, b = b, a
        if alpha != 1:
            b = b * alpha if not isinstance(b, torch.Tensor) else None
            if b is None:
                raise UnsupportedOpError(f"{op} with alpha on tensors in {tr.current_module}")
        if not isinstance(out, torch.Tensor):
            raise UnsupportedOpError(f"{op} did not return a tensor in {tr.current_module}")
        tr.emit(op, [tr.value(a), tr.value(b)], [out])

    return convert_binary


CONVERTERS.update({
    "add": _binary("add"), "sub": _binary("sub"), "mul": _binary("mul"), "div": _binary("div"),
    "rsub": _binary("sub", swap=True), "rdiv": _binary("div", swap=True),
    "matmul": _binary("matmul"), "bmm": _binary("matmul"), "mm": _binary("matmul"),
    "rmatmul": _binary("matmul", swap=True),
})


@converts("neg")
def _neg(tr, args, kwargs, out):
    tr.emit("neg", [tr.value(args[0])], [out])


@converts("relu")
def _relu(tr, args, kwargs, out):
    tr.emit("relu", [tr.value(args[0])], [out])


def _clamp(default_lo, default_hi, lo_key="min", hi_key="max"):
    def convert_clamp(tr, args, kwargs, out):
        lo = _arg(args, kwargs, 1, lo_key, default_lo)
        hi = _arg(args, kwargs, 2, hi_key, default_hi)
        if isinstance(lo, torch.Tensor) or isinstance(hi, torch.Tensor):
            raise UnsupportedOpError(f"clamp with tensor bounds in {tr.current_module}")
        tr.emit("clamp", [tr.value(args[0])], [out], {"min": lo, "max": hi})

    return convert_clamp


CONVERTERS.update({"clamp": _clamp(None, None), "clip": _clamp(None, None), "relu6": _clamp(0.0, 6.0),
                   "hardtanh": _clamp(-1.0, 1.0, "min_val", "max_val")})


# -- shapes ----------------------------------------------------------------------------------------

@converts("reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as")
def _reshape(tr, args, kwargs, out):
    tr.emit("reshape", [tr.value(args[0])], [out], {"shape": list(out.shape)})


@converts("permute")
def _permute(tr, args, kwargs, out):
    dims = args[1:] if len(args) > 2 or not isinstance(args[1] if len(args) > 1 else None, (list, tuple)) \
        else args[1]
    dims = kwargs.get("dims", dims)
    nd = args[0].dim()
    tr.emit("permute", [tr.value(args[0])], [out], {"dims": [int(d) % nd for d in dims]})


@converts("transpose", "t")
def _transpose(tr, args, kwargs, out):
    x = args[0]
    nd = x.dim()
    if len(args) >= 3 or "dim0" in kwargs:
        d0, d1 = _arg(args, kwargs, 1, "dim0"), _arg(args, kwargs, 2, "dim1")
    else:
        d0, d1 = 0, 1
    dims = list(range(nd))
    if nd >= 2:
        d0, d1 = int(d0) % nd, int(d1) % nd
        dims[d0], dims[d1] = dims[d1], dims[d0]
    tr.emit("permute", [tr.value(x)], [out], {"dims": dims})


@converts("contiguous", "clone", "detach", "float", "to", "type_as", "dropout", "alpha_dropout",
          "dropout1d", "dropout2d", "feature_dropout", "requires_grad", "cpu", "type")
def _identity(tr, args, kwargs, out):
    if not isinstance(out, torch.Tensor):
        return
    x = args[0]
    if isinstance(x, torch.Tensor) and x.dtype != out.dtype and not out.dtype.is_floating_point:
        raise UnsupportedOpError(f"cast to {out.dtype} in {tr.current_module}")
    tr.emit("identity", [tr.value(x)], [out])


@converts("repeat")
def _repeat(tr, args, kwargs, out):
    reps = args[1:] if len(args) > 2 or not isinstance(args[1], (list, tuple, torch.Size)) else args[1]
    tr.emit("repeat", [tr.value(args[0])], [out], {"repeats": [int(r) for r in reps]})


@converts("expand", "expand_as", "broadcast_to")
def _expand(tr, args, kwargs, out):
    tr.emit("expand", [tr.value(args[0])], [out], {"shape": list(out.shape)})


def _encode_index(idx) -> list:
    items = idx if isinstance(idx, tuple) else (idx,)
    spec: list[Any] = []
    for it in items:
        if isinstance(it, slice):
            spec.append({"slice": [it.start, it.stop, it.step]})
        elif it is Ellipsis:
            spec.append("...")
        elif it is None or isinstance(it, int) and not isinstance(it, bool):
            spec.append(it)
        else:
            raise TypeError(type(it).__name__)
    return spec


@converts("getitem")
def _getitem(tr, args, kwargs, out):
    try:
        spec = _encode_index(args[1])
    except TypeError as e:
        raise UnsupportedOpError(f"advanced indexing with {e} in {tr.current_module}") from None
    tr.emit("slice", [tr.value(args[0])], [out], {"index": spec})


@converts("cat", "stack")
def _cat(tr, args, kwargs, out):
    tensors = _arg(args, kwargs, 0, "tensors")
    dim = int(_arg(args, kwargs, 1, "dim", 0))
    op = "stack" if out.dim() == tensors[0].dim() + 1 else "concat"
    tr.emit(op, [tr.value(t) for t in tensors], [out], {"axis": dim % out.dim()})


@converts("split", "chunk", "unbind", "tensor_split")
def _split(tr, args, kwargs, out):
    x = args[0]
    pieces = list(out)
    dim = None
    for d in range(x.dim() if all(p.dim() == x.dim() for p in pieces) else 0):
        if sum(p.shape[d] for p in pieces) == x.shape[d] and all(
                p.shape[:d] == x.shape[:d] for p in pieces):
            dim = d
            break
    if dim is None:  # unbind drops the axis
        dim = int(_arg(args, kwargs, 1, "dim", 0)) % x.dim()
        sizes = [1] * x.shape[dim]
        node = tr.emit("split", [tr.value(x)], [p.unsqueeze(dim) for p in pieces], {"axis": dim, "sizes": sizes})
        for v, p in zip(node.outputs, pieces):
            tr.emit("reshape", [v], [p], {"shape": list(p.shape)})
        return
    tr.emit("split", [tr.value(x)], pieces, {"axis": dim, "sizes": [int(p.shape[dim]) for p in pieces]})


# -- pooling and reductions ------------------------------------------------------------------------

def _pool(kind: str, nd: int):
    def convert_pool(tr, args, kwargs, out):
        if isinstance(out, (tuple, list)):
            raise UnsupportedOpError(f"{kind} pooling with indices in {tr.current_module}")
        k = _tup(_arg(args, kwargs, 1, "kernel_size"), nd)
        s = _arg(args, kwargs, 2, "stride", None)
        s = k if s is None or (isinstance(s, (list, tuple)) and len(s) == 0) else _tup(s, nd)
        p = _tup(_arg(args, kwargs, 3, "padding", 0), nd)
        attrs = {"kernel": k, "stride": s, "padding": p}
        if kind == "max":
            attrs["dilation"] = _tup(_arg(args, kwargs, 4, "dilation", 1), nd)
            attrs["ceil_mode"] = bool(_arg(args, kwargs, 5, "ceil_mode", False))
        else:
            attrs["ceil_mode"] = bool(_arg(args, kwargs, 4, "ceil_mode", False))
            if not _arg(args, kwargs, 5, "count_include_pad", True) or _arg(args, kwargs, 6, "divisor_override"):
                raise UnsupportedOpError(f"avg pooling without count_include_pad in {tr.current_module}")
        tr.emit(f"{kind}_pool{nd}d", [tr.value(args[0])], [out], attrs)

    return convert_pool


CONVERTERS.update({"max_pool1d": _pool("max", 1), "max_pool2d": _pool("max", 2),
                   "avg_pool1d": _pool("avg", 1), "avg_pool2d": _pool("avg", 2)})


@converts("adaptive_avg_pool2d")
def _adaptive(tr, args, kwargs, out):
    tr.emit("adaptive_avg_pool2d", [tr.value(args[0])], [out], {"output_size": list(out.shape[-2:])})


def _reduce(op: str):
    def convert_reduce(tr, args, kwargs, out):
        if not isinstance(out, torch.Tensor):
            raise UnsupportedOpError(f"{op} returning indices in {tr.current_module}")
        x = args[0]
        dims = _arg(args, kwargs, 1, "dim", None)
        keep = bool(_arg(args, kwargs, 2, "keepdim", False))
        if dims is not None:
            dims = [int(d) % x.dim() for d in (dims if isinstance(dims, (list, tuple)) else [dims])]
        tr.emit(op, [tr.value(x)], [out], {"dims": dims, "keepdim": keep})

    return convert_reduce


CONVERTERS.update({"mean": _reduce("mean"), "sum": _reduce("sum"), "amax": _reduce("amax")})


@converts("max")
def _max(tr, args, kwargs, out):
    if isinstance(out, torch.Tensor) and len(args) == 1:
        tr.emit("amax", [tr.value(args[0])], [out], {"dims": None, "keepdim": False})
    else:
        raise UnsupportedOpError(f"torch.max with indices or two tensors in {tr.current_module}")


# -- nonlinearities --------------------------------------------------------------------------------

def _axis_attr(tr, args, kwargs) -> dict:
    return {"axis": int(_arg(args, kwargs, 1, "dim", -1))}


def _exponent_attr(tr, args, kwargs) -> dict:
    e = _arg(args, kwargs, 1, "exponent")
    if isinstance(e, torch.Tensor):
        raise UnsupportedOpError(f"pow with a tensor exponent in {tr.current_module}")
    return {"exponent": float(e)}


def _unary(op: str, attrs_of=None):
    """One IR op of the first argument; ``attrs_of(tr, args, kwargs)`` reads its attributes from the call."""

    def convert_unary(tr, args, kwargs, out):
        tr.emit(op, [tr.value(args[0])], [out], attrs_of(tr, args, kwargs) if attrs_of else {})

    return convert_unary


CONVERTERS.update({"softmax": _unary("softmax", _axis_attr), "log_softmax": _unary("log_softmax", _axis_attr),
                   "pow": _unary("pow", _exponent_attr)})
for _n in ("exp", "log", "sqrt", "sigmoid", "tanh", "gelu", "silu"):
    CONVERTERS[_n] = _unary(_n)
