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

from lava.magma.core.model.py.model import PyLoihiProcessModel

from snncompile.backends.lava.procs.base import FIXED, FLOAT, UnitProcess, model_of
from snncompile.ops.weights import conv_nd


class SharedSynapse(UnitProcess):
    inputs = ("s_in",)
    outputs = ("a_out",)

    def __init__(self, *, op: str, attrs: dict, weight, in_shape, gather, out_perm, n_in: int, weight_exp: int = 0,
                 name=None, **_):
        out_perm = np.asarray(out_perm)
        super().__init__(op=op, attrs=dict(attrs), weight=np.asarray(weight), in_shape=tuple(in_shape),
                         gather=np.asarray(gather), out_perm=out_perm, n_in=n_in, weight_exp=int(weight_exp),
                         name=name)
        self.open_ports(s_in=n_in, a_out=len(out_perm))


class _Base(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.op, self.attrs = p["op"], p["attrs"]
        self.w = np.asarray(p["weight"], dtype=self.fmt.work)
        self.in_shape, self.gather, self.out_perm = p["in_shape"], p["gather"], p["out_perm"]
        self.e = int(p["weight_exp"])
        self.buf = np.zeros(len(self.out_perm), dtype=self.fmt.work)

    def apply(self, x):
        if self.w.ndim == 2:  # a dense layer: W [out, in] per token
            return np.matmul(x, self.w.T)
        a = self.attrs
        return conv_nd(x, self.w, None, a["stride"], a["padding"], a["dilation"], a.get("groups", 1))

    def run_spk(self):
        self.a_out.send(self.buf)
        x = np.asarray(self.s_in.recv(), dtype=self.fmt.work)[self.gather].reshape(self.in_shape)
        self.buf = self.finish(self.apply(x).reshape(-1)[self.out_perm])


@model_of(SharedSynapse, FLOAT)
class PySharedSynapseFloat(_Base):
    def finish(self, y):
        return y


@model_of(SharedSynapse, FIXED)
class PySharedSynapseFixed(_Base):
    def finish(self, y):
        y = np.left_shift(y, self.e) if self.e > 0 else np.right_shift(y, -self.e)
        return y.astype(np.int32)
