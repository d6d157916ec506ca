"""``report`` under ``torchrun``: one shard of the data per process, integer counters summed.

``torchrun --nproc_per_node N -m snncompile report ...`` starts N processes with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set.  Each joins a process group (gloo on CPU, nccl on CUDA, each process
on GPU ``LOCAL_RANK`` when ``--device cuda`` names no index), counts the samples its
:class:`UnpaddedSampler` gives it, and every counter is summed with one int64 ``all_reduce``.  The
sum is exact and equals one process's counts: counts are additive over samples and every sample is
counted exactly once (the sampler drops the duplicates :class:`DistributedSampler` pads with).
"""
from __future__ import annotations

import os
from typing import Optional

from torch.utils.data import DistributedSampler

from snncompile import ops
from snncompile.backends.reference.counts import EventCounts, NodeCount, counted
from snncompile.ir.graph import Graph


def launched() -> bool:
    """Whether this process is one of several started by torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def join(device):
    """Join the process group of this torchrun launch; returns the device this process counts on."""
    import torch
    import torch.distributed as dist

    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def leave() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


class UnpaddedSampler(DistributedSampler):
    """:class:`DistributedSampler` without its padding: rank ``r`` of ``W`` gets the sample positions
    ``r, r + W, r + 2W, … < N`` (the padded duplicates sit at the end of each rank's list and are cut)."""

    def __iter__(self):
        return iter(list(super().__iter__())[: len(self)])

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


def _layout(graph: Graph):
    """Per counted node: (node, number of dynamic operands, length of spikes_per_step)."""
    out = []
    for node in graph.nodes:
        if not counted(graph, node):
            continue
        k = sum(not graph.values[v].constant for v in node.inputs)
        steps = 0
        if ops.get(node.op).neuron is not None:  # spikes_per_step: T entries (multi-step) or one
            steps = graph.values[node.outputs[0]].shape[0] if node.attrs.get("step_mode") == "multi" else 1
        out.append((node, k, steps))
    return out


def all_reduce_counts(graph: Graph, counts: EventCounts, device) -> EventCounts:
    """The sum of every process's :class:`EventCounts` (int64 all-reduce), on every process."""
    import torch
    import torch.distributed as dist

    layout = _layout(graph)
    flat = [counts.samples]
    for node, k, steps in layout:
        c = counts.nodes.get(node.name)
        if c is None:
            flat += [0] * (4 + 2 * k + steps)
            continue
        flat += [c.synaptic_ops, c.dense_ops, c.neuron_updates, c.spikes]
        flat += (c.input_elements or [0] * k) + (c.nonzero_inputs or [0] * k)
        flat += (c.spikes_per_step or [0] * steps)[:steps] + [0] * max(0, steps - len(c.spikes_per_step or []))
    vec = torch.tensor(flat, dtype=torch.int64, device=device)
    dist.all_reduce(vec, op=dist.ReduceOp.SUM)
    vals = vec.tolist()
    out = EventCounts(vals[0])
    i = 1
    for node, k, steps in layout:
        part = vals[i:i + 4 + 2 * k + steps]
        i += 4 + 2 * k + steps
        if not out.samples:
            continue
        cost = ops.get(node.op).cost(node, graph)
        c = NodeCount(node.name, node.op, node.module, node.source, cost.kind)
        c.synaptic_ops, c.dense_ops, c.neuron_updates, c.spikes = part[:4]
        c.input_elements, c.nonzero_inputs = part[4:4 + k], part[4 + k:4 + 2 * k]
        c.spikes_per_step = part[4 + 2 * k:]
        out.nodes[node.name] = c
    return out


def sampler_for(dataset) -> Optional[UnpaddedSampler]:
    if not launched():
        return None
    return UnpaddedSampler(dataset, shuffle=False)
