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

Parameters, ports and the step skeleton: ``procs.neuron.base``; the spike recording holds the payloads,
``rec_v`` the membrane ``H`` before the emission.
"""
from snncompile.backends.lava.procs.base import FIXED, FLOAT, model_of
from snncompile.backends.lava.procs.neuron.base import FixedNeuronModel, FloatNeuronModel, NeuronProcess
from snncompile.loihi.graded import ILIFFixed


class GradedStep(NeuronProcess):
    """Parameters: those of ``NeuronProcess``; ``op`` is a graded-spike neuron op (e.g. ``ilif``)."""


@model_of(GradedStep, FLOAT)
class PyGradedStepFloat(FloatNeuronModel):
    pass


@model_of(GradedStep, FIXED)
class PyGradedStepFixed(FixedNeuronModel):
    registers = ILIFFixed
