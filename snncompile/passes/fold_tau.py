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

from snncompile.ir.graph import Graph

from .base import Pass, consumers, new_constant, register_pass
from .fold_bn import MOVES, WEIGHT_OPS


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
        for lif in [n for n in graph.nodes if n.op == "lif"]:
            k = input_decay(lif.attrs)
            if k is None:
                continue
            value = lif.inputs[0]
            w_node, why = None, ""
            while True:
                if value in graph.outputs or len(consumers(graph, value)) != 1:
                    why = f"{value} has other uses"
                    break
                prod = graph.producer(value) if graph.values[value].producer else None
                if prod is None:
                    why = "its input is a graph input"
                    break
                if prod.op in WEIGHT_OPS:
                    w_node = prod
                    break
                if prod.op not in MOVES:
                    why = f"its input comes from {prod.name} ({prod.op}), not from a weight layer"
                    break
                value = prod.inputs[0]
            if w_node is None:
                self.refuse(lif, why + "; the neuron keeps decay_input=True")
                continue
            w = graph.constants[w_node.inputs[1]].astype(np.float64) * k
            ins = [w_node.inputs[0], new_constant(graph, f"{w_node.name}_weight_taufold", w)]
            if len(w_node.inputs) > 2:
                b = graph.constants[w_node.inputs[2]].astype(np.float64) * k
                ins.append(new_constant(graph, f"{w_node.name}_bias_taufold", b))
            w_node.inputs = ins
            w_node.attrs = dict(w_node.attrs, folded_input_decay=k)
            lif.attrs = dict(lif.attrs, decay_input=False)
            self.rewrote(lif, f"1/tau = {k:g} folded into {w_node.name}; decay_input -> False")
        from .base import drop_unused_constants

        drop_unused_constants(graph)
