"""Where each node sits relative to the network's neurons.

* ``encoding`` — no neuron upstream: the node sees only the analog input and constants.
* ``readout`` — a neuron upstream but none downstream: its result reaches the outputs directly.
* ``body`` — between neurons: the spike path, where everything must be spike-driven.

If the graph input is itself a spike train (event data), nothing is ``encoding``.
"""
from __future__ import annotations

import enum

from snncompile import ops
from snncompile.ir.graph import Graph


class Region(str, enum.Enum):
    ENCODING = "encoding"
    BODY = "body"
    READOUT = "readout"


def _spiking_inputs(graph: Graph) -> set[str]:
    return {v for v in graph.inputs if graph.values[v].domain is not None and graph.values[v].domain.is_binary}


def _is_neuron(op_name: str) -> bool:
    return ops.get(op_name).family == "neuron"


def classify_regions(graph: Graph) -> dict[str, Region]:
    """Region of every node, by name."""
    after_neuron: set[str] = set(_spiking_inputs(graph))  # values with a neuron (or spike input) upstream
    upstream_neuron: dict[str, bool] = {}
    for n in graph.nodes:
        up = any(v in after_neuron for v in n.inputs)
        upstream_neuron[n.name] = up
        if up or _is_neuron(n.op):
            after_neuron.update(n.outputs)
    feeds_neuron: set[str] = set()  # values with a neuron downstream
    downstream_neuron: dict[str, bool] = {}
    for n in reversed(graph.nodes):
        down = any(v in feeds_neuron for v in n.outputs)
        downstream_neuron[n.name] = down
        if down or _is_neuron(n.op):
            feeds_neuron.update(n.inputs)
    regions = {}
    for n in graph.nodes:
        if not upstream_neuron[n.name] and not _is_neuron(n.op):
            regions[n.name] = Region.ENCODING
        elif not downstream_neuron[n.name] and not _is_neuron(n.op):
            regions[n.name] = Region.READOUT
        else:
            regions[n.name] = Region.BODY
    return regions
