"""Checking the static value domains against real runs (``snncompile check --verify-domains N``).

:func:`verify_domains` runs the reference executor in float64 on every sample (in runs of the traced
batch size, :mod:`.batching`) and, for every dynamic value — graph inputs and every node output —
accumulates the observed minimum, maximum and whether every element was an integer.  A value
violates its static domain ``graph.values[v].domain`` when

* the domain is an integer interval and an observed element is not an integer, or lies outside
  ``[lo, hi]`` — checked **exactly** (float64 holds every such integer sum exactly);
* the domain is real and an observed element lies outside ``[lo − tol, hi + tol]`` with
  ``tol = rtol · max(1, |lo|, |hi|)``: a weight layer's real bound is a sound interval computed in
  float64 from the weights, so only rounding-level slack is allowed;
* an element is NaN.

A passing report means the analysis was sound on these samples; a failing one names each value,
its node's location (op, module path, source line), the static domain and the observed range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from snncompile.analysis import infer_domains
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph

from .batching import chunks
from .executor import ReferenceExecutor


@dataclass
class Observed:
    """Running min / max / integrality of one value over all runs."""

    lo: float = math.inf
    hi: float = -math.inf
    integral: bool = True
    nan: bool = False

    def update(self, a: np.ndarray) -> None:
        if a.size == 0:
            return
        nan = np.isnan(a)
        if nan.any():
            self.nan = True
            a = a[~nan]
            if a.size == 0:
                return
        self.lo = min(self.lo, float(a.min()))
        self.hi = max(self.hi, float(a.max()))
        if self.integral:
            self.integral = bool(np.all(np.mod(a[np.isfinite(a)], 1) == 0))

    def as_domain(self) -> Domain:
        if self.lo > self.hi:
            return Domain(0, 0, True)
        if self.integral and math.isfinite(self.lo) and math.isfinite(self.hi):
            return Domain(int(self.lo), int(self.hi), True)
        return Domain.real(self.lo, self.hi)

    def __str__(self) -> str:
        return str(self.as_domain()) + (" with NaN" if self.nan else "")


@dataclass
class Violation:
    """One value whose observed range escapes its static domain."""

    value: str
    node: str  # the producing node's location, or "graph input"
    static: Domain
    observed: Observed
    reason: str

    def __str__(self) -> str:
        return (f"{self.value} ({self.node}): static {self.static}, observed {self.observed} — {self.reason}")

    def to_dict(self) -> dict:
        o = self.observed
        return {"value": self.value, "node": self.node, "static_domain": str(self.static),
                "observed": {"min": o.lo, "max": o.hi, "integral": o.integral, "nan": o.nan},
                "reason": self.reason}


@dataclass
class DomainReport:
    """The outcome of :func:`verify_domains`."""

    samples: int
    checked: int
    violations: list[Violation] = field(default_factory=list)
    observed: dict[str, Observed] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def __str__(self) -> str:
        head = (f"verified {self.checked} values on {self.samples} sample(s): "
                + ("every observed value lies in its static domain" if self.ok
                   else f"{len(self.violations)} violation(s)"))
        return "\n".join([head] + [f"  {v}" for v in self.violations])

    def to_dict(self) -> dict:
        return {"samples": self.samples, "checked": self.checked, "ok": self.ok,
                "violations": [v.to_dict() for v in self.violations]}


def check_value(static: Domain, obs: Observed, rtol: float = 1e-9) -> Optional[str]:
    """Why ``obs`` escapes ``static``, or None (the rules of the module docstring)."""
    if obs.nan:
        return "NaN observed"
    if obs.lo > obs.hi:  # never observed (empty tensor)
        return None
    if static.integer:
        if not obs.integral:
            return "non-integer value in an integer domain"
        if obs.lo < static.lo or obs.hi > static.hi:
            return "integer outside the static interval"
        return None
    tol = rtol * max([1.0] + [abs(b) for b in (static.lo, static.hi) if math.isfinite(b)])
    if obs.lo < static.lo - tol or obs.hi > static.hi + tol:
        return "value outside the static interval"
    return None


def verify_domains(graph: Graph, samples, *, rtol: float = 1e-9,
                   executor: Optional[ReferenceExecutor] = None) -> DomainReport:
    """Run every sample (float64) and check each dynamic value against its static domain.

    ``samples``: an array ``[N, ...]`` for a single-input graph (a tuple of them otherwise); N need
    not be a multiple of the traced batch.  Domains are inferred first if the graph has none yet.
    """
    if any(val.domain is None for val in graph.values.values() if not val.constant):
        infer_domains(graph)
    executor = executor or ReferenceExecutor()
    observed: dict[str, Observed] = {}

    def see(name: str, a: np.ndarray) -> None:
        observed.setdefault(name, Observed()).update(np.asarray(a))

    def hook(node, args, outs) -> None:
        for v, a in zip(node.outputs, outs):
            see(v, a)

    n = 0
    for chunk in chunks(graph, samples):
        for v, a in zip(graph.inputs, chunk.inputs):
            see(v, a.astype(np.float64))
        executor.run(graph, chunk.inputs, dtype=np.float64, hooks=[hook])
        n += chunk.real
    violations = []
    for v, obs in observed.items():
        static = graph.values[v].domain
        reason = check_value(static, obs, rtol)
        if reason:
            producer = graph.producer(v)
            violations.append(Violation(v, producer.location if producer else "graph input", static, obs, reason))
    return DomainReport(n, len(observed), violations, observed)
