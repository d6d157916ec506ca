"""The per-core ledger of a Lava run: synaptic ops, spikes and neuron updates of every Loihi core.

Counted the way the reference executor counts (``snncompile.backends.reference.counts``), so totals match
exactly:

* **synaptic ops** of a weight layer: for every model step, each *nonzero* element of the layer's input
  (a spike, a graded spike-count of the residual stream, an analog pixel) times the synapses it drives;
  synapses are structural (zero weights count, border windows do not).  Per core: the synapses it drives
  *on that core* — the static fan-out of every presynaptic element into every core of the layer's tiling
  (``snncompile.loihi.partition``), times the recorded activity.  The layer's input is rebuilt from the
  recorded spike trains of its producers and the exact term matrices;
* **spike matmuls** (SSA): counted inside the ``SpikeAttention`` process (products with both factors
  nonzero, inner and outer product), attributed to the first core of each head (an approximation when a
  head is split over several cores);
* **products of spike trains** (coincidence populations, ``snncompile.loihi.coincidence``): counted by the
  same rule as the reference's ``mul`` (one synaptic op per element where both factors are nonzero), which
  for binary factors is one per *coincidence*, i.e. per spike the population emits — on the core of that
  compartment (kind ``ac``).  The chip-level work of the population — its operand spikes delivered through
  unit synapses (every presynaptic spike × its unit synapses on that core) and its compartment updates —
  is not an event of the reference's counts (the IR product is no neuron), so it is listed apart per core
  (``unit_synapse_events``, ``compartment_updates``) and in ``totals()["coincidence"]``;
* **spikes** and **neuron updates** (one per neuron per valid step) of every LIF population, on the cores
  its compartments occupy;
* **graded spikes** (I-LIF populations, payload 0..D): one event per nonzero spike whatever its payload, and
  its synaptic ops are its fan-out, each an integer (payload) × weight product — the weight layer's cost kind
  is ``intmul`` (priced as a MAC), as the SNN105 rule prices a Loihi 2 graded spike; the same convention as
  ``report`` (``spikes`` = nonzero outputs, ``synaptic_ops`` = nonzero inputs × fan-out);
* the **readout** (the head after the mean over T) runs on the host: its ops are counted by the reference
  counting rules on the host's own computation and reported under ``host``.  The readout's per-step map
  (e.g. the mean over tokens; the term matrices of the network's ``readout`` unit) has no synaptic ops in
  ``report``'s counts and none under ``--readout host``;
* **integrators** (``--readout chip``: a readout's non-spiking population on chip,
  :mod:`snncompile.loihi.integrator`): its synaptic ops are, per model step, every nonzero message arriving —
  a spike of a neuron or pool, or the graded current of a weight layer's compartment (nonzero after the
  layer's own arithmetic: float, or the fixed-point integer rule) — times its synapses into the
  integrator's compartments on that core (the nonzeros of its column of the term matrix; fixed point: of the
  integer map ``W``, the same entries).  Each source population sends its own messages (two populations
  summed into one readout are two messages).  Cost kind: the message's — ``ac`` for binary spikes,
  ``intmul`` for integer payloads, ``mac`` for real currents (then its MACs: the compartment's synapses from
  real sources, every step); a core fed several kinds takes the costliest (an upper bound).  Its compartment
  updates (one per compartment per step) are listed apart (``compartment_updates``, in
  ``totals()["integrator"]``).  These are on-chip synaptic ops: they enter ``on_chip``, ``by_kind`` and both
  energies.  Nothing is counted twice: the host now reads the sums ``S/T`` instead of the per-step readout,
  and its post graph (the mean over T, the head) is counted as before, the same ops in both placements.  So
  (without split layers) under ``--readout host`` the ledger equals ``report``; under ``--readout chip`` it
  exceeds it by exactly ``totals()["integrator"]["synaptic_ops"]`` (the readout map that ``report`` does not
  count).

* **split weight layers** (16-bit fixed point, :mod:`snncompile.loihi.split_weights`: a node whose
  :func:`~snncompile.loihi.split_weights.weight_planes` are two): the low synapses are the same structural
  connections as the high ones and fire with them, so every input event costs one more synaptic op per
  synapse (and a layer fed real values one more MAC per MAC).  Counted apart per core (``low_synapse_ops``,
  ``low_macs``) and in ``totals()["split_synapses"]``, so that ``synaptic_ops`` stays ``report``'s count; they
  enter ``on_chip``, ``by_kind`` (the layer's own cost kind), ``macs`` and both energies.  A split layer's
  current (:func:`layer_currents`) is the sum over its planes of ``shift(A_p·x, e_p)``.

So: ledger = ``report`` + integrators + split synapses (on chip), each listed apart in ``totals()``.

* **MACs** of layers fed real values (cost kind ``mac``: the encoding layer on the analog image, a host
  readout) under the one MAC convention of ``report``
  (:func:`snncompile.backends.reference.counts.mac_count`): the dense layer's structural FLOPs, padding taps
  and zero inputs included, per output element on the core, every step; their ``synaptic_ops`` stay events.

Energy: the papers' 45 nm model — 0.9 pJ per AC event, 4.6 pJ per MAC (as above) and per integer×weight
or real×real event — equal to ``report``'s ``e45``; and, when the limits table has one, the chip's energy
per synaptic op (Loihi 1: 23.6 pJ) over every on-chip event.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import scipy.sparse as sp

from snncompile import ops
from snncompile.backends.reference.counts import mac_count_per_output
from snncompile.ir.graph import Graph
from snncompile.loihi.limits import PAPER_PJ_PER_AC, PAPER_PJ_PER_MAC
from snncompile.loihi.network import Network
from snncompile.loihi.partition import Partition

from snncompile.loihi.affine import synapse_matrix, term_matrix
from snncompile.loihi.coincidence import operand_map
from snncompile.loihi.registers import shift
from snncompile.loihi.split_weights import weight_planes
from snncompile.ops.registry import input_domain_kind


@dataclass
class CoreEntry:
    core: int
    layer: str
    module: str
    kind: str  # conv | linear | pool | attention | product | neuron
    synaptic_ops: int = 0
    spikes: int = 0
    neuron_updates: int = 0
    op_kind: str = ""  # ac | intmul | mac (from the IR cost rule of the layer's weights)
    unit_synapse_events: int = 0  # coincidence populations: operand spikes × their unit synapses on this core
    compartment_updates: int = 0  # coincidence and integrator populations: one per compartment per step
    macs: int = 0  # op_kind mac: structural FLOPs of the outputs on this core (the MAC convention)
    low_synapse_ops: int = 0  # split weight layers: the low synapses' ops (not in synaptic_ops)
    low_macs: int = 0  # split weight layers fed real values: the low synapses' MACs (not in macs)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Ledger:
    cores: list[CoreEntry]
    host: dict = field(default_factory=dict)  # name -> {"synaptic_ops", "kind", "module", "macs"}
    samples: int = 0
    per_step_ops: Optional[np.ndarray] = None  # [steps] synaptic ops on chip

    def totals(self) -> dict:
        split = {"synaptic_ops": sum(c.low_synapse_ops for c in self.cores),
                 "macs": sum(c.low_macs for c in self.cores)}
        on_chip = {k: sum(getattr(c, k) for c in self.cores) for k in ("synaptic_ops", "spikes", "neuron_updates")}
        on_chip["synaptic_ops"] += split["synaptic_ops"]
        by_kind: dict[str, int] = {}
        for c in self.cores:
            if c.synaptic_ops or c.low_synapse_ops:
                by_kind[c.op_kind] = by_kind.get(c.op_kind, 0) + c.synaptic_ops + c.low_synapse_ops
        host = sum(h["synaptic_ops"] for h in self.host.values())
        for h in self.host.values():
            by_kind[h["kind"]] = by_kind.get(h["kind"], 0) + h["synaptic_ops"]
        coincidence = {k: sum(getattr(c, k) for c in self.cores if c.kind != "integrator")
                       for k in ("unit_synapse_events", "compartment_updates")}
        integrator = {k: sum(getattr(c, k) for c in self.cores if c.kind == "integrator")
                      for k in ("synaptic_ops", "compartment_updates")}
        active = [c for c in self.cores if c.neuron_updates or c.synaptic_ops or c.compartment_updates]
        macs = sum(c.macs for c in self.cores) + split["macs"] + sum(h.get("macs", 0) for h in self.host.values())
        return {"on_chip": on_chip, "coincidence": coincidence, "integrator": integrator, "split_synapses": split,
                "host_synaptic_ops": host,
                "synaptic_ops": on_chip["synaptic_ops"] + host, "by_kind": by_kind, "macs": macs,
                "cores_used": len(active),
                "cores": len(self.cores)}

    def energy(self, pj_per_synop: Optional[float] = None) -> dict:
        """45 nm: ACs (events) × 0.9 pJ + (MACs by the MAC convention + integer×weight and real×real events)
        × 4.6 pJ; chip: on-chip events × ``pj_per_synop``."""
        tot = self.totals()
        by_kind = tot["by_kind"]
        acs = by_kind.get("ac", 0)
        products = tot["macs"] + sum(v for k, v in by_kind.items() if k not in ("ac", "mac"))
        out = {"paper_45nm_pJ": acs * PAPER_PJ_PER_AC + products * PAPER_PJ_PER_MAC,
               "paper_model": f"{PAPER_PJ_PER_AC} pJ/AC, {PAPER_PJ_PER_MAC} pJ/MAC (Horowitz 2014, 45 nm; MACs: "
                              f"structural FLOPs of layers fed real values)"}
        if pj_per_synop:
            out["chip_pJ"] = self.totals()["on_chip"]["synaptic_ops"] * pj_per_synop
            out["chip_model"] = f"{pj_per_synop} pJ per synaptic op"
        return out

    def to_dict(self) -> dict:
        return {"samples": self.samples, "totals": self.totals(), "cores": [c.to_dict() for c in self.cores],
                "host": self.host}


def _op_kind(original: Optional[Graph], step: Graph, node_name: str) -> str:
    # a folded layer (fold_weight_chain) keeps its outer layer's name, whose input in the original graph was
    # the inner layer's output: only the step graph says what it reads now
    folded = step.node(node_name).attrs.get("folded_layers")
    for g in ((step,) if folded else (original, step)):
        if g is not None and node_name in g.node_names:
            node = g.node(node_name)
            if g.values[node.inputs[0]].domain is not None:
                return ops.get(node.op).cost(node, g).kind
    return "mac"


MAC_ATTR = "mac_per_output"
"""Step-graph node attribute: the layer's MACs per output element as ``report`` counts the traced layer."""


