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

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snncompile.backends.lava.procs.runtime import Clock, Recorder


class SpikeMaxPool(AbstractProcess):
    def __init__(self, *, n_in: int, windows, T: int, steps: int, lag: int = 0, rec=None, bias=None, pad=0.0,
                 name=None):
        windows = np.asarray(windows)
        super().__init__(n_in=n_in, windows=windows, T=T, steps=steps, lag=lag, rec=rec, bias=bias, pad=pad,
                         name=name)
        self.s_in = InPort(shape=(n_in,))
        self.s_out = OutPort(shape=(windows.shape[0],))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.win = np.asarray(self.proc_params["windows"])
        self.n_in = int(self.proc_params["n_in"])
        self.win = np.where(self.win < 0, self.n_in, self.win)
        self.clock = Clock(self.proc_params)
        self.rec = Recorder(self.proc_params["rec"])
        b = self.proc_params.get("bias")
        self.bias = None if b is None else np.asarray(b, dtype=self.dtype)
        self.pad = self.proc_params.get("pad", 0.0)

    def run_spk(self):
        x = self.s_in.recv()
        xp = np.full(self.n_in + 1, self.pad, dtype=self.dtype)
        xp[: self.n_in] = x if self.bias is None else x + self.bias
        out = xp[self.win].max(axis=1)
        m = self.clock.model_step(self.time_step)
        if self.clock.valid(m):
            self.rec.write(m, out)
        else:
            out[:] = 0
        self.s_out.send(out)


@implements(proc=SpikeMaxPool, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpikeMaxPoolFloat(_Base):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    dtype = np.float64


@implements(proc=SpikeMaxPool, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeMaxPoolFixed(_Base):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    dtype = np.int32
