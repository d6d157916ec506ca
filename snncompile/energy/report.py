"""The ops and energy report: per weight layer and spike matmul, from the graph and an exact run.

Conventions (every figure is **per image**):

* ``flops`` — structural FLOPs as the papers' energy logs print them: per output element, the K
  products plus one bias add when the layer has a bias, over every time step the layer runs.  Layers
  inside the time loop (T merged into the batch axis) run ``steps = T`` times per image; the head acts
  once, after the mean over T (``steps = 1``).  E.g. Spikingformer-8-512 at 224×224, T = 4: a 1×1 conv
  512→2048 over 196 tokens = 196·2048·513·4 = 823,689,216; the first conv 3→64 (3×3, no bias) =
  224²·64·27·4 = 346,816,512; the head 1000·513 = 513,000.
* ``in_rate`` — the input firing rate: the fraction of nonzero elements of the layer's input over all
  steps and samples (for a spike matmul, the smallest rate among its binary operands, as the authors
  count ``K·V`` with ``min(fr_k, fr_v)``).
* ``sops`` — the papers' estimate ``SOPs = fr · T · FLOPs_step = in_rate · flops`` (T is already in
  ``flops``; ``steps`` says which factor it is).  Computed for spike-driven layers (AC) and for integer ×
  float layers (which the papers' scripts count as ACs too).
* ``acs`` — exact accumulates from the reference executor: one per (nonzero input element, synapse it
  drives) — :func:`snncompile.backends.reference.count_events`.  It differs from ``sops`` by the bias
  adds (``sops`` includes ``in_rate`` × the bias adds) and by zero padding (a conv's border windows).
  For a bias-free linear or 1×1 conv ``acs == sops`` exactly.
* ``macs`` — structural FLOPs of layers fed real values (encoding, readout): dense hardware computes
  every product, padding taps included — the one MAC convention
  (:func:`snncompile.backends.reference.counts.mac_count`), which the Lava ledger uses too.
  ``intmuls`` / ``realmuls`` — exact nonzero integer × float weight products and dynamic real × real
  products.  ``synops`` — every exact synaptic event (all kinds): the Loihi basis.
* energy — see :mod:`.models` (45 nm: ``e45`` exact accounting, ``e45_papers`` the papers' formula;
  Loihi: ``e_loihi``), in picojoules per image.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from snncompile import ops
from snncompile.analysis.costs import node_costs
from snncompile.analysis.domains import infer_domains
from snncompile.analysis.time_axes import POST, TimeAxis, time_axes, time_steps
from snncompile.backends.reference import ReferenceExecutor, count_events
from snncompile.backends.reference.batching import traced_batch as tb
from snncompile.backends.reference.counts import EventCounts, mac_count
from snncompile.errors import InputError, SnnCompileError
from snncompile.ir.graph import Graph, Node

from .models import HOROWITZ_45NM, LOIHI_SOP


REGIONS = ("encoding", "body", "readout")


@dataclass
class LayerRow:
    """One weight layer, spike matmul or spike gate (see the module docstring for each figure)."""

    module: str
    node: str
    op: str
    label: str
    kind: str
    region: str
    input_domain: str
    source: str
    flops: float
    steps: Optional[int]
    in_rate: Optional[float] = None
    in_rates: list = field(default_factory=list)
    out_rate: Optional[float] = None
    out_neuron: Optional[str] = None
    sops: Optional[float] = None
    acs: Optional[float] = None
    macs: float = 0
    intmuls: Optional[float] = None
    realmuls: Optional[float] = None
    synops: Optional[float] = None
    e45: Optional[float] = None
    e45_papers: Optional[float] = None
    e_loihi: Optional[float] = None

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass
class NeuronRow:
    module: str
    node: str
    region: str
    firing_rate: float
    spikes: float  # per image
    updates: float  # per image

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


TOTAL_FIELDS = ("flops", "macs", "sops", "acs", "intmuls", "realmuls", "synops", "e45", "e45_papers", "e_loihi")


@dataclass
class Report:
    model: str
    parameters: Optional[int]
    time_steps: Optional[int]
    batch: int
    samples: int
    data: str
    rows: list[LayerRow]
    neurons: list[NeuronRow]
    totals: dict
    ledger: Optional[dict] = None
    notes: list[str] = field(default_factory=list)
    estimates: list = field(default_factory=list)  # pricing.Estimate per energy model, side by side

    @property
    def measured(self) -> bool:
        return self.samples > 0

    def to_dict(self) -> dict:
        return {
            "model": self.model, "parameters": self.parameters, "time_steps": self.time_steps,
            "batch": self.batch, "samples": self.samples, "data": self.data,
            "energy_models": {m.name: m.to_dict() for m in (HOROWITZ_45NM, LOIHI_SOP)},
            "layers": [r.to_dict() for r in self.rows],
            "neurons": [n.to_dict() for n in self.neurons],
            "totals": _plain(self.totals),
            "ledger": _plain(self.ledger),
            "notes": list(self.notes),
            "energy_estimates": [_plain(e.to_dict()) for e in self.estimates],
        }


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, float) and x.is_integer() and abs(x) < 2 ** 53:
        return int(x)
    return x


# -- graph structure ----------------------------------------------------------------------------

def reported(graph: Graph, node: Node) -> bool:
    """Weight layers, matmuls and dynamic products (spike gates): the nodes that do synaptic arithmetic."""
    return ops.is_synaptic(graph, node)


def _forwards_activity(opdef: ops.OpDef) -> bool:
    """Whether a layer's activity reaches a neuron through this op unchanged in kind: anything but another
    synaptic layer (weights, a contraction), a neuron or a non-spike nonlinearity."""
    contraction = len(opdef.linear) > 1 and not opdef.elementwise
    return opdef.weight is None and not contraction and opdef.neuron is None and opdef.family != "nonlinear"


def fed_neuron(graph: Graph, node: Node) -> Optional[Node]:
    """The first neuron ``node``'s result reaches through moves, norms, elementwise ops, pools, reductions."""
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    frontier, seen, found = list(node.outputs), set(), []
    while frontier:
        v = frontier.pop()
        for c in graph.consumers(v):
            if c.name in seen:
                continue
            seen.add(c.name)
            opdef = ops.get(c.op)
            if opdef.neuron is not None:
                found.append(c)
            elif _forwards_activity(opdef):
                frontier.extend(c.outputs)
    return min(found, key=lambda n: order[n.name]) if found else None