def _mac_per_output(original: Optional[Graph], step: Graph, node_name: str) -> int:
    """MACs per output element of a layer fed real values, as ``report`` counts the layer: from the traced
    graph where it exists there unfolded (a BatchNorm folded into it must not add a bias add that the
    model's layer does not have) — directly, or as recorded by :func:`record_mac_convention` when the
    traced graph is not at hand (a lowered directory) — else from the step graph."""
    node = step.node(node_name)
    if original is not None and node_name in original.node_names and not node.attrs.get("folded_layers"):
        return mac_count_per_output(original, original.node(node_name))
    if MAC_ATTR in node.attrs:
        return int(node.attrs[MAC_ATTR])
    return mac_count_per_output(step, node)


def record_mac_convention(step: Graph, original: Graph) -> None:
    """Record on every weight layer of ``step`` that the traced graph has unfolded its MACs per output element
    (:data:`MAC_ATTR`), so that a ledger built later without the traced graph counts as ``report`` does."""
    for node in step.nodes:
        if ops.get(node.op).weight is not None and node.name in original.node_names \
                and not node.attrs.get("folded_layers"):
            node.attrs = dict(node.attrs, **{MAC_ATTR: mac_count_per_output(original, original.node(node.name))})


def fanout_by_core_matrix(step: Graph, node_name: str, core_of: np.ndarray, n_cores: int) -> sp.csr_matrix:
    """``F[i, k]`` = synapses that input element ``i`` drives on local core ``k``, from the structural
    synapse matrix (the definition; :func:`fanout_by_core` computes the same without the matrix)."""
    A = synapse_matrix(step, step.node(node_name), structural=True).tocsc()
    onehot = sp.csr_matrix((np.ones(core_of.size), (np.arange(core_of.size), core_of)),
                           shape=(core_of.size, n_cores))
    return (A.T @ onehot).tocsr()


