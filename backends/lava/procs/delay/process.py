"""``StepDelay``: holds graded messages for ``d`` time steps (delay balancing of parallel paths).

Lava's synapse processes deliver one step late, so two paths into one sum (a residual add) or into one
spike matmul must cross equally many of them; the shorter path goes through a ``StepDelay``.  On Loihi 2
this is the synaptic delay (0..63 steps) of the receiving synapses.
"""
import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class StepDelay(AbstractProcess):
    def __init__(self, *, n: int, delay: int, name=None):
        super().__init__(n=n, delay=delay, name=name)
        self.a_in = InPort(shape=(n,))
        self.a_out = OutPort(shape=(n,))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        n, d = int(self.proc_params["n"]), int(self.proc_params["delay"])
        self.buf = np.zeros((d, n), dtype=self.dtype)
        self.i = 0

    def run_spk(self):
        x = self.a_in.recv()
        out = self.buf[self.i].copy()
        self.buf[self.i] = x
        self.i = (self.i + 1) % len(self.buf)
        self.a_out.send(out)


@implements(proc=StepDelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStepDelayFloat(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    dtype = np.float64


@implements(proc=StepDelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStepDelayFixed(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    dtype = np.int32
