"""``GradedStep``: a population of I-LIF neurons (op ``ilif``) that emit graded spikes, with per-image reset.

Each neuron emits an integer ``S ∈ {0..D}`` per step as one graded spike (its payload; a zero sends
nothing) and resets by subtracting it::

    H = β·V + X;   S = clamp(round(H), 0, D);   V = H − S

* ``floating_pt``: the neuron op's own reference step (``ops.get(op).reference`` in single-step mode, for
  ``ilif`` ``snncompile.ops.graded.ilif_step``: round half to even, as torch) — what the reference executor
  runs — on ``x = a_in + bias`` (float64); the recorded ``H`` comes from the op's ``charge`` hook.
* ``fixed_pt``: ``snncompile.loihi.graded.ILIFFixed`` (24-bit membrane in units ``S_v = 2^shift`` per 1.0,
  12-bit decay, activation shifted by 6, ``S = clamp((h + S_v/2) >> shift, 0, D)``, ``v = h − S·S_v``).

The consumers are lava-nc ``Sparse`` processes with ``num_message_bits > 0`` (graded messages): each
multiplies the payload by its weights.  **On silicon:** graded spikes (payloads up to 24 bits) are a stock
Loihi 2 feature; the round/clamp emission with reset by the payload is not a stock neuron model and needs a
programmable (microcode) neuron.

Parameters as ``procs.neuron.base.NeuronProcess`` (``n``, ``attrs``, ``bias``, ``fixed``, ``T``, ``steps``,
``lag``, ``rec``, ``rec_v``) plus ``op`` (the IR neuron op); the spike recording holds the payloads,
``rec_v`` the membrane ``H`` before the emission.
"""
import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snncompile import ops
from snncompile.backends.lava.procs.neuron.base import FixedNeuronModel, FloatNeuronModel, NeuronProcess
from snncompile.ir.graph import Node
from snncompile.loihi.graded import ILIFFixed


class GradedStep(NeuronProcess):
    """Parameters: those of ``NeuronProcess`` plus ``op`` (the IR neuron op)."""

    def __init__(self, *, op: str, **params):
        super().__init__(op=op, **params)


@implements(proc=GradedStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGradedStepFloat(FloatNeuronModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        opdef = ops.get(p["op"])
        self.node = Node("population", p["op"], ["x"], ["s", "v"], dict(p["attrs"], step_mode="single"))
        self.reference = opdef.reference
        self.charge = opdef.hook("charge") if p["rec_v"] is not None else None

    def reset(self):
        self.v = {}  # the op's state dict (its membrane), fresh for every image

    def step(self, x):
        x = np.asarray(x, dtype=np.float64) + self.bias
        h = self.charge(self.node, x, dict(self.v)) if self.charge is not None else None
        s = self.reference(self.node, [x], self.v)[0]
        return s, h


@implements(proc=GradedStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGradedStepFixed(FixedNeuronModel):
    registers = ILIFFixed
