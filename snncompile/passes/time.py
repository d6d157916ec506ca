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
raises :class:`TimeAxisError` naming the node.  :func:`slice_time` then builds a :class:`StepProgram`:

* ``step`` — the graph of one time step: every timed axis divided by T, reshape/expand/repeat
  attributes rewritten, every multi-step ``lif`` turned into a single-step ``lif`` whose state (keyed by
  its node name) persists from one step to the next;
* ``post`` — the nodes that run once after the steps (the temporal reductions and what follows),
  reading the step values they need stacked along their time axis;
* ``boundary`` — the step values the post graph reads, with their time axes.

:meth:`StepProgram.run` executes T steps with the reference executor's dispatch (persistent neuron
state) and then the post graph; its result equals a run of the full graph (tests check this).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from snncompile import ops
from snncompile.errors import SnnCompileError
from snncompile.ir.graph import Graph, Node, Value


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

ELEMENTWISE = {"add", "sub", "mul", "div", "neg", "relu", "clamp", "identity", "exp", "log", "sqrt", "sigmoid",
               "tanh", "gelu", "silu", "pow"}
AXIS_OPS = {"softmax", "log_softmax"}


def time_steps(graph: Graph) -> int:
    t = graph.meta.get("time_steps")
    if t:
        return int(t)
    for n in graph.nodes:
        if ops.get(n.op).family == "neuron" and n.attrs.get("step_mode") == "multi":
            return int(graph.values[n.inputs[0]].shape[0])
    raise TimeAxisError("the graph has no multi-step neuron and no meta['time_steps']: cannot find T")


def _err(node: Node, why: str) -> TimeAxisError:
    return TimeAxisError(f"{node.location}: {why}; a step-by-step execution (Loihi) cannot follow it")


