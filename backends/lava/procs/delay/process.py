"""``StepDelay``: holds graded messages for a few fixed delays (delay balancing of parallel paths).

Lava's synapse processes deliver one step late, so two paths into one sum (a residual add) or into one
spike matmul must cross equally many of them; the shorter path is delayed.  One ``StepDelay`` serves every
delay a producer needs: its ring buffer is as long as the longest delay and output ``out{i}`` sends what
arrived ``taps[i]`` steps earlier (up to :data:`MAX_TAPS` taps; unused outputs stay unconnected).  On
Loihi 2 this is the synaptic delay (0..63 steps) of the receiving synapses.
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

MAX_TAPS = 8


class StepDelay(AbstractProcess):
    def __init__(self, *, n: int, taps, name=None):
        taps = [int(t) for t in taps]
        if not 1 <= len(taps) <= MAX_TAPS or min(taps) < 1:
            raise ValueError(f"StepDelay takes 1..{MAX_TAPS} delays ≥ 1, got {taps}")
        super().__init__(n=n, taps=taps, name=name)
        self.a_in = InPort(shape=(n,))
        for i in range(MAX_TAPS):
            setattr(self, f"out{i}", OutPort(shape=(n,)))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        n = int(self.proc_params["n"])
        self.taps = list(self.proc_params["taps"])
        self.buf = np.zeros((max(self.taps), n), dtype=self.dtype)
        self.i = 0  # slot of the oldest message

    def run_spk(self):
        x = self.a_in.recv()
        depth = len(self.buf)
        for k, d in enumerate(self.taps):  # sent d steps ago: slot (i + depth - d) mod depth
            getattr(self, f"out{k}").send(self.buf[(self.i + depth - d) % depth].copy())
        self.buf[self.i] = x
        self.i = (self.i + 1) % depth


_FLOAT_PORTS = {f"out{i}": LavaPyType(PyOutPort.VEC_DENSE, float) for i in range(MAX_TAPS)}
_FIXED_PORTS = {f"out{i}": LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24) for i in range(MAX_TAPS)}


@implements(proc=StepDelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStepDelayFloat(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    out0: PyOutPort = _FLOAT_PORTS["out0"]
    out1: PyOutPort = _FLOAT_PORTS["out1"]
    out2: PyOutPort = _FLOAT_PORTS["out2"]
    out3: PyOutPort = _FLOAT_PORTS["out3"]
    out4: PyOutPort = _FLOAT_PORTS["out4"]
    out5: PyOutPort = _FLOAT_PORTS["out5"]
    out6: PyOutPort = _FLOAT_PORTS["out6"]
    out7: PyOutPort = _FLOAT_PORTS["out7"]
    dtype = np.float64


@implements(proc=StepDelay, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStepDelayFixed(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    out0: PyOutPort = _FIXED_PORTS["out0"]
    out1: PyOutPort = _FIXED_PORTS["out1"]
    out2: PyOutPort = _FIXED_PORTS["out2"]
    out3: PyOutPort = _FIXED_PORTS["out3"]
    out4: PyOutPort = _FIXED_PORTS["out4"]
    out5: PyOutPort = _FIXED_PORTS["out5"]
    out6: PyOutPort = _FIXED_PORTS["out6"]
    out7: PyOutPort = _FIXED_PORTS["out7"]
    dtype = np.int32
