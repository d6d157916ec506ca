"""``StepSource``: replays host data, one row per model step (the image repeated T times, or events).

At Lava step ``s`` it sends row ``s − 1`` of ``data`` (a ``.npy`` file of shape ``[steps, n]``, opened
memory-mapped), zeros after the last row.  The values are graded messages (the analog pixels in float
mode, their integer quantisation in fixed mode).
"""
import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class StepSource(AbstractProcess):
    def __init__(self, *, n: int, data: str, name=None):
        super().__init__(n=n, data=data, name=name)
        self.s_out = OutPort(shape=(n,))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.n = int(self.proc_params["n"])
        self.data = None

    def run_spk(self):
        if self.data is None:
            self.data = np.load(self.proc_params["data"], mmap_mode="r")
        m = self.time_step - 1
        row = self.data[m] if m < len(self.data) else np.zeros(self.n)
        self.s_out.send(np.asarray(row, dtype=self.out_dtype))


@implements(proc=StepSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStepSourceFloat(_Base):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    out_dtype = np.float64


@implements(proc=StepSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStepSourceFixed(_Base):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    out_dtype = np.int32
