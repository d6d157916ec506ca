"""The torch executor: the IR run node by node on torch tensors, on any device.

It mirrors :class:`snncompile.backends.reference.ReferenceExecutor` (same graph order, same state
keys, same last-use release plan) but dispatches every node to its op's ``"torch"`` hook
(``ops.get(op).hook("torch")``; an op without one is refused with :class:`MissingHook`).
Constants are cast to the run's dtype and moved to the device once per (graph, dtype, device).
"""
from __future__ import annotations

import weakref
from typing import Callable, Iterable, Sequence

from snncompile import ops
from snncompile.backends.reference.executor import ExecutionError, make_plan
from snncompile.errors import InputError
from snncompile.ir.graph import Graph, Node

Hook = Callable[[Node, Sequence, Sequence], None]


class TorchExecutor:
    """Runs IR graphs with torch ops on ``device`` in ``dtype`` (a ``torch.dtype``)."""

    def __init__(self, device="cpu", dtype=None):
        import torch

        self.device = torch.device(device)
        self.dtype = dtype or torch.float64
        self._cache: dict[int, tuple] = {}

    def prepared(self, graph: Graph):
        """``(plan, constants, impls)`` of ``graph``: the release plan, device constants, op hooks."""
        import numpy as np
        import torch

        entry = self._cache.get(id(graph))
        if entry is not None and entry[0]() is graph and entry[1] == len(graph.nodes):
            return entry[2]
        impls = [ops.get(n.op).hook("torch") for n in graph.nodes]  # MissingHook before any work
        np_dtype = np.dtype(str(self.dtype).replace("torch.", ""))
        consts = {name: torch.as_tensor(np.asarray(a).astype(np_dtype, copy=False)).to(self.device)
                  for name, a in graph.constants.items()}
        prepared = (make_plan(graph), consts, impls)
        self._cache = {k: e for k, e in self._cache.items() if e[0]() is not None}
        self._cache[id(graph)] = (weakref.ref(graph), len(graph.nodes), prepared)
        return prepared

    def run(self, graph: Graph, inputs: Sequence, hooks: Iterable[Hook] = ()) -> list:
        """Execute ``graph`` on ``inputs`` (tensors or arrays, one per graph input, traced shapes);
        returns the graph outputs.  ``hook(node, inputs, outputs)`` is called after every node."""
        import torch

        plan, consts, impls = self.prepared(graph)
        hooks = list(hooks)
        if len(inputs) != len(graph.inputs):
            raise InputError(f"the graph takes {len(graph.inputs)} input(s), got {len(inputs)}")
        env = {}
        for name, x in zip(graph.inputs, inputs):
            t = torch.as_tensor(x).to(device=self.device, dtype=self.dtype, non_blocking=True)
            want = tuple(graph.values[name].shape)
            if tuple(t.shape) != want:
                raise InputError(f"input {name!r} has shape {tuple(t.shape)} but the graph was traced with {want}")
            env[name] = t
        states: dict[str, dict] = {}
        with torch.inference_mode():
            for i, node in enumerate(graph.nodes):
                args = [consts[v] if v in consts else env[v] for v in node.inputs]
                state = states.setdefault(node.attrs.get("state_key") or node.name, {})
                outs = self._apply(graph, node, impls[i], args, state)
                for v, a in zip(node.outputs, outs):
                    env[v] = a
                for h in hooks:
                    h(node, args, outs)
                for v in plan.release[i]:
                    env.pop(v, None)
        return [env[v] if v in env else consts[v] for v in graph.outputs]

    @staticmethod
    def _apply(graph: Graph, node: Node, impl, args, state) -> list:
        try:
            outs = list(impl(node, args, state))
        except Exception as e:  # noqa: BLE001 - re-raised with the node's location
            shapes = ", ".join(str(tuple(a.shape)) for a in args)
            first = str(e).splitlines()[0] if str(e) else ""
            raise ExecutionError(f"while executing {node.location} on torch: {type(e).__name__}: {first} "
                                 f"[input shapes: {shapes}]", node=node) from e
        for v, a in zip(node.outputs, outs):
            val = graph.values.get(v)
            if val is not None and tuple(a.shape) != tuple(val.shape):
                raise ExecutionError(f"while executing {node.location} on torch: output {v} has shape "
                                     f"{tuple(a.shape)}, the IR declares {tuple(val.shape)}", node=node)
        return outs[: len(node.outputs)]
