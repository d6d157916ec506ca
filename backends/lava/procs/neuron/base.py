"""What every neuron population process shares; each neuron's own update rule lives in its subclass.

A population of ``n`` neurons reads one summed input current ``a_in`` per Lava step and sends its spikes on
``s_out``.  At Lava step ``s`` it handles the model step ``m`` of its ``Clock``: outside ``0 ≤ m < steps``
(pipeline fill and drain) it sends zeros; at every image start (``m % T == 0``) its state is reset; otherwise
``(S, H) = step(a_in)`` — spikes and the membrane ``H`` before the reset — and ``S`` is sent and both are
recorded (``rec``, ``rec_v``).

* :class:`FloatNeuronModel` (tag ``floating_pt``): float64 ports; the subclass's ``step`` reads the current
  plus the population's float ``bias``.
* :class:`FixedNeuronModel` (tag ``fixed_pt``): 24-bit integer ports; the integer neuron is the subclass's
  ``registers`` class (``from_dict(fixed, n)``; ``step(a, v) -> (S, v', H)`` on int64), membrane ``v = 0`` at
  rest.

These bases carry no ``@implements``/``@requires``/``@tag``: Lava appends tags and resources over
inheritance and matches a model to ``type(proc)`` exactly, so only the concrete models are decorated.  Lava
finds ports and Vars declared on a base Process or base ProcessModel (checked on lava-nc 0.10: ``LavaPyType``
attributes are collected through the class's ``dir``/bases).
"""
import numpy as np

from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess

from snncompile.backends.lava.procs.runtime import Clock, Recorder


class NeuronProcess(AbstractProcess):
    """Parameters: ``n``; ``attrs`` (the IR node's attributes, float mode); ``bias`` (n,) float; ``fixed``
    (dict of integer registers, fixed mode); ``T``, ``steps``, ``lag`` (see ``procs.runtime.Clock``); ``rec``
    and ``rec_v`` (recording specs for the spikes and the membrane ``H``); further keywords are the neuron's
    own parameters."""

    def __init__(self, *, n: int, T: int, steps: int, lag: int = 0, attrs=None, bias=None, fixed=None,
                 rec=None, rec_v=None, name=None, **own):
        super().__init__(n=n, T=T, steps=steps, lag=lag, attrs=attrs, bias=bias, fixed=fixed, rec=rec,
                         rec_v=rec_v, name=name, **own)
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))


class NeuronModel(PyLoihiProcessModel):
    """The step skeleton (module docstring); a subclass defines ``reset()`` and ``step(a_in) -> (S, H)``."""

    out_dtype: type

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


class FloatNeuronModel(NeuronModel):
    """float64 ports; ``self.bias`` is the population's float bias (zeros when none)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    out_dtype = np.float64

    def __init__(self, proc_params):
        super().__init__(proc_params)
        b = self.proc_params["bias"]
        self.bias = np.zeros(self.n) if b is None else np.asarray(b, dtype=np.float64)


class FixedNeuronModel(NeuronModel):
    """24-bit integer ports; the neuron is ``registers.from_dict(fixed, n)``, its membrane int64 from rest."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    out_dtype = np.int32
    registers: type  # the integer neuron: LIFFixed, ILIFFixed, ...

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.neuron = self.registers.from_dict(self.proc_params["fixed"], self.n)

    def reset(self):
        self.v = np.zeros(self.n, dtype=np.int64)

    def step(self, x):
        s, self.v, h = self.neuron.step(np.asarray(x, dtype=np.int64), self.v)
        return s, h