def operand_label(graph: Graph, value: str, depth: int = 0) -> str:
    """Where an operand comes from: the neuron (last module name) or the product that made it."""
    seen = 0
    while seen < 64:
        seen += 1
        p = graph.producer(value)
        if p is None:
            return "input" if value in graph.inputs else "const"
        opdef = ops.get(p.op)
        if opdef.neuron is not None:
            return (p.module.rsplit(".", 1)[-1] or p.op) if p.module else p.op
        if len(opdef.linear) > 1 and not opdef.elementwise and depth < 3:
            a, b = (operand_label(graph, v, depth + 1) for v in p.inputs[:2])
            return f"({a} @ {b})"
        if opdef.family in ("shape", "norm") or (opdef.scale is not None and len(graph.dynamic_inputs(p)) == 1):
            value = next(v for v in p.inputs if not graph.values[v].constant)
            continue
        return p.op
    return "?"


def _label(graph: Graph, node: Node) -> str:
    if ops.is_dynamic_contraction(graph, node):
        a, b = (operand_label(graph, v) for v in node.inputs[:2])
        return f"{a} @ {b}"
    opdef = ops.get(node.op)
    if opdef.elementwise and len(opdef.linear) > 1:
        a, b = (operand_label(graph, v) for v in node.inputs[:2])
        return f"{a} * {b}"
    return node.op


def steps_per_image(graph: Graph) -> dict[str, Optional[int]]:
    """How many times each node runs per image: T inside the time loop, 1 after a mean over T."""
    try:
        T = time_steps(graph)
        axes = time_axes(graph)
    except (SnnCompileError, ImportError, KeyError, ValueError, ZeroDivisionError):
        return {}
    out: dict[str, Optional[int]] = {}
    for n in graph.nodes:
        ax = axes.get(n.outputs[0]) if n.outputs else None
        out[n.name] = T if isinstance(ax, TimeAxis) else 1 if (ax is POST or ax is None) else None
    return out


def traced_batch(graph: Graph) -> int:
    return tb(graph)


# -- streaming the data -------------------------------------------------------------------------

