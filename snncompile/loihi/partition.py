"""Partitioning a network over Loihi cores under a limits table (no simulation; works at ImageNet size).

Every on-chip unit of :mod:`.network` becomes a *layer* whose compartments are split into rectangular
**tiles**, one tile per core:

* a ``synapse`` unit (Linear / Conv) holds its weights on the cores of its output compartments (on
  Loihi a synapse lives on the core of its postsynaptic compartment).  When its only consumer is one LIF
  population fed by nothing else, that population *is* those compartments (merged);
* a ``neuron`` unit fed by several synapse units (Spikingformer's residual "membrane" stream) gets its
  own compartments, each receiving the dendritic currents as graded messages through one relay synapse
  per input unit;
* a ``pool`` unit (max-pool of spikes) is a depthwise unit-weight population;
* an ``attention`` unit (SSA's spike matmul chain) has no stored weights.  **Assumed mapping** (not a
  published one): the intermediate product is held as compartments (Loihi 2 programmable neurons), the
  outputs as the compartments of the following ``attn_lif``.  A tile holds whole heads, or a block of
  output rows × columns of one head: it reads its rows of ``q``, all of ``kᵀ`` and its columns of ``v``,
  and holds its rows of ``QKᵀ`` (order ``(QKᵀ)V``) or its columns of ``KᵀV`` (order ``Q(KᵀV)``).
* a ``product`` unit (a coincidence population, :mod:`.coincidence`) is a relay-like population: one
  compartment per output element, fed by unit-weight synapses from its operand populations (a structural
  bound of one synapse and one input axon per compartment and operand term);
* inputs (the image) are on the host; readouts too, unless placed on chip (``readout="chip"``: a
  non-spiking integrator population, one compartment per element of the readout value, one synapse per
  (presynaptic element, compartment) entry of its term matrices — spikes of neurons, graded relays of
  synapse compartments; tiled in contiguous blocks).

Tiles: Conv/pool — blocks of (output channels × rows × columns); Linear — (tokens × output features);
attention — (heads) or (rows × columns of one head); relay neurons — contiguous blocks.  For each layer every block size
is tried (vectorised with numpy) and the feasible one with the fewest cores wins (then the fewest input
axons).  Per core, the checks are: compartments ≤ ``neurons_per_core``; input axons (distinct
presynaptic elements the tile reads) ≤ ``input_axons_per_core``; synapses ≤ ``synapses_per_core``; synapse
memory (nengo-loihi's model, see :mod:`.limits`) ≤ ``synapse_bits_per_core``; output axons (compartments ×
the consumer tiles each one reaches) ≤ ``output_axons_per_core`` — the last needs the consumers' tiling, so
layers are tiled twice.

**Synapses are the connections that exist.**  A synapse is one (presynaptic element, postsynaptic
compartment) pair of the layer's structural synapse matrix (:func:`snncompile.loihi.affine.synapse_matrix`
with ``structural=True``: zero weights kept, as a core stores them).  A convolution's window tap that
falls on zero padding reads no input and is no synapse: output ``(h, w)`` of a conv has
``(C_in/g) · taps_h(h) · taps_w(w)`` synapses, where ``taps(o) = #{k : 0 ≤ o·s − p + k·d < n_in}``
(:func:`valid_taps`).  A tile's count is the sum over the outputs it holds; the per-core check uses the
largest tile's (:meth:`LayerPlan.synapses_per_core` gives every tile's).  A 3×3 padded conv on a 1×1 map
has ``C_out · C_in`` synapses, not ``9 · C_out · C_in``.

**No convolution weight sharing is assumed** for the synapse count or the synapse memory: every synapse
is stored with its own weight and index, nengo-loihi's discrete synapse format
(``SynapseConfig.bits_per_axon`` with ``compression=0``, ``nengo_loihi/block.py``).  Loihi 1 can share a
convolution's kernel among axons — nengo-loihi's ``Synapse.set_population_weights`` maps several input
axons to one weight set (``axon_to_weight_map``, ``axon_compartment_bases``, pop16/pop32 population
axons) and ``Synapse.bits()`` charges each distinct weight set once — which would cut a conv's synapse
memory by up to the number of output positions that reuse a kernel.  That mapping is not modelled here,
so synapse bits are an upper bound for convolutions (exact for dense layers).  For Loihi 2, Intel publishes
no per-core synapse-memory format; the table's ``synapses_per_core`` is the chip's ~120 M spread evenly
(:mod:`.limits`).

**Split weights** (``synapse_planes=2``, 16-bit fixed point, :mod:`.split_weights`): every weight layer
(``synapse`` unit; not pools, relays, attention, products or integrators) stores each structural connection as
two synapses, a high and a low 8-bit mantissa with different exponents.  Its synapses double, and so does
its synapse memory: the low synapses have their own synapse format (exponent ``e − 8``), hence their own
blocks and headers, i.e. exactly the memory of a second 8-bit layer.  Input axons and compartments do not
change.  The tiling search checks the doubled figures, so a split layer may need more cores.

Chips needed = max(⌈cores / cores_per_chip⌉, ⌈neurons / neurons_per_chip⌉, ⌈synapses / synapses_per_chip⌉).
A layer whose single compartment already exceeds a limit raises :class:`DoesNotFitError`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

import numpy as np

from snncompile import ops
from snncompile.errors import SnnCompileError
from snncompile.ir.graph import Graph

from .affine import term_matrix
from .limits import BLOCK_HEADER_BITS, INDEX_BITS, SYNAPSES_PER_BLOCK, WORD_BITS, Limits
from .network import Network, Unit


class DoesNotFitError(SnnCompileError):
    """A layer cannot be placed on Loihi cores under the limits, however it is split."""


@dataclass
class Geometry:
    kind: str  # conv | linear | attention | relay
    batch: int = 1
    c_out: int = 1
    h_out: int = 1
    w_out: int = 1
    c_in: int = 1
    h_in: int = 1
    w_in: int = 1
    kh: int = 1
    kw: int = 1
    sh: int = 1
    sw: int = 1
    ph: int = 0
    pw: int = 0
    dh: int = 1
    dw: int = 1
    groups: int = 1
    # linear: tokens = h_out (rows), c_in features.  attention: heads = c_out, output rows M = h_out, output
    # columns C = w_out, a = [M, kd], b = [kd, n_tok], c = [n_tok, C]; order "ab_c" ((a·b)·c) or "a_bc"
    kd: int = 0
    n_tok: int = 0
    order: str = ""
    relay_inputs: int = 0  # relay neurons: incoming dendrite units
    fan_in: int = 0
    row_synapses: tuple = ()  # integrator: synapses of each compartment (nnz of its term-matrix rows)
    planes: int = 1  # synapses stored per structural connection (split weights: 2, module docstring)


@dataclass
class Tile:
    """A block shape: (batch? no) channels × rows × cols (conv), tokens × features (linear), heads × rows."""

    cb: int
    rb: int
    wb: int
    cores: int
    neurons: int
    axons: int
    synapses: int
    synapse_bits: int


@dataclass
class LayerPlan:
    name: str  # the unit's name (the anchor IR node)
    module: str
    kind: str
    merged: list[str]  # LIF units whose compartments these are
    geometry: Geometry
    tile: Tile
    neurons: int  # compartments of the whole layer
    synapses: int
    first_core: int = 0
    output_axons: int = 0  # per core (worst case)
    routes_per_neuron: int = 0
    assumed: str = ""

    @property
    def cores(self) -> int:
        return self.tile.cores

    def core_of(self, flat_index: np.ndarray) -> np.ndarray:
        """Global core id of each output element (flat index in the anchor's per-step output layout)."""
        g, t = self.geometry, self.tile
        idx = np.asarray(flat_index, dtype=np.int64)
        if g.kind == "conv":
            b, rest = np.divmod(idx, g.c_out * g.h_out * g.w_out)
            c, rest = np.divmod(rest, g.h_out * g.w_out)
            h, w = np.divmod(rest, g.w_out)
            nc, nh, nw = -(-g.c_out // t.cb), -(-g.h_out // t.rb), -(-g.w_out // t.wb)
            local = ((b * nc + c // t.cb) * nh + h // t.rb) * nw + w // t.wb
        elif g.kind == "linear":
            tok, o = np.divmod(idx, g.c_out)
            no = -(-g.c_out // t.wb)
            local = (tok // t.rb) * no + o // t.wb
        elif g.kind == "attention":
            head, rest = np.divmod(idx, g.h_out * g.w_out)
            row, col = np.divmod(rest, g.w_out)
            nr, nw = -(-g.h_out // t.rb), -(-g.w_out // t.wb)
            local = ((head // t.cb) * nr + row // t.rb) * nw + col // t.wb
        else:  # relay
            local = idx // t.rb
        return self.first_core + local

    @property
    def planes(self) -> int:
        """Synapses per structural connection: 2 for a split weight layer, else 1."""
        return self.geometry.planes

    def synapses_per_output(self) -> np.ndarray:
        """Synapses of every output compartment (flat, the anchor's per-step output layout): a conv/pool
        output ``(h, w)`` has ``(C_in/g) · taps_h(h) · taps_w(w)`` (padding taps are no synapses), a dense
        output ``C_in``, a relay neuron one per input unit; attention stores none.  Times the layer's
        :attr:`planes`."""
        return self.geometry.planes * self._connections_per_output()

    def _connections_per_output(self) -> np.ndarray:
        g = self.geometry
        if g.kind == "conv":
            taps_h, taps_w = conv_taps(g)
            per = (g.c_in // g.groups) * taps_h[:, None] * taps_w[None, :]
            return np.broadcast_to(per, (g.batch, g.c_out, g.h_out, g.w_out)).reshape(-1)
        if g.kind == "linear":
            return np.full(g.h_out * g.c_out, g.c_in, dtype=np.int64)
        if g.kind == "relay":
            return np.full(g.h_out, g.relay_inputs, dtype=np.int64)
        if g.kind == "integrator":
            return np.asarray(g.row_synapses, dtype=np.int64)
        return np.zeros(g.c_out * g.h_out * g.w_out, dtype=np.int64)

    def synapses_per_core(self) -> np.ndarray:
        """Synapses stored on each of the layer's cores (local core order): the sum over the outputs it holds."""
        per = self.synapses_per_output()
        local = self.core_of(np.arange(per.size)) - self.first_core
        return np.bincount(local, weights=per, minlength=self.cores).astype(np.int64)

    def to_dict(self) -> dict:
        d = {"name": self.name, "module": self.module, "kind": self.kind, "merged_neurons": self.merged,
             "compartments": self.neurons, "synapses": self.synapses, "synapse_planes": self.planes,
             "cores": self.cores, "first_core": self.first_core, "tile": asdict(self.tile),
             "output_axons_per_core": self.output_axons}
        if self.assumed:
            d["assumed_mapping"] = self.assumed
        return d


@dataclass
class Partition:
    limits: Limits
    layers: list[LayerPlan]
    host: list[str] = field(default_factory=list)  # units kept on the host (inputs, readouts)

    @property
    def cores(self) -> int:
        return sum(layer.cores for layer in self.layers)

    @property
    def neurons(self) -> int:
        return sum(layer.neurons for layer in self.layers)

    @property
    def synapses(self) -> int:
        return sum(layer.synapses for layer in self.layers)

    @property
    def chips(self) -> int:
        lim = self.limits
        need = [math.ceil(self.cores / lim.cores_per_chip)]
        if lim.neurons_per_chip:
            need.append(math.ceil(self.neurons / lim.neurons_per_chip))
        if lim.synapses_per_chip:
            need.append(math.ceil(self.synapses / lim.synapses_per_chip))
        return max(need)

    def layer(self, name: str) -> LayerPlan:
        for layer in self.layers:
            if layer.name == name or name in layer.merged:
                return layer
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"limits": self.limits.to_dict(), "cores": self.cores, "chips": self.chips,
                "compartments": self.neurons, "synapses": self.synapses,
                "layers": [layer.to_dict() for layer in self.layers], "host": self.host}

    def table(self) -> str:
        """One row per layer; a ``planes`` column (synapses per connection) appears when a layer is split."""
        split = any(layer.planes > 1 for layer in self.layers)
        rows = [f"{'layer':44s} {'kind':9s} {'compart.':>9s} {'synapses':>11s} " + ("planes " if split else "")
                + f"{'cores':>6s} {'tile':>14s} {'n/core':>7s} {'axons/core':>10s}"]
        for layer in self.layers:
            t = layer.tile
            rows.append(f"{(layer.module or layer.name)[:44]:44s} {layer.kind:9s} {layer.neurons:9d} "
                        f"{layer.synapses:11d} " + (f"{layer.planes:6d} " if split else "")
                        + f"{layer.cores:6d} {f'{t.cb}x{t.rb}x{t.wb}':>14s} {t.neurons:7d} {t.axons:10d}")
        rows.append(f"total: {self.cores} cores, {self.chips} chip(s) of {self.limits.cores_per_chip} cores "
                    f"({self.limits.name}); {self.neurons} compartments, {self.synapses} synapses"
                    + (" (split weight layers: 2 synapses per connection)" if split else ""))
        return "\n".join(rows)


# -- geometry of units ---------------------------------------------------------------------------

def _pair(x, n=2):
    x = list(x) if isinstance(x, (list, tuple)) else [x] * n
    return x if len(x) == n else [1] * (n - len(x)) + x


def geometry_of(net: Network, unit: Unit) -> Geometry:
    g: Graph = net.graph
    if unit.kind in ("synapse", "pool"):
        node = g.node(unit.node)
        x = g.values[node.inputs[0]].shape
        y = g.values[node.outputs[0]].shape
        layer = ops.get(node.op).weight
        w = g.values[node.inputs[layer.weight]].shape if layer is not None else None
        if w is not None and len(w) == 2:  # a dense layer, per token
            tokens = int(np.prod(x[:-1]))
            return Geometry("linear", h_out=tokens, c_out=w[0], c_in=w[1], fan_in=w[1])
        a = node.attrs
        if w is not None:  # a convolution: W [C_out, C_in/g, *K]
            k = list(w[2:])
            groups = int(a.get("groups", 1))
            c_out, c_in = w[0], w[1] * groups
        else:  # pools: depthwise, unit weights
            k = list(a["kernel"])
            c_out = c_in = x[1]
            groups = x[1]
        nd = len(k)
        (kh, kw), (sh, sw) = _pair(k), _pair(a["stride"])
        (ph, pw), (dh, dw) = _pair(a["padding"], 2) if nd == 2 else [0, a["padding"][0]], \
            _pair(a.get("dilation", [1] * nd))
        hi, wi = (x[2], x[3]) if nd == 2 else (1, x[2])
        ho, wo = (y[2], y[3]) if nd == 2 else (1, y[2])
        if nd == 1:
            ph = 0
        return Geometry("conv", batch=x[0], c_out=c_out, h_out=ho, w_out=wo, c_in=c_in, h_in=hi, w_in=wi,
                        kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, dh=dh, dw=dw, groups=groups,
                        fan_in=(c_in // groups) * kh * kw)
    if unit.kind == "attention":
        a, b, c = [g.values[p.value].shape for p in unit.ports]
        out = g.values[unit.output].shape
        return Geometry("attention", c_out=int(np.prod(out[:-2])), h_out=out[-2], w_out=out[-1], kd=a[-1],
                        n_tok=b[-1], order=unit.attrs["order"])
    if unit.kind in ("neuron", "product"):
        n = int(np.prod(g.values[unit.output].shape))
        m = sum(1 for p in unit.ports for t in p.terms if t.source)
        return Geometry("relay", h_out=n, relay_inputs=max(m, 1), fan_in=max(m, 1))
    if unit.kind == "readout":  # on chip: an integrator population
        terms = [t for p in unit.ports for t in p.terms if t.source]
        rows = sum(np.diff(term_matrix(g, t).tocsr().indptr) for t in terms)
        n = int(np.prod(g.values[unit.ports[0].value].shape))
        rows = np.zeros(n, dtype=np.int64) + rows
        return Geometry("integrator", h_out=n, relay_inputs=len(terms), fan_in=int(rows.max(initial=0)),
                        row_synapses=tuple(int(r) for r in rows))
    raise ValueError(unit.kind)


# -- tiling ------------------------------------------------------------------------------------------

def _blocks(n: int) -> np.ndarray:
    """Every distinct block size ⌈n/m⌉ (m = 1..n): all distinct tile counts along one axis."""
    return np.unique(-(-n // np.arange(1, n + 1)))


def _bits(axons, per_axon_syn, neurons, weight_bits):
    """nengo-loihi synapse memory: axons × bits of one axon driving ``per_axon_syn`` synapses."""
    need = np.maximum(1, np.ceil(np.log2(np.maximum(neurons, 1)))).astype(np.int64)
    idx = np.array(INDEX_BITS)
    pos = np.searchsorted(idx[1:], need)
    idx_bits = np.where(pos < len(idx) - 1, idx[1:][np.minimum(pos, len(idx) - 2)], need)
    per = weight_bits + idx_bits
    full, rem = np.divmod(per_axon_syn, SYNAPSES_PER_BLOCK)
    word = lambda n: -WORD_BITS * (-(n * per + BLOCK_HEADER_BITS) // WORD_BITS)  # noqa: E731
    return axons * (full * word(SYNAPSES_PER_BLOCK) + np.where(rem > 0, word(rem), 0))


def valid_taps(n_out: int, n_in: int, k: int, stride: int, pad: int, dil: int) -> np.ndarray:
    """Per output position along one axis: the kernel taps that read an input (not the zero padding),
    ``#{j < k : 0 ≤ o·stride − pad + j·dil < n_in}``."""
    pos = np.arange(n_out)[:, None] * stride - pad + np.arange(k)[None, :] * dil
    return ((pos >= 0) & (pos < n_in)).sum(1).astype(np.int64)


def conv_taps(g: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Valid taps per output row and per output column of a conv/pool geometry."""
    return (valid_taps(g.h_out, g.h_in, g.kh, g.sh, g.ph, g.dh), valid_taps(g.w_out, g.w_in, g.kw, g.sw, g.pw, g.dw))


def _block_sums(values: np.ndarray, block: int) -> np.ndarray:
    """Sums of ``values`` over consecutive blocks of ``block`` (the last one may be shorter)."""
    cs = np.concatenate([[0], np.cumsum(values)])
    starts = np.arange(0, values.size, block)
    return cs[np.minimum(starts + block, values.size)] - cs[starts]


def _largest_block_sums(values: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """For every block size in ``blocks``: the largest sum of ``values`` over one block."""
    best = {int(b): int(_block_sums(values, int(b)).max()) for b in np.unique(blocks)}
    return np.array([best[int(b)] for b in np.ravel(blocks)], dtype=np.int64).reshape(np.shape(blocks))


def _span(block, stride, k, dil, size_in):
    return np.minimum(size_in, (block - 1) * stride + (k - 1) * dil + 1)


def candidate_tiles(g: Geometry, lim: Limits):
    """Arrays (cb, rb, wb, cores, neurons, axons, synapses, synapse bits) over every block shape; synapses and
    bits of all ``g.planes`` planes (each plane: the nengo-loihi memory of one 8-bit synapse set)."""
    if g.kind == "conv":
        cb, rb, wb = np.meshgrid(_blocks(g.c_out), _blocks(g.h_out), _blocks(g.w_out), indexing="ij")
        cb, rb, wb = cb.ravel(), rb.ravel(), wb.ravel()
        cores = g.batch * (-(-g.c_out // cb)) * (-(-g.h_out // rb)) * (-(-g.w_out // wb))
        neurons = cb * rb * wb
        og, cg = g.c_out // g.groups, g.c_in // g.groups
        cin = g.c_in if g.groups == 1 else np.minimum(g.c_in, (-(-cb // og) + 1) * cg)
        axons = cin * _span(rb, g.sh, g.kh, g.dh, g.h_in) * _span(wb, g.sw, g.kw, g.dw, g.w_in)
        taps_h, taps_w = conv_taps(g)
        synapses = cb * (g.c_in // g.groups) * _largest_block_sums(taps_h, rb) * _largest_block_sums(taps_w, wb)
    elif g.kind == "linear":
        rb, wb = np.meshgrid(_blocks(g.h_out), _blocks(g.c_out), indexing="ij")
        rb, wb = rb.ravel(), wb.ravel()
        cb = np.ones_like(rb)
        cores = (-(-g.h_out // rb)) * (-(-g.c_out // wb))
        neurons = rb * wb
        axons = rb * g.c_in
        synapses = neurons * g.c_in
    elif g.kind == "attention":
        # blocks of heads (whole heads) or, within a head, of output rows × output columns
        hb = _blocks(g.c_out)
        rr, ww = np.meshgrid(_blocks(g.h_out), _blocks(g.w_out), indexing="ij")
        cb = np.concatenate([hb, np.ones(rr.size, dtype=np.int64)])
        rb = np.concatenate([np.full_like(hb, g.h_out), rr.ravel()])
        wb = np.concatenate([np.full_like(hb, g.w_out), ww.ravel()])
        cores = (-(-g.c_out // cb)) * (-(-g.h_out // rb)) * (-(-g.w_out // wb))
        # intermediate compartments: rows of a·b (ab_c) or columns of b·c (a_bc); plus the outputs
        inner = rb * g.n_tok if g.order == "ab_c" else g.kd * wb
        neurons = cb * (inner + rb * wb)
        axons = cb * (rb * g.kd + g.kd * g.n_tok + g.n_tok * wb)  # rows of a, all of b, columns of c
        synapses = np.zeros_like(cb)
    elif g.kind == "integrator":  # contiguous blocks; axons bounded by the synapses (one per synapse at most)
        rb = _blocks(g.h_out)
        cb = wb = np.ones_like(rb)
        cores = -(-g.h_out // rb)
        neurons = rb
        synapses = _largest_block_sums(np.asarray(g.row_synapses, dtype=np.int64), rb)
        axons = synapses.copy()
    else:  # relay
        rb = _blocks(g.h_out)
        cb = wb = np.ones_like(rb)
        cores = -(-g.h_out // rb)
        neurons = rb
        axons = rb * g.relay_inputs
        synapses = rb * g.relay_inputs
    per_axon = np.where(axons > 0, -(-synapses // np.maximum(axons, 1)), 0)
    bits = g.planes * _bits(axons, per_axon, neurons, lim.weight_bits)
    return cb, rb, wb, cores, neurons, axons, g.planes * synapses, bits


def best_tile(name: str, g: Geometry, lim: Limits, max_neurons: Optional[int] = None) -> Tile:
    cb, rb, wb, cores, neurons, axons, synapses, bits = candidate_tiles(g, lim)
    ok = neurons <= min(lim.neurons_per_core, max_neurons or lim.neurons_per_core)
    if lim.input_axons_per_core is not None:
        ok &= axons <= lim.input_axons_per_core
    if lim.synapses_per_core is not None:
        ok &= synapses <= lim.synapses_per_core
    if lim.synapse_bits_per_core is not None:
        ok &= bits <= lim.synapse_bits_per_core
    if not ok.any():
        i = int(np.argmin(neurons))
        raise DoesNotFitError(
            f"layer {name} does not fit on {lim.name} cores even one compartment per core: "
            f"{int(axons[i])} input axons, {int(synapses[i])} synapses ({int(bits[i])} bits) per compartment "
            + (f"({g.planes} synapses per connection: split weights) " if g.planes > 1 else "") +
            f"(limits: {lim.input_axons_per_core} axons, {lim.synapses_per_core} synapses, "
            f"{lim.synapse_bits_per_core} bits per core)")
    idx = np.flatnonzero(ok)
    key = np.lexsort((axons[idx], cores[idx]))
    i = int(idx[key[0]])
    return Tile(int(cb[i]), int(rb[i]), int(wb[i]), int(cores[i]), int(neurons[i]), int(axons[i]),
                int(synapses[i]), int(bits[i]))


# -- the partition ---------------------------------------------------------------------------------------

def _merged_into(net: Network) -> dict[str, str]:
    """LIF unit -> the synapse/attention unit whose compartments it shares."""
    merged = {}
    for u in net.of_kind("neuron"):
        terms = [t for p in u.ports for t in p.terms if t.source]
        if len(terms) != 1:
            continue
        src = net.units[terms[0].source]
        if src.kind in ("synapse", "attention") and src.consumers == [u.name]:
            merged[u.name] = src.name
    return merged


def _routes(net: Network, plans: dict[str, LayerPlan], merged: dict[str, str], unit: Unit) -> int:
    """Consumer tiles a spike of ``unit`` reaches (worst case over its elements), summed over consumers."""
    total = 0
    spikers = [unit.name] + [n for n, m in merged.items() if m == unit.name]
    consumers = {c for s in spikers for c in net.units[s].consumers if c not in spikers}
    for c in consumers:
        cu = net.units[c]
        plan = plans.get(merged.get(c, c))
        if plan is None:  # readout on the host: one route off chip
            total += 1
            continue
        g, t = plan.geometry, plan.tile
        if g.kind == "linear":
            total += -(-g.c_out // t.wb)
        elif g.kind == "conv":
            ch = -(-g.c_out // t.cb) if g.groups == 1 else 2
            rows = min(-(-g.h_out // t.rb), -(-(-(-((g.kh - 1) * g.dh + 1) // g.sh)) // t.rb) + 1)
            cols = min(-(-g.w_out // t.wb), -(-(-(-((g.kw - 1) * g.dw + 1) // g.sw)) // t.wb) + 1)
            total += ch * rows * cols
        elif g.kind == "attention":  # a row of a reaches the column tiles; b and c reach every tile of a head
            total += (-(-g.h_out // t.rb)) * (-(-g.w_out // t.wb)) if cu.kind == "attention" else 1
        else:
            total += 1
    return max(total, 1)


def partition(net: Network, lim: Limits, *, readout: str = "host", synapse_planes: int = 1) -> Partition:
    """Tile every on-chip unit of ``net`` under ``lim`` (see the module docstring); ``readout="chip"``
    places the readouts on chip as integrator populations; ``synapse_planes=2`` stores every weight layer's
    connections as two synapses (split weights)."""
    if synapse_planes not in (1, 2):
        raise ValueError(f"synapse_planes must be 1 or 2 (split weights), got {synapse_planes!r}")
    merged = _merged_into(net)
    plans: dict[str, LayerPlan] = {}
    on_chip = ("synapse", "pool", "attention", "neuron", "product") + (("readout",) if readout == "chip" else ())
    order = [u for u in net.order if net.units[u].kind in on_chip and u not in merged]
    for name in order:
        u = net.units[name]
        g = geometry_of(net, u)
        if u.kind == "synapse":
            g = replace(g, planes=synapse_planes)
        tile = best_tile(u.module or name, g, lim)
        assumed = ("attention: intermediate products held as compartments of programmable neurons, no stored "
                   "weights (not a published Loihi mapping)") if u.kind == "attention" else ""
        kind = {"synapse": g.kind, "pool": "pool", "attention": "attention", "neuron": "neuron",
                "product": "product", "readout": "integrator"}[u.kind]
        plans[name] = LayerPlan(name, u.module, kind, [n for n, m in merged.items() if m == name], g, tile,
                                _count(g, "neurons"), _count(g, "synapses"), assumed=assumed)
    if lim.output_axons_per_core is not None:  # second pass: cap compartments by their output routes
        for name in order:
            plan = plans[name]
            routes = _routes(net, plans, merged, net.units[name])
            cap = max(1, lim.output_axons_per_core // routes)
            if plan.tile.neurons > cap:
                plan.tile = best_tile(plan.module or name, plan.geometry, lim, max_neurons=cap)
            plan.routes_per_neuron = routes
    first = 0
    for name in order:
        plan = plans[name]
        plan.first_core = first
        first += plan.cores
        routes = plan.routes_per_neuron or _routes(net, plans, merged, net.units[name])
        plan.routes_per_neuron = routes
        plan.output_axons = plan.tile.neurons * routes
    host = [u.name for u in net.of_kind("input", "readout") if u.name not in plans]
    return Partition(lim, [plans[n] for n in order], host)


def _count(g: Geometry, what: str) -> int:
    """The layer's compartments (``what="neurons"``) or synapses (all planes)."""
    return _count_one_plane(g, what) * (g.planes if what == "synapses" else 1)


def _count_one_plane(g: Geometry, what: str) -> int:
    if g.kind == "conv":
        n = g.batch * g.c_out * g.h_out * g.w_out
        if what == "neurons":
            return n
        taps_h, taps_w = conv_taps(g)
        return g.batch * g.c_out * (g.c_in // g.groups) * int(taps_h.sum()) * int(taps_w.sum())
    if g.kind == "linear":
        n = g.h_out * g.c_out
        return n if what == "neurons" else n * g.c_in
    if g.kind == "attention":
        inner = g.h_out * g.n_tok if g.order == "ab_c" else g.kd * g.w_out
        n = g.c_out * (inner + g.h_out * g.w_out)
        return n if what == "neurons" else 0
    if g.kind == "integrator":
        return g.h_out if what == "neurons" else int(sum(g.row_synapses))
    return g.h_out if what == "neurons" else g.h_out * g.relay_inputs
