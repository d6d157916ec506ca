"""Per-element refinement of the activation scale: every weight row gets the whole 8-bit mantissa.

A scale class (``snncompile.loihi.fixed``) has one activation scale ``K``, chosen so that its currents fit the
24-bit membrane.  With one weight exponent ``e`` per Lava ``Sparse``, a layer's weights ``w·K/64`` are
mantissas of ``2^e``: an output channel whose weights are 16× smaller than the layer's largest uses 4 bits of
the 8.  Here each element ``r`` (a neuron, or a synapse/readout element) gets a factor ``f_r ∈ (0, 1]`` and
the scale ``K_r = K·f_r``: its weights are ``w_r·K_r/64``, its threshold ``θ·K_r/k`` and its bias ``c_r·K_r``
(the membrane of neuron ``r`` is in units of ``S_v = K_r/k``; the neuron registers are per neuron, so any
real ``f_r`` is exact algebra).  ``f ≤ 1`` keeps every current inside the class's 24-bit budget.

Choice.  Per synapse ``s`` with per-output-channel weight maxima ``R_o = max|w_o|·K/(64·s_x)`` and the
mantissa top ``t`` (254 for mixed signs, 255 for one sign): the exponent ``e_s = ⌈log2(f_s·max R/t)⌉``
lets the largest channel use ``f = f_s`` and every channel ``f_o = min(1, t·2^e_s/R_o)`` (its weights
then reach ``t``).  ``f_s`` is ``f_min``, raised where the neurons ``s`` feeds would keep fewer than
``MIN_THRESHOLD_UNITS`` activation units per threshold (a class whose large currents already keep ``K``
small, e.g. a residual stream, stays at ``f = 1``).  Finally, with thresholds given, a class's ``f`` is
rounded down so that its threshold mantissa ``θ·K·f/(k·64)`` is an integer: exact thresholds.

Constraints (element classes, by connected components): the weights of a channel are shared by all its
positions (one ``f`` per output channel); every term ``M`` from a producer element ``j`` into a port element
``i`` (``M_ij ≠ 0``) needs ``f_i = f_j``; a class takes the smallest ``f`` any of its synapse channels asks
for; a max-pool of currents joins each output with its window's elements (:mod:`.current_pool`).  Elements
that also receive spikes (a unit-weight term ``M·K/64``: exact only at ``f = 1``) or spike
matmul counts (one integer multiplier per matmul) keep ``f = 1``, and so do graded neurons (one register
set per population).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from snncompile import ops

from .affine import numel, term_matrix
from .current_pool import is_current_pool, window_sources

CURRENT_KINDS = ("synapse", "attention")
MIN_THRESHOLD_UNITS = 2 ** 10  # a threshold keeps at least this many activation units (θ·K·f/(k·64))


def channel_maxima(g, node) -> tuple[np.ndarray, np.ndarray, float]:
    """Per output element of a weight layer: the index of its output channel, and per channel ``max|W_o|``;
    plus the mantissa top of the layer's sign mode."""
    layer = ops.get(node.op).weight
    w = np.asarray(g.constants[node.inputs[layer.weight]], dtype=np.float64)
    wmax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1) if w.size else np.zeros(0)
    y = g.values[node.outputs[0]].shape
    axis = layer.channel_axis(len(y))
    shape = [1] * len(y)
    shape[axis] = -1
    channel = np.broadcast_to(np.arange(y[axis]).reshape(shape), y).reshape(-1)
    top = 254.0 if (w.min(initial=0.0) < 0 < w.max(initial=0.0)) else 255.0
    return channel, wmax, top


