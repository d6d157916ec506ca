"""The step program: a traced graph split into the graph of one time step and what runs after the last.

The time axis of every value comes from :func:`snncompile.analysis.time_axes.time_axes`; see that
module for the analysis.  :func:`slice_time` builds a :class:`StepProgram`:

* ``step`` — the graph of one time step: every timed axis divided by T, reshape/expand/repeat
  attributes rewritten, every multi-step ``lif`` turned into a single-step ``lif`` whose state (keyed by
  its node name) persists from one step to the next;
* ``post`` — the nodes that run once after the steps (the temporal reductions and what follows),
  reading the step values they need stacked along their time axis;
* ``boundary`` — the step values the post graph reads, with their time axes.

``snncompile.backends.reference.steps.run_steps`` executes a program with the reference executor.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from snncompile import ops
from snncompile.analysis.time_axes import POST, Axis, TimeAxis, TimeAxisError, time_axes, time_steps
from snncompile.ir.graph import Graph, Node, Value

# -- the step program ------------------------------------------------------------------------------

@dataclass
class StepProgram:
    """One time step of a graph plus what runs after the last step (see the module docstring)."""

    step: Graph
    post: Graph
    T: int
    boundary: dict[str, TimeAxis]  # step value -> its time axis in the full graph
    input_axes: dict[str, Optional[TimeAxis]]  # graph input -> its time axis (None = the same every step)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (graph output, 'step'|'post')
    full_shapes: dict[str, tuple] = field(default_factory=dict)

    def step_inputs(self, inputs: Sequence[np.ndarray], t: int) -> list[np.ndarray]:
        """The step graph's inputs at step ``t`` (a timed input is sliced along its time axis)."""
        out = []
        for name, x in zip(self.step.inputs, inputs):
            ax = self.input_axes.get(name)
            if ax is None:
                out.append(np.asarray(x))
            else:
                k = ax.size // self.T
                out.append(np.take(np.asarray(x), np.arange(t * k, (t + 1) * k), axis=ax.axis))
        return out

    def stack(self, per_step: dict[str, list[np.ndarray]]) -> list[np.ndarray]:
        """The post graph's inputs: each boundary value's steps concatenated along its time axis."""
        return [np.concatenate(per_step[v], axis=self.boundary[v].axis) for v in self.post.inputs]


def slice_time(graph: Graph, *, T: Optional[int] = None, input_axes: Optional[dict] = None) -> StepProgram:
    """Split ``graph`` into a one-step graph and a post graph (see the module docstring)."""
    T = T or time_steps(graph)
    axes = time_axes(graph, input_axes, T)
    step = Graph(meta=copy.deepcopy(graph.meta))
    step.meta["time_steps_total"] = T
    step.meta["step_graph"] = True
    post = Graph(meta={"post_graph": True})
    for name in graph.inputs:
        step.add_value(_step_value(graph.values[name], axes.get(name), T))
        step.inputs.append(name)
    step_nodes, post_nodes = [], []
    for node in graph.nodes:
        (post_nodes if axes.get(node.outputs[0]) is POST else step_nodes).append(node)
    for node in step_nodes:
        for v in node.inputs:
            if v not in step.values:
                val = graph.values[v]
                if val.constant:
                    step.add_constant(v, graph.constants[v])
                else:  # pragma: no cover - graph is topologically ordered
                    raise TimeAxisError(f"{node.location}: input {v} undefined")
        for v in node.outputs:
            step.add_value(_step_value(graph.values[v], axes.get(v), T))
        n = copy.deepcopy(node)
        _step_attrs(graph, n, axes, T, step)
        step.add_node(n)
    boundary: dict[str, TimeAxis] = {}
    for node in post_nodes:
        for v in node.inputs:
            if v in post.values:
                continue
            val = graph.values[v]
            if val.constant:
                post.add_constant(v, graph.constants[v])
                continue
            ax = axes.get(v)
            if not isinstance(ax, TimeAxis):
                raise TimeAxisError(f"{node.location}: reads {v}, which does not change over time, after the time "
                                    f"loop (not supported)")
            post.add_value(copy.deepcopy(val))
            post.inputs.append(v)
            boundary[v] = ax
        for v in node.outputs:
            post.add_value(copy.deepcopy(graph.values[v]))
        post.add_node(copy.deepcopy(node))
    outputs = []
    for o in graph.outputs:
        if axes.get(o) is POST:
            post.outputs.append(o)
            outputs.append((o, "post"))
        else:
            if isinstance(axes.get(o), TimeAxis):
                boundary.setdefault(o, axes[o])
            outputs.append((o, "step"))
    step.outputs = sorted(set(boundary) | {o for o, w in outputs if w == "step"})
    step.validate()
    post.validate()
    in_axes = {n: (axes[n] if isinstance(axes.get(n), TimeAxis) else None) for n in graph.inputs}
    full = {v: tuple(graph.values[v].shape) for v in graph.values}
    return StepProgram(step, post, T, boundary, in_axes, outputs, full)


