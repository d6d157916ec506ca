"""Max-pooling of synaptic currents in fixed point (``LIF(MaxPool(BN(Conv(x))))``: the stems of the
Spike-driven Transformer and QKFormer).

A *current pool* is a ``pool`` unit whose input is one weight layer's output (no spikes).  In float it pools
``X + b`` (the layer's current and its bias).  In fixed point the layer sends integers
``a_r = round-ish(X_r·K·f_r/64)`` without its bias (``snncompile.loihi.fixed``: biases live in the neurons).
For a window ``W`` of elements with one factor ``f_W = K·f_r/64 > 0`` and one bias ``b_W``:

    max_{r∈W}(X_r + b_W)·f_W  =  max_{r∈W}(X_r·f_W) + b_W·f_W

(max commutes with a positive scale and with a constant shift; padding is −∞, which both keep).  So the
integer pool ``p_o = max_{r∈W_o} a_r`` is the float pool's output, bias removed, in the activation units of
its window — exact integer algebra on what the chip receives — and the pool's bias ``b_W`` moves to whatever
reads it, like a weight layer's bias:

* a neuron reading ``M·p`` (a move or sum: integer ``M``) joins the scale class of the pooled layer
  (:func:`snncompile.loihi.fixed._scale_classes`), its elements share ``f`` with the window's elements
  (``snncompile.loihi.element_scales``), the term arrives through a Sparse with weights ``M`` (exact) and
  ``M·b`` joins its bias;
* a weight layer reading the pool (``snncompile.loihi.mapped`` makes one of a neuron's mean over tokens of
  the pool) reads integers in units ``K·f_j/64`` per input element ``j`` (:func:`input_scales`): its
  weights absorb ``64/(K·f_j)`` and ``W·b_pool`` joins its neurons' bias (:func:`bias_through`).

Hence the requirements checked here: every window lies in elements with one bias (per-channel biases, as
BN's, pass: a max-pool's window stays in its channel), and the element scales are unified across each
window (element_scales joins the window's elements), so per-channel factors are fine.
"""
from __future__ import annotations

import numpy as np

from snncompile.errors import UnsupportedOpError

from .affine import is_selection, pool_windows, synapse_bias, synapse_matrix, term_matrix


def is_current_pool(units: dict, name: str) -> bool:
    """Whether unit ``name`` is a max-pool of one weight layer's currents."""
    u = units.get(name)
    return (u is not None and u.kind == "pool" and len(u.ports[0].terms) == 1
            and bool(u.ports[0].terms[0].source) and units[u.ports[0].terms[0].source].kind == "synapse")


def window_sources(g, units: dict, u) -> np.ndarray:
    """``[n_out, k]``: per pool output (natural order) the pooled layer's output elements (natural order) of
    its window, −1 for padding."""
    M = term_matrix(g, u.ports[0].terms[0]).tocsr()
    if not is_selection(M):
        raise UnsupportedOpError(f"{g.node(u.node).location}: its input is not a plain rearrangement of one "
                                 f"layer's currents")
    win = pool_windows(g, g.node(u.node))
    return np.where(win >= 0, M.indices[np.maximum(win, 0)], -1)


def pooled_bias(g, units: dict, u) -> np.ndarray:
    """The bias ``b_W`` of every window (per pool output, natural order): the pooled layer's bias, which must
    be one value inside each window (refused otherwise: max would not commute with it)."""
    b = synapse_bias(g, g.node(units[u.ports[0].terms[0].source].node))
    win = window_sources(g, units, u)
    vals = np.where(win >= 0, b[np.maximum(win, 0)], np.nan)
    first = np.nanmax(vals, axis=1)
    if not np.all((vals == first[:, None]) | np.isnan(vals)):
        raise UnsupportedOpError(f"{g.node(u.node).location}: the pooled layer's bias varies inside a window; "
                                 f"max-pooling its integer currents would not commute with the bias")
    return first


def bias_through(g, units: dict, unit, term) -> np.ndarray:
    """The constant that ``term`` (of ``unit``'s port) carries in fixed point, natural order of the port:
    ``M·b_W`` for a current pool read by a neuron; for a weight layer ``unit``, its outputs' share
    ``W·(M·b_W)`` (the pool's bias goes through the layer)."""
    M = term_matrix(g, term)
    c = M @ pooled_bias(g, units, units[term.source])
    if unit.kind == "synapse":
        return synapse_matrix(g, g.node(unit.node)) @ c
    return c


def input_scales(g, units: dict, u, K_of: dict, f_of: dict) -> np.ndarray:
    """Per input element (natural order of its port) of weight layer ``u`` that reads current pools: the
    scale ``K·f_j/64`` of the integer it receives (one source element per input element: moves only)."""
    n = int(np.prod(g.values[u.ports[0].value].shape))
    out = np.full(n, np.nan)
    for t in u.ports[0].terms:
        M = term_matrix(g, t).tocsr()
        if not is_current_pool(units, t.source) or not is_selection(M):
            raise UnsupportedOpError(f"{g.node(u.node).location}: reads a max-pool of currents together with other "
                                     f"inputs, or through a map that is not a move; not supported in fixed point")
        f = f_of.get(t.source)
        f = np.ones(int(np.prod(g.values[units[t.source].output].shape))) if f is None else np.asarray(f)
        rows = np.flatnonzero(np.diff(M.indptr))
        out[rows] = K_of[t.source] * f[M.indices] / 64.0
    if np.isnan(out).any():
        raise UnsupportedOpError(f"{g.node(u.node).location}: part of its input reads no current pool")
    return out


def reads_current_pool(units: dict, u) -> bool:
    """Whether weight layer ``u`` reads a max-pool of currents."""
    return any(t.source and is_current_pool(units, t.source) for t in u.ports[0].terms)


def weight_divisor(g, units: dict, u, K_of: dict, f_of: dict, w: np.ndarray):
    """What weight layer ``u``'s weights ``w`` are divided by so that they read the integer current-pool
    values (:func:`input_scales`): a scalar when every input element has one scale, else one per weight
    column of a ``[out, in]`` matrix whose input elements repeat over the leading axes (refused otherwise)."""
    s = input_scales(g, units, u, K_of, f_of)
    if np.all(s == s[0]):
        return float(s[0])
    if w.ndim == 2 and s.size % w.shape[1] == 0:
        S = s.reshape(-1, w.shape[1])
        if np.all(S == S[0]):
            return S[0][None, :]
    raise UnsupportedOpError(f"{g.node(u.node).location}: reads a max-pool of currents whose element scales "
                             f"differ along axes its weights share; not exact in fixed point")
