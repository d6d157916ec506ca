"""The layout of a model's input: its shape and, for multi-step inputs, which axis is time.

A static image (``[B, C, H, W]``) is the same at every step: the model repeats it over T itself. A multi-step
input (spikingjelly's ``[T, B, C, H, W]``, event clips ``[B, T, 2, H, W]``, a time-varying encoding) carries
T on one axis; the time-axis analysis (:mod:`snncompile.passes.time`) must know which, or every neuron looks
fed a constant. The user says so with ``--time-axis N`` or by labelling the shape: ``--input-shape
T=4,B=1,1,16,16`` (labels ``T`` and ``B``; ``C``, ``H``, ``W`` are accepted and mean nothing more). The batch
axis is 0, or 1 when time is axis 0.

The toolchain keeps batches first (sample files, the traced graph's input, the reference executor's
batching): a time-major model is traced on a batch-first input ``[B, T, …]`` that the tracer transposes
(one recorded ``transpose``) before calling the model, so the graph's input has time on axis 1. The
declaration travels in the graph's metadata: ``meta['input_time_axes'] = {input name: axis of the graph
input}``, with ``meta['time_steps']`` (the axis' size).
"""
from __future__ import annotations

from typing import Optional, Sequence

from snncompile.errors import InputError
from snncompile.ir.graph import Graph

LABELS = ("T", "B", "C", "H", "W")


def parse_input_shape(text: str) -> tuple[list[int], Optional[int]]:
    """``'1,3,32,32'`` → ``([1, 3, 32, 32], None)``; ``'T=4,B=1,1,16,16'`` → ``([4, 1, 1, 16, 16], 0)``."""
    shape, time_axis, batch_axis = [], None, None
    for i, token in enumerate(t.strip() for t in text.replace("x", ",").split(",") if t.strip()):
        label, _, number = token.rpartition("=")
        label = label.strip().upper()
        if label and label not in LABELS:
            raise InputError(f"--input-shape: unknown axis label {label!r} in {text!r} (labels: T, B, C, H, W)")
        try:
            shape.append(int(number))
        except ValueError:
            raise InputError(f"--input-shape must be integers like 1,3,32,32 or T=4,B=1,3,32,32, "
                             f"got {text!r}") from None
        if label == "T":
            time_axis = i
        elif label == "B":
            batch_axis = i
    if batch_axis is not None and batch_axis != batch_axis_of(time_axis):
        raise InputError(f"--input-shape {text!r}: the batch axis must be axis {batch_axis_of(time_axis)} "
                         f"(axis 0, or 1 after a leading time axis)")
    return shape, time_axis


def batch_axis_of(time_axis: Optional[int]) -> int:
    """The batch axis of an input whose time axis is ``time_axis``: 1 when time leads, else 0."""
    return 1 if time_axis == 0 else 0


def batch_first(shape: Sequence[int], time_axis: Optional[int]) -> tuple[int, ...]:
    """``shape`` with its batch axis first: a time-major ``[T, B, …]`` becomes ``[B, T, …]`` (the layout of the
    traced graph's input and of sample files); any other layout is already batch first. Its own inverse."""
    shape = tuple(int(s) for s in shape)
    return (shape[1], shape[0]) + shape[2:] if time_axis == 0 and len(shape) >= 2 else shape


def graph_time_axis(time_axis: Optional[int]) -> Optional[int]:
    """The time axis of the traced (batch-first) graph input for a model input with ``time_axis``."""
    return 1 if time_axis == 0 else time_axis


def check_time_axis(time_axis: Optional[int], shape: Optional[Sequence[int]]) -> None:
    """Refuse a time axis outside the shape or equal to the batch axis."""
    if time_axis is None or shape is None:
        return
    if not 0 <= time_axis < len(shape):
        raise InputError(f"--time-axis {time_axis} is outside the input shape {tuple(shape)}")
    if time_axis == 1 and len(shape) < 2:
        raise InputError(f"--time-axis 1 needs a batch axis before it, input shape {tuple(shape)}")


def declare_time_axis(graph: Graph, time_axis: Optional[int], model_T: Optional[int] = None) -> Graph:
    """Record the first input's time axis (``time_axis`` in the model's layout) in ``graph.meta`` (module
    docstring); refuse a T that differs from the model's own ``T`` attribute."""
    axis = graph_time_axis(time_axis)
    if axis is None or not graph.inputs:
        return graph
    shape = graph.values[graph.inputs[0]].shape
    check_time_axis(axis, shape)
    steps = int(shape[axis])
    if model_T is not None and int(model_T) != steps:
        raise InputError(f"the input's time axis {time_axis} has {steps} steps but the model's T is {model_T}; "
                         f"pass -T {steps} or an input with {model_T} steps")
    graph.meta["input_time_axes"] = {graph.inputs[0]: axis}
    graph.meta["time_steps"] = steps
    return graph
