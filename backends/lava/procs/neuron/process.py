"""``LIFStep``: a population of the IR's LIF neurons, with per-image reset, for pipelined runs.

Why not lava-nc's ``LIF``: spikingjelly fires at ``H ≥ V_th`` while Lava's LIF fires at ``v > vth`` and,
in fixed point, compares with ``vth << 6`` — a threshold granularity of 64 that cannot express the
integer ``v ≥ θ ⇔ v > θ − 1`` exactly.  Loihi 2's neurons are programmable, so this process implements
the exact semantics (its fixed-point model is Lava's bit-accurate LIF arithmetic with ``≥``), plus a reset
at every image boundary (what ``LIFReset`` does) and recording.

* ``floating_pt``: the op ``lif``'s reference step (``snncompile.ops.neurons.lif_step``) — the reference
  executor's own neuron step — on ``x = a_in + bias`` (float64); ``H`` is ``lif_charge``.
* ``fixed_pt``: ``snncompile.loihi.registers.LIFFixed`` (24-bit membrane, 12-bit decay, activation
  shifted by 6, threshold ``≥``), on the integer ``a_in``.

Parameters, ports and the step skeleton: ``procs.neuron.base`` (``rec_v`` records the membrane ``H`` compared
with the threshold).
"""
from snncompile.backends.lava.procs.base import FIXED, FLOAT, model_of
from snncompile.backends.lava.procs.neuron.base import FixedNeuronModel, FloatNeuronModel, NeuronProcess
from snncompile.loihi.registers import LIFFixed


class LIFStep(NeuronProcess):
    """Parameters: those of ``NeuronProcess`` but ``op``, which is ``lif``."""

    def __init__(self, **params):
        super().__init__(op="lif", **params)


@model_of(LIFStep, FLOAT)
class PyLIFStepFloat(FloatNeuronModel):
    pass


@model_of(LIFStep, FIXED)
class PyLIFStepFixed(FixedNeuronModel):
    registers = LIFFixed
