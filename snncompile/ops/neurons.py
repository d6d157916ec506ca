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


def _neuron_domains(node: Node, domains: Sequence[Domain], graph: Graph) -> list[Domain]:
    return [Domain.binary()] + [Domain.real()] * (len(node.outputs) - 1)


def _neuron_cost(node: Node, graph: Graph) -> Cost:
    return Cost("neuron", graph.values[node.inputs[0]].numel)


def _fires(h: np.ndarray, v_th: float, fire: str) -> np.ndarray:
    return (h >= v_th) if fire == "ge" else (h > v_th)


def lif_step(a: dict, x: np.ndarray, v: np.ndarray, s_prev: np.ndarray):
    """One time step of the neuron described by attributes ``a``; returns (spikes, new V)."""
    tau, v_th, v_reset = a.get("tau"), a["v_threshold"], a.get("v_reset", 0.0)
    fire = a.get("fire", "ge")
    if a.get("style", "charge-fire-reset") == "reset-then-charge":
        beta = a.get("beta", 1.0 if tau is None else 1.0 - 1.0 / tau)
        # snnTorch: subtract: β·V + X − V_th·S[t-1];  zero: the membrane is zeroed first, β·(V·(1 − S[t-1])) + X
        h = beta * v + x - v_th * s_prev if v_reset is None else beta * (v * (1 - s_prev)) + x
        s = _fires(h, v_th, fire).astype(x.dtype)
        return s, h
    if a.get("inv_tau") is not None:  # parametric LIF: 1/τ = sigmoid(w) is multiplied, not divided
        k = a["inv_tau"]
        base = v if v_reset is None or v_reset == 0.0 else v - v_reset
        h = v + (x - base) * k if a.get("decay_input", True) else v - base * k + x
    elif tau is None:
        h = v + x
    elif a.get("decay_input", True):
        if v_reset is None or v_reset == 0.0:
            h = v + (x - v) / tau
        else:
            h = v + (x - (v - v_reset)) / tau
    else:
        if v_reset is None or v_reset == 0.0:
            h = v - v / tau + x
        else:
            h = v - (v - v_reset) / tau + x
    s = _fires(h, v_th, fire).astype(x.dtype)
    v_new = h - s * v_th if v_reset is None else h * (1 - s) + v_reset * s
    return s, v_new


def initial_state(a: dict, shape, dtype):
    v0 = a.get("v_reset") or 0.0
    return np.full(shape, v0, dtype=dtype), np.zeros(shape, dtype=dtype)


@op("lif", "neuron", domain=_neuron_domains, cost=_neuron_cost, arity=(1, 2),
    attrs=("v_threshold", "step_mode"), neuron=Neuron(("v", "s"), "spike when v ≥ v_threshold after charging; reset"))
def lif(node: Node, inputs: Sequence[np.ndarray], state: dict):
    """Leaky integrate-and-fire (IF when tau is None); see the module docstring for the math."""
    a = node.attrs
    x = inputs[0]
    if a["step_mode"] == "multi":
        v, s = initial_state(a, x.shape[1:], x.dtype)
        spikes = np.empty_like(x)
        for t in range(x.shape[0]):
            s, v = lif_step(a, x[t], v, s)
            spikes[t] = s
        state["v"] = v
        return [spikes, v][: len(node.outputs)]
    if len(inputs) > 1:  # explicit membrane passed in by the caller (snnTorch style)
        v = inputs[1] if inputs[1].shape == x.shape else np.zeros_like(x)  # snnTorch zeros a mismatched one
        s = (v > a["v_threshold"]).astype(x.dtype)
    else:
        v, s = state.get("v"), state.get("s")
        if v is None:
            v, s = initial_state(a, x.shape, x.dtype)
    s, v = lif_step(a, x, v, s)
    state["v"], state["s"] = v, s
    return [s, v][: len(node.outputs)]


# -- torch implementations (counting engine); semantics = the numpy reference above --

from .registry import implements  # noqa: E402


def lif_step_torch(a: dict, x, v, s_prev):
    """:func:`lif_step` on torch tensors: the same expressions in the same order, except that the reset
    selects instead of multiplying (``where(S, V_reset, H)`` = ``H·(1 − S) + V_reset·S`` and
    ``where(S, H − V_th, H)`` = ``H − V_th·S`` for finite ``H``, up to the sign of a zero)."""
    import torch

    tau, v_th, v_reset = a.get("tau"), a["v_threshold"], a.get("v_reset", 0.0)
    fire = a.get("fire", "ge")
    if a.get("style", "charge-fire-reset") == "reset-then-charge":
        beta = a.get("beta", 1.0 if tau is None else 1.0 - 1.0 / tau)
        h = beta * v + x - v_th * s_prev if v_reset is None else beta * (v * (1 - s_prev)) + x
        return _fires_torch(h, v_th, fire).to(x.dtype), h
    if a.get("inv_tau") is not None:
        k = a["inv_tau"]
        base = v if v_reset is None or v_reset == 0.0 else v - v_reset
        h = v + (x - base) * k if a.get("decay_input", True) else v - base * k + x
    elif tau is None:
        h = v + x
    elif a.get("decay_input", True):
        h = v + (x - v) / tau if v_reset is None or v_reset == 0.0 else v + (x - (v - v_reset)) / tau
    else:
        h = v - v / tau + x if v_reset is None or v_reset == 0.0 else v - (v - v_reset) / tau + x
    fired = _fires_torch(h, v_th, fire)
    v_new = torch.where(fired, h - v_th, h) if v_reset is None else torch.where(fired, float(v_reset), h)
    return fired.to(x.dtype), v_new


def _fires_torch(h, v_th, fire):
    return (h >= v_th) if fire == "ge" else (h > v_th)


def _initial_state_torch(a, like):
    import torch

    v0 = a.get("v_reset") or 0.0
    return torch.full_like(like, v0), torch.zeros_like(like)


@implements("lif", "torch")
def _lif_torch(node, inputs, state):
    import torch

    a = node.attrs
    x = inputs[0]
    if a["step_mode"] == "multi":
        v, s = _initial_state_torch(a, x[0])
        spikes = torch.empty_like(x)
        for t in range(x.shape[0]):
            s, v = lif_step_torch(a, x[t], v, s)
            spikes[t] = s
        state["v"] = v
        return [spikes, v][: len(node.outputs)]
    if len(inputs) > 1:
        v = inputs[1] if inputs[1].shape == x.shape else torch.zeros_like(x)
        s = (v > a["v_threshold"]).to(x.dtype)
    else:
        v, s = state.get("v"), state.get("s")
        if v is None:
            v, s = _initial_state_torch(a, x)
    s, v = lif_step_torch(a, x, v, s)
    state["v"], state["s"] = v, s
    return [s, v][: len(node.outputs)]
