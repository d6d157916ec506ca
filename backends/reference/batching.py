"""Running N samples through a graph traced with batch size B.

The tracer records concrete shapes, so a graph's reshapes (``flatten(0, 1)`` of ``[T, B, ...]``)
bake in the traced batch ``B = graph.meta['batch']`` (the leading axis of every graph input).
:func:`chunks` cuts N samples into runs of exactly B, padding the last run with copies of its own
first sample.  Padding with real samples keeps every observed value a value the model really
computes (what domain verification needs); additive counts remove the copies exactly (see
:mod:`.counts`).  The model must treat batch elements independently (true in eval mode).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from snncompile.errors import InputError
from snncompile.ir.graph import Graph


@dataclass
class Chunk:
    """One run's inputs: ``inputs[k]`` is ``[B, ...]``; the first ``real`` samples are real, the rest
    copies of sample 0 of the chunk."""

    inputs: list[np.ndarray]
    real: int
    start: int  # index of the chunk's first sample among all samples

    @property
    def padding(self) -> int:
        return self.inputs[0].shape[0] - self.real


def traced_batch(graph: Graph) -> int:
    """The batch size the graph was traced with (leading axis of its first input)."""
    if graph.inputs:
        shape = graph.values[graph.inputs[0]].shape
        if shape:
            return int(shape[0])
    return int(graph.meta.get("batch", 1))


def as_sample_arrays(graph: Graph, samples) -> list[np.ndarray]:
    """Normalise ``samples`` to one ``[N, ...]`` array per graph input.

    A single-input graph takes an array ``[N, ...]`` (or a list of per-sample arrays, each ``[...]``
    or ``[1, ...]``); a multi-input graph takes a tuple with one such entry per input.
    """
    per_input = list(samples) if len(graph.inputs) > 1 else [samples]
    if len(per_input) != len(graph.inputs):
        raise InputError(f"the graph takes {len(graph.inputs)} inputs; got samples for {len(per_input)}")
    out = []
    for name, s in zip(graph.inputs, per_input):
        want = tuple(graph.values[name].shape)
        if hasattr(s, "detach"):
            s = s.detach().cpu().numpy()
        if isinstance(s, (list, tuple)):
            parts = [p.detach().cpu().numpy() if hasattr(p, "detach") else np.asarray(p) for p in s]
            s = np.concatenate(parts) if parts and parts[0].ndim == len(want) else np.stack(parts)
        s = np.asarray(s)
        if s.ndim == len(want) - 1:  # one sample without its batch axis
            s = s[None]
        if s.shape[1:] != want[1:]:
            raise InputError(f"samples for input {name!r} have shape {s.shape}; expected [N, {', '.join(map(str, want[1:]))}]")
        out.append(s)
    n = {a.shape[0] for a in out}
    if len(n) != 1:
        raise InputError(f"inputs hold different numbers of samples: {sorted(n)}")
    return out


def chunks(graph: Graph, samples) -> Iterator[Chunk]:
    """Yield the samples in runs of the traced batch size, the last one padded (see module doc)."""
    arrays = as_sample_arrays(graph, samples)
    b = traced_batch(graph)
    n = arrays[0].shape[0]
    for start in range(0, n, b):
        parts = [a[start:start + b] for a in arrays]
        real = parts[0].shape[0]
        if real < b:
            parts = [np.concatenate([p, np.repeat(p[:1], b - real, axis=0)]) for p in parts]
        yield Chunk(parts, real, start)


def repeated(chunk: Chunk) -> list[np.ndarray]:
    """A run of B copies of the chunk's first sample (used to subtract padding from counts)."""
    return [np.repeat(a[:1], a.shape[0], axis=0) for a in chunk.inputs]


def num_samples(graph: Graph, samples) -> int:
    return as_sample_arrays(graph, samples)[0].shape[0]


__all__ = ["Chunk", "traced_batch", "as_sample_arrays", "chunks", "repeated", "num_samples"]

