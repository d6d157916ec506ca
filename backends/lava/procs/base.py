"""What the custom processes share: their vector ports, the number format of their messages, and the step
skeleton of a unit on the pipelined clock.  A process's own rule stays in its package.

**Ports.**  A :class:`UnitProcess` names its vector ports in the class table ``inputs`` / ``outputs`` and opens
them with their lengths (``open_ports``).  The same table gives every model of it its port types.

**Number formats.**  Every process has two models that differ only in how a graded message is a number:

* :data:`FLOAT` (tag ``floating_pt``): float64 messages, float64 arithmetic;
* :data:`FIXED` (tag ``fixed_pt``): 24-bit integer messages (int32 ports), int64 arithmetic (accumulations
  that are saturated or shifted back to 24 bits by the process's own rule).

**Concrete models.**  ``@model_of(Proc, FLOAT)`` on a subclass of the process's undecorated base model is
Lava's ``@implements(Proc, LoihiProtocol)``, ``@requires(CPU)`` and ``@tag(FLOAT.tag)``, plus the format's
``LavaPyType`` on each port of ``Proc.inputs + Proc.outputs`` and ``fmt = FLOAT`` on the class.  The bases carry
no decorator: Lava appends tags and resources over inheritance and matches a model to ``type(proc)`` exactly.
Lava finds ``LavaPyType`` attributes through the model class's ``dir`` (lava-nc 0.10
``PyProcessBuilder.check_all_vars_and_ports_set``), so attributes set on the class by the decorator count.

**Clocked units** (:class:`ClockedModel`): at Lava step ``s`` the unit receives one message on every input
port, whatever the step.  For the model step ``m`` of its ``procs.runtime.Clock`` with ``0 ≤ m < steps`` it
sends what ``step(m, *messages)`` returns (one array per output port, in ``outputs`` order); outside that range
(pipeline fill and drain) it sends zeros and ``step`` is not called.
"""
from dataclasses import dataclass

import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snncompile.backends.lava.procs.runtime import Clock


@dataclass(frozen=True)
class Format:
    """How a model's graded messages are numbers: ``tag`` (Lava's), ``message`` (dtype sent on a port),
    ``work`` (dtype of the model's arithmetic), ``port_type``/``precision`` (what its ``LavaPyType`` declares)."""

    tag: str
    message: type
    work: type
    port_type: type
    precision: int = None

    def port(self, kind: type) -> LavaPyType:
        """The ``LavaPyType`` of a dense vector port of ``kind`` (``PyInPort`` or ``PyOutPort``)."""
        if self.precision is None:
            return LavaPyType(kind.VEC_DENSE, self.port_type)
        return LavaPyType(kind.VEC_DENSE, self.port_type, precision=self.precision)


FLOAT = Format("floating_pt", message=np.float64, work=np.float64, port_type=float)
FIXED = Format("fixed_pt", message=np.int32, work=np.int64, port_type=np.int32, precision=24)


class UnitProcess(AbstractProcess):
    """A process whose ports are the vectors named in ``inputs`` and ``outputs``."""

    inputs: tuple = ()
    outputs: tuple = ()

    def open_ports(self, **lengths) -> None:
        """Create every port of ``inputs``/``outputs`` as a vector of the length given by its name."""
        for name in self.inputs:
            setattr(self, name, InPort(shape=(int(lengths[name]),)))
        for name in self.outputs:
            setattr(self, name, OutPort(shape=(int(lengths[name]),)))


def model_of(proc: type, fmt: Format):
    """Class decorator: the concrete CPU model of ``proc`` in the number format ``fmt`` (module docstring)."""

    def decorate(cls):
        cls.fmt = fmt
        for name in proc.inputs:
            setattr(cls, name, fmt.port(PyInPort))
        for name in proc.outputs:
            setattr(cls, name, fmt.port(PyOutPort))
        return implements(proc=proc, protocol=LoihiProtocol)(requires(CPU)(tag(fmt.tag)(cls)))

    return decorate


class ClockedModel(PyLoihiProcessModel):
    """The step skeleton of a unit on the pipelined clock (module docstring); a subclass defines
    ``step(m, *messages)``.  ``fmt`` and the port names come from ``@model_of``."""

    fmt: Format

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.clock = Clock(self.proc_params)

    def run_spk(self):
        proc = self.implements_process  # the ports are set on the instance after __init__
        messages = [getattr(self, name).recv() for name in proc.inputs]
        outputs = [getattr(self, name) for name in proc.outputs]
        m = self.clock.model_step(self.time_step)
        if self.clock.valid(m):
            sent = self.step(m, *messages) or ()
        else:
            sent = [np.zeros(port.shape, dtype=self.fmt.message) for port in outputs]
        for port, value in zip(outputs, sent, strict=True):
            port.send(value)
