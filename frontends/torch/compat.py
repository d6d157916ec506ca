"""Running GPU-trained spiking models on a CPU-only machine.

The papers' code builds spikingjelly neurons with ``backend='cupy'`` (a CUDA kernel).  The cupy
and torch back-ends compute the same LIF; only the torch one runs on a CPU.  So, while a model is
built or unpickled, constructing a cupy neuron is allowed without cupy installed, and before
tracing every neuron with a ``backend`` attribute set to ``'cupy'`` is switched to ``'torch'``.
"""
from __future__ import annotations

import contextlib
import sys

import torch

GPU_BACKENDS = ("cupy",)


@contextlib.contextmanager
def cpu_constructible_neurons():
    """Let spikingjelly accept ``backend='cupy'`` at construction when cupy is missing."""
    mod = sys.modules.get("spikingjelly.clock_driven.neuron")
    if mod is None:
        try:
            import spikingjelly.clock_driven.neuron as mod  # noqa: F811
        except ImportError:
            yield
            return
    original = getattr(mod, "check_backend", None)

    def lenient(backend: str):
        if backend in GPU_BACKENDS:
            return
        return original(backend)

    if original is not None:
        mod.check_backend = lenient
    try:
        yield
    finally:
        if original is not None:
            mod.check_backend = original


def use_cpu_backends(model: torch.nn.Module) -> int:
    """Switch GPU-only neuron back-ends to ``'torch'``; returns how many modules were switched."""
    switched = 0
    for m in model.modules():
        if getattr(m, "backend", None) in GPU_BACKENDS:
            try:
                m.backend = "torch"
            except (AttributeError, ValueError, AssertionError):
                continue
            switched += 1
    return switched
