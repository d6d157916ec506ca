"""What every neuron population process shares.  A neuron's own update rule is not here: in float mode it is
its IR op's reference step, in fixed point its register class (named by the subclass).

A population of ``n`` neurons reads one summed input current ``a_in`` per Lava step and sends its spikes on
``s_out``.  At Lava step ``s`` it handles the model step ``m`` of its ``Clock``: outside ``0 ≤ m < steps``
(pipeline fill and drain) it sends zeros; at every image start (``m % T == 0``) its state is reset; otherwise
``(S, H) = update(a_in)`` — spikes and the membrane ``H`` before the reset — and ``S`` is sent and both are
recorded (``rec``, ``rec_v``).  Ports, number formats and the clock skeleton: ``procs.base``.

* :class:`FloatNeuronModel` (for ``procs.base.FLOAT``): the IR neuron op's own reference step
  (``ops.get(op).reference`` in single-step mode, what the reference executor runs) on ``x = a_in + bias``
  (float64), ``H`` from the op's ``charge`` hook; the state is the op's, fresh at every image.
* :class:`FixedNeuronModel` (for ``procs.base.FIXED``): the integer neuron is the subclass's
  ``registers`` class (``from_dict(fixed, n)``; ``step(a, v) -> (S, v', H)`` on int64), membrane ``v = 0`` at
  rest.

These bases carry no decorator; a concrete model is ``@model_of(Proc, FLOAT)`` (or ``FIXED``) on one of them.
"""
import numpy as np

from snncompile import ops
from snncompile.backends.lava.procs.base import ClockedModel, UnitProcess
from snncompile.backends.lava.procs.runtime import Recorder
from snncompile.ir.graph import Node


class NeuronProcess(UnitProcess):
    """Parameters: ``n``; ``op`` (the IR neuron op) and ``attrs`` (its node's attributes), float mode; ``bias``
    (n,) float; ``fixed`` (dict of integer registers, fixed mode); ``T``, ``steps``, ``lag`` (see
    ``procs.runtime.Clock``); ``rec`` and ``rec_v`` (recording specs for the spikes and the membrane ``H``)."""

    inputs = ("a_in",)
    outputs = ("s_out",)

    def __init__(self, *, n: int, op: str, T: int, steps: int, lag: int = 0, attrs=None, bias=None, fixed=None,
                 rec=None, rec_v=None, name=None):
        super().__init__(n=n, op=op, T=T, steps=steps, lag=lag, attrs=attrs, bias=bias, fixed=fixed, rec=rec,
                         rec_v=rec_v, name=name)
        self.open_ports(a_in=n, s_out=n)


class NeuronModel(ClockedModel):
    """The step (module docstring); a subclass defines ``reset()`` and ``update(a_in) -> (S, H)``."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.n = int(p["n"])
        self.rec = Recorder(p["rec"])
        self.rec_v = Recorder(p["rec_v"])
        self.v = None
        self.s = None

    def step(self, m, x):
        if self.v is None or self.clock.image_start(m):
            self.reset()
        s, h = self.update(x)
        self.rec.write(m, s)
        self.rec_v.write(m, h)
        return (s.astype(self.fmt.message),)


class FloatNeuronModel(NeuronModel):
    """The op's reference step on ``a_in + bias`` (module docstring)."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        opdef = ops.get(p["op"])
        self.node = Node("population", p["op"], ["x"], ["s", "v"], dict(p["attrs"], step_mode="single"))
        self.reference = opdef.reference
        self.charge = opdef.hook("charge") if p["rec_v"] is not None else None
        b = p["bias"]
        self.bias = np.zeros(self.n) if b is None else np.asarray(b, dtype=np.float64)

    def reset(self):
        self.v = {}  # the op's state dict, fresh for every image

    def update(self, x):
        x = np.asarray(x, dtype=np.float64) + self.bias
        h = self.charge(self.node, [x], dict(self.v)) if self.charge is not None else None
        s = self.reference(self.node, [x], self.v)[0]
        return s, h


class FixedNeuronModel(NeuronModel):
    """The neuron is ``registers.from_dict(fixed, n)``, its membrane int64 from rest."""

    registers: type  # the integer neuron: LIFFixed, ILIFFixed, ...

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.neuron = self.registers.from_dict(self.proc_params["fixed"], self.n)

    def reset(self):
        self.v = np.zeros(self.n, dtype=np.int64)

    def update(self, x):
        s, self.v, h = self.neuron.step(np.asarray(x, dtype=np.int64), self.v)
        return s, h
