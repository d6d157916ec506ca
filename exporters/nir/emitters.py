"""NIR emitters of the IR ops, registered as the ops' ``"nir"`` hooks (importing this module
registers them), and the ops NIR cannot carry, each with the reason (``refuses``).

An emitter is ``emit(builder, node) -> None`` (see :class:`.builder.NirBuilder`); it raises
:class:`.builder.NotExpressible` when this instance of its op has no NIR form.  Shape rules: NIR
tensors have no batch axis; weight layers, pools and neurons act on the *feature shape*.
"""
from __future__ import annotations

import numpy as np

from snncompile.ops.registry import implements, refuses
from snncompile.ops.weights import dense_groups

from .builder import NirBuilder, NotExpressible
from .neurons import NeuronNotExpressible, lif_to_nir


def _nir():
    import nir

    return nir


# -- weight layers ---------------------------------------------------------------------------------

@implements("linear", "nir")
def _linear(b: NirBuilder, n) -> None:
    """``y = x Wᵀ + b`` → ``Affine(W, b)`` / ``Linear(W)`` on a feature vector."""
    x = n.inputs[0]
    if len(b.features(x)) != 1:
        raise NotExpressible(f"linear over a tensor of features {list(b.features(x))}: NIR's Affine maps one vector")
    w = np.asarray(b.constant(n.inputs[1]), dtype=np.float32)
    if len(n.inputs) > 2:
        node = _nir().Affine(weight=w, bias=np.asarray(b.constant(n.inputs[2]), dtype=np.float32))
    else:
        node = _nir().Linear(weight=w)
    b.emit(n, node, x)


def _conv(b: NirBuilder, n, nd: int) -> None:
    """``conv1d``/``conv2d`` (torch cross-correlation, ``[O, C/groups, *K]``) → ``Conv1d``/``Conv2d`` with the
    same stride, padding and dilation; groups written densely (:func:`snncompile.ops.weights.dense_groups`: nir 1.0.8's type inference
    takes ``weight.shape[1]`` as the input channels and so rejects every grouped Conv on ``nir.read``)."""
    x = n.inputs[0]
    shape = b.step.values[x].shape
    if len(shape) != nd + 2 or shape[0] != 1 or b.lead_of(x) > 1:
        raise NotExpressible(f"conv{nd}d input {list(shape)} is not one image [C, *spatial] per step")
    a = n.attrs
    w = np.asarray(b.constant(n.inputs[1]), dtype=np.float32)
    bias = (np.asarray(b.constant(n.inputs[2]), dtype=np.float32) if len(n.inputs) > 2
            else np.zeros(w.shape[0], dtype=np.float32))
    spatial = tuple(int(s) for s in shape[2:])
    w = dense_groups(w, int(a.get("groups", 1)))
    nir = _nir()
    if nd == 1:
        node = nir.Conv1d(input_shape=spatial[0], weight=w, stride=int(a["stride"][0]), padding=int(a["padding"][0]),
                          dilation=int(a["dilation"][0]), groups=1, bias=bias)
    else:
        node = nir.Conv2d(input_shape=spatial, weight=w, stride=tuple(a["stride"]), padding=tuple(a["padding"]),
                          dilation=tuple(a["dilation"]), groups=1, bias=bias)
    b.emit(n, node, x, lead=1)


implements("conv1d", "nir")(lambda b, n: _conv(b, n, 1))
implements("conv2d", "nir")(lambda b, n: _conv(b, n, 2))


# -- neurons ---------------------------------------------------------------------------------------

@implements("lif", "nir")
def _lif(b: NirBuilder, n) -> None:
    """``lif`` → ``LIF``/``IF`` at the builder's ``dt`` (mapping in :mod:`.neurons`)."""
    if len(n.outputs) > 1 and (b.step.consumers(n.outputs[1]) or n.outputs[1] in b.step.outputs):
        raise NotExpressible("the model reads the neuron's membrane potential: NIR neurons emit spikes only")
    if len(n.inputs) > 1:
        raise NotExpressible("the membrane is passed in explicitly by the caller (snnTorch style)")
    x = n.inputs[0]
    try:
        node = lif_to_nir(n.attrs, b.features(x), b.dt)
    except NeuronNotExpressible as e:
        raise NotExpressible(str(e)) from None
    node.metadata["snncompile_module"] = n.module
    b.emit(n, node, x)


