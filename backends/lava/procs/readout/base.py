"""What the two readouts (``StepReadout`` per model step, ``StepIntegrator`` per image) share: one graded input
``a_in`` of ``n_in`` values, the linear map ``G`` of it (e.g. the mean over tokens), the constant ``c`` (folded
biases, float64, or ``None``) and a recording ``rec``; ``T``, ``steps``, ``lag`` are those of
``procs.runtime.Clock``.  Each readout's own rule (what it records, and when) is in its process's model."""
import numpy as np

from snncompile.backends.lava.procs.base import ClockedModel, UnitProcess
from snncompile.backends.lava.procs.runtime import Recorder


class ReadoutProcess(UnitProcess):
    """Parameters: ``n_in``, ``G``, ``c``, ``T``, ``steps``, ``lag``, ``rec`` (module docstring), and a
    subclass's own."""

    inputs = ("a_in",)

    def __init__(self, *, n_in: int, G, c=None, T: int, steps: int, lag: int = 0, rec=None, name=None, **own):
        super().__init__(n_in=n_in, G=G, c=c, T=T, steps=steps, lag=lag, rec=rec, name=name, **own)
        self.open_ports(a_in=n_in)


class ReadoutModel(ClockedModel):
    """``G``, ``c`` and the recorder of a readout; a subclass defines ``step(m, a_in)``."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.G = p["G"]
        self.c = None if p["c"] is None else np.asarray(p["c"], dtype=np.float64)
        self.rec = Recorder(p["rec"])
