"""The reference executor: runs an IR graph on numpy arrays, one node at a time, in graph order.

It is an interpreter in the ``torch.fx.Interpreter`` style.  For each node it gathers the node's
input arrays and calls the op's registered reference function
``snncompile.ops.get(node.op).reference(node, inputs, state)``; nothing here knows what an op does.

Semantics of a run (:meth:`ReferenceExecutor.run`):

* **Inputs** are cast to ``dtype`` and must have exactly the traced shapes (the graph's reshapes bake
  in the traced batch size, ``graph.meta['batch']``; see :mod:`.batching` to run other sizes).
* **Constants** come from ``graph.constants``, cast to ``dtype`` (every IR op is a float op) and
  handed to ops as read-only arrays.  The casts are cached per graph and dtype.
* **State**: a stateful op (the neurons) gets a dict that lives for one run.  It is keyed by
  ``node.attrs['state_key']`` when present — a single-step neuron called T times in a Python loop is
  T nodes sharing one key, hence one membrane — and by the node name otherwise.  Every run starts
  from fresh (empty) state.
* **Memory** stays bounded: a value is released right after its last use (last-use indices are
  computed once per graph), unless it is a graph output or was asked for with ``record``.
* **Errors** raised inside an op become an :class:`ExecutionError` whose one-line message names the
  node, op, module path, source line and the original error.
* **Hooks** ``hook(node, inputs, outputs)`` are called after every node; verification and counting
  observe a run through them without keeping the values alive.

In float64 a run reproduces a float64 torch forward spike for spike (see :mod:`.compare`).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable, Optional, Sequence, Union

import numpy as np

from snncompile import ops
from snncompile.errors import InputError, SnnCompileError
from snncompile.ir.graph import Graph, Node

Hook = Callable[[Node, Sequence[np.ndarray], Sequence[np.ndarray]], None]
Record = Union[bool, Collection[str]]


class ExecutionError(SnnCompileError):
    """An op failed (or produced a wrongly shaped result) while the reference executor ran it."""

    def __init__(self, message: str, *, node: Optional[Node] = None):
        super().__init__(" ".join(str(message).split()))
        self.node = node


@dataclass
class ExecutionResult:
    """What a run produced.

    ``outputs`` — the graph outputs, in ``graph.outputs`` order; ``values`` — the recorded values by
    name (graph inputs included when asked for); ``states`` — the final state dict of every stateful
    op by state key (e.g. ``{'v': membrane, 's': last spikes}`` for a single-step neuron).
    """

    outputs: list[np.ndarray]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    states: dict[str, dict] = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        """The only output of a single-output graph."""
        if len(self.outputs) != 1:
            raise ValueError(f"the graph has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]


@dataclass
class Plan:
    """Per-graph facts computed once: where each value dies and the dtype-cast constants."""

    release: list[list[str]]  # release[i]: values whose last use is node i
    unused_inputs: list[str]  # graph inputs no node reads
    constants: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # dtype name -> name -> array
    signature: tuple = ()


def _signature(graph: Graph) -> tuple:
    return (len(graph.nodes), tuple(id(n) for n in graph.nodes), len(graph.constants))


def make_plan(graph: Graph) -> Plan:
    """Last-use analysis: release each dynamic value after the last node that reads it."""
    last: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            last.setdefault(v, i)  # a value nobody reads dies where it is made
        for v in node.inputs:
            if not graph.values[v].constant:
                last[v] = i
    keep = set(graph.outputs)
    release: list[list[str]] = [[] for _ in graph.nodes]
    for v, i in last.items():
        if v not in keep:
            release[i].append(v)
    unused = [v for v in graph.inputs if v not in last and v not in keep]
    return Plan(release, unused, signature=_signature(graph))


def cast_constant(array: np.ndarray, dtype) -> np.ndarray:
    """A read-only view of ``array`` in ``dtype`` (a copy only when the dtype differs)."""
    out = np.asarray(array).astype(dtype, copy=False).view()
    out.flags.writeable = False
    return out


class ReferenceExecutor:
    """Runs IR graphs on numpy arrays by dispatching every node to its op's reference function.

    Subclasses may override :meth:`run_node` (e.g. a fixed-point mode that quantises around it).
    """

    def __init__(self):
        self._plans: dict[int, tuple[weakref.ref, Plan]] = {}

    # -- per-graph cache ----------------------------------------------------------------------------
    def plan(self, graph: Graph) -> Plan:
        """The cached :class:`Plan` of ``graph`` (recomputed if its node list changed)."""
        entry = self._plans.get(id(graph))
        if entry is not None and entry[0]() is graph and entry[1].signature == _signature(graph):
            return entry[1]
        p = make_plan(graph)
        self._plans = {k: e for k, e in self._plans.items() if e[0]() is not None}
        self._plans[id(graph)] = (weakref.ref(graph), p)
        return p

    def constants(self, graph: Graph, dtype) -> dict[str, np.ndarray]:
        p = self.plan(graph)
        key = np.dtype(dtype).name
        cached = p.constants.get(key)
        if cached is None:
            cached = {name: cast_constant(a, dtype) for name, a in graph.constants.items()}
            p.constants[key] = cached
        return cached

    # -- running ------------------------------------------------------------------------------------
    def run(self, graph: Graph, inputs: Sequence[np.ndarray] | np.ndarray, *, dtype=np.float64,
            record: Record = False, hooks: Iterable[Hook] = ()) -> ExecutionResult:
        """Execute ``graph`` on ``inputs`` (one array per graph input).

        ``record``: ``False`` keeps only the outputs; ``True`` keeps every dynamic value; a collection
        of value names keeps those (e.g. :func:`neuron_values`).  ``hooks`` are called as
        ``hook(node, input_arrays, output_arrays)`` after each node.
        """
        if isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        plan = self.plan(graph)
        consts = self.constants(graph, dtype)
        keep = self._keep_set(graph, record)
        hooks = list(hooks)
        env: dict[str, np.ndarray] = dict(self._bind_inputs(graph, inputs, dtype))
        recorded: dict[str, np.ndarray] = {}
        for v in plan.unused_inputs:
            if v in keep:
                recorded[v] = env[v]
        states: dict[str, dict] = {}
        for i, node in enumerate(graph.nodes):
            args = [consts[v] if v in consts else env[v] for v in node.inputs]
            state = states.setdefault(node.attrs.get("state_key") or node.name, {})
            outs = self.run_node(graph, node, args, state)
            for v, a in zip(node.outputs, outs):
                env[v] = a
            for h in hooks:
                h(node, args, outs)
            for v in plan.release[i]:
                a = env.pop(v)
                if v in keep:
                    recorded[v] = a
        for v in keep:  # graph outputs and never-released values
            if v in env:
                recorded[v] = env[v]
        return ExecutionResult([env[v] if v in env else consts[v] for v in graph.outputs], recorded,
                               {k: s for k, s in states.items() if s})

    def run_node(self, graph: Graph, node: Node, args: list[np.ndarray], state: dict) -> list[np.ndarray]:
        """Apply one node: its op's reference function, with errors and shapes checked."""
        try:
            outs = list(ops.get(node.op).reference(node, args, state))
        except Exception as e:  # noqa: BLE001 - re-raised with the node's location
            shapes = ", ".join(str(tuple(np.shape(a))) for a in args)
            first = str(e).splitlines()[0] if str(e) else ""
            raise ExecutionError(f"while executing {node.location}: {type(e).__name__}: {first} "
                                 f"[input shapes: {shapes}]", node=node) from e
        if len(outs) < len(node.outputs):
            raise ExecutionError(f"while executing {node.location}: the op returned {len(outs)} "
                                 f"array(s) for {len(node.outputs)} output(s)", node=node)
        for v, a in zip(node.outputs, outs):
            if v not in graph.values:  # an unused output a pruning pass dropped
                continue
            want = graph.values[v].shape
            if tuple(np.shape(a)) != tuple(want):
                raise ExecutionError(f"while executing {node.location}: output {v} has shape "
                                     f"{tuple(np.shape(a))}, the IR declares {tuple(want)}", node=node)
        return outs[: len(node.outputs)]

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _bind_inputs(graph: Graph, inputs: Sequence, dtype) -> Iterable[tuple[str, np.ndarray]]:
        if len(inputs) != len(graph.inputs):
            raise InputError(f"the graph takes {len(graph.inputs)} input(s), got {len(inputs)}")
        for name, x in zip(graph.inputs, inputs):
            if hasattr(x, "detach"):  # a torch tensor
                x = x.detach().cpu().numpy()
            arr = np.asarray(x, dtype=dtype)
            want = tuple(graph.values[name].shape)
            if arr.shape != want:
                batch = graph.meta.get("batch")
                raise InputError(f"input {name!r} has shape {arr.shape} but the graph was traced with {want}; "
                                 f"its reshapes fix the batch size ({batch}): run samples in chunks of that "
                                 f"size (snncompile.backends.reference.batching)")
            yield name, arr

    @staticmethod
    def _keep_set(graph: Graph, record: Record) -> set[str]:
        if record is True:
            return {v for v, val in graph.values.items() if not val.constant}
        if not record:
            return set()
        keep = set(record)
        unknown = sorted(v for v in keep if v not in graph.values)
        if unknown:
            raise InputError(f"cannot record unknown value(s): {', '.join(unknown[:5])}")
        return {v for v in keep if not graph.values[v].constant}


def neuron_values(graph: Graph, *, inputs: bool = True) -> set[str]:
    """Names of every neuron node's outputs (spikes, membrane) and, if ``inputs``, its inputs."""
    names: set[str] = set()
    for node in graph.nodes:
        if ops.get(node.op).neuron is not None:
            names.update(v for v in node.outputs if v in graph.values)
            if inputs:
                names.update(v for v in node.inputs if not graph.values[v].constant)
    return names


def run(graph: Graph, inputs, **kwargs) -> ExecutionResult:
    """Shorthand for ``ReferenceExecutor().run(graph, inputs, **kwargs)``."""
    return ReferenceExecutor().run(graph, inputs, **kwargs)