def fanout_by_core(step: Graph, node_name: str, core_of: np.ndarray, n_cores: int) -> np.ndarray:
    """``F[i, k]`` = synapses that input element ``i`` drives on local core ``k`` (dense ``[n_in, cores]``).

    Linear: every output of the input's token.  Conv: a transposed convolution of each core's output mask
    with an all-ones kernel (windows never reach into the zero padding) — exactly the counting rule of
    ``snncompile.backends.reference.counts.conv_synops``, per core."""
    node = step.node(node_name)
    x = step.values[node.inputs[0]].shape
    y = step.values[node.outputs[0]].shape
    w = step.values[node.inputs[ops.get(node.op).weight.weight]].shape
    if len(w) == 2:  # a dense layer: W [out, in] per token
        tok, c_out, c_in = int(np.prod(y[:-1])), y[-1], x[-1]
        cores = core_of.reshape(tok, c_out)
        counts = np.zeros((tok, n_cores))
        for k in range(n_cores):
            counts[:, k] = (cores == k).sum(1)
        return np.repeat(counts, c_in, axis=0)
    a = node.attrs
    if len(w) == 3:  # a 1-D convolution: a 2-D one of height 1
        x, y = (x[0], x[1], 1, x[2]), (y[0], y[1], 1, y[2])
        kh, kw = 1, w[2]
        stride, pad, dil = (1, a["stride"][0]), (0, a["padding"][0]), (1, a["dilation"][0])
    else:
        kh, kw = w[2], w[3]
        stride, pad, dil = tuple(a["stride"]), tuple(a["padding"]), tuple(a["dilation"])
    B, C_in, H, W = x
    _, C_out, Ho, Wo = y
    g = int(a.get("groups", 1))
    og, cg = C_out // g, C_in // g
    cores = core_of.reshape(B, g, og, Ho, Wo)
    F = np.zeros((B, g, cg, H, W, n_cores))

    def span(n_out, s, off, n_in):
        """Outputs [lo, hi) whose input index o·s + off lies inside [0, n_in)."""
        lo = 0
        while lo < n_out and lo * s + off < 0:
            lo += 1
        hi = lo
        while hi < n_out and hi * s + off < n_in:
            hi += 1
        return lo, hi

    for k in range(n_cores):
        S = (cores == k).sum(2).astype(np.float64)  # [B, g, Ho, Wo]
        cnt = np.zeros((B, g, H, W))
        for i in range(kh):
            oh = i * dil[0] - pad[0]
            h0, h1 = span(Ho, stride[0], oh, H)
            if h0 >= h1:
                continue
            for j in range(kw):
                ow = j * dil[1] - pad[1]
                w0, w1 = span(Wo, stride[1], ow, W)
                if w0 >= w1:
                    continue
                cnt[:, :, h0 * stride[0] + oh:(h1 - 1) * stride[0] + oh + 1:stride[0],
                    w0 * stride[1] + ow:(w1 - 1) * stride[1] + ow + 1:stride[1]] += S[:, :, h0:h1, w0:w1]
        F[..., k] = cnt[:, :, None]
    return F.reshape(B * C_in * H * W, n_cores)


