"""The coincidence population: an elementwise product of two binary spike trains as a stock LIF population.

Algebra.  For ``x, y ∈ {0, 1}``: ``x·y = 1 ⇔ x + y = 2 ⇔ x + y > 1``.  A product unit
(:mod:`.network`, kind ``product``) anchors an elementwise product ``z = x ⊙ y`` whose operands are both
in the binary value domain and are each an affine function of spike trains (data moves, broadcasts,
sums/differences, constant scales and offsets of spiking populations)::

    x = Σ_t M_t·s_t + c_x,   y = Σ_t M_t·s_t + c_y          (s_t: spikes of a population, c: constants)

so the population's input current ``I = B_x·x + B_y·y`` (``B``: the product's broadcast of each operand
onto the output) is a sum of synapses from spike populations, with weights ``B·M`` (±1 for moves and
differences of spikes), plus the constant bias ``B_x·c_x + B_y·c_y``.  Because ``x`` and ``y`` are binary,
``I ∈ {0, 1, 2}`` and ``z = [I > 1]`` exactly.  AND (SEW's ``a·b``): ``I = a + b``; IAND (``(1 − a)·b``):
``I = 1 − a + b`` (weight −1 from ``a``, bias 1).  The neuron keeps no memory between steps (full decay,
hard reset), so each step's output depends on that step's operands only.

Registers (the same neuron in both modes; Lava's own comparison ``v > vth``):

* **float**: ``H = V + (I − V)/τ`` with ``τ = 1`` (so ``H = I``), fire at ``H > 1``, reset to 0 — the IR's
  LIF attributes, run by the same neuron step as every other population;
* **fixed** (:class:`snncompile.loihi.registers.LIFFixed`, ``v' = decay(v) + (a << 6) + bias``): unit weights
  (``a = I − c`` in integer activation units, weight exponent 0), ``bias = c << 6`` (mantissa ``c``,
  exponent 6), ``vth = 1 << 6 = 64`` (mantissa 1), ``dv = 4095``: the decay keeps ``(|v|·1) >> 12 = 0`` of
  any ``|v| < 4096``, and here ``|v| ≤ 2·64``, so nothing is kept: exactly memoryless with a 12-bit decay
  register.  ``v' = 64·I > 64 ⇔ I = 2``.  A mixed-sign weight matrix (one population entering with both
  signs) is stored doubled with weight exponent −1 (Lava keeps only even mixed-sign weights;
  ``(2·Σw·s) >> 1 = Σw·s`` exactly).

On Loihi 2 silicon this is a stock CUBA LIF compartment (``du = dv = 4095``, threshold mantissa 1, bias
``c << 6``) fed by unit-weight synapses: no programmable neuron is needed.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snncompile.errors import UnsupportedOpError
from snncompile.ir.graph import Graph, Node
from snncompile.ops.registry import broadcast_map

from .registers import ACT_SHIFT

THRESHOLD = 1.0
"""Fires when the input current exceeds this (strictly): ``x + y > 1``."""
DV_FIXED = 4095
"""12-bit voltage decay: keeps ``(|v|·1) >> 12``, zero for every membrane value this population reaches."""


def check_operands(graph: Graph, node: Node) -> None:
    """Refuse a product whose operands are not both binary spike trains, with the reason."""
    doms = [graph.values[v].domain for v in node.inputs]
    if all(d is not None and d.is_binary for d in doms):
        return
    said = ", ".join("unknown" if d is None else str(d) for d in doms)
    raise UnsupportedOpError(
        f"{node.location}: a product of two dynamic tensors with domains {said}: the Loihi backend lowers "
        f"products of binary spike trains only (a coincidence population, x·y = [x + y > 1]); a spike gating "
        f"a graded or real value needs a programmable product neuron (such as Lava's ProdNeuron), which is "
        f"not lowered")


def operand_map(graph: Graph, node: Node, operand: str) -> sp.csr_matrix:
    """``B``: the product's broadcast of ``operand`` onto its output (rows: output elements)."""
    m = broadcast_map(graph, node, operand)
    return sp.csr_matrix((m.data, (m.rows, m.cols)), shape=m.shape)


def float_attrs() -> dict:
    """The IR LIF attributes of the coincidence neuron (float mode): ``H = I``, fires at ``H > 1``."""
    return {"tau": 1.0, "decay_input": True, "v_threshold": THRESHOLD, "v_reset": 0.0, "fire": "gt",
            "step_mode": "single"}


def fixed_registers(bias: np.ndarray) -> dict:
    """:class:`~snncompile.loihi.registers.LIFFixed` registers of the coincidence neuron; ``bias``: the constant
    part of the current, per neuron (integers)."""
    b = np.asarray(bias, dtype=np.float64)
    if not np.all(np.mod(b, 1) == 0):
        raise UnsupportedOpError("a product's constant operand term is not an integer: cannot be a bias register")
    return {"dv": DV_FIXED, "vth": int(THRESHOLD) << ACT_SHIFT, "bias": (b.astype(np.int64) << ACT_SHIFT),
            "soft_reset": False, "fire": "gt"}


def fixed_weights(W: sp.csr_matrix) -> tuple[sp.csr_matrix, int]:
    """Integer unit weights in Lava's final form and their exponent: ``(W, 0)``, or ``(2·W, −1)`` when
    ``W`` has both signs (mixed-sign weights must be even)."""
    W = sp.csr_matrix(W)
    if not np.all(np.mod(W.data, 1) == 0):
        raise UnsupportedOpError("a product operand weighs spikes by a non-integer: not a unit synapse")
    mixed = W.data.size and W.data.min() < 0 < W.data.max()
    data = (2 * W.data if mixed else W.data).astype(np.int32)
    return sp.csr_matrix((data, W.indices, W.indptr), shape=W.shape), (-1 if mixed else 0)
