"""``fold_scale``: fold a multiplication by a positive constant scalar into the next neuron's threshold.

Pattern: ``y = x · c`` or ``x / c`` (an op with the ``scale`` trait and a one-element constant, factor
``> 0``), followed by ops that are positively homogeneous in ``y`` (the ``homogeneous`` trait: data moves,
``matmul`` (``(c·A)·B = c·(A·B)``), pooling (``max(c·x) = c·max(x)`` for ``c > 0``), sum, mean, ...) with
no other use of any value on the way, ending at a neuron's input current ``X``.  So the neuron sees
``c·X'`` where ``X'`` is the same computation without the scale.

Why this is exact.  Every neuron model of ``snncompile.ops.neurons`` is linear in ``(X, V, V_reset,
V_th)`` between spikes: the charge is ``H = V + (X − (V − V_reset))/τ`` (or the other styles), the reset
``V = V_reset`` (hard) or ``V = H − V_th`` (soft), and firing compares ``H`` with ``V_th``.  Let a neuron
A get ``c·X'`` with ``(V_th, V_reset)`` and B get ``X'`` with ``(V_th/c, V_reset/c)``, both starting at
their ``V_reset``.  By induction ``V_A = c·V_B`` and ``H_A = c·H_B`` at every step, and since ``c > 0``,
``H_A ≥ V_th ⇔ H_B ≥ V_th/c`` (likewise for ``>``): **identical spikes**.  Scaling only the threshold is
enough when ``V_reset = 0`` (or soft reset); with a nonzero ``V_reset`` the reset potential is scaled too.

Floats: with ``c`` a power of two (Spikformer's 0.125) every product is exact and the spikes are
bit-identical; otherwise the only difference is one rounding of ``V_th/c`` and of the per-step
products (threshold ties).  Refused for ``c ≤ 0``, a non-scalar ``c``, a fork or a non-linear op on
the way, or a neuron fed an explicit membrane.
"""
from __future__ import annotations

from snncompile import ops
from snncompile.ir.graph import Graph, Node

from .base import Pass, constant_scalar, register_pass, walk_forward


def _carries_scale(graph: Graph, node: Node, value: str) -> bool:
    """Whether ``node`` commutes with a positive scale of ``value``: the op is homogeneous in the operand
    ``value`` feeds, and it takes ``value`` once (a product of the value with itself would scale by c²)."""
    return node.inputs.count(value) == 1 and node.inputs.index(value) in ops.get(node.op).homogeneous_operands


@register_pass
class FoldScale(Pass):
    name = "fold_scale"
    summary = "fold x·c (c > 0 constant scalar) into the next neuron: V_th/c, V_reset/c (identical spikes)"

    def apply(self, graph: Graph) -> None:
        for mul in [n for n in graph.nodes if ops.get(n.op).scale is not None]:
            operands = ops.scaled_operand(graph, mul)
            if operands is None:
                continue
            x, c_value = operands
            c = constant_scalar(graph, c_value)
            if c is None:
                self.refuse(mul, "the constant is not a single number (per-channel scales cannot move into "
                                 "one threshold)")
                continue
            if ops.get(mul.op).scale.inverse and c == 0:
                continue
            c = ops.get(mul.op).scale.factor(c)
            if not c > 0:
                self.refuse(mul, f"the scale {c:g} is not positive (a negative scale would flip ≥ into ≤)")
                continue
            carried = {"v": mul.outputs[0]}

            def through(n: Node) -> bool:
                if _carries_scale(graph, n, carried["v"]):
                    carried["v"] = n.outputs[0]
                    return True
                return False

            walk = walk_forward(graph, mul.outputs[0], through)
            end = walk.found
            if end is None or ops.get(end.op).neuron is None:
                what = "a fork, a graph output or the end of the graph" if end is None else f"{end.name} ({end.op})"
                self.refuse(mul, f"the scaled value reaches {what} before any neuron")
                continue
            last = walk.passed[-1].outputs[0] if walk.passed else mul.outputs[0]
            if end.inputs[0] != last or len(end.inputs) > 1:
                self.refuse(mul, f"{end.name} takes the scaled value as something other than its input current")
                continue
            attrs = dict(end.attrs)
            attrs["v_threshold"] = attrs["v_threshold"] / c
            if attrs.get("v_reset") not in (None, 0.0):
                attrs["v_reset"] = attrs["v_reset"] / c
            attrs["folded_input_scale"] = attrs.get("folded_input_scale", 1.0) * c
            end.attrs = attrs
            graph.erase_node(mul, forward_to=x)
            self.rewrote(mul, f"scale {c:g} folded into {end.name}: V_th {attrs['v_threshold'] * c:g} -> "
                              f"{attrs['v_threshold']:g}")
        graph.drop_unused_constants()