def build_ledger(net: Network, part: Partition, rec, *, samples: int, original: Optional[Graph] = None,
                 host_counts: Optional[dict] = None) -> Ledger:
    """The ledger of a run (``rec``: :class:`~.simulate.Recordings` or anything with the same fields)."""
    step = net.graph
    entries: dict[int, CoreEntry] = {}
    for layer in part.layers:
        for k in range(layer.cores):
            entries[layer.first_core + k] = CoreEntry(layer.first_core + k, layer.name, layer.module, layer.kind)

    def source_rows(unit: str) -> np.ndarray:
        u = net.units[unit]
        if u.kind == "input":
            return rec.inputs[unit]
        if unit not in rec.spikes and unit in getattr(rec, "currents", {}):  # a max-pool of currents (fixed point:
            return rec.currents[unit]  # loihi.mapped's layer over it): its nonzero values are the events
        return rec.spikes[unit]

    integrators = [u for u in net.of_kind("readout") if u.name not in part.host]
    read_currents = {t.source for u in integrators for p in u.ports for t in p.terms
                     if t.source and net.units[t.source].kind == "synapse"}
    layer_inputs: dict[str, np.ndarray] = {}  # weight layers whose currents an integrator reads: their input
    per_step = np.zeros(rec.steps)
    for u in net.of_kind("synapse"):
        layer = part.layer(u.name)
        x = None
        for t in u.ports[0].terms:
            if not t.source:
                continue
            M = term_matrix(step, t)
            part_x = (M @ source_rows(t.source).T.astype(np.float64)).T
            x = part_x if x is None else x + part_x
        if u.name in read_currents:
            layer_inputs[u.name] = x
        nz = (x != 0).astype(np.float64)
        core_of = layer.core_of(np.arange(int(np.prod(step.values[u.output].shape)))) - layer.first_core
        F = fanout_by_core(step, u.node, core_of, layer.cores)
        ops_steps = nz @ F  # [steps, cores]
        kind = _op_kind(original, step, u.node)
        outputs_on = np.bincount(core_of, minlength=layer.cores)
        mac_per_output = _mac_per_output(original, step, u.node) if kind == "mac" else 0
        low_planes = len(weight_planes(step, step.node(u.node))) - 1  # split: the low plane, same synapses
        for k in range(layer.cores):
            e = entries[layer.first_core + k]
            ops_k = int(round(ops_steps[:, k].sum()))
            macs_k = int(outputs_on[k]) * mac_per_output * rec.steps
            e.synaptic_ops += ops_k
            e.op_kind = kind
            e.macs += macs_k
            e.low_synapse_ops += low_planes * ops_k
            e.low_macs += low_planes * macs_k
        per_step += (1 + low_planes) * ops_steps.sum(1)
    for u in net.of_kind("attention"):
        layer = part.layer(u.name)
        ops_rec = rec.attention_ops[u.name]  # [steps, 2, heads]
        heads = ops_rec.shape[2]
        per_head = ops_rec.sum(axis=(0, 1))
        g = layer.geometry
        first_elem = np.arange(heads) * g.h_out * g.w_out
        cores = layer.core_of(first_elem)
        for h in range(heads):
            e = entries[int(cores[h])]
            e.synaptic_ops += int(per_head[h])
            e.op_kind = "ac"
        per_step += ops_rec.sum(axis=(1, 2))
    for u in net.of_kind("product"):
        layer = part.layer(u.name)
        spikes = rec.spikes[u.name]
        n = spikes.shape[1]
        core_of = layer.core_of(np.arange(n))
        local = core_of - layer.first_core
        coincidences = np.bincount(core_of, weights=spikes.sum(0), minlength=layer.first_core + layer.cores)
        sizes = np.bincount(core_of, minlength=layer.first_core + layer.cores)
        events = np.zeros(layer.cores)
        node = step.node(u.node)
        for p in u.ports:
            B = operand_map(step, node, p.value)
            for t in p.terms:
                if not t.source:
                    continue
                W = (B @ term_matrix(step, t)).tocsr()
                W.data = np.ones_like(W.data)  # structural: every unit synapse
                onehot = sp.csr_matrix((np.ones(n), (np.arange(n), local)), shape=(n, layer.cores))
                F = (W.T @ onehot).toarray()  # [source elements, cores]
                events += ((source_rows(t.source) != 0).astype(np.float64) @ F).sum(0)
        for k in range(layer.cores):
            e = entries[layer.first_core + k]
            e.synaptic_ops += int(coincidences[layer.first_core + k])
            e.op_kind = "ac"
            e.unit_synapse_events += int(round(events[k]))
            e.compartment_updates += int(sizes[layer.first_core + k]) * rec.steps
        per_step += spikes.sum(1)
    for u in integrators:
        per_step += _count_integrator(net, part.layer(u.name), u, entries, rec.steps, lambda src: (
            layer_currents(step, step.node(net.units[src].node), layer_inputs[src])
            if net.units[src].kind == "synapse" else source_rows(src)))
    for u in net.of_kind("neuron"):
        if u.name not in rec.spikes:
            continue
        layer = part.layer(u.name)
        spikes = rec.spikes[u.name]
        n = spikes.shape[1]
        core_of = _neuron_cores(net, part, u, n)
        events = (spikes != 0).sum(0)  # one event per nonzero spike (a graded spike: one event, any payload)
        counts = np.bincount(core_of, weights=events, minlength=layer.first_core + layer.cores)
        sizes = np.bincount(core_of, minlength=layer.first_core + layer.cores)
        if u.kind != "neuron":  # pool outputs are not neuron spikes in the executor's counts
            continue
        for k in range(layer.first_core, layer.first_core + layer.cores):
            e = entries[k]
            e.spikes += int(counts[k])
            e.neuron_updates += int(sizes[k]) * rec.steps
    return Ledger([entries[k] for k in sorted(entries)], host_counts or {}, samples, per_step)


