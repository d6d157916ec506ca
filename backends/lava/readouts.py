"""Where a readout runs: on the host (default) or on chip (``lower --readout host|chip``).

A *readout* is a value the step graph hands to the host's post graph each model step (``StepProgram``'s
boundary): e.g. Spikformer's mean over tokens of the residual stream, or a head applied at every step
(Meta-SpikeFormer's ``fc`` per step).  The post graph stacks the T steps along the value's time axis and
continues (mean over T, the head).

* ``host`` — a ``StepReadout`` records the value at every model step; the host stacks them.
* ``chip`` — a ``StepIntegrator`` (``procs/integrator``): a non-spiking integrator population (no
  threshold, no decay) accumulates ``S = Σ_t r_t`` and is read once per image.  This is exact when the
  host uses the steps only through a sum or mean over their time axis: every consumer of the stacked
  value in the post graph is a ``sum``/``mean`` reduction whose axes include the time axis.  Then
  feeding the post graph ``S/T`` at every step changes nothing (``Σ_t S/T = S``), so the mean over T is a
  constant scale on the host (:func:`per_step_from_totals`).  Otherwise the placement is refused with the
  consumer that needs the individual steps.  Float mode only (a fixed-point integrator would need the
  readout's dequantisation folded into its registers; refused with that reason).
"""
from __future__ import annotations

import numpy as np

from snncompile import ops
from snncompile.errors import InputError, UnsupportedOpError
from snncompile.passes.time import StepProgram

from .plan import LavaPlan

PLACES = ("host", "chip")


def why_not_on_chip(program: StepProgram, value: str) -> str | None:
    """Why readout ``value`` cannot be integrated on chip (None: it can): a post-graph consumer that is not a
    sum/mean over the value's time axis."""
    post = program.post
    if value not in post.values or value in post.outputs:
        return f"readout {value} is a graph output: the host returns every step"
    axis = program.boundary[value].axis
    rank = len(post.values[value].shape)
    for node in post.consumers(value):
        kind = ops.get(node.op).reduction
        dims = node.attrs.get("dims")
        dims = range(rank) if dims is None else [d % rank for d in dims]
        if kind not in ("sum", "mean") or axis not in dims:
            return (f"readout {value} feeds {node.name} ({node.op}) on the host, which needs each step, not only "
                    f"their sum over the time axis")
    return None


def place_readouts(plan: LavaPlan, program: StepProgram, place: str) -> None:
    """Put every readout of ``plan`` on the host (nothing to do) or on chip (each ``readout`` process becomes
    an ``integrator``); refuses, with the reason, a placement that would change the result."""
    if place not in PLACES:
        raise InputError(f"--readout must be one of {', '.join(PLACES)}, got {place!r}")
    if place == "host":
        return
    if plan.mode != "float":
        raise UnsupportedOpError("--readout chip: float mode only (the fixed-point readout's dequantisation "
                                 "is not folded into an integrator yet)")
    for value, names in plan.readouts.items():
        why = why_not_on_chip(program, value)
        if why:
            raise UnsupportedOpError(f"--readout chip: {why}")
        for name in names:
            plan.procs[name].type = "integrator"


def per_step_from_totals(totals: np.ndarray, T: int) -> np.ndarray:
    """``[images, n]`` integrals ``S`` → ``[images·T, n]`` rows ``S/T`` (what the post graph reads per step)."""
    return np.repeat(np.asarray(totals, dtype=np.float64) / T, T, axis=0)