class Samples:
    """Sample inputs read in slices: an array (or a memory-mapped .npy) or seeded random data."""

    def __init__(self, n: int, shape: Sequence[int], describe: str, array=None, binary: bool = False,
                 seed: int = 0):
        self.n, self.shape, self.describe = int(n), tuple(shape), describe
        self._array, self._binary = array, binary
        self._rng = np.random.default_rng(seed) if array is None else None
        self._next = 0

    @classmethod
    def from_array(cls, array, describe: str, limit: Optional[int] = None) -> "Samples":
        n = len(array) if limit is None else min(len(array), limit)
        return cls(n, array.shape[1:], describe, array=array)

    @classmethod
    def random(cls, n: int, shape: Sequence[int], binary: bool, seed: int = 0) -> "Samples":
        kind = "binary events p=0.2" if binary else "uniform [0, 1)"
        return cls(n, shape, f"random ({kind}, seed {seed})", binary=binary, seed=seed)

    def read(self, start: int, stop: int) -> np.ndarray:
        stop = min(stop, self.n)
        if self._array is not None:
            return np.asarray(self._array[start:stop])
        if start != self._next:
            raise ValueError("random samples are drawn in order")
        self._next = stop
        x = self._rng.random((stop - start,) + self.shape, dtype=np.float64).astype(np.float32)
        return (x < 0.2).astype(np.float32) if self._binary else x


def check_samples(graph: Graph, samples: Samples) -> None:
    want = tuple(graph.values[graph.inputs[0]].shape[1:])
    if len(graph.inputs) != 1:
        raise InputError(f"the model takes {len(graph.inputs)} inputs; report streams single-input models only")
    if tuple(samples.shape) != want:
        raise InputError(f"{samples.describe}: samples have shape {tuple(samples.shape)} per item, "
                         f"the model takes {want}")


