"""``StepDelay``: holds graded messages for a few fixed delays (delay balancing of parallel paths).

Lava's synapse processes deliver one step late, so two paths into one sum (a residual add) or into one
spike matmul must cross equally many of them; the shorter path is delayed.  One ``StepDelay`` serves every
delay a producer needs: its ring buffer is as long as the longest delay and output ``out{i}`` sends what
arrived ``taps[i]`` steps earlier (up to :data:`MAX_TAPS` taps; unused outputs stay unconnected).  On
Loihi 2 this is the synaptic delay (0..63 steps) of the receiving synapses.
"""
import numpy as np

from lava.magma.core.model.py.model import PyLoihiProcessModel

from snncompile.backends.lava.procs.base import FIXED, FLOAT, UnitProcess, model_of

MAX_TAPS = 8


class StepDelay(UnitProcess):
    inputs = ("a_in",)
    outputs = tuple(f"out{i}" for i in range(MAX_TAPS))

    def __init__(self, *, n: int, taps, name=None):
        taps = [int(t) for t in taps]
        if not 1 <= len(taps) <= MAX_TAPS or min(taps) < 1:
            raise ValueError(f"StepDelay takes 1..{MAX_TAPS} delays ≥ 1, got {taps}")
        super().__init__(n=n, taps=taps, name=name)
        self.open_ports(**{port: n for port in self.inputs + self.outputs})


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        n = int(self.proc_params["n"])
        self.taps = list(self.proc_params["taps"])
        self.buf = np.zeros((max(self.taps), n), dtype=self.fmt.message)
        self.i = 0  # slot of the oldest message

    def run_spk(self):
        x = self.a_in.recv()
        depth = len(self.buf)
        for k, d in enumerate(self.taps):  # sent d steps ago: slot (i + depth - d) mod depth
            getattr(self, f"out{k}").send(self.buf[(self.i + depth - d) % depth].copy())
        self.buf[self.i] = x
        self.i = (self.i + 1) % depth


@model_of(StepDelay, FLOAT)
class PyStepDelayFloat(_Base):
    pass


@model_of(StepDelay, FIXED)
class PyStepDelayFixed(_Base):
    pass