def _reshape_axis(src: Sequence[int], dst: Sequence[int], ax: TimeAxis, T: int) -> Optional[TimeAxis]:
    before = math.prod(src[: ax.axis])
    block = (ax.size // T) * math.prod(src[ax.axis + 1:])  # elements of one step inside the time axis' span
    candidates = []
    for b in range(len(dst)):
        if math.prod(dst[:b]) == before and dst[b] % T == 0 and (dst[b] // T) * math.prod(dst[b + 1:]) == block:
            candidates.append(b)
    if not candidates:
        return None
    # prefer an axis of the same size (a pure re-labelling), else the first
    same = [b for b in candidates if dst[b] == ax.size]
    b = (same or candidates)[0]
    return TimeAxis(b, dst[b])


def _transfer(graph: Graph, node: Node, T: int) -> Axis:
    vals = [graph.values[v] for v in node.inputs]
    dyn = [(i, v) for i, v in enumerate(vals) if not v.constant]
    out_shape = graph.values[node.outputs[0]].shape
    axes = _CURRENT[0]
    first = next(((i, v) for i, v in dyn if axes.get(v.name) is not None), None)
    if first is None:
        if node.op == "repeat":
            return _repeat_static(node, vals[0].shape, out_shape, T)
        return None
    ax: TimeAxis = axes[first[1].name]
    src = first[1].shape
    op = node.op
    fam = ops.get(op).family
    if fam == "neuron":
        if ax.axis != 0 or ax.size != T or node.attrs.get("step_mode") != "multi":
            raise _err(node, f"a neuron's time axis must be axis 0 of size T={T} (multi-step); found axis "
                             f"{ax.axis} of size {ax.size}")
        return TimeAxis(0, T)
    if op == "reshape":
        res = _reshape_axis(src, out_shape, ax, T)
        if res is None:
            raise _err(node, f"reshape {list(src)} -> {list(out_shape)} mixes time (axis {ax.axis}) with other axes")
        return res
    if op == "permute":
        return TimeAxis(list(node.attrs["dims"]).index(ax.axis), ax.size)
    if op == "expand":
        a = ax.axis + len(out_shape) - len(src)
        if out_shape[a] != ax.size:
            raise _err(node, "expand along the time axis")
        return TimeAxis(a, ax.size)
    if op == "repeat":
        reps = list(node.attrs["repeats"])
        a = ax.axis + len(reps) - len(src)
        if reps[a] != 1:
            raise _err(node, "repeat along the time axis")
        return TimeAxis(a, ax.size * reps[a])
    if op in ELEMENTWISE or fam in ("elementwise",) and op not in AXIS_OPS:
        return _broadcast(graph, node, out_shape, T)
    if op in AXIS_OPS:
        axis = node.attrs.get("axis", -1) % len(src)
        if axis == ax.axis:
            raise _err(node, f"{op} along the time axis")
        return ax
    if op == "layer_norm":
        if ax.axis >= len(src) - len(node.attrs["normalized_shape"]):
            raise _err(node, "layer_norm over the time axis")
        return ax
    if op == "matmul":
        res = _broadcast(graph, node, out_shape, T, batch_only=True)
        if res is not None and res.axis >= len(out_shape) - 2:
            raise _err(node, "matmul contracts or indexes the time axis")
        return res
    if op == "linear":
        if ax.axis == len(src) - 1:
            raise _err(node, "linear over the time axis")
        return ax
    if op in ("conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d"):
        nd = 1 if op.endswith("1d") else 2
        if op.startswith("conv") and ax.axis != 0:
            raise _err(node, "a convolution's time axis must be its batch axis")
        if ax.axis >= len(src) - nd or (op.startswith("conv") and ax.axis == 1):
            raise _err(node, f"{op} acts across the time axis")
        return ax
    if op == "batch_norm":
        if ax.axis == 1:
            raise _err(node, "batch_norm normalises along the time axis")
        return ax
    if op in ("sum", "mean", "amax"):
        dims = node.attrs.get("dims")
        dims = list(range(len(src))) if dims is None else [d % len(src) for d in dims]
        if ax.axis in dims:
            return POST
        if node.attrs.get("keepdim", False):
            return ax
        return TimeAxis(ax.axis - sum(1 for d in dims if d < ax.axis), ax.size)
    if op == "slice":
        return _slice_axis(node, src, ax, T)
    if op in ("concat", "stack", "split"):
        res = _broadcast(graph, node, None, T, same_rank=True) if op != "split" else ax
        axis = node.attrs["axis"] % (len(src) + (1 if op == "stack" else 0))
        if op == "stack":
            a = res.axis + (1 if axis <= res.axis else 0)
            return TimeAxis(a, res.size)
        if axis == res.axis:
            raise _err(node, f"{op} along the time axis")
        return res
    raise _err(node, f"no time-axis rule for op {op}")


def _repeat_static(node: Node, src, dst, T: int) -> Axis:
    reps = list(node.attrs["repeats"])
    for a, r in enumerate(reps):
        if r > 1 and r % T == 0:
            return TimeAxis(a, dst[a])
    return None


def _broadcast(graph: Graph, node: Node, out_shape, T: int, *, batch_only: bool = False,
               same_rank: bool = False) -> Optional[TimeAxis]:
    """All timed operands must put time on the same output axis; static operands must not vary there."""
    axes = _CURRENT[0]
    out_rank = len(out_shape) if out_shape is not None else None
    found: Optional[TimeAxis] = None
    vals = [graph.values[v] for v in node.inputs]
    ranks = [len(v.shape) for v in vals]
    rank = out_rank if out_rank is not None else max(ranks)
    if batch_only:  # matmul: vectors are promoted; align batch axes from the right of the batch part
        rank = len(graph.values[node.outputs[0]].shape)
    for v in vals:
        a = axes.get(v.name) if not v.constant else None
        if isinstance(a, TimeAxis):
            oa = a.axis + (rank - len(v.shape)) if not same_rank else a.axis
            cand = TimeAxis(oa, a.size)
            if found is not None and found != cand:
                raise _err(node, f"its operands carry time on different axes ({found.axis} vs {cand.axis})")
            found = cand
    if found is None:
        return None
    for v in vals:
        a = axes.get(v.name) if not v.constant else None
        if a is None:
            oa = found.axis - (rank - len(v.shape)) if not same_rank else found.axis
            if 0 <= oa < len(v.shape) and v.shape[oa] != 1:
                raise _err(node, f"operand {v.name} does not change over time but is not broadcast along the "
                                 f"time axis")
    return found


def _slice_axis(node: Node, src, ax: TimeAxis, T: int) -> TimeAxis:
    from snncompile.ops.shape import decode_index

    index = decode_index(node.attrs["index"])
    # expand Ellipsis
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    full = []
    for i in index:
        if i is Ellipsis:
            full.extend([slice(None)] * (len(src) - n_real))
        else:
            full.append(i)
    full.extend([slice(None)] * (len(src) - sum(1 for i in full if i is not None)))
    out_axis, in_axis = 0, 0
    for i in full:
        if i is None:
            out_axis += 1
            continue
        if in_axis == ax.axis:
            if not (isinstance(i, slice) and i.indices(src[in_axis]) == (0, src[in_axis], 1)):
                raise _err(node, "slicing along the time axis")
            return TimeAxis(out_axis, ax.size)
        if isinstance(i, slice):
            out_axis += 1
        in_axis += 1
    raise _err(node, "lost the time axis while slicing")


_CURRENT: list[dict] = [{}]


def time_axes(graph: Graph, input_axes: Optional[dict] = None, T: Optional[int] = None) -> dict[str, Axis]:
    """The time axis of every dynamic value (see the module docstring).

    ``input_axes`` maps graph inputs to their time axis index (default: static, an image; a binary
    input with size T on axis 1 — ``[B, T, …]`` events — is timed on axis 1)."""
    axes: dict[str, Axis] = {}
    _CURRENT[0] = axes
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
        ins = [axes.get(v) for v in node.inputs if not graph.values[v].constant]
        if any(a is POST for a in ins):
            res: Axis = POST
        elif all(a is None for a in ins) and node.op != "repeat":
            if ops.get(node.op).family == "neuron":
                raise _err(node, "a neuron is fed a value that does not change over time (if the model's input "
                                 "has a time axis, declare it: --time-axis N)")
            res = None
        else:
            res = _transfer(graph, node, T)
        for v in node.outputs:
            axes[v] = res
    return axes


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

    def run(self, inputs: Sequence[np.ndarray], *, dtype=np.float64, record: Sequence[str] = (),
            executor=None) -> "StepRun":
        """Run the T steps and then the post graph with the reference executor's op dispatch."""
        ex = executor or StepExecutor()
        ex.reset()
        want = set(self.post.inputs) | set(record) | {o for o, where in self.outputs if where == "step"}
        per_step: dict[str, list[np.ndarray]] = {v: [] for v in want}
        for t in range(self.T):
            res = ex.run(self.step, self.step_inputs(inputs, t), dtype=dtype, record=sorted(want))
            for v in want:
                per_step[v].append(res.values[v] if v in res.values else res.outputs[self.step.outputs.index(v)])
        post_out = ex.run(self.post, self.stack(per_step), dtype=dtype).outputs if self.post.nodes else []
        outs = []
        for name, where in self.outputs:
            if where == "post":
                outs.append(post_out[self.post.outputs.index(name)])
            else:
                outs.append(np.concatenate(per_step[name], axis=self.boundary[name].axis)
                            if name in self.boundary else per_step[name][-1])
        return StepRun(outs, per_step)


@dataclass
class StepRun:
    outputs: list[np.ndarray]
    steps: dict[str, list[np.ndarray]]  # value -> one array per step


def _executor_base():
    from snncompile.backends.reference import ReferenceExecutor

    return ReferenceExecutor


class StepExecutor:
    """The reference executor with neuron state that persists across calls (one call = one step)."""

    def __init__(self):
        base = _executor_base()
        outer = self

        class _Ex(base):
            def run_node(self, graph, node, args, state):
                key = node.attrs.get("state_key") or node.name
                return super().run_node(graph, node, args, outer.states.setdefault(key, {}))

        self._ex = _Ex()
        self.states: dict[str, dict] = {}

    def reset(self) -> None:
        self.states = {}

    def run(self, graph: Graph, inputs, **kw):
        return self._ex.run(graph, inputs, **kw)


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
    out = n.outputs[0]
    ax = axes.get(out)
    if n.op in ("reshape", "expand") and isinstance(ax, TimeAxis):
        shape = list(n.attrs["shape"])
        shape[ax.axis] = step.values[out].shape[ax.axis]
        n.attrs = dict(n.attrs, shape=shape)
    elif n.op == "repeat" and isinstance(ax, TimeAxis):
        src_ax = axes.get(n.inputs[0])
        if src_ax is None:  # the repeat that creates time: T times fewer copies per step
            reps = list(n.attrs["repeats"])
            reps[ax.axis] //= T
            n.attrs = dict(n.attrs, repeats=reps)
    elif ops.get(n.op).family == "neuron":
        n.attrs = dict(n.attrs, step_mode="single", state_key=n.name, multi_step_T=T)


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
        ax = axes.get(n.outputs[0])
        if n.op in ("reshape", "expand") and isinstance(ax, TimeAxis):
            n.attrs = dict(n.attrs, shape=list(post.values[n.outputs[0]].shape))
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
