"""``fold_tau``: move a LIF's input decay ``1/τ`` into the weights of the layer that feeds it.

spikingjelly's LIF with ``decay_input=True`` charges ``H = V + (X − (V − V_reset))/τ``, which is the same
as the ``decay_input=False`` form ``H = V − (V − V_reset)/τ + X'`` with ``X' = X/τ`` (a parametric LIF
multiplies by its learnt ``k = 1/τ`` instead).  When ``X = W ⊛ x + b`` comes from a weight layer through
data moves only, ``X/τ = (W/τ) ⊛ x + b/τ``: the factor folds into the weights and bias and the neuron
becomes ``decay_input=False``.  This is Lava's LIF form (``u = a_in``, ``v = v·(1 − dv) + u``, with
``dv = 1/τ``), so after this pass a neuron's input current is exactly what a Lava synapse delivers.

Exact in real arithmetic; for τ = 2 (every example model) ``W/2`` and ``b/2`` are exact in floats and
``V − V/2 + X/2`` equals ``V + (X − V)/2`` up to the order of two roundings (threshold ties only).

Refused when the neuron's input is not produced by one weight layer through single-use data moves
(e.g. Spikingformer's residual stream, or the attention's spike matmul): such a neuron keeps
``decay_input=True`` and the backend applies ``1/τ`` itself.
"""
from __future__ import annotations

import numpy as np

from snncompile import ops
from snncompile.ir.graph import Graph

from .base import Pass, register_pass, single_use
from .fold_bn import find_weight_producer, scale_weight_layer


def input_decay(attrs: dict):
    """The factor the neuron applies to its input (1/τ, or the PLIF's k), or None if it applies none."""
    if attrs.get("style", "charge-fire-reset") != "charge-fire-reset" or not attrs.get("decay_input", True):
        return None
    if attrs.get("inv_tau") is not None:
        return float(attrs["inv_tau"])
    tau = attrs.get("tau")
    if tau is None or not np.isfinite(tau):
        return None
    return 1.0 / float(tau)


@register_pass
class FoldTau(Pass):
    name = "fold_tau"
    summary = "fold a LIF's input decay 1/τ into the feeding weights (decay_input → False; exact algebra)"

    def apply(self, graph: Graph) -> None:
        for lif in [n for n in graph.nodes if ops.get(n.op).neuron is not None]:
            k = input_decay(lif.attrs)
            if k is None:
                continue
            if not single_use(graph, lif.inputs[0]):
                self.refuse(lif, f"{lif.inputs[0]} has other uses; the neuron keeps decay_input=True")
                continue
            walk = find_weight_producer(graph, lif.inputs[0], None)
            w_node = walk.found
            if w_node is None:
                self.refuse(lif, walk.why + "; the neuron keeps decay_input=True")
                continue
            if not single_use(graph, w_node.outputs[0]):
                self.refuse(lif, f"{w_node.outputs[0]} has other uses; the neuron keeps decay_input=True")
                continue
            c_out = graph.values[w_node.inputs[ops.get(w_node.op).weight.weight]].shape[0]
            scale_weight_layer(graph, w_node, np.full(c_out, k), None, "taufold")
            w_node.attrs = dict(w_node.attrs, folded_input_decay=k)
            lif.attrs = dict(lif.attrs, decay_input=False)
            self.rewrote(lif, f"1/tau = {k:g} folded into {w_node.name}; decay_input -> False")
        graph.drop_unused_constants()
