"""The readout integrator in fixed point (``lower --readout chip --mode fixed``): a non-spiking population that
sums a readout's integer input over the T steps of an image and is read once.

Semantics (integers; what the Lava ``fixed_pt`` ``StepIntegrator`` computes)
-----------------------------------------------------------------------------
A readout's per-step map ``G`` (its term matrix from the chip's outputs to the readout value, e.g. the mean
over tokens: ``1/N`` on every token of a channel) is split per row as ``G = diag(g)·W``: ``W`` integer synapse
weights (``|w| ≤ 255``, an 8-bit mantissa, exponent 0), ``g_r > 0`` a real gain kept on the host.  Compartment
``r`` integrates

    v_r ← 0 at the image's first step;   v_r ← sat(v_r + Σ_j W_rj·x_j)   at every model step,

``x`` the integers the readout receives (spike counts, or a weight layer's currents ``X·K·f/64``), ``sat``
clipping to ``±(2²³ − 1)`` (the 24-bit membrane register, :data:`~snncompile.loihi.registers.V_MAX`): integer
accumulation, no decay, no threshold (it never spikes), no bias, no activation shift.  (Loihi's stock CUBA
compartment would add the input shifted left by 6 bits, leaving 17 bits for the sum: this assumes a
programmable Loihi 2 neuron, as the project's per-image reset already does.)  After the image's T-th step
``S_r = v_r`` is read.  The host readout dequantises each step affinely, ``real_t = (G·x_t)·scale + c``, so

    Σ_t real_t = scale·g·S + T·c

exactly (in exact arithmetic: the integers are summed without loss, the host's float64 arithmetic differs from
the per-step host readout only in rounding order); nothing is folded into registers.

Fitting the register.  The quantiser bounds the readout value by ``R`` (``meta['fixed']['readouts'][v]
['bound']``: its calibrated bound, or the value domain), so one step's integer map is bounded per row by
``B_r = (R + |c_r|)/scale_r`` and ``|Σ_j W_rj·x_j| ≤ B_r/g_r``.  The sum over T steps fits when
``T·max_r B_r/g_r ≤ 2²³ − 1`` (over the rows with synapses); a placement where it may not is refused
(:func:`integrator_params`), never saturated knowingly.  Data beyond the calibrated bound (the quantiser keeps a
margin, 2× by default) would saturate as the register does.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import scipy.sparse as sp

from snncompile.errors import UnsupportedOpError

from .registers import V_MAX

WEIGHT_MAX = 255  # an 8-bit weight mantissa, exponent 0
_RTOL = 1e-9  # how close W_rj = G_rj/g_r must be to an integer (G holds float64 ratios such as 1/N)


def integer_rows(G) -> tuple[sp.csr_matrix, np.ndarray]:
    """``G = diag(g)·W`` with ``W`` integer (``|w| ≤ 255``) and ``g > 0`` per row, ``g_r`` the largest such
    gain (each row divided by its smallest magnitude, then by the smallest k ≤ 255 that makes it integer);
    refuses a row that is no such multiple."""
    G = sp.csr_matrix(G, dtype=np.float64)
    W = G.copy()
    g = np.ones(G.shape[0])
    for r in range(G.shape[0]):
        vals = G.data[G.indptr[r]:G.indptr[r + 1]]
        vals = vals[vals != 0]
        if not len(vals):
            continue
        unit = float(np.abs(vals).min())
        for k in range(1, WEIGHT_MAX + 1):
            w = vals * (k / unit)
            if np.all(np.abs(w - np.round(w)) <= _RTOL * np.abs(w)) and np.abs(np.round(w)).max() <= WEIGHT_MAX:
                break
        else:
            raise UnsupportedOpError(f"row {r} of its map ({', '.join(f'{v:.6g}' for v in vals[:4])}"
                                     f"{', ...' if len(vals) > 4 else ''}) is no integer multiple of one gain "
                                     f"with weights of at most {WEIGHT_MAX}")
        g[r] = unit / k
        seg = slice(G.indptr[r], G.indptr[r + 1])
        W.data[seg] = np.round(G.data[seg] / g[r])
    W = sp.csr_matrix((W.data.astype(np.int64), W.indices, W.indptr), shape=G.shape)
    W.eliminate_zeros()
    return W, g


def step_bound(readout: dict, n: int) -> np.ndarray:
    """Per row: the bound ``B_r = (R + |c_r|)/scale_r`` on one step's integer map ``|G·x|_r`` of a fixed-point
    readout (``readout``: its entry of ``meta['fixed']['readouts']``, ``n`` its elements)."""
    R = readout.get("bound")
    if R is None:
        raise UnsupportedOpError("the quantiser has no finite bound on its value")
    scale = np.broadcast_to(np.asarray(readout["scale"], dtype=np.float64), (n,))
    c = np.broadcast_to(np.asarray(readout["c"], dtype=np.float64), (n,))
    return (float(R) + np.abs(c)) / scale


def max_steps(B: np.ndarray, g: np.ndarray) -> int:
    """The most steps whose integer sum is sure to fit the 24-bit register: ``⌊(2²³ − 1)/max_r B_r/g_r⌋``."""
    per_step = float(np.max(B / g, initial=0.0))
    return V_MAX if per_step <= 1.0 else math.floor(V_MAX / per_step)


def integrator_params(G, readout: dict, T: int, *, c: Optional[np.ndarray]) -> dict:
    """The fixed-point integrator of one readout group (``G`` its per-step map): integer weights ``G``, host
    gains ``gain``, the readout's ``scale`` and constant ``c`` (None on all but the first group), and
    ``max_steps``; refuses (``UnsupportedOpError``, the reason) where the sum over ``T`` steps may not fit."""
    W, g = integer_rows(G)
    live = np.diff(W.indptr) > 0  # compartments with synapses (the others stay 0)
    B = step_bound(readout, G.shape[0])[live]
    most = max_steps(B, g[live])
    if T > most:
        worst = float(np.max(B / g[live]))
        raise UnsupportedOpError(f"its integer sum over T = {T} steps may reach {T * worst:.4g} > 2^23 - 1, the "
                                 f"integrator's 24-bit register (one step is bounded by {worst:.4g} from the "
                                 f"quantiser's bound {float(readout['bound']):.4g} on the value; at most {most} "
                                 f"steps fit)")
    scale = readout["scale"]
    return {"n_in": W.shape[1], "G": W, "gain": g, "scale": float(scale) if np.ndim(scale) == 0
            else np.asarray(scale, dtype=np.float64), "c": c, "max_steps": most}


def accumulate(v: np.ndarray, W, x: np.ndarray) -> np.ndarray:
    """One model step of the integer integrator: ``sat(v + W·x)``."""
    a = np.asarray(W @ np.asarray(x, dtype=np.int64), dtype=np.int64).reshape(-1)
    return np.clip(np.asarray(v, dtype=np.int64) + a, -V_MAX, V_MAX)


def dequantise_sums(S: np.ndarray, params: dict, T: int) -> np.ndarray:
    """``[images, n]`` integer sums ``S`` → the sums over T of the real readout: ``scale·g·S + T·c``."""
    out = np.asarray(S, dtype=np.float64) * (np.asarray(params["gain"], dtype=np.float64)
                                              * np.asarray(params["scale"], dtype=np.float64))
    if params.get("c") is not None:
        out = out + T * np.asarray(params["c"], dtype=np.float64)
    return out
