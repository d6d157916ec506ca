"""``GradedStep``: a population of I-LIF neurons (op ``ilif``) that emit graded spikes, with per-image reset.

Each neuron emits an integer ``S ∈ {0..D}`` per step as one graded spike (its payload; a zero sends
nothing) and resets by subtracting it::

    H = β·V + X;   S = clamp(round(H), 0, D);   V = H − S

* ``floating_pt``: ``snncompile.ops.graded.ilif_step`` — the reference executor's own neuron step — on
  ``x = a_in + bias`` (float64; round half to even, as torch).
* ``fixed_pt``: ``snncompile.loihi.graded.ILIFFixed`` (24-bit membrane in units ``S_v = 2^shift`` per 1.0,
  12-bit decay, activation shifted by 6, ``S = clamp((h + S_v/2) >> shift, 0, D)``, ``v = h − S·S_v``).

The consumers are lava-nc ``Sparse`` processes with ``num_message_bits > 0`` (graded messages): each
multiplies the payload by its weights.  **On silicon:** graded spikes (payloads up to 24 bits) are a stock
Loihi 2 feature; the round/clamp emission with reset by the payload is not a stock neuron model and needs a
programmable (microcode) neuron.

Parameters as ``LIFStep`` (``n``, ``attrs``, ``bias``, ``fixed``, ``T``, ``steps``, ``lag``, ``rec``,
``rec_v``); the spike recording holds the payloads, ``rec_v`` the membrane ``H`` before the emission.
"""
import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snncompile.backends.lava.procs.neuron.process import _Base
from snncompile.loihi.graded import ILIFFixed
from snncompile.ops.graded import ilif_step


class GradedStep(AbstractProcess):
    def __init__(self, *, n: int, T: int, steps: int, lag: int = 0, attrs=None, bias=None, fixed=None,
                 rec=None, rec_v=None, name=None):
        super().__init__(n=n, T=T, steps=steps, lag=lag, attrs=attrs, bias=bias, fixed=fixed, rec=rec,
                         rec_v=rec_v, name=name)
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))


@implements(proc=GradedStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGradedStepFloat(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    out_dtype = np.float64

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.attrs = dict(self.proc_params["attrs"])
        b = self.proc_params["bias"]
        self.bias = np.zeros(self.n) if b is None else np.asarray(b, dtype=np.float64)

    def reset(self):
        self.v = np.zeros(self.n, dtype=np.float64)

    def step(self, x):
        x = np.asarray(x, dtype=np.float64) + self.bias
        h = self.attrs["decay"] * self.v + x if self.rec_v.spec is not None else None  # H, as ilif_step forms it
        s, self.v = ilif_step(self.attrs, x, self.v)
        return s, h


@implements(proc=GradedStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGradedStepFixed(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    out_dtype = np.int32

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.neuron = ILIFFixed.from_dict(self.proc_params["fixed"], self.n)

    def reset(self):
        self.v = np.zeros(self.n, dtype=np.int64)

    def step(self, x):
        s, self.v, h = self.neuron.step(np.asarray(x, dtype=np.int64), self.v)
        return s, h
