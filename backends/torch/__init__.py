"""The counting engine on torch: runs the IR with torch ops on any device and counts events exactly.

* :mod:`.executor` — :class:`TorchExecutor` runs a graph node by node through each op's ``"torch"``
  hook (declared in ``snncompile/ops`` beside the numpy reference it must match).
* :mod:`.counting` — :class:`TorchCounter`: the per-node counts of
  :func:`snncompile.backends.reference.count_events` (same :class:`EventCounts` records), computed on
  the device by each op's ``"count"`` hook and summed as int64 tensors.
* :mod:`.device` — ``cpu`` / ``cuda[:N]`` strings checked against what this machine has.

The numpy reference executor stays the specification: on CPU in float64 the counts are equal
(tests/torch_engine).
"""
from .counting import TorchCounter, count_events_torch
from .device import resolve_device
from .executor import TorchExecutor

__all__ = ["TorchExecutor", "TorchCounter", "count_events_torch", "resolve_device"]