# -- sums and scales -------------------------------------------------------------------------------

def _scale(b: NirBuilder, n, x: str, scale: np.ndarray, name=None, define=True) -> str:
    s = np.broadcast_to(np.asarray(scale, dtype=np.float32), b.features(x)).copy()
    return b.emit(n, _nir().Scale(scale=s), x, name=name, define=define)


@implements("add", "nir")
def _add(b: NirBuilder, n) -> None:
    """A sum of two dynamic tensors: fan-in edges (no node)."""
    if len(b.dynamic(n)) != 2:
        raise NotExpressible("adds a constant: NIR has a bias only inside Affine/Conv")
    b.alias(n.outputs[0], *n.inputs)


@implements("sub", "nir")
def _sub(b: NirBuilder, n) -> None:
    """``x − y`` → fan-in of ``x`` and ``Scale(−1)·y``."""
    if len(b.dynamic(n)) != 2:
        raise NotExpressible("subtracts a constant: NIR has a bias only inside Affine/Conv")
    x, y = n.inputs
    if b.features(x) != b.features(y):
        raise NotExpressible(f"operands of different feature shapes {list(b.features(x))}, {list(b.features(y))} "
                             f"(broadcasting): NIR sums fan-in edges of equal shape only")
    neg = _scale(b, n, y, -1.0, name=f"{n.name}__neg", define=False)
    b.alias(n.outputs[0], x)
    b.sources[n.outputs[0]] = b.sources[n.outputs[0]] + [neg]


@implements("neg", "nir")
def _neg(b: NirBuilder, n) -> None:
    _scale(b, n, n.inputs[0], -1.0)


@implements("mul", "nir")
def _mul(b: NirBuilder, n) -> None:
    """A dynamic tensor times a constant → ``Scale``; two dynamic factors have no NIR node."""
    dyn = b.dynamic(n)
    if len(dyn) == 2:
        kind = "spike × spike" if all(b.is_binary(v) for v in dyn) else "dynamic × dynamic"
        raise NotExpressible(f"a product of two dynamic tensors ({kind}): NIR has no node for it")
    x = dyn[0]
    c = next(v for v in n.inputs if v != x)
    _scale(b, n, x, b.feature_constant(c, x))


@implements("div", "nir")
def _div(b: NirBuilder, n) -> None:
    x, c = n.inputs
    if b.step.values[x].constant or not b.step.values[c].constant:
        raise NotExpressible("division by a dynamic tensor: NIR has no node for it")
    _scale(b, n, x, 1.0 / b.feature_constant(c, x))


# -- shapes ----------------------------------------------------------------------------------------

@implements("identity", "nir")
def _identity(b: NirBuilder, n) -> None:
    b.alias(n.outputs[0], n.inputs[0])


@implements("repeat", "nir")
def _repeat(b: NirBuilder, n) -> None:
    """Within one step a repeat is a copy only when every factor is 1 (the repeat over time that
    presents a static image at every step has factor T/T = 1 there)."""
    if any(int(r) != 1 for r in n.attrs["repeats"]):
        raise NotExpressible(f"repeat {list(n.attrs['repeats'])} copies features: NIR has no tiling node")
    b.alias(n.outputs[0], n.inputs[0])


@implements("expand", "nir")
def _expand(b: NirBuilder, n) -> None:
    if tuple(b.step.values[n.outputs[0]].shape)[-len(b.features(n.inputs[0])):] != b.features(n.inputs[0]):
        raise NotExpressible("expand broadcasts features: NIR has no broadcasting node")
    b.alias(n.outputs[0], n.inputs[0])


