"""``StepIntegrator``: a readout on chip — a non-spiking integrator population read once per image.

Each compartment ``j`` integrates its input with no threshold and no decay (Loihi's compartment with
``du = 1`` — the current is this step's input — ``dv = 0`` and a threshold it never reaches):

    v_j ← 0 at the image's first step;   v_j ← v_j + (G·a_in)_j + c_j   at every model step,

``G`` the readout's linear map of its producers (e.g. the mean over tokens, unit synapses scaled by
1/N) and ``c`` the constant (folded biases).  After the image's T-th step ``v = Σ_t (G·a_in[t] + c)`` is
recorded once (row = image): the host reads T times fewer values than from a per-step ``StepReadout``.
"""
import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snncompile.backends.lava.procs.runtime import Clock, Recorder


class StepIntegrator(AbstractProcess):
    def __init__(self, *, n_in: int, G, c=None, T: int, steps: int, lag: int = 0, rec=None, name=None):
        super().__init__(n_in=n_in, G=G, c=c, T=T, steps=steps, lag=lag, rec=rec, name=name)
        self.a_in = InPort(shape=(n_in,))


@implements(proc=StepIntegrator, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStepIntegratorFloat(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.G = p["G"]
        self.c = None if p["c"] is None else np.asarray(p["c"], dtype=np.float64)
        self.clock = Clock(p)
        self.rec = Recorder(p["rec"])
        self.v = np.zeros(self.G.shape[0])

    def run_spk(self):
        x = np.asarray(self.a_in.recv(), dtype=np.float64)
        m = self.clock.model_step(self.time_step)
        if not self.clock.valid(m):
            return
        if self.clock.image_start(m):
            self.v = np.zeros(self.G.shape[0])
        self.v = self.v + np.asarray(self.G @ x).reshape(-1)
        if self.c is not None:
            self.v = self.v + self.c
        if (m + 1) % self.clock.T == 0:
            self.rec.write(m // self.clock.T, self.v)
