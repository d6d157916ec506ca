"""``SharedSynapse``: a weight layer whose weights are shared over positions (Linear over tokens, Conv).

lava-nc's ``Sparse``/``Dense`` store one weight per (input, output) pair: a Linear applied to 64 tokens
stores its matrix 64 times, and Spikformer-4-384's layers then need ~10⁸ stored synapses each — more memory
than a CPU simulation has.  This process stores the layer's weights once and applies them with the IR
op's own reference (``x Wᵀ`` per token, or ``conv_nd``), with the same timing as ``Sparse`` (it sends what
it computed at the previous step) and, in fixed point, the same arithmetic (integer weights, then the
weight exponent: ``<< e`` or an arithmetic ``>> −e``).  The plan uses it only for layers too large for
``Sparse``; on Loihi these are the same synapses (see ``snncompile.loihi.partition``).

``gather`` maps the IR input layout onto the InPort (the producers' emission order), ``out_perm`` the
layer's output onto the order the consumers expect.
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
from snncompile.ops.weights import conv_nd


class SharedSynapse(AbstractProcess):
    def __init__(self, *, op: str, attrs: dict, weight, in_shape, gather, out_perm, n_in: int, weight_exp: int = 0,
                 name=None, **_):
        out_perm = np.asarray(out_perm)
        super().__init__(op=op, attrs=dict(attrs), weight=np.asarray(weight), in_shape=tuple(in_shape),
                         gather=np.asarray(gather), out_perm=out_perm, n_in=n_in, weight_exp=int(weight_exp),
                         name=name)
        self.s_in = InPort(shape=(n_in,))
        self.a_out = OutPort(shape=(len(out_perm),))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.op, self.attrs = p["op"], p["attrs"]
        self.w = np.asarray(p["weight"], dtype=self.work)
        self.in_shape, self.gather, self.out_perm = p["in_shape"], p["gather"], p["out_perm"]
        self.e = int(p["weight_exp"])
        self.buf = np.zeros(len(self.out_perm), dtype=self.work)

    def apply(self, x):
        if self.w.ndim == 2:  # a dense layer: W [out, in] per token
            return np.matmul(x, self.w.T)
        a = self.attrs
        return conv_nd(x, self.w, None, a["stride"], a["padding"], a["dilation"], a.get("groups", 1))

    def run_spk(self):
        self.a_out.send(self.buf)
        x = np.asarray(self.s_in.recv(), dtype=self.work)[self.gather].reshape(self.in_shape)
        self.buf = self.finish(self.apply(x).reshape(-1)[self.out_perm])


@implements(proc=SharedSynapse, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySharedSynapseFloat(_Base):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    work = np.float64

    def finish(self, y):
        return y


@implements(proc=SharedSynapse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySharedSynapseFixed(_Base):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    work = np.int64

    def finish(self, y):
        y = np.left_shift(y, self.e) if self.e > 0 else np.right_shift(y, -self.e)
        return y.astype(np.int32)