def _step_value(val: Value, ax: Axis, T: int) -> Value:
    v = copy.deepcopy(val)
    v.producer = None
    if isinstance(ax, TimeAxis):
        shape = list(v.shape)
        shape[ax.axis] //= T
        v.shape = tuple(shape)
    return v


def _step_attrs(graph: Graph, n: Node, axes, T: int, step: Graph) -> None:
    """Attributes of ``n`` in the one-step graph: neurons run one step per call (state kept under their
    name); an op whose attributes spell a shape gets the one-step shape (its ``"resized"`` hook)."""
    out = n.outputs[0]
    ax = axes.get(out)
    opdef = ops.get(n.op)
    if opdef.across_time:
        n.attrs = dict(n.attrs, step_mode="single", state_key=n.name, multi_step_T=T)
    elif isinstance(ax, TimeAxis) and opdef.has_hook("resized"):
        created = ax.axis if axes.get(n.inputs[0]) is None else None  # the tiling that creates time
        n.attrs = opdef.hook("resized")(n, step.values[out].shape, created, T)


def retime(program: StepProgram, T: int) -> StepProgram:
    """The same step program run for ``T`` steps per input instead of ``program.T``.

    The one-step graph does not depend on T; the post graph's timed values (the stacked boundary values
    and anything computed from them before the reduction over time) get ``T·k`` elements on their time
    axis.  Only meaningful for models whose per-step computation does not depend on T (true of the
    examples: T only sets how often the image is repeated)."""
    if T == program.T:
        return program
    if T < 1:
        raise TimeAxisError(f"the number of time steps must be positive, got {T}")
    post = Graph(values=copy.deepcopy(program.post.values), nodes=copy.deepcopy(program.post.nodes),
                 constants=dict(program.post.constants), inputs=list(program.post.inputs),
                 outputs=list(program.post.outputs), meta=copy.deepcopy(program.post.meta))
    axes = time_axes(post, {v: program.boundary[v].axis for v in post.inputs}, program.T)
    for v, ax in axes.items():
        if isinstance(ax, TimeAxis):
            shape = list(post.values[v].shape)
            shape[ax.axis] = shape[ax.axis] // program.T * T
            post.values[v].shape = tuple(shape)
    for n in post.nodes:
        opdef = ops.get(n.op)
        if isinstance(axes.get(n.outputs[0]), TimeAxis) and opdef.has_hook("resized"):
            n.attrs = opdef.hook("resized")(n, post.values[n.outputs[0]].shape, None, T)
    boundary = {v: TimeAxis(a.axis, a.size // program.T * T) for v, a in program.boundary.items()}
    in_axes = {v: (None if a is None else TimeAxis(a.axis, a.size // program.T * T))
               for v, a in program.input_axes.items()}
    full = dict(program.full_shapes)
    for v, a in in_axes.items():
        if a is not None:
            s = list(full[v])
            s[a.axis] = a.size
            full[v] = tuple(s)
    post.validate()
    return StepProgram(program.step, post, T, boundary, in_axes, list(program.outputs), full)
