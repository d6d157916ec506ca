"""Event counting shared by every op's counting rules: exact nonzero counts on torch, and the neuron rule
every op with the ``neuron`` trait gets.

A counting rule (concern ``"count"``, the torch engine's; the numpy reference's synaptic rule is ``"synops"``)
is called once per graph as ``rule(node, graph, spikes)`` — ``spikes``: the names of the graph's values that
are 0/1 by construction, given by the engine — and returns ``None`` (the node produces no events in this
graph) or ``count(args, outs, nonzero) -> {field: int or 0-d/1-d int64 tensor}`` (``nonzero(i)``: the engine's
cached nonzero count of operand ``i``).  Fields: ``synaptic_ops``, ``neuron_updates``, ``spikes``,
``spikes_per_step``, and optionally ``nonzero_inputs`` / ``output_nonzero`` when computed anyway.

torch is imported lazily (a third-party import): the numpy side of the project does not need it.
"""
from __future__ import annotations


def exact_sum(t, dim=None):
    """``Σ t`` over ``dim`` of a 0/1 tensor, exact: in its own float dtype while every partial sum is an
    integer the dtype represents (numel < 2**24 in float32, 2**53 in float64), else in float64."""
    import torch

    limit = 2 ** 24 if t.dtype in (torch.float32, torch.bfloat16, torch.float16) else 2 ** 53
    if t.dtype in (torch.float16, torch.bfloat16) or t.numel() >= limit:
        t = t.to(torch.float64)
    return t.sum() if dim is None else t.sum(dim)


def nonzero(t, spikes: bool = False, dim=None):
    """``nnz(t)`` (over ``dim``) as int64: ``Σ t`` for 0/1 spikes, else ``Σ (t ≠ 0)``."""
    import torch

    if spikes:
        return exact_sum(t, dim).to(torch.int64)
    mask = t != 0
    return mask.sum() if dim is None else mask.sum(dim)


def neuron_rule(binary: bool):
    """The counting rule of a neuron op (derived from its ``neuron`` trait): ``neuron_updates`` = elements of
    the input current, ``spikes`` = nonzero outputs (for 0/1 spikes their exact sum; graded spikes are
    counted as nonzero elements, not summed), split per time step for a multi-step node."""

    def rule(node, graph, spikes):
        multi = node.attrs.get("step_mode") == "multi"

        def count(args, outs, nonzero_of):
            s = outs[0]
            per_step = nonzero(s.reshape(s.shape[0], -1), binary, 1) if multi else nonzero(s, binary).reshape(1)
            total = per_step.sum()
            return {"neuron_updates": args[0].numel(), "spikes": total, "spikes_per_step": per_step,
                    "output_nonzero": total}

        return count

    return rule
