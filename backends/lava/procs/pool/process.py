"""``SpikeMaxPool``: max-pooling of spikes (an OR over each window), zero delay.

``windows`` is an int array ``[n_out, k]``: for every output (in the order this process emits) the input
positions (in the order the producer emits) of its window, ``-1`` for zero padding.  Spikes are ≥ 0, so
padding with 0 is the same as torch's ``-inf`` padding.  On Loihi this is a population with unit weights
and threshold 1 (see ``snncompile.loihi.partition``).

With ``bias`` (per input, in the producer's order) and ``pad`` (e.g. ``-inf``), it pools synaptic currents
instead: ``out = max over the window of (x + bias)``, padding ``pad`` — a programmable-neuron operation on
Loihi (dendrites only sum).  Such a pool records nothing (its output is not a spike train).  Fixed point: the
integer currents of the layer (no bias: ``snncompile.loihi.current_pool`` moves it past the max), ``bias`` 0
and ``pad`` below any 24-bit current, so the int32 max equals the fixed-point executor's max with −∞ padding.
"""
import numpy as np

from snncompile.backends.lava.procs.base import FIXED, FLOAT, ClockedModel, UnitProcess, model_of
from snncompile.backends.lava.procs.runtime import Recorder


class SpikeMaxPool(UnitProcess):
    inputs = ("s_in",)
    outputs = ("s_out",)

    def __init__(self, *, n_in: int, windows, T: int, steps: int, lag: int = 0, rec=None, bias=None, pad=0.0,
                 name=None):
        windows = np.asarray(windows)
        super().__init__(n_in=n_in, windows=windows, T=T, steps=steps, lag=lag, rec=rec, bias=bias, pad=pad,
                         name=name)
        self.open_ports(s_in=n_in, s_out=windows.shape[0])


class _Base(ClockedModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.win = np.asarray(self.proc_params["windows"])
        self.n_in = int(self.proc_params["n_in"])
        self.win = np.where(self.win < 0, self.n_in, self.win)
        self.rec = Recorder(self.proc_params["rec"])
        b = self.proc_params.get("bias")
        self.bias = None if b is None else np.asarray(b, dtype=self.fmt.message)
        self.pad = self.proc_params.get("pad", 0.0)

    def step(self, m, x):
        xp = np.full(self.n_in + 1, self.pad, dtype=self.fmt.message)
        xp[: self.n_in] = x if self.bias is None else x + self.bias
        out = xp[self.win].max(axis=1)
        self.rec.write(m, out)
        return (out,)


@model_of(SpikeMaxPool, FLOAT)
class PySpikeMaxPoolFloat(_Base):
    pass


@model_of(SpikeMaxPool, FIXED)
class PySpikeMaxPoolFixed(_Base):
    pass
