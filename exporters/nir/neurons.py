"""The IR's ``lif`` op as a NIR neuron node, at a stated time step ``dt``.

NIR neurons are continuous-time.  A consumer integrates them with forward Euler at its own step
``dt`` (snnTorch's ``import_from_nir`` hard-codes ``dt = 1e-4``; Norse's ``from_nir`` takes ``dt``):

    LIF:  τ·dv/dt = (v_leak − v) + r·I   →   v[t] = v[t−1] + (dt/τ)·(v_leak − v[t−1] + r·I[t])
    IF:   dv/dt = r·I                    →   v[t] = v[t−1] + r·I[t]   (every consumer integrates once
                                                                       per step, dt not applied)
    spike z = Θ(v − v_threshold) (strict: v > v_threshold), then v = v_reset where z = 1.

The traced neurons map onto these exactly (in real arithmetic) when the IR's time constant τ_IR
(steps) becomes ``τ = τ_IR·dt`` (seconds):

* spikingjelly charge–fire–reset, ``decay_input``:
  ``H = V + (X − (V − V_r))/τ_IR``  →  ``LIF(τ = τ_IR·dt, r = 1, v_leak = V_r, v_reset = V_r)``;
* the same without ``decay_input``: ``H = V − (V − V_r)/τ_IR + X``  →  ``r = τ_IR``;
* spikingjelly IF: ``H = V + X``  →  ``IF(r = 1, v_reset = V_r)``;
* snnTorch ``Leaky`` with zero reset: ``V = β·V·(1 − S[t−1]) + X``  →  ``LIF(τ = dt/(1 − β),
  r = 1/(1 − β), v_leak = 0, v_reset = 0)`` (its delayed zero reset is a hard reset to 0);
  ``β = 1`` → ``IF(r = 1)``.

Spikingjelly fires at ``H ≥ V_th``; NIR at ``v > v_threshold``.  For a float32 membrane,
``H ≥ V_th ⇔ H > pred(V_th)`` where ``pred`` is the next float32 below: such neurons are written
with ``v_threshold = pred(V_th)`` and ``metadata["snncompile_fire"] = "ge"`` (exact for consumers
that compare in float32).  A soft reset (subtract ``V_th``) has no NIR form: refused.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from snncompile.errors import SnnCompileError


class NeuronNotExpressible(SnnCompileError):
    """A traced neuron whose dynamics NIR's neuron nodes cannot state."""


def _full(shape: Sequence[int], value: float) -> np.ndarray:
    """float64 so that a consumer recovering dt/τ divides exactly (1e-4 / 2e-4 == 0.5)."""
    return np.full(tuple(int(s) for s in shape), value, dtype=np.float64)


def nir_threshold(v_th: float, fire: str) -> float:
    """NIR's strict threshold that reproduces ``fire`` ("ge" or "gt") for float32 membranes."""
    t = np.float32(v_th)
    return float(np.nextafter(t, np.float32(-np.inf))) if fire == "ge" else float(t)


def lif_to_nir(attrs: dict, shape: Sequence[int], dt: float):
    """The NIR node (``nir.LIF`` or ``nir.IF``) of an IR ``lif`` with attributes ``attrs`` over
    neurons of shape ``shape`` (no batch axis); see the module docstring for the mapping."""
    import nir

    v_reset = attrs.get("v_reset")
    if v_reset is None:
        raise NeuronNotExpressible("soft reset (V -= V_th after a spike): NIR neurons reset to v_reset only")
    fire = attrs.get("fire", "ge")
    v_th = nir_threshold(attrs["v_threshold"], fire)
    meta = {"snncompile_fire": fire, "snncompile_v_threshold": float(attrs["v_threshold"]), "dt": float(dt)}
    if attrs.get("style", "charge-fire-reset") == "reset-then-charge":
        if v_reset != 0.0:
            raise NeuronNotExpressible(f"reset-then-charge neuron with reset to {v_reset}: only zero reset maps")
        beta = float(attrs.get("beta", 1.0))
        if beta >= 1.0:
            return nir.IF(r=_full(shape, 1.0), v_threshold=_full(shape, v_th), v_reset=_full(shape, 0.0),
                          metadata=meta)
        k = 1.0 - beta
        return nir.LIF(tau=_full(shape, dt / k), r=_full(shape, 1.0 / k), v_leak=_full(shape, 0.0),
                       v_threshold=_full(shape, v_th), v_reset=_full(shape, 0.0), metadata=meta)
    tau = attrs.get("tau")
    if attrs.get("inv_tau") is not None:
        tau = 1.0 / float(attrs["inv_tau"])
    if tau is None or (isinstance(tau, float) and math.isinf(tau)):
        return nir.IF(r=_full(shape, 1.0), v_threshold=_full(shape, v_th), v_reset=_full(shape, v_reset),
                      metadata=meta)
    r = 1.0 if attrs.get("decay_input", True) else float(tau)
    return nir.LIF(tau=_full(shape, float(tau) * dt), r=_full(shape, r), v_leak=_full(shape, v_reset),
                   v_threshold=_full(shape, v_th), v_reset=_full(shape, v_reset), metadata=meta)
