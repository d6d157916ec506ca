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

from snncompile.backends.lava.procs.base import FIXED, FLOAT, ClockedModel, UnitProcess, model_of
from snncompile.backends.lava.procs.runtime import Recorder
from snncompile.loihi.integrator import accumulate


class StepIntegrator(UnitProcess):
    inputs = ("a_in",)

    def __init__(self, *, n_in: int, G, c=None, T: int, steps: int, lag: int = 0, rec=None, name=None):
        super().__init__(n_in=n_in, G=G, c=c, T=T, steps=steps, lag=lag, rec=rec, name=name)
        self.open_ports(a_in=n_in)


class _Base(ClockedModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.G = p["G"]
        self.c = None if p["c"] is None else np.asarray(p["c"], dtype=np.float64)
        self.rec = Recorder(p["rec"])
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
