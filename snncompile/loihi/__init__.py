"""Loihi targets: limits tables (:mod:`.limits`), the unit view of a one-step graph (:mod:`.network`),
partitioning over cores (:mod:`.partition`) and Loihi fixed-point quantisation (:mod:`.fixed`).

Nothing here imports Lava; :mod:`snncompile.backends.lava` builds Lava processes from these.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from snncompile.analysis import infer_domains
from snncompile.ir.graph import Graph
from snncompile.passes import LOIHI_PIPELINE, run_passes, slice_time

from .limits import LOIHI1, LOIHI2, Limits, get_limits
from .network import Network, build_network
from .partition import DoesNotFitError, Partition, partition


@dataclass
class Prepared:
    """A graph made ready for Loihi: passes applied, sliced into steps, cut into units."""

    original: Graph
    graph: Graph  # after the Loihi pass pipeline
    program: "object"  # snncompile.passes.StepProgram
    network: Network
    pass_logs: list


def prepare(graph: Graph, *, input_axes: Optional[dict] = None) -> Prepared:
    """Apply :data:`snncompile.passes.LOIHI_PIPELINE`, slice time and build the unit network."""

    if any(v.domain is None for v in graph.values.values() if not v.constant):
        infer_domains(graph)
    g2, logs = run_passes(graph, LOIHI_PIPELINE)
    prog = slice_time(g2, input_axes=input_axes)
    infer_domains(prog.step)
    net = build_network(prog.step, list(prog.post.inputs) + [o for o, w in prog.outputs if w == "step"
                                                            and o not in prog.post.inputs])
    return Prepared(graph, g2, prog, net, logs)


__all__ = ["Limits", "LOIHI1", "LOIHI2", "get_limits", "Network", "build_network", "Partition", "partition",
           "DoesNotFitError", "Prepared", "prepare"]
