"""Loihi fixed-point registers: their widths, the integer semantics of a synapse's weight exponent and of the
LIF neuron (:class:`LIFFixed`), and the rounding of weights and biases into them.

:mod:`snncompile.loihi.fixed` (the quantiser of a whole network) and :mod:`snncompile.loihi.graded` (the graded
I-LIF neuron) both build on these; the semantics are stated in :mod:`snncompile.loihi.fixed`'s docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from snncompile.errors import SnnCompileError

from .rounding import compensated_round, row_groups

V_BITS = 24
V_MAX = 2 ** (V_BITS - 1) - 1
ACT_SHIFT = 6
DECAY_BITS = 12
BIAS_MANT_BITS = 13
BIAS_EXP_MAX = 7
VTH_MANT_BITS = 17


class QuantisationError(SnnCompileError):
    """The network cannot be expressed in Loihi fixed point."""


# -- semantics ----------------------------------------------------------------------------------------

def shift(acc: np.ndarray, e: int) -> np.ndarray:
    """Lava's weight exponent: ``acc << e`` or ``acc >> −e`` (arithmetic, i.e. floor)."""
    acc = np.asarray(acc, dtype=np.int64)
    return np.left_shift(acc, e) if e > 0 else np.right_shift(acc, -e)


def decay(v: np.ndarray, dv: int) -> np.ndarray:
    """Lava LIF's decay: sign-magnitude, truncated toward zero."""
    d = np.asarray(v, dtype=np.int64) * (2 ** DECAY_BITS - dv)
    return np.sign(d) * np.right_shift(np.abs(d), DECAY_BITS)


@dataclass
class LIFFixed:
    dv: int
    vth: "int | np.ndarray"  # effective threshold (vth_mant << 6): one per population or one per neuron
    bias: np.ndarray  # effective bias per neuron (bias_mant << bias_exp), natural order
    soft_reset: bool = False
    fire: str = "ge"  # "ge": v' >= vth; "gt": v' > vth (Lava's own LIF)

    def step(self, a: np.ndarray, v: np.ndarray):
        """One step: returns (spikes int64 0/1, new membrane, H before the reset)."""
        h = decay(v, self.dv) + np.left_shift(np.asarray(a, dtype=np.int64), ACT_SHIFT) + self.bias
        h = np.clip(h, -V_MAX, V_MAX)
        # ge: h >= vth == (h > vth - 1), Lava's strict comparison on vth - 1; gt: Lava's comparison itself
        s = ((h > self.vth) if self.fire == "gt" else (h >= self.vth)).astype(np.int64)
        v_new = h - s * self.vth if self.soft_reset else np.where(s == 1, 0, h)
        return s, v_new, h

    def to_dict(self) -> dict:
        vth = int(self.vth) if np.ndim(self.vth) == 0 else np.asarray(self.vth, dtype=np.int64)
        return {"dv": int(self.dv), "vth": vth, "bias": np.asarray(self.bias, dtype=np.int64),
                "soft_reset": bool(self.soft_reset), "fire": self.fire}

    @staticmethod
    def from_dict(d: dict, n: Optional[int] = None) -> "LIFFixed":
        bias = np.asarray(d["bias"], dtype=np.int64)
        if n is not None and bias.size == 1:
            bias = np.full(n, int(bias.reshape(-1)[0]), dtype=np.int64)
        vth = np.asarray(d["vth"], dtype=np.int64)
        vth = int(vth) if vth.ndim == 0 else vth
        return LIFFixed(int(d["dv"]), vth, bias, bool(d.get("soft_reset", False)), d.get("fire", "ge"))


def weight_exponent(w: np.ndarray) -> tuple[int, str, int]:
    """The exponent, the sign mode and the largest mantissa (Lava's final form) of weights ``w``: the smallest
    ``e`` at which round-to-nearest fits the 8-bit mantissa (mixed sign: even numbers in [−256, 254]; one sign:
    [0, 255] or [−255, 0]).  All-zero weights: ``(0, "null", 0)``."""
    w = np.asarray(w, dtype=np.float64)
    m = float(np.abs(w).max()) if w.size else 0.0
    if m == 0.0:
        return 0, "null", 0
    if w.min() >= 0:
        mode, top = "excitatory", 255
    elif w.max() <= 0:
        mode, top = "inhibitory", 255
    else:
        mode, top = "mixed", 254
    e = math.ceil(math.log2(m / top))
    while True:
        if mode == "mixed":  # even numbers: an 8-bit mantissa times 2
            q = 2 * np.round(w / 2 ** (e + 1))
        else:
            q = np.round(w / 2 ** e)
        if np.abs(q).max() <= (256 if mode == "mixed" and q.min() < 0 else top):
            return int(e), mode, top
        e += 1


def quantise_weights(w: np.ndarray, second_moments: Optional[np.ndarray] = None) -> tuple[np.ndarray, int, str]:
    """Integer weights in Lava's final form and the exponent: ``w ≈ w_int · 2^e`` (:func:`weight_exponent`).
    The rounding is to nearest, or, given ``second_moments`` [groups, n, n] (``Σ x xᵀ`` of what the rows
    ``w[o].reshape(-1)`` of each group multiply), error-compensating (:mod:`snncompile.loihi.rounding`)."""
    w = np.asarray(w, dtype=np.float64)
    e, mode, top = weight_exponent(w)
    if mode == "null":
        return np.zeros_like(w), 0, "null"
    unit = 2.0 ** (e + 1) if mode == "mixed" else 2.0 ** e  # mixed: even mantissas, integers of 2^(e+1)
    lo, hi = {"mixed": (-128, 127), "excitatory": (0, top), "inhibitory": (-top, 0)}[mode]
    k = round_on_grid(w / unit, lo, hi, second_moments)
    return k * (unit / 2.0 ** e), e, mode


def round_on_grid(w: np.ndarray, lo: int, hi: int, second_moments: Optional[np.ndarray] = None) -> np.ndarray:
    """Integers in ``[lo, hi]`` for ``w`` (in grid units): to nearest, or error-compensating row by row given
    the weight groups' ``second_moments`` (:func:`snncompile.loihi.rounding.compensated_round`)."""
    if second_moments is None:
        return np.clip(np.round(w), lo, hi)
    rows = w.reshape(w.shape[0], -1)
    k = np.concatenate([compensated_round(r, H, lo, hi)
                        for r, H in zip(row_groups(rows, len(second_moments)), second_moments)])
    return k.reshape(w.shape)


def quantise_bias(b: np.ndarray) -> tuple[np.ndarray, int]:
    """``bias ≈ mant << exp`` with a 13-bit signed mantissa and one 3-bit exponent per population."""
    b = np.asarray(b, dtype=np.float64)
    m = float(np.abs(b).max()) if b.size else 0.0
    lim = 2 ** (BIAS_MANT_BITS - 1) - 1
    e = 0 if m <= lim else min(BIAS_EXP_MAX, math.ceil(math.log2(m / lim)))
    mant = np.clip(np.round(b / 2 ** e), -lim - 1, lim)
    return (mant * 2 ** e).astype(np.int64), e
