"""Split weights: one connection as two Loihi synapses, a high and a low 8-bit mantissa, for 16-bit weights.

A Loihi synapse holds an 8-bit weight mantissa; its layer's exponent ``e`` scales it (:mod:`.registers`).  A
*split* weight layer stores every connection twice, from the same presynaptic axon to the same compartment:
a **high** synapse with the layer's mantissa ``w_hi`` at exponent ``e`` and a **low** synapse with the
remainder's mantissa ``w_lo`` at exponent ``e − 8``.  Their currents add at the compartment's input:

    a = shift(Σ w_hi·x, e) + shift(Σ w_lo·x, e − 8)            (shift: ``<<`` or arithmetic ``>>``, floor)

so the weight is ``w ≈ w_hi·2^e + w_lo·2^(e−8)``: a 16-bit mantissa on the grid ``2^(e−8)`` (mixed sign: the
final forms are even, ``2h`` and ``2l`` with ``h, l`` in [−128, 127], i.e. the integer ``n = 256h + l`` in
[−32896, 32639] on the grid ``2^(e−7)``; one sign: ``h, l`` in [0, 255] (or [−255, 0]), ``n = 256h + l`` on the
grid ``2^(e−8)``).  ``n`` is rounded like an 8-bit layer (to nearest or error-compensating,
:func:`.registers.round_on_grid`) and then split exactly: ``h = ⌊(n + 128)/256⌋`` (mixed) or the quotient by
256 (one sign), ``l = n − 256h``.  The right shift of the low current floors once more per step than a single
16-bit synapse would; the fixed-point executor and Lava compute the same two shifts.

Cost: twice the synapses (and synapse memory) of the layer and two synaptic ops per input event; input
axons and compartments are unchanged.  The exponent ``e − 8`` may lie below the range Loihi 1 documents for
a synapse format (−8..7); Lava applies any exponent, and Intel publishes no such range for Loihi 2.

In the fixed-point graph a split layer's node keeps ``w_hi`` as its weight input and ``attrs['fixed_exp'] =
e``; ``attrs['fixed_low'] = {'weight': <constant name>, 'exp': e − 8}`` names the low mantissas.
:func:`weight_planes` gives every consumer (executor, ledger, Lava plan) the planes to sum.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from snncompile.ir.graph import Graph, Node

from .registers import round_on_grid, weight_exponent

LOW_SHIFT = 8  # the low synapse's exponent is the layer's minus this: its mantissa continues the high one's bits


@dataclass
class SplitWeights:
    high: np.ndarray  # Lava's final form, exponent ``exp``
    exp: int
    low: np.ndarray  # Lava's final form, exponent ``exp - LOW_SHIFT``
    mode: str  # the sign mode of both planes: "mixed", "excitatory", "inhibitory" or "null"

    @property
    def low_exp(self) -> int:
        return self.exp - LOW_SHIFT

    def value(self) -> np.ndarray:
        """The weights the two synapses realise together (float, before the floors of the shifts)."""
        return self.high * 2.0 ** self.exp + self.low * 2.0 ** self.low_exp


def quantise_split(w: np.ndarray, second_moments: Optional[np.ndarray] = None) -> SplitWeights:
    """``w ≈ w_hi·2^e + w_lo·2^(e−8)`` with the 8-bit layer's exponent and sign mode (module docstring);
    rounding to nearest, or error-compensating given ``second_moments`` (as :func:`.registers.quantise_weights`)."""
    w = np.asarray(w, dtype=np.float64)
    e, mode, top = weight_exponent(w)
    if mode == "null":
        return SplitWeights(np.zeros_like(w), 0, np.zeros_like(w), mode)
    if mode == "mixed":
        unit, lo, hi = 2.0 ** (e + 1 - LOW_SHIFT), -128 * 256 - 128, 127 * 256 + 127
    elif mode == "excitatory":
        unit, lo, hi = 2.0 ** (e - LOW_SHIFT), 0, top * 256 + 255
    else:
        unit, lo, hi = 2.0 ** (e - LOW_SHIFT), -(top * 256 + 255), 0
    n = round_on_grid(w / unit, lo, hi, second_moments).astype(np.int64)
    if mode == "mixed":
        h = np.floor_divide(n + 128, 256)
        return SplitWeights(2.0 * h, e, 2.0 * (n - 256 * h), mode)
    h = np.sign(n) * np.floor_divide(np.abs(n), 256)  # toward zero: h and l share the sign
    return SplitWeights(h.astype(np.float64), e, (n - 256 * h).astype(np.float64), mode)


def split_layers(g: Graph) -> list[Node]:
    """The weight layers of a fixed-point graph that are split into a high and a low synapse."""
    return [n for n in g.nodes if len(weight_planes(g, n)) == 2]


def synapse_planes(g: Graph) -> int:
    """Loihi synapses per connection of the graph's weight layers (:func:`weight_planes`; the quantiser splits
    every weight layer or none): 2 when split, else 1."""
    return 2 if split_layers(g) else 1


def weight_planes(g: Graph, node: Node) -> list[Node]:
    """The synapse planes of a fixed-point weight layer: ``node`` itself, and for a split layer a detached copy
    that reads the low mantissas with exponent ``e − 8`` (no ``fixed_low`` of its own).  The layer's current
    is the sum over planes of ``shift(W_p·x, attrs['fixed_exp'])``."""
    low = node.attrs.get("fixed_low")
    if not low:
        return [node]
    attrs = {k: v for k, v in node.attrs.items() if k != "fixed_low"}
    attrs["fixed_exp"] = int(low["exp"])
    inputs = list(node.inputs)
    inputs[1] = low["weight"]
    return [node, Node(f"{node.name}:low", node.op, inputs, list(node.outputs), attrs, node.module, node.source)]
