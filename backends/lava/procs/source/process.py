"""``StepSource``: replays host data, one row per model step (the image repeated T times, or events).

At Lava step ``s`` it sends row ``s − 1`` of ``data`` (a ``.npy`` file of shape ``[steps, n]``, opened
memory-mapped), zeros after the last row.  The values are graded messages (the analog pixels in float
mode, their integer quantisation in fixed mode).
"""
import numpy as np

from lava.magma.core.model.py.model import PyLoihiProcessModel

from snncompile.backends.lava.procs.base import FIXED, FLOAT, UnitProcess, model_of


class StepSource(UnitProcess):
    outputs = ("s_out",)

    def __init__(self, *, n: int, data: str, name=None):
        super().__init__(n=n, data=data, name=name)
        self.open_ports(s_out=n)


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
        self.s_out.send(np.asarray(row, dtype=self.fmt.message))


@model_of(StepSource, FLOAT)
class PyStepSourceFloat(_Base):
    pass


@model_of(StepSource, FIXED)
class PyStepSourceFixed(_Base):
    pass
