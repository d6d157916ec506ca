"""``LIFStep``: a population of the IR's LIF neurons, with per-image reset, for pipelined runs.

Why not lava-nc's ``LIF``: spikingjelly fires at ``H ≥ V_th`` while Lava's LIF fires at ``v > vth`` and,
in fixed point, compares with ``vth << 6`` — a threshold granularity of 64 that cannot express the
integer ``v ≥ θ ⇔ v > θ − 1`` exactly.  Loihi 2's neurons are programmable, so this process implements
the exact semantics (its fixed-point model is Lava's bit-accurate LIF arithmetic with ``≥``), plus a reset
at every image boundary (what ``LIFReset`` does) and recording.

* ``floating_pt``: ``snncompile.ops.neurons.lif_step`` — the reference executor's own neuron step — on
  ``x = a_in + bias`` (float64).
* ``fixed_pt``: ``snncompile.loihi.registers.LIFFixed`` (24-bit membrane, 12-bit decay, activation
  shifted by 6, threshold ``≥``), on the integer ``a_in``.

Parameters, ports and the step skeleton: ``procs.neuron.base`` (``rec_v`` records the membrane ``H`` compared
with the threshold).
"""
import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snncompile.backends.lava.procs.neuron.base import FixedNeuronModel, FloatNeuronModel, NeuronProcess
from snncompile.loihi.registers import LIFFixed
from snncompile.ops.neurons import initial_state, lif_step


class LIFStep(NeuronProcess):
    """Parameters: those of ``NeuronProcess``; the neuron is the IR op ``lif`` (``attrs``/``fixed``)."""


@implements(proc=LIFStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLIFStepFloat(FloatNeuronModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.attrs = dict(self.proc_params["attrs"])
        self._charge_attrs = dict(self.attrs, v_threshold=float(np.finfo(np.float64).max))  # H: never fires

    def reset(self):
        self.v, self.s = initial_state(self.attrs, (self.n,), np.float64)

    def step(self, x):
        x = np.asarray(x, dtype=np.float64) + self.bias
        if self.rec_v.spec is not None:  # H: the charge compared with the threshold
            h = lif_step(self._charge_attrs, x, self.v, self.s)[1]
        else:
            h = None
        self.s, self.v = lif_step(self.attrs, x, self.v, self.s)
        return self.s, h


@implements(proc=LIFStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLIFStepFixed(FixedNeuronModel):
    registers = LIFFixed