def stream_counts(graph: Graph, samples: Samples, *, dtype=np.float64, progress: Optional[bool] = False,
                  on_batch: Optional[Callable[[int], None]] = None):
    """Exact event counts over ``samples``, run in batches of the traced batch size.

    Only one batch of inputs and the executor's live values are in memory at a time (the executor
    frees every value after its last use); counts are summed batch by batch.
    """

    check_samples(graph, samples)
    executor = ReferenceExecutor()
    b = traced_batch(graph)
    total = EventCounts(0)
    bar = None
    if progress is not False:  # None: only when stderr is a terminal
        from tqdm import tqdm

        bar = tqdm(total=samples.n, unit="img", file=sys.stderr, desc="report", leave=False, dynamic_ncols=True,
                   disable=None if progress is None else False)
    try:
        for start in range(0, samples.n, b):
            chunk = samples.read(start, start + b)
            total.add(count_events(graph, chunk, dtype=dtype, executor=executor))
            if bar is not None:
                bar.update(len(chunk))
            if on_batch is not None:
                on_batch(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return total


# -- building the report ------------------------------------------------------------------------

def _rate(nonzero: int, total: int) -> Optional[float]:
    return nonzero / total if total else None


def build_report(graph: Graph, counts=None, *, data: str = "", ledger: Optional[dict] = None) -> Report:
    """The report of ``graph`` (structural figures) and, when ``counts`` are given, of a run."""
    if any(v.domain is None for v in graph.values.values() if not v.constant):
        infer_domains(graph)
    costs = {nc.node.name: nc for nc in node_costs(graph)}
    b = traced_batch(graph)
    steps = steps_per_image(graph)
    samples = counts.samples if counts is not None else 0
    rows: list[LayerRow] = []
    for node in graph.nodes:
        nc = costs[node.name]
        if not reported(graph, node) or nc.cost.kind not in ops.COST_LABELS:
            continue
        row = _structural_row(graph, node, nc, b, steps)
        neuron = fed_neuron(graph, node)
        row.out_neuron = neuron.module if neuron is not None else None
        c = counts.nodes.get(node.name) if counts is not None else None
        if c is not None and samples:
            _add_measured(row, graph, node, nc.cost.kind, c, samples)
            if neuron is not None and neuron.name in counts.nodes:
                row.out_rate = counts.nodes[neuron.name].firing_rate
        elif nc.cost.kind == "mac":
            row.e45 = row.e45_papers
        rows.append(row)
    neurons = _neuron_rows(graph, counts, costs, samples) if counts is not None and samples else []
    totals = summarize(rows, neurons, measured=bool(samples))
    notes = []
    if not steps:
        notes.append("time steps per layer unknown (the time axis could not be followed): `steps` left empty")
    return Report(graph.meta.get("model", ""), graph.meta.get("parameters"), graph.meta.get("time_steps"), b,
                  samples, data, rows, neurons, totals, ledger, notes)


def _structural_row(graph: Graph, node: Node, nc, batch: int, steps: dict) -> LayerRow:
    """A layer's figures from the graph alone: FLOPs per image, and the papers' energy where it is a MAC count."""
    kind = nc.cost.kind
    row = LayerRow(node.module, node.name, node.op, _label(graph, node), ops.COST_LABELS[kind], nc.region.value,
                   str(nc.input_domain), node.source, _int_if_whole(nc.cost.flops / batch), steps.get(node.name))
    if kind == "mac":  # the one MAC convention: backends.reference.counts.mac_count
        row.macs = _int_if_whole(mac_count(graph, node) / batch)
        row.e45_papers = HOROWITZ_45NM.pj_per_mac * row.macs
    elif kind == "realmul":
        row.e45_papers = HOROWITZ_45NM.pj_per_mac * row.flops
    return row


def _add_measured(row: LayerRow, graph: Graph, node: Node, kind: str, c, samples: int) -> None:
    """A layer's figures from a run (per image): input rates, exact synaptic ops by ``kind``, SOPs, energies."""
    dyn = [graph.values[v] for v in node.inputs if not graph.values[v].constant]
    rates = [_rate(nz, n) for nz, n in zip(c.nonzero_inputs, c.input_elements)]
    row.in_rates = rates
    binary = [r for r, v in zip(rates, dyn) if v.domain is not None and v.domain.is_binary and r is not None]
    row.in_rate = min(binary) if binary else (rates[0] if rates else None)
    syn = c.synaptic_ops / samples
    row.synops = _int_if_whole(syn)
    if kind == "ac":
        row.acs = row.synops
    elif kind == "intmul":
        row.intmuls = row.synops
    elif kind == "realmul":
        row.realmuls = row.synops
    if kind in ("ac", "intmul") and row.in_rate is not None:
        row.sops = row.flops * row.in_rate
        row.e45_papers = HOROWITZ_45NM.pj_per_ac * row.sops
    row.e45 = (HOROWITZ_45NM.pj_per_ac * (row.acs or 0)
               + HOROWITZ_45NM.pj_per_mac * (row.macs + (row.intmuls or 0) + (row.realmuls or 0)))
    row.e_loihi = LOIHI_SOP.pj_per_sop * syn


def _neuron_rows(graph: Graph, counts, costs: dict, samples: int) -> list[NeuronRow]:
    rows = []
    for node in graph.nodes:
        c = counts.nodes.get(node.name)
        if ops.get(node.op).neuron is not None and c is not None and c.neuron_updates:
            rows.append(NeuronRow(node.module, node.name, costs[node.name].region.value, c.firing_rate,
                                  c.spikes / samples, c.neuron_updates / samples))
    return rows


def _int_if_whole(x):
    if x is None:
        return None
    return int(round(x)) if abs(x - round(x)) < 1e-6 else float(x)


def summarize(rows: Iterable[LayerRow], neurons: Sequence[NeuronRow], measured: bool) -> dict:
    """Totals per region and overall; measured figures are None when nothing was run."""
    rows = list(rows)
    out = {}
    for region in ("all",) + REGIONS:
        sel = [r for r in rows if region == "all" or r.region == region]
        t = {}
        for f in TOTAL_FIELDS:
            vals = [getattr(r, f) for r in sel]
            known = [v for v in vals if v is not None]
            if f in ("flops", "macs"):
                t[f] = _int_if_whole(sum(known))
            elif not measured and f not in ("e45", "e45_papers"):
                t[f] = None
            elif not measured:  # only MAC energy is known without a run
                t[f] = None if any(r.kind != "MAC" for r in sel) else _int_if_whole(sum(known))
            else:
                t[f] = _int_if_whole(sum(known))
        t["layers"] = len(sel)
        if measured:
            ns = [n for n in neurons if region == "all" or n.region == region]
            t["neuron_updates"] = _int_if_whole(sum(n.updates for n in ns))
            t["spikes"] = _int_if_whole(sum(n.spikes for n in ns))
            t["firing_rate"] = (t["spikes"] / t["neuron_updates"]) if t["neuron_updates"] else None
        out[region] = t
    return out
