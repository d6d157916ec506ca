"""``StepReadout``: the boundary between the chip and the host's post-time-loop graph.

It receives the graded sum of its producers (spike counts of Spikformer's residual stream, or the
synaptic currents of Spikingformer's), applies the per-step linear map ``G`` (e.g. the mean over tokens)
and the constant ``c`` (a folded bias) after dequantising by ``scale`` (fixed point), and records the
result for model step ``m``.  The host stacks the rows over T and runs the rest (mean over T, the head).
"""
import numpy as np

from snncompile.backends.lava.procs.base import FIXED, FLOAT, ClockedModel, UnitProcess, model_of
from snncompile.backends.lava.procs.runtime import Recorder


class StepReadout(UnitProcess):
    inputs = ("a_in",)

    def __init__(self, *, n_in: int, G, c=None, scale: float = 1.0, T: int, steps: int, lag: int = 0, rec=None,
                 name=None):
        super().__init__(n_in=n_in, G=G, c=c, scale=scale, T=T, steps=steps, lag=lag, rec=rec, name=name)
        self.open_ports(a_in=n_in)


class _Base(ClockedModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.G = p["G"]
        self.c = None if p["c"] is None else np.asarray(p["c"], dtype=np.float64)
        self.scale = np.asarray(p["scale"], dtype=np.float64)  # one, or one per readout element
        self.rec = Recorder(p["rec"])

    def step(self, m, x):
        y = np.asarray(self.G @ np.asarray(x, dtype=np.float64)).reshape(-1)
        if np.any(self.scale != 1.0):
            y = y * self.scale
        if self.c is not None:
            y = y + self.c
        self.rec.write(m, y)


@model_of(StepReadout, FLOAT)
class PyStepReadoutFloat(_Base):
    pass


@model_of(StepReadout, FIXED)
class PyStepReadoutFixed(_Base):
    pass
