"""Energy models side by side: each prices the report's exact events with its own published figures.

Every model is named, cites its source, and prices per image; a report lists them one beside the
other (never summed together).  Two kinds:

* :class:`EventPrices` — a linear price list over the report's exact events:
  ``ac`` (accumulates of binary inputs), ``mac`` (dense products of real inputs), ``intmul`` (integer ×
  float weight products), ``realmul`` (dynamic real × real products), ``synop`` (every synaptic event,
  all kinds), ``neuron_update`` and ``spike`` (from the neuron nodes).  The built-in ones:

  - ``45nm`` — Horowitz, ISSCC 2014, as the Spikformer/Spikingformer papers: 0.9 pJ/AC, 4.6 pJ/MAC
    (integer × float and real × real products priced as MACs);
  - ``loihi`` — Davies et al., IEEE Micro 2018: 23.6 pJ per synaptic op (Loihi 1 minimum);
  - ``loihi-events`` — Loihi 1 per event as SANA-FE models it (arch/loihi.yaml of SLAM-Lab/SANA-FE,
    figures from Davies et al. 2018): 35.5 pJ per synaptic spike op, 72.8 pJ per (active) neuron update,
    76.8 pJ per spike sent (axon output).  Inactive updates (51.2 pJ) are not told apart: every update is
    priced active (an upper bound); network-on-chip hops are not priced (they depend on the mapping).

  User models come from a TOML/JSON file of the same form (:func:`load_prices`).

* :class:`MemoryAware` — Lemaire et al., "An analytical estimation of spiking neural networks energy
  efficiency", ICONIP 2022, with the constants of spikingjelly's implementation
  (``spikingjelly/activation_based/op_counter/analytical_energy.py``): 32-bit add 0.1 pJ, multiply
  3.1 pJ; an SRAM access costs per 32-bit word 10 / 20 / 100 pJ for an 8 KB / 32 KB / 1 MB memory,
  linear in the memory size between those points (0 at 0, clamped above 1 MB).  Per weight layer:

  - compute: one add per AC (spike input) or a multiply + add per dense product, one add per bias;
  - addressing: spike input — one add per synaptic event and, for a conv, a multiply + add pair twice
    per input spike; dense input — one add per input and output element (a conv also per kernel weight);
  - memory: weights read once per synaptic event (spike input) or product (dense), in a memory the
    size of the layer's parameters; inputs read from a 1000-word FIFO (spikes) or from a memory the
    size of the input (dense); membrane potentials read and written per synaptic event in a memory of
    one time step's outputs.
  - neurons: potential read + write per update (memory of one step's neurons), one spike write to the
    FIFO and one add per spike, a multiply + add per update (the leak).

  Where spikingjelly counts a conv's synaptic events as ``nnz · C_out/g · Π⌈k/s⌉``, this uses the
  exact count (border windows and padding excluded).  Spike matmuls (which the paper does not treat)
  are priced as spike-input layers whose "weights" are the other operand.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
import numpy as np

from snncompile import ops
from snncompile.errors import InputError
from snncompile.loihi.limits import PAPER_PJ_PER_AC, PAPER_PJ_PER_MAC
from snncompile.backends.reference.batching import traced_batch

EVENTS = ("ac", "mac", "intmul", "realmul", "synop", "neuron_update", "spike")


@dataclass(frozen=True)
class EventPrices:
    """A linear energy model: picojoules per event (see the module docstring for the events)."""

    name: str
    source: str
    pj: dict
    note: str = ""

    def price(self, events: dict) -> dict:
        """``{event: pJ}`` of ``events`` (per image)."""
        return {e: self.pj[e] * events.get(e, 0) for e in EVENTS if self.pj.get(e)}

    def describe(self) -> str:
        return ", ".join(f"{v:g} pJ/{k}" for k, v in self.pj.items() if v)


HOROWITZ = EventPrices("45nm", "Horowitz, ISSCC 2014 (as used by Spikformer/Spikingformer)",
                       {"ac": PAPER_PJ_PER_AC, "mac": PAPER_PJ_PER_MAC, "intmul": PAPER_PJ_PER_MAC,
                        "realmul": PAPER_PJ_PER_MAC},
                       "compute only; integer x float and real x real products priced as MACs")
LOIHI_SOP = EventPrices("loihi", "Davies et al., IEEE Micro 38(1) 2018 (Loihi 1, minimum per synaptic op)",
                        {"synop": 23.6}, "synaptic ops only; neuron updates and spikes not priced")
LOIHI_EVENTS = EventPrices(
    "loihi-events", "Davies et al. 2018 per-event figures as used by SANA-FE (SLAM-Lab/SANA-FE arch/loihi.yaml)",
    {"synop": 35.5, "neuron_update": 72.8, "spike": 76.8},
    "every update priced as active (inactive 51.2 pJ not told apart); mesh hops not priced")


@dataclass(frozen=True)
class MemoryAware:
    """Lemaire et al., ICONIP 2022 (constants of spikingjelly's analytical energy); see the module doc."""

    name: str = "lemaire"
    source: str = ("Lemaire et al., ICONIP 2022 (doi:10.1007/978-3-031-30105-6_48), constants as in "
                   "spikingjelly op_counter/analytical_energy.py")
    add_pj: float = 0.1
    mul_pj: float = 3.1
    word_bytes: int = 4
    breakpoints: tuple = ((0, 0.0), (8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))  # bytes, pJ/word
    fifo_words: int = 1000
    note: str = "compute + addressing + SRAM accesses (weights, inputs, membrane potentials)"

    def word_pj(self, capacity_bytes: float) -> float:
        """pJ per 32-bit access of a memory of ``capacity_bytes`` (piecewise linear, clamped)."""
        pts = self.breakpoints
        x = min(max(capacity_bytes, pts[0][0]), pts[-1][0])
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return pts[-1][1]

    def describe(self) -> str:
        return (f"add {self.add_pj} pJ, mul {self.mul_pj} pJ, SRAM 10/20/100 pJ per word at 8 KB/32 KB/1 MB")


BUILTIN = (HOROWITZ, LOIHI_SOP, LOIHI_EVENTS, MemoryAware())


# -- user models ---------------------------------------------------------------------------------

def load_prices(path: str) -> EventPrices:
    """A user model from TOML or JSON: ``name``, ``source`` (required), ``note``, and a table ``pj`` of
    picojoules per event (keys among ``ac mac intmul realmul synop neuron_update spike``, finite, ≥ 0).

    Example (TOML)::

        name = "my-asic"
        source = "Doe et al. 2025, Table 3"
        [pj]
        ac = 0.03
        mac = 0.21
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"--energy-model {path}: cannot read ({e.strerror})") from None
    try:
        if path.lower().endswith(".toml"):
            try:
                import tomllib
            except ImportError:  # Python < 3.11
                import tomli as tomllib
            doc = tomllib.loads(raw.decode("utf-8"))
        else:
            doc = json.loads(raw.decode("utf-8"))
    except Exception as e:  # noqa: BLE001 - any parse failure is an input error
        raise InputError(f"--energy-model {path}: not valid {'TOML' if path.endswith('.toml') else 'JSON'} "
                         f"({' '.join(str(e).split())[:120]})") from None
    where = f"--energy-model {path}"
    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a table with name, source and pj")
    unknown = sorted(set(doc) - {"name", "source", "note", "pj"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: name, source, note, pj)")
    for key in ("name", "source"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise InputError(f"{where}: {key!r} must be a non-empty string (every model names its source)")
    pj = doc.get("pj")
    if not isinstance(pj, dict) or not pj:
        raise InputError(f"{where}: 'pj' must be a table of picojoules per event ({', '.join(EVENTS)})")
    for k, v in pj.items():
        if k not in EVENTS:
            raise InputError(f"{where}: unknown event {k!r} in pj (allowed: {', '.join(EVENTS)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise InputError(f"{where}: pj.{k} must be a finite number >= 0, got {v!r}")
    if doc["name"] in {m.name for m in BUILTIN}:
        raise InputError(f"{where}: name {doc['name']!r} is a built-in model's; choose another")
    return EventPrices(doc["name"], doc["source"], {k: float(v) for k, v in pj.items()}, str(doc.get("note", "")))


# -- pricing a report ----------------------------------------------------------------------------

@dataclass
class Estimate:
    """One model's energy per image: total, per region, per term, per layer (picojoules)."""

    model: str
    source: str
    note: str
    prices: str
    total: float = 0.0
    by_region: dict = field(default_factory=dict)
    by_term: dict = field(default_factory=dict)
    by_layer: dict = field(default_factory=dict)

    def add(self, layer: str, region: str, terms: dict) -> None:
        pj = float(sum(terms.values()))
        self.total += pj
        self.by_region[region] = self.by_region.get(region, 0.0) + pj
        for k, v in terms.items():
            self.by_term[k] = self.by_term.get(k, 0.0) + float(v)
        self.by_layer[layer] = self.by_layer.get(layer, 0.0) + pj

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _row_events(row) -> dict:
    return {"ac": row.acs or 0, "mac": row.macs or 0, "intmul": row.intmuls or 0, "realmul": row.realmuls or 0,
            "synop": row.synops or 0}


def estimate(graph, report, counts, models=BUILTIN) -> list[Estimate]:
    """Every model's :class:`Estimate` of a measured report (empty without a run)."""
    if not report.measured or counts is None:
        return []
    out = []
    for m in models:
        e = Estimate(m.name, m.source, m.note, m.describe())
        for row in report.rows:
            terms = m.price(_row_events(row)) if isinstance(m, EventPrices) else _lemaire_layer(m, graph, row,
                                                                                               counts)
            e.add(row.module or row.node, row.region, terms)
        for n in report.neurons:
            if isinstance(m, EventPrices):
                terms = m.price({"neuron_update": n.updates, "spike": n.spikes})
            else:
                terms = _lemaire_neuron(m, graph, n)
            if terms:
                e.add(n.module or n.node, n.region, terms)
        out.append(e)
    return out


def _per_image(graph, value: str) -> float:

    return graph.values[value].numel / traced_batch(graph)


def _lemaire_layer(m: MemoryAware, graph, row, counts) -> dict:
    node = next(n for n in graph.nodes if n.name == row.node)
    c = counts.nodes[row.node]
    per = 1.0 / counts.samples
    steps = row.steps or 1
    dyn = [v for v in node.inputs if not graph.values[v].constant]
    const = [v for v in node.inputs if graph.values[v].constant]
    x = dyn[0]
    out_elems = _per_image(graph, node.outputs[0])
    in_elems = _per_image(graph, x)
    nnz = c.nonzero_inputs[0] * per
    events = (row.synops or 0)
    layer = ops.get(node.op).weight  # a weight layer: which operands hold W and b
    w_shape = graph.values[node.inputs[layer.weight]].shape if layer is not None else ()
    conv = len(w_shape) > 2  # [C_out, C_in/g, *K]
    kernel = int(np.prod(w_shape[2:])) if conv else 1
    if const:  # constant weights (and bias)
        params_bytes = sum(graph.values[v].numel for v in const) * m.word_bytes
        has_bias = layer is not None and len(node.inputs) > layer.bias
    else:  # a spike matmul: the other operand plays the weights
        params_bytes = _per_image(graph, dyn[1]) / steps * m.word_bytes
        has_bias = False
    word = m.word_pj
    terms: dict = {}
    bias_adds = out_elems if has_bias else 0
    if row.kind == "AC":
        terms["compute"] = m.add_pj * (events + bias_adds)
        terms["addressing"] = m.add_pj * events + (2 * nnz * (m.mul_pj + m.add_pj) if conv else 0)
        terms["memory_params"] = (events + bias_adds) * word(params_bytes)
        terms["memory_in"] = nnz * word(m.fifo_words * m.word_bytes)
        terms["memory_potential"] = 2 * events * word(out_elems / steps * m.word_bytes)
    else:
        products = row.flops - bias_adds if row.kind == "MAC" else events
        terms["compute"] = (m.mul_pj + m.add_pj) * products + m.add_pj * bias_adds
        terms["addressing"] = m.add_pj * (in_elems + out_elems + (w_shape[0] * kernel if conv else 0))
        terms["memory_params"] = (products + bias_adds) * word(params_bytes)
        terms["memory_in"] = (products if conv else in_elems) * word(in_elems * m.word_bytes)
    return terms


def _lemaire_neuron(m: MemoryAware, graph, n) -> dict:
    node = next(x for x in graph.nodes if x.name == n.node)
    multi = node.attrs.get("step_mode") == "multi"
    per_step = _per_image(graph, node.inputs[0]) / (graph.values[node.inputs[0]].shape[0] if multi else 1)
    return {"compute": m.add_pj * n.spikes + (m.mul_pj + m.add_pj) * n.updates,
            "memory_potential": 2 * n.updates * m.word_pj(per_step * m.word_bytes),
            "memory_out": n.spikes * m.word_pj(m.fifo_words * m.word_bytes)}


def models_from(paths) -> tuple:
    """The built-in models followed by the user models in ``paths`` (names must be unique)."""
    user = [load_prices(p) for p in paths]
    names = [m.name for m in user]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise InputError(f"--energy-model: two files define the model {dup[0]!r}")
    return BUILTIN + tuple(user)
