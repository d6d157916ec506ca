"""Loihi fixed point of graded-spike (I-LIF) neurons: the integer semantics and the registers' quantiser.

The float neuron (op ``ilif``, :mod:`snncompile.ops.graded`), with ``V[-1] = 0``::

    H[t] = β·V[t-1] + X[t];   S[t] = clamp(round(H[t]), 0, D);   V[t] = H[t] − S[t]

In fixed point the membrane is an integer in units of ``S_v = 2^k`` per 1.0 (``S_v = K``, the neuron's
activation scale: an I-LIF applies no input decay, so a synaptic current ``X`` arrives as ``a = X·S_v/64``
and enters the membrane as ``a << 6``, exactly as for :class:`~snncompile.loihi.registers.LIFFixed`)::

    h  = sign(v)·((|v|·(4096 − dv)) >> 12) + (a << 6) + bias,   clipped to ±(2²³ − 1)
    s  = clamp((h + 2^(k−1)) >> k, 0, D)          round half up: ⌊h/S_v + 1/2⌋ (arithmetic shift = floor)
    v' = h − s·S_v                                 reset by subtracting the emitted payload

``dv = round((1 − β)·4096)`` (Lava's 12-bit decay register, sign-magnitude truncation toward zero); the
bias is the feeding layers' bias in membrane units (13-bit mantissa << exponent, as for a LIF).

**Rounding.**  The float model rounds half to even (``torch.round``); the integer neuron rounds half up,
which costs one add and one shift (no parity test).  The two differ only when ``h`` is an exact odd multiple
of ``S_v/2``, a set the fixed-point membrane hits with probability about ``1/S_v`` per update where the float
membrane almost never lands exactly on a half; the accuracy over the digits test split is measured in
``tests/lava/test_graded.py``.

**Downstream.**  The emitted ``s`` (0..D) is one graded spike (a payload; a zero sends nothing); a Lava
``Sparse`` with ``num_message_bits > 0`` multiplies it by each weight: ``a = (Σ w·s) << e``, the same
arithmetic as for the residual stream's graded spike counts.

**On silicon.**  Loihi 2 carries graded spikes (payloads up to 24 bits in Lava's models) as a stock feature
of its synapses; its stock neuron models do not emit ``clamp(round(h), 0, D)`` nor reset by the payload, so
this neuron assumes a programmable (microcode) neuron.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .registers import ACT_SHIFT, DECAY_BITS, V_MAX, LIFFixed, QuantisationError, decay


@dataclass
class ILIFFixed:
    """The fixed-point I-LIF neuron (module docstring): ``dv`` decay register, ``shift`` = log2 of the membrane
    scale S_v, ``max_spike`` = D, ``bias`` per neuron (natural order)."""

    dv: int
    shift: int
    max_spike: int
    bias: np.ndarray

    def step(self, a: np.ndarray, v: np.ndarray):
        """One step: returns (graded spikes int64 0..D, new membrane, h before the reset)."""
        h = decay(v, self.dv) + np.left_shift(np.asarray(a, dtype=np.int64), ACT_SHIFT) + self.bias
        h = np.clip(h, -V_MAX, V_MAX)
        half = (1 << self.shift) >> 1
        s = np.clip(np.right_shift(h + half, self.shift), 0, self.max_spike)
        return s, h - np.left_shift(s, self.shift), h

    def to_dict(self) -> dict:
        return {"graded": True, "dv": int(self.dv), "shift": int(self.shift), "max_spike": int(self.max_spike),
                "bias": np.asarray(self.bias, dtype=np.int64)}

    @staticmethod
    def from_dict(d: dict, n: Optional[int] = None) -> "ILIFFixed":
        bias = np.asarray(d["bias"], dtype=np.int64)
        if n is not None and bias.size == 1:
            bias = np.full(n, int(bias.reshape(-1)[0]), dtype=np.int64)
        return ILIFFixed(int(d["dv"]), int(d["shift"]), int(d["max_spike"]), bias)


def fixed_neuron(d: dict, n: Optional[int] = None):
    """The fixed-point neuron model of a register dict: :class:`ILIFFixed` for a graded neuron's registers
    (``graded`` set), else :class:`~snncompile.loihi.registers.LIFFixed`."""
    return ILIFFixed.from_dict(d, n) if d.get("graded") else LIFFixed.from_dict(d, n)


def _ilif_registers(attrs: dict) -> tuple[float, int]:
    """(β, D) of a graded neuron; a graded neuron op without them has no fixed-point model here."""
    if "decay" not in attrs or "max_spike" not in attrs:
        raise QuantisationError(f"a graded-spike neuron without I-LIF attributes (decay, max_spike: got "
                                f"{sorted(attrs)}) has no fixed-point model")
    return float(attrs["decay"]), int(attrs["max_spike"])


def membrane_bound(attrs: dict, x_bound: float, max_spike: int) -> float:
    """An upper bound of ``|H|`` for a graded neuron whose input current is bounded by ``x_bound``.

    ``|V[t]| ≤ max(|H[t]|, 1/2)`` (the reset subtracts ``S = clamp(round(H), 0, D)``), so
    ``|H| ≤ β·|H| + |X|`` gives ``|H| ≤ |X|/(1 − β)``; the emission range needs ``D + 1/2``."""
    beta, _ = _ilif_registers(attrs)
    if not 0.0 <= beta < 1.0:
        raise QuantisationError(f"I-LIF decay {beta} outside [0, 1): its membrane has no bound in fixed point")
    return max(x_bound / (1.0 - beta), max_spike + 0.5)


def quantise_graded(attrs: dict, K: int, bias_name: str) -> tuple[dict, dict]:
    """The registers of a graded neuron in a scale class with activation scale ``K`` (a power of two ≥ 64);
    returns (the ``fixed`` attribute, the per-layer rounding report)."""
    shift = int(round(math.log2(K)))
    if 2 ** shift != K:
        raise QuantisationError(f"activation scale {K} is not a power of two")
    beta, d = _ilif_registers(attrs)
    dv = int(round((1.0 - beta) * 2 ** DECAY_BITS))
    fixed = {"graded": True, "dv": dv, "shift": shift, "max_spike": d, "bias": bias_name,
             "K": K}
    detail = {"K": K, "dv": dv, "membrane_scale": K,
              "decay_rel_error": abs((1 - dv / 2 ** DECAY_BITS) - beta) / beta if beta else 0.0,
              "rounding": "half up"}
    return fixed, detail
