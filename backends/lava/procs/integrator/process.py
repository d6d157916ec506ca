"""``StepIntegrator``: a readout on chip — a non-spiking integrator population read once per image.

Each compartment ``j`` integrates its input with no threshold and no decay (Loihi's compartment with
``du = 1`` — the current is this step's input — ``dv = 0`` and a threshold it never reaches):

    v_j ← 0 at the image's first step;   v_j ← v_j + (G·a_in)_j + c_j   at every model step,

``G`` the readout's linear map of its producers (e.g. the mean over tokens, unit synapses scaled by
1/N) and ``c`` the constant (folded biases).  After the image's T-th step ``v = Σ_t (G·a_in[t] + c)`` is
recorded once (row = image): the host reads T times fewer values than from a per-step ``StepReadout``.

Fixed point (``fixed_pt``): ``G`` holds integer weights, there is no ``c`` (the host adds ``T·c`` when it
dequantises) and ``v ← sat(v + G·a_in)`` in a 24-bit register — the semantics of
:mod:`snncompile.loihi.integrator` (:func:`~snncompile.loihi.integrator.accumulate`).
"""
import numpy as np

from snncompile.backends.lava.procs.base import FIXED, FLOAT, model_of
from snncompile.backends.lava.procs.readout.base import ReadoutModel, ReadoutProcess
from snncompile.loihi.integrator import accumulate


class StepIntegrator(ReadoutProcess):
    """Parameters: those of ``ReadoutProcess`` (``procs.readout.base``)."""


class _Base(ReadoutModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.v = self.zero()

    def zero(self):
        return np.zeros(self.G.shape[0], dtype=self.fmt.work)

    def integrate(self, x):
        v = self.v + np.asarray(self.G @ np.asarray(x, dtype=np.float64)).reshape(-1)
        return v if self.c is None else v + self.c

    def step(self, m, x):
        if self.clock.image_start(m):
            self.v = self.zero()
        self.v = self.integrate(x)
        if (m + 1) % self.clock.T == 0:
            self.rec.write(m // self.clock.T, self.v)


@model_of(StepIntegrator, FLOAT)
class PyStepIntegratorFloat(_Base):
    pass


@model_of(StepIntegrator, FIXED)
class PyStepIntegratorFixed(_Base):
    def integrate(self, x):
        return accumulate(self.v, self.G, x)
