"""Multi-step LIF neurons for the example models.

Two interchangeable implementations of the same neuron, selected by :func:`make_lif`:

* ``'own'``: :class:`MultiStepLIF`, pure torch, defined here;
* ``'spikingjelly'``: ``spikingjelly.clock_driven.neuron.MultiStepLIFNode(backend='torch')``, the class the
  Spikformer / Spikingformer authors use.

Both compute, for an input ``X`` of shape ``[T, ...]`` and every element independently
(``V[-1] = V_reset``)::

    decay_input=True :  H[t] = V[t-1] + (X[t] - (V[t-1] - V_reset)) / tau
    decay_input=False:  H[t] = V[t-1] - (V[t-1] - V_reset) / tau + X[t]
    S[t] = Θ(H[t] - V_th)                  with Θ(z) = 1 if z >= 0 else 0   (fires at equality)
    V[t] = H[t] * (1 - S[t]) + V_reset * S[t]          hard reset (v_reset is a number)
    V[t] = H[t] - V_th * S[t]                          soft reset (v_reset is None)

and return ``S`` (same shape and dtype as ``X``, values in {0, 1}). With ``tau = 2`` and ``V_reset = 0``:
``H[t] = (V[t-1] + X[t]) / 2``. The backward pass replaces dΘ/dz by the sigmoid surrogate
``α·σ(αz)·(1 - σ(αz))`` with ``α = 4``; with ``detach_reset`` the reset term carries no gradient.
The floating-point operations are those of spikingjelly 0.0.0.0.14 in the same order, so both back-ends give
bit-identical spikes.
"""
from typing import Optional

import torch
import torch.nn as nn

__all__ = ["SigmoidSpike", "MultiStepLIF", "make_lif", "NEURON_BACKENDS", "IntegerSpike", "MultiStepILIF"]

NEURON_BACKENDS = ("own", "spikingjelly")


class SigmoidSpike(torch.autograd.Function):
    """Forward ``Θ(z) = (z >= 0)``; backward ``α·σ(αz)·(1 - σ(αz))`` (spikingjelly's ``surrogate.Sigmoid``)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.alpha = alpha
        return (z >= 0).to(z)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (z,) = ctx.saved_tensors
        sg = (z * ctx.alpha).sigmoid()
        return grad_output * (1.0 - sg) * sg * ctx.alpha, None


class MultiStepLIF(nn.Module):
    """Multi-step leaky integrate-and-fire neuron, input and output ``[T, ...]`` (see the module docstring).

    The membrane starts at ``v_reset`` on every call: no state survives between forward calls, so
    :meth:`reset` (kept for ``spikingjelly.clock_driven.functional.reset_net``) has nothing to do.
    """

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0, v_reset: Optional[float] = 0.0,
                 detach_reset: bool = True, decay_input: bool = True, surrogate_alpha: float = 4.0):
        super().__init__()
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.detach_reset = bool(detach_reset)
        self.decay_input = bool(decay_input)
        self.surrogate_alpha = float(surrogate_alpha)

    def reset(self) -> None:
        """No-op: the membrane is re-initialised at every forward call."""

    def _charge(self, v, x):
        if self.decay_input:
            if self.v_reset is None or self.v_reset == 0.0:
                return v + (x - v) / self.tau
            return v + (x - (v - self.v_reset)) / self.tau
        if self.v_reset is None or self.v_reset == 0.0:
            return v * (1.0 - 1.0 / self.tau) + x
        return v - (v - self.v_reset) / self.tau + x

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        v = 0.0 if self.v_reset is None else self.v_reset
        spikes = []
        for t in range(x_seq.shape[0]):
            v = self._charge(v, x_seq[t])
            s = SigmoidSpike.apply(v - self.v_threshold, self.surrogate_alpha)
            s_r = s.detach() if self.detach_reset else s
            if self.v_reset is None:
                v = v - s_r * self.v_threshold
            else:
                v = (1.0 - s_r) * v + s_r * self.v_reset
            spikes.append(s)
        return torch.stack(spikes, 0)

    def extra_repr(self) -> str:
        return (f"tau={self.tau}, v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
                f"detach_reset={self.detach_reset}, decay_input={self.decay_input}")


def make_lif(backend: str = "own", tau: float = 2.0, v_threshold: float = 1.0, v_reset: Optional[float] = 0.0,
             detach_reset: bool = True, decay_input: bool = True) -> nn.Module:
    """Return a multi-step LIF: ``'own'`` -> :class:`MultiStepLIF`, ``'spikingjelly'`` ->
    ``MultiStepLIFNode(..., backend='torch')`` (sigmoid surrogate, α = 4, in both)."""
    if backend == "own":
        return MultiStepLIF(tau=tau, v_threshold=v_threshold, v_reset=v_reset,
                            detach_reset=detach_reset, decay_input=decay_input)
    if backend == "spikingjelly":
        from spikingjelly.clock_driven.neuron import MultiStepLIFNode
        return MultiStepLIFNode(tau=tau, decay_input=decay_input, v_threshold=v_threshold, v_reset=v_reset,
                                detach_reset=detach_reset, backend="torch")
    raise ValueError(f"unknown neuron backend {backend!r}; expected one of {NEURON_BACKENDS}")


class IntegerSpike(torch.autograd.Function):
    """Forward ``clamp(round(z), 0, D)`` (round half to even, as ``torch.round``); backward passes the gradient
    where ``0 <= z <= D`` and blocks it outside (SpikeYOLO's straight-through quantiser)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, max_spike: int) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.max_spike = max_spike
        return torch.round(torch.clamp(z, 0, max_spike))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (z,) = ctx.saved_tensors
        inside = (z >= 0) & (z <= ctx.max_spike)
        return grad_output * inside.to(grad_output), None


class MultiStepILIF(nn.Module):
    """Integer leaky integrate-and-fire (I-LIF, SpikeYOLO's ``mem_update`` / SDT-V3), input and output
    ``[T, ...]``. With ``V[-1] = 0`` and ``β = decay``::

        H[t] = β·V[t-1] + X[t]
        S[t] = clamp(round(H[t]), 0, D)        an integer spike in {0, 1, …, D}
        V[t] = H[t] - S[t]                     reset by subtracting the emitted value

    Training uses :class:`IntegerSpike` (straight-through inside [0, D]); the reset term is detached. At
    inference the integer spike can be sent as one graded spike of payload S[t] or as S[t] binary spikes in
    D sub-steps of a time step.
    """

    def __init__(self, decay: float = 0.25, max_spike: int = 4):
        super().__init__()
        self.decay = float(decay)
        self.max_spike = int(max_spike)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        v = 0.0
        spikes = []
        for t in range(x_seq.shape[0]):
            h = v * self.decay + x_seq[t]
            s = IntegerSpike.apply(h, self.max_spike)
            v = h - s.detach()
            spikes.append(s)
        return torch.stack(spikes, 0)

    def extra_repr(self) -> str:
        return f"decay={self.decay}, max_spike={self.max_spike}"
