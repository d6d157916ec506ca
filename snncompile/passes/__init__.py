"""Graph passes (named, registered, each logging its rewrites and refusals) and the per-step view.

=====================  ==========================================================================
``drop_identity``      remove identity ops and no-op reshapes/permutes (exact)
``simplify_shapes``    compose reshape/permute chains, drop the no-ops (exact)
``fold_weight_chain``  two weight layers with no neuron between → one (dense∘dense, pointwise∘conv; exact algebra)
``fold_batch_norm``    BN(W⊛x+b) = (s·W)⊛x + (s·b+t) (exact algebra; float64 constants)
``fold_scale``         x·c (c>0 scalar) → next neuron's V_th/c, V_reset/c (identical spikes)
``fold_tau``           LIF input decay 1/τ → the feeding weights; decay_input=False (Lava's form)
=====================  ==========================================================================

:data:`LOIHI_PIPELINE` is the order the Loihi backend applies them in.  :mod:`.time` builds the
one-step graph (:func:`slice_time`, :func:`retime`).  Delay balancing (Lava's one-step delay per synapse
process) is done where the processes exist, in ``snncompile.backends.lava.plan``.
"""
from . import fold_bn, fold_scale, fold_tau, fold_weights, simplify  # noqa: F401 - registers the passes
from .base import (Pass, PassLog, Refusal, Rewrite, all_passes, get_pass, register_pass,
                   run_passes)
from snncompile.analysis.time_axes import POST, TimeAxis, TimeAxisError, time_axes

from .time import StepProgram, retime, slice_time

LOIHI_PIPELINE = ("drop_identity", "fold_batch_norm", "simplify_shapes", "fold_weight_chain", "fold_scale",
                  "fold_tau")

__all__ = ["Pass", "PassLog", "Rewrite", "Refusal", "register_pass", "get_pass", "all_passes", "run_passes",
           "LOIHI_PIPELINE", "slice_time", "retime", "time_axes", "StepProgram", "TimeAxis", "TimeAxisError", "POST"]
