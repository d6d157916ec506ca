"""What each IR op is to a netx network, registered as the ops' ``"netx"`` hooks (importing this module
registers them).  netx builds ``input → (conv | dense | flatten)*`` with CUBA neurons, so a hook here
*admits* a node of the one-step graph (after the Loihi passes) or raises :class:`NetxRefusal` saying why
this instance cannot be part of such a chain; ops that never can are declared with ``refuses``.  A weight
layer's hook returns the netx layer kind its weights make (``"conv"``, ``"dense"``); every other hook
returns None.  The layers themselves are built from the unit view of the graph
(:func:`snncompile.exporters.netx.to_netx`).
"""
from __future__ import annotations

from snncompile.ops.registry import all_ops, implements, refuses

from .errors import NetxRefusal


def _dynamic(graph, node) -> list[str]:
    return [v for v in node.inputs if not graph.values[v].constant]


@implements("linear", "netx")
def _dense(graph, node) -> str:
    """A ``dense`` layer's synapses."""
    return "dense"


@implements("conv2d", "netx")
def _conv(graph, node) -> str:
    """A ``conv`` layer's synapses (torch layout; netx flips and transposes the kernel itself)."""
    return "conv"


@implements("lif", "netx")
def _lif(graph, node) -> None:
    """A layer's CUBA neurons: hard reset, strict threshold, no current state (``iDecay = 4096``)."""
    a = node.attrs
    if a.get("fire", "ge") != "gt":
        raise NetxRefusal(f"{node.module}: fires at H >= V_th; netx's CUBA neurons fire at v > vThMant·64 and "
                          f"cannot hold the threshold vth - 1 (use a neuron that fires strictly)")
    if a.get("v_reset") is None:
        raise NetxRefusal(f"{node.module}: soft reset; netx's CUBA neurons reset to 0")
    if a.get("style", "charge-fire-reset") != "charge-fire-reset":
        raise NetxRefusal(f"{node.module}: {a.get('style')} neurons are not lowered to Loihi by this project")
    if len(node.outputs) > 1 and graph.consumers(node.outputs[1]):
        raise NetxRefusal(f"{node.module}: the model reads the membrane potential; netx layers emit spikes")


def _move(graph, node) -> None:
    """Data moves between layers: admitted here, and kept only where netx's ``flatten`` is the same map
    (checked on the unit chain: :func:`snncompile.exporters.netx.keeps_order`)."""


@implements("add", "netx")
def _add(graph, node) -> None:
    if len(_dynamic(graph, node)) == 2:
        raise NetxRefusal(f"{node.location} sums two branches (a residual): netx connects layers strictly in "
                          f"sequence")


@implements("sub", "netx")
def _sub(graph, node) -> None:
    _add(graph, node)


@implements("mul", "netx")
def _mul(graph, node) -> None:
    if len(_dynamic(graph, node)) == 2:
        raise NetxRefusal(f"{node.location} multiplies two dynamic tensors (attention): netx has no layer for it")


_NO_LAYER = "netx has no layer for it (input, conv, flatten, dense only)"
REFUSALS = {
    "matmul": "a product of two dynamic tensors (attention): " + _NO_LAYER,
    "conv1d": "1-d convolution: " + _NO_LAYER,
    "max_pool1d": "pooling: netx raises NotImplementedError for pool layers",
    "max_pool2d": "pooling: netx raises NotImplementedError for pool layers",
    "avg_pool1d": "pooling: netx raises NotImplementedError for pool layers",
    "avg_pool2d": "pooling: netx raises NotImplementedError for pool layers",
    "adaptive_avg_pool2d": "pooling: netx raises NotImplementedError for pool layers",
    "batch_norm": "a BatchNorm the Loihi passes could not fold into a weight layer: " + _NO_LAYER,
    "div": "a division left on the spike path: " + _NO_LAYER,
    "neg": "a negation between layers: " + _NO_LAYER,
    "sum": "a reduction: " + _NO_LAYER, "mean": "a reduction: " + _NO_LAYER, "amax": "a reduction: " + _NO_LAYER,
    "slice": "slicing drops elements: " + _NO_LAYER,
    "concat": "concatenation: netx raises NotImplementedError for concat",
    "stack": "stacking: " + _NO_LAYER, "split": "splitting: " + _NO_LAYER,
}
for _op in ("relu", "clamp", "exp", "log", "sqrt", "sigmoid", "tanh", "gelu", "silu", "pow", "softmax",
            "log_softmax", "layer_norm"):
    REFUSALS[_op] = f"{_op}: a non-spiking nonlinearity; " + _NO_LAYER
REFUSALS["ilif"] = ("graded spikes s = clamp(round(h), 0, max_spike) with reset by subtraction: netx's CUBA "
                    "neurons (Lava LIF) emit binary spikes and reset to 0, its SDNN neurons send sigma-delta "
                    "messages; neither is this neuron")
for _op, _why in REFUSALS.items():
    refuses(_op, "netx", _why)
for _op, _def in all_ops().items():
    if _def.movement and _op not in REFUSALS:
        implements(_op, "netx")(_move)