@implements("reshape", "nir")
def _reshape(b: NirBuilder, n) -> None:
    """Adding/removing leading unit axes relabels; merging a run of adjacent feature axes into one is
    ``Flatten(start_dim, end_dim)`` (dims counted without the batch axis, as NIR does)."""
    x, out = n.inputs[0], n.outputs[0]
    feat = b.features(x)
    shape = tuple(int(s) for s in b.step.values[out].shape)
    for k in range(len(shape) + 1):
        if all(s == 1 for s in shape[:k]) and shape[k:] == feat:
            b.define(out, b.sources_of(x), k)
            return
    for start in range(len(feat)):
        for end in range(start + 1, len(feat)):
            merged = feat[:start] + (int(np.prod(feat[start:end + 1])),) + feat[end + 1:]
            k = len(shape) - len(merged)
            if k >= 0 and shape[k:] == merged and all(s == 1 for s in shape[:k]):
                node = _nir().Flatten(input_type={"input": np.array(feat)}, start_dim=start, end_dim=end)
                b.emit(n, node, x, lead=k)
                return
    raise NotExpressible(f"reshape of features {list(feat)} to {list(shape)}: NIR has only Flatten (adjacent "
                         f"feature axes into one)")


@implements("permute", "nir")
def _permute(b: NirBuilder, n) -> None:
    dims = [int(d) for d in n.attrs["dims"]]
    lead = b.lead_of(n.inputs[0])
    if sorted(dims[:lead]) != list(range(lead)) or dims[lead:] != list(range(lead, len(dims))):
        raise NotExpressible(f"permute {dims} moves feature axes: NIR has no transpose node")
    b.alias(n.outputs[0], n.inputs[0])


# -- pooling ---------------------------------------------------------------------------------------

def _pool_args(n):
    a = n.attrs
    if a.get("ceil_mode"):
        raise NotExpressible("ceil_mode pooling: NIR pools have no ceil mode")
    if any(int(d) != 1 for d in a.get("dilation", [1, 1])):
        raise NotExpressible("dilated pooling: NIR pools have no dilation")
    return (np.array(a["kernel"]), np.array(a["stride"]), np.array(a["padding"]))


@implements("max_pool2d", "nir")
def _max_pool2d(b: NirBuilder, n) -> None:
    """Max-pooling of spikes is an OR of the window: ``s = Θ(Σ window − 0.5)``, exact for binary inputs
    only (which the value-domain analysis proves).  Written with the two nodes every consumer
    imports: the window sum as a ``Conv2d`` of ones on the channel diagonal (zero padding adds nothing to a sum; NIR's
    ``SumPool2d`` would do, but nirtorch's import ignores its padding), and the threshold as
    ``LIF(τ = dt, r = 1, v_leak = 0, v_threshold = 0.5)``: at the export's ``dt`` its decay ``1 − dt/τ`` is 0,
    so ``v[t] = I[t]`` and it spikes exactly when the window holds a spike (NIR's ``Threshold`` has no
    importer in snnTorch or Norse, and snnTorch's import of ``IF`` returns a tuple that breaks its graph).
    Consumers must use the export's ``dt`` (they must anyway for the model's own neurons)."""
    x = n.inputs[0]
    if not b.is_binary(x):
        raise NotExpressible(f"max-pooling of non-spikes ({b.step.values[x].domain}): NIR has no max-pool node")
    feat = b.features(x)
    if len(feat) != 3:
        raise NotExpressible("max_pool2d input is not [C, H, W] per step")
    k, s, p = _pool_args(n)
    c = feat[0]
    nir = _nir()
    ones = dense_groups(np.ones((c, 1, *k), dtype=np.float32), c)
    window = nir.Conv2d(input_shape=tuple(feat[1:]), weight=ones,
                        stride=tuple(int(v) for v in s), padding=tuple(int(v) for v in p), dilation=(1, 1),
                        groups=1, bias=np.zeros(c, dtype=np.float32), metadata={"snncompile_role": "max-pool window sum"})
    pooled = b.emit(n, window, x, name=f"{n.name}__sum", define=False)
    out_feat = tuple(int(v) for v in b.step.values[n.outputs[0]].shape[1:])
    fire = nir.LIF(tau=np.full(out_feat, b.dt), r=np.ones(out_feat), v_leak=np.zeros(out_feat),
                   v_threshold=np.full(out_feat, 0.5), v_reset=np.zeros(out_feat),
                   metadata={"snncompile_role": "max-pool: window holds a spike", "dt": b.dt})
    b.chain(pooled, fire, n.name)
    b.define(n.outputs[0], [n.name], 1)


