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
  consumer that needs the individual steps.

  Fixed mode: the integrator sums the *integers* the readout receives (``snncompile.loihi.integrator``:
  its per-step map split into integer weights ``W`` and a host gain ``g`` per row; 24-bit accumulation, no
  decay, no threshold) and the host dequantises the sum once: the readout's dequantisation is affine, so
  ``Σ_t real_t = scale·g·S + T·c`` (:func:`per_step_from_totals`).  Refused, with the reason, where the sum
  over T may not fit the 24-bit register (bounded by the quantiser's bound on the readout value), where a row
  of the map is no integer multiple of one gain, or where a readout has terms through several maps (one
  integrator each: the value's bound does not bound each part).
"""
from __future__ import annotations

import numpy as np

from snncompile import ops
from snncompile.errors import InputError, UnsupportedOpError
from snncompile.loihi.integrator import dequantise_sums, integrator_params
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


def place_readouts(plan: LavaPlan, program: StepProgram, place: str, fixed: dict | None = None) -> None:
    """Put every readout of ``plan`` on the host (nothing to do) or on chip (each ``readout`` process becomes
    an ``integrator``); refuses, with the reason, a placement that would change the result.  ``fixed``: the
    quantised step graph's ``meta['fixed']`` (fixed mode)."""
    if place not in PLACES:
        raise InputError(f"--readout must be one of {', '.join(PLACES)}, got {place!r}")
    if place == "host":
        return
    for value, names in plan.readouts.items():
        why = why_not_on_chip(program, value)
        if why:
            raise UnsupportedOpError(f"--readout chip: {why}")
        if plan.mode == "fixed":
            _fixed_integrators(plan, value, names, fixed["readouts"][value], program.T)
        for name in names:
            plan.procs[name].type = "integrator"


def _fixed_integrators(plan: LavaPlan, value: str, names: list[str], readout: dict, T: int) -> None:
    """Replace the fixed-point readout processes ``names`` of ``value`` by integer integrators' parameters."""
    if len(names) > 1:
        raise UnsupportedOpError(f"--readout chip: readout {value} receives its terms through {len(names)} "
                                 f"different maps; in fixed point the bound on the value does not bound the "
                                 f"integer sum of each (use --readout host)")
    spec = plan.procs[names[0]]
    try:
        spec.params = integrator_params(spec.params["G"], readout, T, c=spec.params.get("c"))
    except UnsupportedOpError as err:
        raise UnsupportedOpError(f"--readout chip: readout {value}: {err} (use --readout host)") from None


def per_step_from_totals(totals: np.ndarray, T: int, params: dict | None = None) -> np.ndarray:
    """``[images, n]`` integrals ``S`` → ``[images·T, n]`` rows ``S/T`` (what the post graph reads per step).
    Fixed point (``params``: the integrator's, with its host ``gain``): the integer sums are dequantised
    first (:func:`snncompile.loihi.integrator.dequantise_sums`)."""
    if params is not None and "gain" in params:
        totals = dequantise_sums(totals, params, T)
    return np.repeat(np.asarray(totals, dtype=np.float64) / T, T, axis=0)