_KIND_ORDER = ("ac", "intmul", "mac")  # cheapest first: a core fed several kinds takes the last one present


def layer_currents(step: Graph, node, x: np.ndarray) -> np.ndarray:
    """``[steps, n_out]`` currents a weight layer's compartments send on (its output without the bias, which
    the consumers hold as a constant), from its rebuilt input ``x`` ``[steps, n_in]``.  Float: ``A·x``.
    Fixed point (the node carries ``fixed_exp``): the rule of the fixed-point executor
    (``backends.reference.fixed``) — integer input (``round(x·gain)`` where the layer reads a mean of
    spikes), integer weights, ``Σ_p shift(A_p·x, e_p)`` over the layer's synapse planes
    (:func:`~snncompile.loihi.split_weights.weight_planes`: one plane, or a split layer's high and low)."""
    if "fixed_exp" not in node.attrs:
        return (synapse_matrix(step, node) @ x.T).T
    gain = node.attrs.get("fixed_input_gain")
    xi = np.round(x * gain) if gain is not None else np.round(x)
    total = 0
    for plane in weight_planes(step, node):
        acc = np.rint((synapse_matrix(step, plane) @ xi.T).T).astype(np.int64)
        total = total + shift(acc, int(plane.attrs["fixed_exp"]))
    return total