def element_factors(net, K_of: dict[str, int], input_scale_of, f_min: float,
                    threshold_units=None, *, exact_thresholds: bool = True) -> dict[str, np.ndarray]:
    """``f`` per element (natural order) of every unit with an activation scale: synapses and spike
    matmuls (their outputs), neurons and readouts (their input ports).  ``input_scale_of(unit)``: the scale
    ``s_x`` of what a synapse reads (1 for spikes).  ``threshold_units(neuron unit)``, when given: its
    threshold mantissa at ``f = 1`` (``θ·K/(k·64)``), which bounds ``f`` from below; with
    ``exact_thresholds`` a class holding neurons rounds ``f`` down so that the threshold mantissa
    ``θ·K·f/(k·64)`` is an integer (exact thresholds; weights still fit)."""
    g, units = net.graph, net.units
    scoped = [u for u in net.order if u in K_of or (units[u].kind == "readout" and _reads_currents(net, units[u]))]
    offset, n = {}, 0
    for name in scoped:
        u = units[name]
        offset[name] = n
        n += numel(g, u.output if u.kind in CURRENT_KINDS + ("neuron", "pool") else u.ports[0].value)
    rows, cols = [], []
    want = np.full(n, np.inf)
    pinned = np.zeros(n, dtype=bool)
    grid = np.zeros(n)  # threshold mantissa at f = 1 (neurons), 0 elsewhere
    for name in scoped:
        u = units[name]
        o = offset[name]
        if u.kind == "synapse":
            node = g.node(u.node)
            channel, wmax, top = channel_maxima(g, node)
            R = wmax * K_of[name] / (64.0 * input_scale_of(u))
            floor = _factor_floor(net, u, f_min, threshold_units)
            if R.size and R.max() > 0:
                e = math.ceil(math.log2(floor * R.max() / top))
                f = np.minimum(1.0, np.divide(top * 2.0 ** e, R, out=np.ones_like(R), where=R > 0))
                want[o:o + channel.size] = f[channel]
            first = np.full(int(channel.max(initial=-1)) + 1, -1)  # one f per channel: chain its elements
            idx = np.arange(channel.size)
            first[channel[::-1]] = idx[::-1]
            rows.append(o + idx)
            cols.append(o + first[channel])
        elif u.kind == "attention":
            pinned[o:o + numel(g, u.output)] = True
        elif u.kind == "pool":  # a max-pool of currents: each output shares f with its window (current_pool)
            win = window_sources(g, units, u)
            out_i, k = np.nonzero(win >= 0)
            rows.append(o + out_i)
            cols.append(offset[u.ports[0].terms[0].source] + win[out_i, k])
        else:  # neuron / readout: its port elements join the elements of the currents they receive
            if u.attrs.get("graded"):  # graded (I-LIF) registers take one scale per population
                pinned[o:o + numel(g, u.output)] = True
            elif u.kind == "neuron" and threshold_units is not None and exact_thresholds:
                grid[o:o + numel(g, u.output)] = threshold_units(u)
            for t in u.ports[0].terms:
                if not t.source:
                    continue
                M = term_matrix(g, t).tocoo()
                nz = M.data != 0
                if units[t.source].kind in CURRENT_KINDS or is_current_pool(units, t.source):
                    rows.append(o + M.row[nz])
                    cols.append(offset[t.source] + M.col[nz])
                else:  # spikes straight into a membrane
                    pinned[o + np.unique(M.row[nz])] = True
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    adj = sp.coo_matrix((np.ones(r.size), (r, c)), shape=(n, n))
    _, label = connected_components(adj, directed=False)
    f_class = np.full(label.max(initial=-1) + 1, np.inf)
    np.minimum.at(f_class, label, want)
    f_class[np.isinf(f_class)] = 1.0
    pin_class = np.zeros_like(f_class, dtype=bool)
    pin_class[label[pinned]] = True
    f_class[pin_class] = 1.0
    g_class = np.zeros_like(f_class)
    np.maximum.at(g_class, label, grid)
    snap = (g_class > 0) & (f_class < 1.0) & (np.floor(f_class * g_class) >= 1)
    f_class[snap] = np.floor(f_class[snap] * g_class[snap]) / g_class[snap]
    f = f_class[label]
    out = {}
    for name in scoped:
        u = units[name]
        size = numel(g, u.output if u.kind in CURRENT_KINDS + ("neuron", "pool") else u.ports[0].value)
        out[name] = f[offset[name]:offset[name] + size]
    return out


def _factor_floor(net, u, f_min: float, threshold_units) -> float:
    """The smallest ``f`` synapse ``u`` may ask for: ``f_min``, and no less than keeps the threshold of every
    neuron it feeds at ``MIN_THRESHOLD_UNITS`` activation units (below, the floor of each synapse's shifted
    sum, up to one activation unit per step, becomes a visible fraction of the threshold)."""
    floor = f_min
    if threshold_units is not None:
        for c in u.consumers:
            if net.units[c].kind == "neuron" and not net.units[c].attrs.get("graded"):
                floor = max(floor, MIN_THRESHOLD_UNITS / max(threshold_units(net.units[c]), 1e-300))
    return min(floor, 1.0)


def _reads_currents(net, u) -> bool:
    return any(t.source and net.units[t.source].kind in CURRENT_KINDS for t in u.ports[0].terms)


def per_channel(g, node, f: np.ndarray) -> np.ndarray:
    """The per-output-channel values of a per-element ``f`` of weight layer ``node`` (constant per channel
    by construction)."""
    channel, wmax, _ = channel_maxima(g, node)
    out = np.ones(wmax.size)
    out[channel] = f
    return out
