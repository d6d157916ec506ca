"""Value domains: the abstract value of every tensor element.

The lattice is ``BINARY ⊂ INT[lo, hi] ⊂ REAL[lo, hi]``:

* ``Domain.binary()`` is ``INT[0, 1]`` — a spike train.
* ``Domain.integer(lo, hi)`` is every integer in ``[lo, hi]`` — e.g. a sum of spike trains.
* ``Domain.real(lo, hi)`` is every real in ``[lo, hi]`` (bounds may be infinite).

Integers carry their provenance: ``Domain.graded(D)`` is ``INT[0, D]`` *emitted by a neuron* (an integer,
"multi-bit" spike: I-LIF, SpikeYOLO), printed ``graded[0,D]``. A graded spike is one event with a payload
(a Loihi 2 graded spike, or D binary sub-steps); a plain ``int[0,D]`` is arithmetic on spikes (a residual
sum), which no neuron emits. Shape ops and max-pooling keep the mark (they return their input's domain);
every arithmetic transfer function drops it, and a join keeps it only when both sides have it.

Transfer functions are sound over-approximations: for every concrete input in the argument
domains, the concrete result lies in the returned domain.  Integer bounds are exact wherever
the papers' analysis is exact (sums of spikes, spike matmuls).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

INF = math.inf


@dataclass(frozen=True)
class Domain:
    """A closed interval ``[lo, hi]`` over the integers (``integer=True``) or the reals."""

    lo: float
    hi: float
    integer: bool
    graded: bool = False  # integers emitted by a neuron as graded spikes (module docstring)

    # -- constructors -------------------------------------------------------------------------
    @staticmethod
    def binary() -> "Domain":
        return Domain(0, 1, True)

    @staticmethod
    def integer_range(lo: float, hi: float) -> "Domain":
        return Domain(lo, hi, True)

    @staticmethod
    def graded_spike(max_spike: int) -> "Domain":
        """The output of a neuron that emits integers ``0..max_spike`` (binary when ``max_spike`` is 1)."""
        if int(max_spike) <= 1:
            return Domain.binary()
        return Domain(0, int(max_spike), True, True)

    @staticmethod
    def real(lo: float = -INF, hi: float = INF) -> "Domain":
        return Domain(float(lo), float(hi), False)

    @staticmethod
    def of_array(values) -> "Domain":
        """The tightest domain holding every element of a concrete array."""
        import numpy as np

        arr = np.asarray(values)
        if arr.size == 0:
            return Domain(0, 0, True)
        if np.isnan(arr).any():
            return Domain.real()
        lo, hi = float(arr.min()), float(arr.max())
        is_int = bool(np.all(np.mod(arr, 1) == 0)) and math.isfinite(lo) and math.isfinite(hi)
        if is_int:
            return Domain(int(lo), int(hi), True)
        return Domain(lo, hi, False)

    # -- predicates -----------------------------------------------------------------------------
    @property
    def is_binary(self) -> bool:
        return self.integer and self.lo >= 0 and self.hi <= 1

    @property
    def is_integer(self) -> bool:
        return self.integer

    @property
    def is_graded(self) -> bool:
        """Integers above 1 emitted by a neuron (a graded spike), not computed from spikes."""
        return self.graded and self.integer and not self.is_binary

    @property
    def is_real(self) -> bool:
        return not self.integer

    def contains(self, lo: float, hi: float, integral: bool) -> bool:
        """Whether observed values spanning ``[lo, hi]`` (all integers if ``integral``) fit: the soundness
        check of the domain analysis against a run (tests/reference/test_op_domains.py)."""
        if self.integer and not integral:
            return False
        return self.lo <= lo and hi <= self.hi

    # -- lattice -------------------------------------------------------------------------------
    def join(self, other: "Domain") -> "Domain":
        """Least upper bound: the smallest domain holding both."""
        return Domain(min(self.lo, other.lo), max(self.hi, other.hi), self.integer and other.integer,
                      self.graded and other.graded)

    def as_real(self) -> "Domain":
        return Domain(float(self.lo), float(self.hi), False)

    # -- arithmetic transfer functions ------------------------------------------------------------
    def __add__(self, other: "Domain") -> "Domain":
        return Domain(_sum(self.lo, other.lo), _sum(self.hi, other.hi), self.integer and other.integer)

    def __neg__(self) -> "Domain":
        return Domain(-self.hi, -self.lo, self.integer)

    def __sub__(self, other: "Domain") -> "Domain":
        return self + (-other)

    def __mul__(self, other: "Domain") -> "Domain":
        corners = [_prod(a, b) for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Domain(min(corners), max(corners), self.integer and other.integer)

    def scale(self, factor: float) -> "Domain":
        """``factor · x``; integer only when the factor is an integer."""
        integral = self.integer and float(factor).is_integer()
        corners = [_prod(self.lo, factor), _prod(self.hi, factor)]
        lo, hi = min(corners), max(corners)
        return Domain(int(lo), int(hi), True) if integral else Domain(float(lo), float(hi), False)

    def sum_of(self, terms: int) -> "Domain":
        """Sum of ``terms`` elements each in this domain."""
        return Domain(_prod(self.lo, terms), _prod(self.hi, terms), self.integer)

    def dot(self, other: "Domain", terms: int) -> "Domain":
        """A dot product over ``terms`` pairs: ``Σ_k a_k·b_k``."""
        return (self * other).sum_of(terms)

    def relu(self) -> "Domain":
        return Domain(max(self.lo, 0), max(self.hi, 0), self.integer, self.graded and self.lo >= 0)

    # -- text --------------------------------------------------------------------------------
    def __str__(self) -> str:
        if self.is_binary and self.lo == 0 and self.hi == 1:
            return "binary"
        if self.integer:
            kind = "graded" if self.graded else "int"
            return f"{kind}[{_fmt(self.lo)},{_fmt(self.hi)}]"
        if self.lo == -INF and self.hi == INF:
            return "real"
        return f"real[{_fmt(self.lo)},{_fmt(self.hi)}]"

    @staticmethod
    def parse(text: str) -> "Domain":
        """Inverse of ``str()``: ``binary``, ``int[0,4]``, ``graded[0,4]``, ``real``, ``real[-1,2.5]``."""
        text = text.strip()
        if text == "binary":
            return Domain.binary()
        if text == "real":
            return Domain.real()
        for prefix, integer in (("int[", True), ("graded[", True), ("real[", False)):
            if text.startswith(prefix) and text.endswith("]"):
                lo, hi = (float(p) for p in text[len(prefix):-1].split(","))
                if integer:
                    return Domain(_int_or_inf(lo), _int_or_inf(hi), True, prefix == "graded[")
                return Domain(lo, hi, False)
        raise ValueError(f"not a value domain: {text!r}")


def _sum(a: float, b: float) -> float:
    if (a == INF and b == -INF) or (a == -INF and b == INF):
        return -INF if a < 0 else INF
    return a + b


def _prod(a: float, b: float) -> float:
    """Interval-arithmetic product where ``0 · ∞ = 0``."""
    if a == 0 or b == 0:
        return 0
    return a * b


def _int_or_inf(x: float):
    return x if math.isinf(x) else int(x)


def _fmt(x: float) -> str:
    if x == INF:
        return "inf"
    if x == -INF:
        return "-inf"
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.6g}"
