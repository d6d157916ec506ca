"""Spiking neuron ops.

``lif`` is the one stateful op family.  Attributes (all floats unless said):

* ``tau`` — membrane time constant; ``None`` for an integrate-and-fire neuron (no leak).
* ``inv_tau`` — for a parametric LIF, the learnt ``1/τ = sigmoid(w)``, applied as a product.
* ``decay_input`` — whether the input is divided by ``tau`` too.
* ``v_threshold`` — firing threshold ``V_th``.
* ``v_reset`` — hard-reset potential; ``None`` for a soft reset (subtract ``V_th``).
* ``fire`` — ``"ge"`` (spike when ``H ≥ V_th``, spikingjelly) or ``"gt"`` (``H > V_th``, Lava/snnTorch).
* ``style`` — ``"charge-fire-reset"`` (spikingjelly, the project's own LIF):

      H[t] = V[t-1] + (X[t] − (V[t-1] − V_reset)) / τ        (decay_input, hard reset)
      H[t] = V[t-1] − (V[t-1] − V_reset) / τ + X[t]          (not decay_input)
      H[t] = V[t-1] + X[t]                                   (IF)
      S[t] = Θ(H[t] − V_th);  V[t] = H[t]·(1 − S[t]) + V_reset·S[t]   (soft: V[t] = H[t] − V_th·S[t])

  or ``"reset-then-charge"`` (snnTorch ``Leaky``, ``beta = 1 − 1/τ``):

      V[t] = β·V[t-1] + X[t] − V_th·S[t-1]   (subtract)   or   β·V[t-1]·(1 − S[t-1]) + X[t] (zero)
      S[t] = Θ(V[t] − V_th)

* ``step_mode`` — ``"multi"``: the input's axis 0 is time and the whole train is processed in one
  call; ``"single"``: one step per call, state carried between the calls that share ``state_key``.

Outputs: the spike tensor (``binary``) and, when the node declares a second output, the membrane
potential after the step (``real``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ir.domain import Domain
from ..ir.graph import Graph, Node
from .registry import Cost, Neuron, op
from .stepping import charge_trace, run_neuron


def _neuron_domains(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    return [Domain.binary()] + [Domain.real()] * (len(node.outputs) - 1)


def _neuron_cost(node: Node, graph: Graph) -> Cost:
    return Cost("neuron", graph.values[node.inputs[0]].numel)


def _fires(h, v_th: float, fire: str):
    """``S = Θ(H − V_th)`` with Θ(0) = 1 (spikingjelly, ``fire="ge"``) or 0 (Lava, SLAYER: ``"gt"``); numpy or torch."""
    return (h >= v_th) if fire == "ge" else (h > v_th)


def _resets_after_firing(a: dict) -> bool:
    """spikingjelly's charge → fire → reset; snnTorch's style resets before charging (``reset-then-charge``)."""
    return a.get("style", "charge-fire-reset") != "reset-then-charge"


def lif_charge(a: dict, x, v, s_prev):
    """``H[t]``, the membrane after charging, for the neuron described by attributes ``a``.  Only ``+ − × ÷``:
    the same expressions, in the same order, on numpy arrays (the reference) and torch tensors (the engine)."""
    tau, v_th, v_reset = a.get("tau"), a["v_threshold"], a.get("v_reset", 0.0)
    if not _resets_after_firing(a):
        beta = a.get("beta", 1.0 if tau is None else 1.0 - 1.0 / tau)
        # snnTorch: subtract: β·V + X − V_th·S[t-1];  zero: the membrane is zeroed first, β·(V·(1 − S[t-1])) + X
        return beta * v + x - v_th * s_prev if v_reset is None else beta * (v * (1 - s_prev)) + x
    if a.get("inv_tau") is not None:  # parametric LIF: 1/τ = sigmoid(w) is multiplied, not divided
        k = a["inv_tau"]
        base = v if v_reset is None or v_reset == 0.0 else v - v_reset
        return v + (x - base) * k if a.get("decay_input", True) else v - base * k + x
    if tau is None:
        return v + x
    if a.get("decay_input", True):
        return v + (x - v) / tau if v_reset is None or v_reset == 0.0 else v + (x - (v - v_reset)) / tau
    return v - v / tau + x if v_reset is None or v_reset == 0.0 else v - (v - v_reset) / tau + x


def lif_step(a: dict, x: np.ndarray, v: np.ndarray, s_prev: np.ndarray):
    """One time step of the neuron described by attributes ``a``; returns (spikes, new V)."""
    h = lif_charge(a, x, v, s_prev)
    s = _fires(h, a["v_threshold"], a.get("fire", "ge")).astype(x.dtype)
    if not _resets_after_firing(a):
        return s, h
    v_th, v_reset = a["v_threshold"], a.get("v_reset", 0.0)
    v_new = h - s * v_th if v_reset is None else h * (1 - s) + v_reset * s
    return s, v_new


def lif_rest(a: dict, like, xp) -> tuple:
    """``(V, S)`` at rest, shaped and typed like ``like``: ``V = V_reset`` (0 for a soft reset), no spikes."""
    return xp.full_like(like, a.get("v_reset") or 0.0), xp.zeros_like(like)


def initial_state(a: dict, shape, dtype):
    """:func:`lif_rest` as numpy arrays of ``shape`` and ``dtype``."""
    return lif_rest(a, np.empty(shape, dtype=dtype), np)


def _membrane_input(node: Node, inputs: Sequence, xp):
    """The state a single-step node's explicit membrane input gives (snnTorch passes ``mem``): ``V`` (zeros
    where its shape is not the input's, as snnTorch does) and ``S = [V > V_th]``; None without one."""
    if len(inputs) < 2 or node.attrs["step_mode"] == "multi":
        return None
    x, v = inputs[0], inputs[1]
    v = v if v.shape == x.shape else xp.zeros_like(x)
    return v, xp.asarray(v > node.attrs["v_threshold"], dtype=x.dtype)


