"""``StepReadout``: the boundary between the chip and the host's post-time-loop graph.

It receives the graded sum of its producers (spike counts of Spikformer's residual stream, or the
synaptic currents of Spikingformer's), applies the per-step linear map ``G`` (e.g. the mean over tokens)
and the constant ``c`` (a folded bias) after dequantising by ``scale`` (fixed point), and records the
result for model step ``m``.  The host stacks the rows over T and runs the rest (mean over T, the head).
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


class StepReadout(AbstractProcess):
    def __init__(self, *, n_in: int, G, c=None, scale: float = 1.0, T: int, steps: int, lag: int = 0, rec=None,
                 name=None):
        super().__init__(n_in=n_in, G=G, c=c, scale=scale, T=T, steps=steps, lag=lag, rec=rec, name=name)
        self.a_in = InPort(shape=(n_in,))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.G = p["G"]
        self.c = None if p["c"] is None else np.asarray(p["c"], dtype=np.float64)
        self.scale = np.asarray(p["scale"], dtype=np.float64)  # one, or one per readout element
        self.clock = Clock(p)
        self.rec = Recorder(p["rec"])

    def run_spk(self):
        x = np.asarray(self.a_in.recv(), dtype=np.float64)
        m = self.clock.model_step(self.time_step)
        if not self.clock.valid(m):
            return
        y = np.asarray(self.G @ x).reshape(-1)
        if np.any(self.scale != 1.0):
            y = y * self.scale
        if self.c is not None:
            y = y + self.c
        self.rec.write(m, y)


@implements(proc=StepReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStepReadoutFloat(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)


@implements(proc=StepReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStepReadoutFixed(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
