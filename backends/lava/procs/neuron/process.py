"""``LIFStep``: a population of the IR's LIF neurons, with per-image reset, for pipelined runs.

Why not lava-nc's ``LIF``: spikingjelly fires at ``H ≥ V_th`` while Lava's LIF fires at ``v > vth`` and,
in fixed point, compares with ``vth << 6`` — a threshold granularity of 64 that cannot express the
integer ``v ≥ θ ⇔ v > θ − 1`` exactly.  Loihi 2's neurons are programmable, so this process implements
the exact semantics (its fixed-point model is Lava's bit-accurate LIF arithmetic with ``≥``), plus a reset
at every image boundary (what ``LIFReset`` does) and recording.

* ``floating_pt``: ``snncompile.ops.neurons.lif_step`` — the reference executor's own neuron step — on
  ``x = a_in + bias`` (float64).
* ``fixed_pt``: ``snncompile.loihi.fixed.lif_step_fixed`` (24-bit membrane, 12-bit decay, activation
  shifted by 6, threshold ``≥``), on the integer ``a_in``.

Parameters: ``n``; ``attrs`` (the IR node's attributes, float mode); ``bias`` (n,) float; ``fixed`` (dict
of integer parameters, fixed mode); ``T``, ``steps``, ``lag`` (see ``procs.runtime.Clock``); ``rec`` and
``rec_v`` (recording specs for spikes and the membrane ``H`` compared with the threshold).
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
from snncompile.loihi.registers import LIFFixed
from snncompile.ops.neurons import initial_state, lif_step


class LIFStep(AbstractProcess):
    def __init__(self, *, n: int, T: int, steps: int, lag: int = 0, attrs=None, bias=None, fixed=None,
                 rec=None, rec_v=None, name=None):
        super().__init__(n=n, T=T, steps=steps, lag=lag, attrs=attrs, bias=bias, fixed=fixed, rec=rec,
                         rec_v=rec_v, name=name)
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.n = int(p["n"])
        self.clock = Clock(p)
        self.rec = Recorder(p["rec"])
        self.rec_v = Recorder(p["rec_v"])
        self.v = None
        self.s = None

    def run_spk(self):
        x = self.a_in.recv()
        m = self.clock.model_step(self.time_step)
        if not self.clock.valid(m):
            self.s_out.send(np.zeros(self.n, dtype=self.out_dtype))
            return
        if self.v is None or self.clock.image_start(m):
            self.reset()
        s, h = self.step(x)
        self.rec.write(m, s)
        self.rec_v.write(m, h)
        self.s_out.send(s.astype(self.out_dtype))


@implements(proc=LIFStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLIFStepFloat(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    out_dtype = np.float64

    def __init__(self, proc_params):
        super().__init__(proc_params)

        self._lif_step, self._initial = lif_step, initial_state
        self.attrs = dict(self.proc_params["attrs"])
        b = self.proc_params["bias"]
        self.bias = np.zeros(self.n) if b is None else np.asarray(b, dtype=np.float64)
        inf = dict(self.attrs, v_threshold=float(np.finfo(np.float64).max))
        self._charge_attrs = inf

    def reset(self):
        self.v, self.s = self._initial(self.attrs, (self.n,), np.float64)

    def step(self, x):
        x = np.asarray(x, dtype=np.float64) + self.bias
        if self.rec_v.spec is not None:  # H: the charge compared with the threshold
            h = self._lif_step(self._charge_attrs, x, self.v, self.s)[1]
        else:
            h = None
        self.s, self.v = self._lif_step(self.attrs, x, self.v, self.s)
        return self.s, h


@implements(proc=LIFStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLIFStepFixed(_Base):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    out_dtype = np.int32

    def __init__(self, proc_params):
        super().__init__(proc_params)

        self.lif = LIFFixed.from_dict(self.proc_params["fixed"], self.n)

    def reset(self):
        self.v = np.zeros(self.n, dtype=np.int64)

    def step(self, x):
        s, self.v, h = self.lif.step(np.asarray(x, dtype=np.int64), self.v)
        return s, h
