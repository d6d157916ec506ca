"""Integer-spike ("multi-bit") neurons: a separate declaration beside ``lif`` (``neurons.py``).

``ilif`` is the integer leaky integrate-and-fire neuron of SpikeYOLO (``mem_update``) and SDT-V3 (I-LIF).
Attributes: ``max_spike`` (D, an integer ≥ 1), ``decay`` (β), ``step_mode`` (``"multi"``/``"single"``,
as for ``lif``; ``state_key`` for single-step calls). With ``V[-1] = 0``::

    H[t] = β·V[t-1] + X[t]
    S[t] = clamp(round(H[t]), 0, D)        round half to even (torch.round, numpy.round)
    V[t] = H[t] − S[t]                     reset by subtracting the emitted value

Outputs: the spikes, domain ``graded[0,D]`` (:meth:`Domain.graded_spike`: integers *emitted by a neuron*,
unlike a residual sum's ``int[0,k]``), and optionally the membrane ``V`` (``real``).

It is its own op, not a ``lif`` variant, so that a consumer that only knows binary LIF neurons (a backend, an
exporter) refuses it instead of lowering it as a binary neuron.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ir.domain import Domain
from ..ir.graph import Graph, Node
from .registry import Cost, Neuron, op
from .stepping import charge_trace, run_neuron


def _graded_domains(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    return [Domain.graded_spike(int(node.attrs["max_spike"]))] + [Domain.real()] * (len(node.outputs) - 1)


def _graded_cost(node: Node, graph: Graph) -> Cost:
    return Cost("neuron", graph.values[node.inputs[0]].numel)


def ilif_charge(a: dict, x, v):
    """``H = β·V + X``, numpy or torch."""
    return a["decay"] * v + x


def ilif_step(a: dict, x: np.ndarray, v: np.ndarray):
    """One step of the I-LIF neuron with attributes ``a``; returns (integer spikes, new V)."""
    h = ilif_charge(a, x, v)
    s = np.round(np.clip(h, 0, a["max_spike"])).astype(x.dtype)
    return s, h - s


@op("ilif", "neuron", domain=_graded_domains, cost=_graded_cost, arity=(1, 1),
    attrs=("max_spike", "decay", "step_mode"),
    neuron=Neuron(("v",), "emit s = clamp(round(h), 0, max_spike) after charging; reset by subtraction v = h − s",
                  binary=False))
def ilif(node: Node, inputs: Sequence[np.ndarray], state: dict):
    """Integer leaky integrate-and-fire (I-LIF); see the module docstring for the math."""
    return run_neuron(node, inputs[0], state, ilif_step, ilif_rest, np)


def ilif_rest(a: dict, like, xp) -> tuple:
    """``(V,)`` at rest: ``V = 0``, shaped and typed like ``like``."""
    return (xp.zeros_like(like),)


# -- torch implementation (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


def ilif_step_torch(a: dict, x, v):
    """:func:`ilif_step` on torch tensors, the same expressions in the same order (``torch.round`` rounds
    half to even, as ``numpy.round``)."""
    import torch

    h = ilif_charge(a, x, v)
    s = torch.round(torch.clamp(h, 0, a["max_spike"]))
    return s, h - s


@implements("ilif", "torch")
def _ilif_torch(node, inputs, state):
    import torch

    return run_neuron(node, inputs[0], state, ilif_step_torch, ilif_rest, torch)


# -- comparison of runs (backends.reference.compare): the charge H and its distance to a decision --

@implements("ilif", "charge")
def _ilif_charge(node, inputs, state: dict):
    """``H`` (:func:`ilif_charge`) of every step the reference takes on ``inputs`` from ``state``; the spikes
    it emits update ``state``."""
    return charge_trace(node, inputs[0], state, ilif_step, ilif_charge, ilif_rest)


@implements("ilif", "margin")
def _ilif_margin(node, h):
    """Distance of ``H`` from the nearest rounding decision ``k + ½`` (k = 0..D−1): where a last-bit
    difference in ``H`` may change the emitted integer."""
    d = int(node.attrs["max_spike"])
    return np.abs(h - np.clip(np.floor(h) + 0.5, 0.5, d - 0.5))