@implements("avg_pool2d", "nir")
def _avg_pool2d(b: NirBuilder, n) -> None:
    """Mean over each ``kernel`` window at ``stride`` → ``AvgPool2d``, where the two agree exactly: without
    padding.  This op counts zero padding in the divisor (torch's ``count_include_pad``); NIR's AvgPool2d
    does not say whether its padding is counted, so a padded pool is refused rather than left to the
    consumer's reading."""
    k, s, p = _pool_args(n)
    if np.any(p):
        raise NotExpressible(f"average pooling with padding {list(p)}: NIR's AvgPool2d does not define whether "
                             f"padding counts in the divisor (this op counts it)")
    if len(b.features(n.inputs[0])) != 3:
        raise NotExpressible("avg_pool2d input is not [C, H, W] per step")
    b.emit(n, _nir().AvgPool2d(kernel_size=k, stride=s, padding=p), n.inputs[0], lead=1)


@implements("adaptive_avg_pool2d", "nir")
def _adaptive_avg_pool2d(b: NirBuilder, n) -> None:
    """Uniform windows (input size a multiple of the output size) → ``AvgPool2d(kernel = stride =
    input/output)``; an output as large as the input is a copy."""
    feat = b.features(n.inputs[0])
    if len(feat) != 3:
        raise NotExpressible("adaptive_avg_pool2d input is not [C, H, W] per step")
    (h, w), (oh, ow) = feat[1:], n.attrs["output_size"]
    if (h, w) == (oh, ow):
        b.alias(n.outputs[0], n.inputs[0])
        return
    if h % oh or w % ow:
        raise NotExpressible(f"adaptive pooling {h}x{w} -> {oh}x{ow} has windows of unequal size")
    k = np.array([h // oh, w // ow])
    b.emit(n, _nir().AvgPool2d(kernel_size=k, stride=k, padding=np.array([0, 0])), n.inputs[0], lead=1)


# -- what NIR cannot carry -------------------------------------------------------------------------

_NO_PRODUCT = "a product of two dynamic tensors (attention): NIR has no node for it"
REFUSALS = {
    "matmul": _NO_PRODUCT,
    "batch_norm": "a BatchNorm that fold_batch_norm could not fold into a weight layer: NIR has no per-channel "
                  "affine node for feature maps",
    "layer_norm": "normalisation over features: NIR has no node for it",
    "softmax": "softmax: NIR has no node for it", "log_softmax": "log-softmax: NIR has no node for it",
    "exp": "exp: NIR has no node for it", "log": "log: NIR has no node for it",
    "sqrt": "sqrt: NIR has no node for it", "pow": "pow: NIR has no node for it",
    "sigmoid": "sigmoid: NIR has no node for it", "tanh": "tanh: NIR has no node for it",
    "gelu": "GELU: NIR has no node for it", "silu": "SiLU: NIR has no node for it",
    "relu": "ReLU: NIR has no stateless rectifier node", "clamp": "clamp: NIR has no node for it",
    "max_pool1d": "1-d max-pooling: NIR has 2-d pools only",
    "avg_pool1d": "1-d average pooling: NIR has 2-d pools only",
    "slice": "slicing: NIR has no indexing node", "concat": "concatenation: NIR has no node for it",
    "stack": "stacking: NIR has no node for it", "split": "splitting: NIR has no node for it",
    "sum": "a reduction: NIR has no node for it", "mean": "a reduction: NIR has no node for it",
    "amax": "a reduction: NIR has no node for it",
}
REFUSALS["ilif"] = ("graded spikes s = clamp(round(h), 0, max_spike) with reset by subtraction: NIR's neurons "
                    "(IF, LIF, CubaLIF) and its Threshold node emit binary spikes")
for _op, _why in REFUSALS.items():
    refuses(_op, "nir", _why)
