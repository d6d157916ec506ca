"""Fixed point: synaptic currents that reach a neuron through a linear map become their own weight layers.

A neuron may read a synapse's current through a linear map ``M`` that is not a plain selection — a mean over
tokens before a head neuron (``lif(mean(conv(x)))``), a sum of shifted copies.  In float the Lava plan gives
such a neuron a dedicated copy of the synapse with weights ``M·A``.  In fixed point that copy is not the
integer layer ``A_q`` followed by ``M`` (``M·A_q`` has fractions such as ``w/16`` and mantissas wider than
Loihi's 8-bit weights), so the fixed-point graph must say what the chip computes: :func:`separate` rewrites
the one-step graph so that every such term is a ``linear`` layer of its own with weights ``M·A`` and bias
``M·b``, reading the synapse's input (flattened), which the quantiser then rounds like any other layer
(8-bit mantissa, one exponent).  The fixed-point executor and Lava then run the same integer layer.  A
max-pool of one layer's currents read through such a map (the Spike-driven Transformer's head reads the mean
over tokens of a stream holding one) becomes a layer ``M`` over the flattened pool the same way
(:func:`_pool_layer`, :mod:`.current_pool`); the model's own layers may not read pooled currents.

Weight sharing is lost on that path (``M·A`` is stored as a matrix); its size is the dedicated copy's.  The
fixed-point ledger counts these layers as the chip runs them (each nonzero input drives its row of ``M·A``),
so its synaptic-op totals differ from ``report``'s (which counts the model's own layers) on such a path.
"""
from __future__ import annotations

import numpy as np

from snncompile.analysis import infer_domains
from snncompile.errors import UnsupportedOpError
from snncompile.ir.graph import Graph, Node, Value

from .affine import is_selection, numel, synapse_bias, synapse_matrix, term_matrix
from .current_pool import is_current_pool
from .network import Network, build_network


MAX_WEIGHTS = 4_000_000  # the largest separated layer (dense M·A), as the plan's Sparse/shared boundary


def mapped_terms(net: Network, unit) -> list:
    """The terms of neuron ``unit`` that carry a synapse's current, or a max-pool of one layer's currents
    (``snncompile.loihi.current_pool``), through a map that is not a selection."""
    out = []
    for t in unit.ports[0].terms:
        if t.source and (net.units[t.source].kind == "synapse" or is_current_pool(net.units, t.source)) \
                and not is_selection(term_matrix(net.graph, t)):
            out.append(t)
    return out


def separate(net: Network) -> Network:
    """``net`` with every mapped synapse→neuron current made a weight layer of its own (module docstring);
    ``net`` itself when there is none."""
    for p in net.of_kind("pool"):  # the model's own layers may not read pooled currents (float refuses it too)
        if is_current_pool(net.units, p.name) and any(net.units[c].kind != "neuron" for c in p.consumers):
            raise UnsupportedOpError(f"{net.graph.node(p.node).location}: max-pooled synaptic currents must feed "
                                     f"neurons only")
    todo = [u for u in net.of_kind("neuron") if mapped_terms(net, u)]
    if not todo:
        return net
    g = net.graph.copy()
    for u in todo:
        _rewrite_port(g, net, u)
    g.prune()
    infer_domains(g)  # the new layers' inputs: graded/binary spikes, so their cost kind is known
    readouts = [u.ports[0].value for u in net.of_kind("readout")]
    return build_network(g, readouts)


def _rewrite_port(g: Graph, net: Network, u) -> None:
    """Replace the input of neuron ``u`` by ``Σ_t linear_t(flat(x_t))`` over its synapse terms."""
    neuron = g.node(u.node)
    port = g.values[u.ports[0].value]
    n = numel(g, port.name)
    parts = []
    for t in u.ports[0].terms:
        if t.source and is_current_pool(net.units, t.source):
            parts.append(_pool_layer(g, neuron, t, n))
            continue
        if not t.source or net.units[t.source].kind != "synapse":
            raise UnsupportedOpError(f"{neuron.location}: reads a synaptic current through a linear map together "
                                     f"with a non-synaptic input; not supported in fixed point")
        M = term_matrix(g, t)
        syn = g.node(net.units[t.source].node)
        size = M.shape[0] * numel(g, syn.inputs[0])
        if size > MAX_WEIGHTS:
            raise UnsupportedOpError(f"{neuron.location}: reads {syn.module or syn.name}'s current through a linear "
                                     f"map; as its own fixed-point layer that needs {size} weights (limit "
                                     f"{MAX_WEIGHTS})")
        W = (M @ synapse_matrix(g, syn)).toarray()
        b = M @ synapse_bias(g, syn)
        x = syn.inputs[0]
        flat = _new(g, neuron, "reshape", [x], (1, numel(g, x)), {"shape": [1, numel(g, x)]})
        w = g.add_constant(g.unique_name(f"{syn.name}_for_{neuron.name}_w"), W).name
        bb = g.add_constant(g.unique_name(f"{syn.name}_for_{neuron.name}_b"), b).name
        parts.append(_new(g, syn, "linear", [flat, w, bb], (1, n), {}, name=f"{syn.name}_for_{neuron.name}"))
    total = parts[0]
    for p in parts[1:]:
        total = _new(g, neuron, "add", [total, p], (1, n), {})
    shaped = _new(g, neuron, "reshape", [total], port.shape, {"shape": list(port.shape)})
    g.set_inputs(neuron, [shaped] + neuron.inputs[1:])


def _pool_layer(g: Graph, neuron: Node, t, n: int) -> str:
    """A max-pool of currents read through ``M``: a ``linear`` layer with weights ``M`` (no bias) reading the
    flattened pool, which the quantiser makes an integer layer over the pool's integer currents
    (``snncompile.loihi.current_pool``: its weights absorb the pool's scale, the pool's bias goes to the
    neuron)."""
    M = term_matrix(g, t)
    if M.shape[0] * M.shape[1] > MAX_WEIGHTS:
        raise UnsupportedOpError(f"{neuron.location}: reads a max-pool of currents through a linear map; as its "
                                 f"own fixed-point layer that needs {M.shape[0] * M.shape[1]} weights (limit "
                                 f"{MAX_WEIGHTS})")
    flat = _new(g, neuron, "reshape", [t.value], (1, M.shape[1]), {"shape": [1, M.shape[1]]})
    src = g.producer(t.value)
    w = g.add_constant(g.unique_name(f"{src.name}_for_{neuron.name}_w"), M.toarray()).name
    b = g.add_constant(g.unique_name(f"{src.name}_for_{neuron.name}_b"), np.zeros(n)).name
    return _new(g, src, "linear", [flat, w, b], (1, n), {}, name=f"{src.name}_for_{neuron.name}")


def _new(g: Graph, near: Node, op: str, inputs: list[str], shape, attrs: dict, name: str = "") -> str:
    """Add ``op(inputs)`` just before the neuron that will read it (graph order stays topological)."""
    name = g.unique_name(name or f"{near.name}_{op}")
    out = g.unique_name(f"{name}_out")
    g.add_value(Value(out, tuple(int(s) for s in shape)))
    node = g.add_node(Node(name, op, list(inputs), [out], dict(attrs), near.module, near.source))
    g.nodes.remove(node)
    g.nodes.insert(_after_producers(g, node), node)
    g._index = g._order = g._uses = None
    return out


def _after_producers(g: Graph, node: Node) -> int:
    """The position just after the last producer of ``node``'s inputs."""
    producers = {g.values[v].producer for v in node.inputs if g.values[v].producer}
    last = max((i for i, m in enumerate(g.nodes) if m.name in producers), default=-1)
    return last + 1
