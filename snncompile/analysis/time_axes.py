"""The per-time-step view of a traced graph: where time lives in every tensor, and a step program.

Traced graphs keep the authors' layout: time is explicit only in the multi-step neurons (axis 0 of
their input); every other op acts on tensors with T merged into a batch axis (``flatten(0, 1)`` of
``[T, B, …]``).  A Loihi chip runs one time step at a time, so the backend needs the graph *of one
step*.  Rather than re-tracing the model with T = 1 (which needs the model object and a ``T``
attribute), :func:`time_axes` finds the time axis of every value by a forward dataflow analysis:

* a value is **static** (``None``: the same at every step — the analog image before it is repeated),
  **timed** (:class:`TimeAxis`: one axis of size ``T·k`` whose index ``i`` belongs to step ``i // k``;
  time-major, so ``[T·B, …]`` has ``k = B``), or **post** (:data:`POST`: computed from a reduction over
  time, e.g. the readout's mean over T — it exists once, after the last step);
* ``repeat`` of a static value by a multiple of T on one axis creates the time axis; reshapes keep it
  when the time-major block structure survives (the product of the axes before it is unchanged and the
  new axis is a multiple of T); permutes move it; elementwise ops, matmuls (batch axes), weight layers
  (batch axis), pools and BatchNorm keep it when they act across other axes only; a reduction over it
  makes the result *post*; a multi-step neuron needs it on axis 0 with size T.

Anything else (slicing or concatenating along time, a softmax over time, a neuron fed a static value)
raises :class:`TimeAxisError` naming the node.  ``snncompile.passes.time.slice_time`` then builds a
``StepProgram`` from these axes:

* ``step`` — the graph of one time step: every timed axis divided by T, reshape/expand/repeat
  attributes rewritten, every multi-step ``lif`` turned into a single-step ``lif`` whose state (keyed by
  its node name) persists from one step to the next;
* ``post`` — the nodes that run once after the steps (the temporal reductions and what follows),
  reading the step values they need stacked along their time axis;
* ``boundary`` — the step values the post graph reads, with their time axes.

``snncompile.backends.reference.steps.run_steps`` executes T steps with the reference executor's
dispatch (persistent neuron state) and then the post graph; its result equals a run of the full graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from snncompile import ops
from snncompile.errors import SnnCompileError
from snncompile.ir.graph import Graph, Node


class TimeAxisError(SnnCompileError):
    """The graph moves data across time in a way a step-by-step (Loihi) execution cannot follow."""


@dataclass(frozen=True)
class TimeAxis:
    axis: int
    size: int  # = T·k


class _Post:
    def __repr__(self) -> str:
        return "POST"


POST = _Post()
Axis = Union[None, TimeAxis, _Post]

def time_steps(graph: Graph) -> int:
    t = graph.meta.get("time_steps")
    if t:
        return int(t)
    for n in graph.nodes:
        if ops.get(n.op).across_time and n.attrs.get("step_mode") == "multi":
            return int(graph.values[n.inputs[0]].shape[0])
    raise TimeAxisError("the graph has no multi-step neuron and no meta['time_steps']: cannot find T")


def _err(node: Node, why: str) -> TimeAxisError:
    return TimeAxisError(f"{node.location}: {why}; a step-by-step execution (Loihi) cannot follow it")


@dataclass
class TimeContext:
    """One node as the time analysis sees it: what an op's ``"time"`` hook is given.

    ``axis`` is the time axis of the first timed dynamic operand (``src`` its shape); ``axes`` the time
    axes found so far (read-only for hooks)."""

    graph: Graph
    node: Node
    T: int
    axes: dict
    axis: Optional[TimeAxis] = None
    src: tuple = ()
    out_shape: tuple = field(default=())

    def timed(self, axis: int, size: int) -> TimeAxis:
        return TimeAxis(axis, size)

    def fail(self, why: str) -> None:
        raise _err(self.node, why)

    def broadcast(self, *, batch_only: bool = False, same_rank: bool = False) -> Optional[TimeAxis]:
        """All timed operands must put time on the same output axis; static operands must not vary there."""
        graph, node = self.graph, self.node
        vals = [graph.values[v] for v in node.inputs]
        rank = len(self.out_shape) if not same_rank else max(len(v.shape) for v in vals)
        found: Optional[TimeAxis] = None
        for v in vals:
            a = self.axes.get(v.name) if not v.constant else None
            if isinstance(a, TimeAxis):
                cand = TimeAxis(a.axis + (rank - len(v.shape)) if not same_rank else a.axis, a.size)
                if found is not None and found != cand:
                    self.fail(f"its operands carry time on different axes ({found.axis} vs {cand.axis})")
                found = cand
        if found is None:
            return None
        for v in vals:
            a = self.axes.get(v.name) if not v.constant else None
            if a is None:
                oa = found.axis - (rank - len(v.shape)) if not same_rank else found.axis
                if 0 <= oa < len(v.shape) and v.shape[oa] != 1:
                    self.fail(f"operand {v.name} does not change over time but is not broadcast along the time axis")
        return found


# -- the rules, by trait (an op's own "time" hook comes first) -------------------------------------

def _neuron_rule(ctx: TimeContext) -> Axis:
    ax = ctx.axis
    if ax.axis != 0 or ax.size != ctx.T or ctx.node.attrs.get("step_mode") != "multi":
        ctx.fail(f"a neuron's time axis must be axis 0 of size T={ctx.T} (multi-step); found axis {ax.axis} of "
                 f"size {ax.size}")
    return TimeAxis(0, ctx.T)


def _movement_rule(ctx: TimeContext) -> Axis:
    where = ops.get(ctx.node.op).hook("axis")(ctx.node, ctx.src, ctx.out_shape, ctx.axis.axis, ctx.T)
    if isinstance(where, str):
        ctx.fail(f"{where} (the time axis)")
    return TimeAxis(where, ctx.out_shape[where])


def _reduction_rule(ctx: TimeContext) -> Axis:
    dims = ctx.node.attrs.get("dims")
    rank = len(ctx.src)
    dims = list(range(rank)) if dims is None else [d % rank for d in dims]
    if ctx.axis.axis in dims:
        return POST
    if ctx.node.attrs.get("keepdim", False):
        return ctx.axis
    return TimeAxis(ctx.axis.axis - sum(1 for d in dims if d < ctx.axis.axis), ctx.axis.size)


def _mixing_rule(ctx: TimeContext) -> Axis:
    mixed = {a % len(ctx.src) for a in ops.get(ctx.node.op).mixes(ctx.node, len(ctx.src))}
    if ctx.axis.axis in mixed:
        ctx.fail(f"{ctx.node.op} acts along the time axis (axis {ctx.axis.axis})")
    return ctx.axis


def rule_for(opdef: ops.OpDef) -> Optional[Callable[[TimeContext], Axis]]:
    """How the time axis passes ``opdef``: its ``"time"`` hook, else the rule its traits imply, else None."""
    if opdef.has_hook("time"):
        return opdef.hook("time")
    if opdef.across_time:
        return _neuron_rule
    if opdef.movement:
        return _movement_rule
    if opdef.elementwise:
        return lambda ctx: ctx.broadcast()
    if opdef.reduction:
        return _reduction_rule
    if opdef.mixes is not None:
        return _mixing_rule
    return None


def _transfer(ctx: TimeContext) -> Axis:
    rule = rule_for(ops.get(ctx.node.op))
    if rule is None:
        ctx.fail(f"no time-axis rule for op {ctx.node.op}")
    return rule(ctx)


def _created_axis(graph: Graph, node: Node, T: int) -> Axis:
    """A static value tiled T times (the image repeated over time) becomes timed; else it stays static."""
    opdef = ops.get(node.op)
    if not opdef.has_hook("creates_axis"):
        return None
    src, dst = graph.values[node.inputs[0]].shape, graph.values[node.outputs[0]].shape
    a = opdef.hook("creates_axis")(node, src, dst, T)
    return None if a is None else TimeAxis(a, dst[a])


def time_axes(graph: Graph, input_axes: Optional[dict] = None, T: Optional[int] = None) -> dict[str, Axis]:
    """The time axis of every dynamic value (see the module docstring).

    ``input_axes`` maps graph inputs to their time axis index (default: static, an image; a binary
    input with size T on axis 1 — ``[B, T, …]`` events — is timed on axis 1)."""
    axes: dict[str, Axis] = {}
    T = T or time_steps(graph)
    for name in graph.inputs:
        shape = graph.values[name].shape
        a = (input_axes or {}).get(name)
        if a is None and input_axes is None:
            dom = graph.values[name].domain
            a = graph.meta.get("input_time_axes", {}).get(name)  # declared by the user (--time-axis)
            if a is None and T == 1 and shape:  # one step: every input is "timed" trivially on its batch axis
                a = 0
            elif a is None and dom is not None and dom.is_binary and len(shape) > 1 and shape[1] == T:
                a = 1
        axes[name] = None if a is None else TimeAxis(a, shape[a])
    for node in graph.nodes:
        dynamic = [graph.values[v] for v in node.inputs if not graph.values[v].constant]
        ins = [axes.get(v.name) for v in dynamic]
        if any(a is POST for a in ins):
            res: Axis = POST
        elif all(a is None for a in ins):
            if ops.get(node.op).across_time:
                raise _err(node, "a neuron is fed a value that does not change over time (if the model's input "
                                 "has a time axis, declare it: --time-axis N)")
            res = _created_axis(graph, node, T)
        else:
            first = next(v for v in dynamic if axes.get(v.name) is not None)
            res = _transfer(TimeContext(graph, node, T, axes, axes[first.name], tuple(first.shape),
                                        tuple(graph.values[node.outputs[0]].shape)))
        for v in node.outputs:
            axes[v] = res
    return axes
