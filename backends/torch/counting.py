"""Exact event counts on torch: the records of :mod:`snncompile.backends.reference.counts`, computed on
the device while :class:`.TorchExecutor` runs.

Which nodes are counted is the reference's decision (:func:`~snncompile.backends.reference.counts.counted`);
how is each op's ``"count"`` rule (the torch side of its event counting, :mod:`snncompile.ops.events`):
called once per graph as ``rule(node, graph, spikes)`` with ``spikes`` = :func:`spike_valued` (so that
ops ask no analysis themselves), it returns ``None`` (not counted: e.g. a product with a constant) or a
function ``(inputs, outputs, nonzero) -> {field: int64 tensor or int}``.  Every counted node also gets
``nonzero_inputs`` / ``input_elements`` of each dynamic operand, ``kind`` and ``dense_ops`` from its
cost rule — all exactly as the reference defines them.

Counts stay int64 tensors on the device and are summed batch after batch; the host reads them once
(:meth:`TorchCounter.result`).  A graph runs in batches of its traced size B; a short last batch
(``r`` real samples) is padded with copies of its first sample and corrected exactly as the reference
does: ``counts(real) = counts(padded) − (B − r)/B · counts(B × s₀)``.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Optional, Sequence

from snncompile import ops
from snncompile.analysis import infer_domains
from snncompile.analysis.spike_values import spike_valued
from snncompile.backends.reference.batching import as_sample_arrays, traced_batch
from snncompile.backends.reference.counts import EventCounts, NodeCount, counted
from snncompile.ir.graph import Graph
from snncompile.ops.events import nonzero

from .executor import TorchExecutor

_SCALARS = ("synaptic_ops", "neuron_updates", "spikes")


class _NodePlan:
    """What to count at one node: its counting function and static facts."""

    def __init__(self, graph: Graph, node, fn: Callable):
        cost = ops.get(node.op).cost(node, graph)
        self.node, self.fn = node, fn
        self.kind, self.dense_ops = cost.kind, int(cost.flops)
        self.dynamic = [not graph.values[v].constant for v in node.inputs]
        self.elements = [graph.values[v].numel for v, d in zip(node.inputs, self.dynamic) if d]

    def empty(self) -> NodeCount:
        n = self.node
        return NodeCount(n.name, n.op, n.module, n.source, self.kind, dense_ops=self.dense_ops)


def count_plan(graph: Graph) -> list[_NodePlan]:
    """The counted nodes of ``graph`` with their ``"count"`` rules (MissingHook if one lacks it)."""
    if any(v.domain is None for v in graph.values.values() if not v.constant):
        infer_domains(graph)
    spikes = spike_valued(graph)
    plans = []
    for node in graph.nodes:
        if not counted(graph, node):
            continue
        fn = ops.get(node.op).hook("count")(node, graph, spikes)
        if fn is not None:
            plans.append(_NodePlan(graph, node, fn))
    return plans


class _NonzeroCache:
    """Nonzero counts of one run's tensors, shared between the nodes that read the same elements.

    A key is ``(data_ptr, numel, dtype)`` of a *contiguous* tensor: two contiguous tensors with the
    same start, length and dtype cover the same memory, hence the same elements (a reshape of a LIF's
    spikes is found again).  The tensor is kept referenced so its memory cannot be reused for another
    tensor while the cache lives (one run).
    """

    def __init__(self):
        self._counts: dict = {}

    @staticmethod
    def _key(t):
        return (t.data_ptr(), t.numel(), t.dtype) if t.is_contiguous() else None

    def put(self, t, n) -> None:
        key = self._key(t)
        if key is not None:
            self._counts[key] = (t, n)

    def get(self, t, spikes: bool = False):
        """``nnz(t)``; ``spikes``: ``t`` is spike-valued (0/1), so the count is its (float64) sum."""
        key = self._key(t)
        hit = self._counts.get(key) if key is not None else None
        if hit is not None:
            return hit[1]
        n = nonzero(t, spikes)
        self.put(t, n)
        return n


class TorchCounter:
    """Accumulates exact event counts of ``graph`` over batches on ``device``."""

    def __init__(self, graph: Graph, device="cpu", dtype=None, executor: Optional[TorchExecutor] = None):
        self.graph = graph
        self.executor = executor or TorchExecutor(device, dtype)
        self.plans = count_plan(graph)
        self._by_name = {p.node.name: p for p in self.plans}
        self.batch = traced_batch(graph)
        self.samples = 0
        self._acc: dict[str, dict] = {}  # node -> field -> int64 tensor (device) or int
        self._runs = 0
        self._host: dict[str, NodeCount] = {}  # exact counts of padded batches, read back at once

    # -- one run -------------------------------------------------------------------------------
    def _run(self, inputs: Sequence) -> dict[str, dict]:
        by_node = self._by_name
        got: dict[str, dict] = {}
        nnz = _NonzeroCache()
        spikes = spike_valued(self.graph)

        def hook(node, args, outs):
            p = by_node.get(node.name)
            if p is None:
                return
            dyn = [(v, a) for v, a, d in zip(node.inputs, args, p.dynamic) if d]
            fields = dict(p.fn(args, outs, lambda i: nnz.get(args[i], node.inputs[i] in spikes)))
            known = fields.pop("nonzero_inputs", None)
            if known is not None:
                for (_, a), n in zip(dyn, known):
                    nnz.put(a, n)
            if "output_nonzero" in fields:
                nnz.put(outs[0], fields.pop("output_nonzero"))
            fields["nonzero_inputs"] = [nnz.get(a, v in spikes) for v, a in dyn]
            got[node.name] = fields

        self.executor.run(self.graph, inputs, hooks=[hook])
        return got

    def _accumulate(self, got: dict[str, dict]) -> None:
        for name, fields in got.items():
            acc = self._acc.setdefault(name, {})
            for k, v in fields.items():
                if k in acc:
                    acc[k] = [a + b for a, b in zip(acc[k], v)] if isinstance(v, list) else acc[k] + v
                else:
                    acc[k] = v
        self._runs += 1

    def add(self, inputs: Sequence, real: Optional[int] = None) -> None:
        """Count one batch: ``inputs`` holds one ``[n, ...]`` tensor per graph input, ``n ≤ B``;
        the first ``real`` (default ``n``) samples are counted."""
        import torch

        inputs = [torch.as_tensor(x) for x in inputs]
        n = inputs[0].shape[0]
        real = n if real is None else real
        if n < self.batch:
            inputs = [torch.cat([x, x[:1].expand(self.batch - n, *x.shape[1:])]) for x in inputs]
        elif n > self.batch:
            for start in range(0, real, self.batch):
                self.add([x[start:start + self.batch] for x in inputs], min(self.batch, real - start))
            return
        pad = self.batch - real
        if not pad:
            self._accumulate(self._run(inputs))
        else:  # the reference's exact correction, on the host (one padded batch per stream)
            got = self._run(inputs)
            copies = self._run([x[:1].expand(self.batch, *x.shape[1:]) for x in inputs])
            got, copies = _to_host(got), _to_host(copies)
            for name, fields in got.items():
                c = self._record(name, fields)
                c.combine(self._record(name, copies[name]), -1, Fraction(pad, self.batch))
                if name in self._host:
                    self._host[name].combine(c)
                else:
                    self._host[name] = c
        self.samples += real

    # -- results -------------------------------------------------------------------------------
    def _record(self, name: str, fields: dict) -> NodeCount:
        """The :class:`NodeCount` of host-side ``fields`` (see :func:`_to_host`) summed over ``_runs`` runs."""
        p = self._by_name[name]
        c = p.empty()
        runs = fields.get("_runs", 1)
        if fields:
            c.dense_ops = p.dense_ops * runs  # the reference sums the structural count of every run
            c.input_elements = [e * runs for e in p.elements]
            c.nonzero_inputs = list(fields["nonzero_inputs"])
            for k in _SCALARS:
                if k in fields:
                    setattr(c, k, fields[k])
            if "spikes_per_step" in fields:
                c.spikes_per_step = list(fields["spikes_per_step"])
        return c

    def result(self) -> EventCounts:
        """The exact :class:`EventCounts` of everything added so far (one device-to-host transfer)."""
        out = EventCounts(self.samples)
        acc = _to_host(self._acc)
        for p in self.plans:
            name = p.node.name
            fields = dict(acc.get(name, {}))
            c = None
            if fields:
                fields["_runs"] = self._runs
                c = self._record(name, fields)
            if name in self._host:
                if c is None:
                    c = self._host[name]
                else:
                    c.combine(self._host[name])
            if c is not None:
                out.nodes[name] = c
        return out


def _to_host(by_node: dict) -> dict:
    """``{node: {field: value}}`` with every tensor replaced by Python ints (a 0-d tensor -> int, 1-d ->
    list), read from the device in one transfer."""
    import torch

    leaves, where = [], []
    for name, fields in by_node.items():
        for k, v in fields.items():
            for j, t in enumerate(v if isinstance(v, list) else [v]):
                if torch.is_tensor(t):
                    leaves.append(t.reshape(-1).to(torch.int64))
                    where.append((name, k, j if isinstance(v, list) else None, t.dim()))
    flat = torch.cat(leaves).tolist() if leaves else []
    out = {name: {k: (list(v) if isinstance(v, list) else v) for k, v in fields.items()}
           for name, fields in by_node.items()}
    i = 0
    for name, k, j, dim in where:
        n = 1 if dim == 0 else len(by_node[name][k][j] if j is not None else by_node[name][k])
        value = flat[i] if dim == 0 else flat[i:i + n]
        i += n
        if j is None:
            out[name][k] = value
        else:
            out[name][k][j] = value
    return out


def count_events_torch(graph: Graph, samples, *, device="cpu", dtype=None) -> EventCounts:
    """:func:`snncompile.backends.reference.count_events` on torch: same samples, same records."""
    import torch

    counter = TorchCounter(graph, device, dtype)
    arrays = as_sample_arrays(graph, samples)
    n = arrays[0].shape[0]
    for start in range(0, n, counter.batch):
        counter.add([torch.as_tensor(a[start:start + counter.batch]) for a in arrays])
    return counter.result()
