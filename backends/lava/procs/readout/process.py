"""``StepReadout``: the boundary between the chip and the host's post-time-loop graph.

It receives the graded sum of its producers (spike counts of Spikformer's residual stream, or the
synaptic currents of Spikingformer's), applies the per-step linear map ``G`` (e.g. the mean over tokens)
and the constant ``c`` (a folded bias) after dequantising by ``scale`` (fixed point), and records the
result for model step ``m``.  The host stacks the rows over T and runs the rest (mean over T, the head).
"""
import numpy as np

from snncompile.backends.lava.procs.base import FIXED, FLOAT, model_of
from snncompile.backends.lava.procs.readout.base import ReadoutModel, ReadoutProcess


class StepReadout(ReadoutProcess):
    """Parameters: those of ``ReadoutProcess`` (``procs.readout.base``) and ``scale``."""

    def __init__(self, *, scale: float = 1.0, **params):
        super().__init__(scale=scale, **params)


class _Base(ReadoutModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.scale = np.asarray(self.proc_params["scale"], dtype=np.float64)  # one, or one per readout element

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