@op("lif", "neuron", domain=_neuron_domains, cost=_neuron_cost, arity=(1, 2),
    attrs=("v_threshold", "step_mode"), neuron=Neuron(("v", "s"), "spike when v ≥ v_threshold after charging; reset"))
def lif(node: Node, inputs: Sequence[np.ndarray], state: dict):
    """Leaky integrate-and-fire (IF when tau is None); see the module docstring for the math."""
    return run_neuron(node, inputs[0], state, lif_step, lif_rest, np, _membrane_input(node, inputs, np))


# -- torch implementations (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


def lif_step_torch(a: dict, x, v, s_prev):
    """:func:`lif_step` on torch tensors: the same charge (:func:`lif_charge`), except that the reset
    selects instead of multiplying (``where(S, V_reset, H)`` = ``H·(1 − S) + V_reset·S`` and
    ``where(S, H − V_th, H)`` = ``H − V_th·S`` for finite ``H``, up to the sign of a zero)."""
    import torch

    h = lif_charge(a, x, v, s_prev)
    v_th, v_reset = a["v_threshold"], a.get("v_reset", 0.0)
    fired = _fires(h, v_th, a.get("fire", "ge"))
    if not _resets_after_firing(a):
        return fired.to(x.dtype), h
    v_new = torch.where(fired, h - v_th, h) if v_reset is None else torch.where(fired, float(v_reset), h)
    return fired.to(x.dtype), v_new


@implements("lif", "torch")
def _lif_torch(node, inputs, state):
    import torch

    return run_neuron(node, inputs[0], state, lif_step_torch, lif_rest, torch, _membrane_input(node, inputs, torch))


# -- comparison of runs (backends.reference.compare) and Lava's float neurons: the charge H --

@implements("lif", "charge")
def _lif_charge(node, inputs, state: dict):
    """``H`` (:func:`lif_charge`, the membrane compared with the threshold) of every step the reference takes
    on ``inputs`` from ``state`` (or from an explicit membrane input); the spikes it emits update ``state``."""
    return charge_trace(node, inputs[0], state, lif_step, lif_charge, lif_rest, _membrane_input(node, inputs, np))