def _count_integrator(net: Network, layer, u, entries: dict, steps: int, messages) -> np.ndarray:
    """Add an on-chip integrator's synaptic ops, MACs and compartment updates to its cores' entries (module
    docstring); ``messages(source)`` gives ``[steps, n_source]`` what each source population sends.  Returns
    the ops per step."""
    step = net.graph
    n = int(np.prod(step.values[u.ports[0].value].shape))
    local = layer.core_of(np.arange(n)) - layer.first_core
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), local)), shape=(n, layer.cores))
    ops_steps = np.zeros((steps, layer.cores))
    kinds = set()
    real_synapses = np.zeros(layer.cores)
    for p in u.ports:
        for t in p.terms:
            if not t.source:
                continue
            S = term_matrix(step, t).tocsr()
            S.data = np.ones_like(S.data)  # structural: one synapse per entry of the map
            F = (S.T @ onehot).toarray()  # [source elements, cores]: synapses each element drives per core
            ops_steps += (np.asarray(messages(t.source)) != 0).astype(np.float64) @ F
            domain = step.values[t.value].domain
            kind = "mac" if domain is None else input_domain_kind(domain)
            kinds.add(kind)
            if kind == "mac":
                real_synapses += F.sum(0)
    kind = max(kinds, key=_KIND_ORDER.index) if kinds else "ac"
    sizes = np.bincount(local, minlength=layer.cores)
    for k in range(layer.cores):
        e = entries[layer.first_core + k]
        e.synaptic_ops += int(round(ops_steps[:, k].sum()))
        e.op_kind = kind
        e.macs += int(round(real_synapses[k])) * steps
        e.compartment_updates += int(sizes[k]) * steps
    return ops_steps.sum(1)


def _neuron_cores(net: Network, part: Partition, u, n: int) -> np.ndarray:
    """Global core of every element (natural order) of a neuron or pool population."""
    layer = part.layer(u.name)
    if layer.name == u.name:  # own compartments (relay neurons, pools)
        return layer.core_of(np.arange(n))
    # merged into a synapse/attention layer: element i of the neuron is element j of that layer's output
    t = next(t for t in u.ports[0].terms if t.source == layer.name)
    M = term_matrix(net.graph, t).tocsr()
    if layer.kind == "attention":
        return layer.core_of(M.indices)
    return layer.core_of(M.indices)
