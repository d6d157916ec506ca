"""``SpikeAttention``: Spikformer's spike matmul chain ``(A·B)·C`` or ``A·(B·C)`` per head, zero delay.

Inputs ``a``, ``b``, ``c`` receive the spike vectors of the producing populations (in their emission
order); ``ga``, ``gb``, ``gc`` gather them into the matmul operands (``shape_a`` … ``[heads, rows, cols]``),
so transposes and head splits cost nothing.  The output (``[heads, M, N]`` flattened) is gathered by
``gout`` into the order of the consuming neurons' input and, in fixed point, multiplied by the integer
``mult`` (the folded scale × 1/τ × the consumer's membrane scale / 2⁶).

Synaptic ops are counted here exactly as the reference executor counts a ``matmul``: the products whose
two factors are both nonzero (``Σ_k colnnz(X)[k]·rownnz(Y)[k]``), for the inner and the outer product,
per head; ``rec_ops`` receives them (``[steps, 2, heads]``).
"""
import numpy as np

from snncompile.backends.lava.procs.base import FIXED, FLOAT, ClockedModel, UnitProcess, model_of
from snncompile.backends.lava.procs.runtime import Recorder


class SpikeAttention(UnitProcess):
    inputs = ("a", "b", "c")
    outputs = ("out",)

    def __init__(self, *, n_a: int, n_b: int, n_c: int, ga, gb, gc, shape_a, shape_b, shape_c, order: str,
                 gout, T: int, steps: int, lag: int = 0, mult: int = 1, rec_ops=None, name=None):
        gout = np.asarray(gout)
        super().__init__(n_a=n_a, n_b=n_b, n_c=n_c, ga=np.asarray(ga), gb=np.asarray(gb), gc=np.asarray(gc),
                         shape_a=tuple(shape_a), shape_b=tuple(shape_b), shape_c=tuple(shape_c), order=order,
                         gout=gout, T=T, steps=steps, lag=lag, mult=mult, rec_ops=rec_ops, name=name)
        self.open_ports(a=n_a, b=n_b, c=n_c, out=len(gout))


def _synops(x, y):
    """Per batch (head): Σ_k colnnz(x)[k] · rownnz(y)[k] (both factors nonzero)."""
    col = (x != 0).sum(-2, dtype=np.int64)
    row = (y != 0).sum(-1, dtype=np.int64)
    return (col * row).sum(-1)


class _Base(ClockedModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        p = self.proc_params
        self.g = [np.asarray(p["ga"]), np.asarray(p["gb"]), np.asarray(p["gc"])]
        self.shapes = [tuple(p["shape_a"]), tuple(p["shape_b"]), tuple(p["shape_c"])]
        self.order = p["order"]
        self.gout = np.asarray(p["gout"])
        self.mult = p["mult"]
        self.rec = Recorder(p["rec_ops"])

    def step(self, m, xa, xb, xc):
        a, b, c = (np.asarray(x)[g].reshape(s).astype(self.fmt.work) for x, g, s in zip((xa, xb, xc), self.g,
                                                                                       self.shapes))
        if self.order == "ab_c":
            inner = a @ b
            out = inner @ c
            ops = np.stack([_synops(a, b), _synops(inner, c)])
        else:
            inner = b @ c
            out = a @ inner
            ops = np.stack([_synops(b, c), _synops(a, inner)])
        self.rec.write(m, ops.reshape(2, -1))
        return (self.finish(out.reshape(-1)[self.gout]),)


@model_of(SpikeAttention, FLOAT)
class PySpikeAttentionFloat(_Base):
    def finish(self, z):
        return z * float(self.mult)


@model_of(SpikeAttention, FIXED)
class PySpikeAttentionFixed(_Base):
    def finish(self, z):
        return (z * int(self.mult)).astype(np.int32)
