"""Helpers shared by the custom process models: the pipelined clock and the recording files.

**Clock.**  Images run back to back (T model steps each).  A unit whose output for model step 0 of the
first image leaves it at Lava time step ``lag + 1`` (``lag`` = the synapse delays on its path) handles,
at Lava step ``s``, the global model step ``m = s − 1 − lag``: image ``m // T``, step ``m % T``.  Neurons
reset their state when ``m % T == 0`` and stay silent outside ``0 ≤ m < steps`` (the pipeline's fill and
drain), so consecutive images never interact.

**Recording.**  A process given ``rec=(path, shape, dtype)`` writes row ``m`` of a ``numpy.memmap`` that
the host created before the run; the host reads it afterwards.  This is how spike trains, membranes,
readout values and op counts leave the Lava processes without moving large Vars one element per
message.
"""
from __future__ import annotations

import numpy as np


class Clock:
    def __init__(self, params: dict):
        self.lag = int(params.get("lag", 0))
        self.T = int(params["T"])
        self.steps = int(params["steps"])

    def model_step(self, time_step: int) -> int:
        """The global model step handled at Lava ``time_step`` (may be out of range)."""
        return time_step - 1 - self.lag

    def valid(self, m: int) -> bool:
        return 0 <= m < self.steps

    def image_start(self, m: int) -> bool:
        return m % self.T == 0


class Recorder:
    """Lazily opened memmap; ``write(m, row)``."""

    def __init__(self, spec):
        self.spec = spec
        self.mm = None

    def write(self, m: int, row) -> None:
        if self.spec is None:
            return
        if self.mm is None:
            path, shape, dtype = self.spec
            self.mm = np.memmap(path, mode="r+", dtype=np.dtype(dtype), shape=tuple(shape))
        self.mm[m] = row

    def close(self) -> None:
        if self.mm is not None:
            self.mm.flush()
            self.mm = None


def create(path: str, shape, dtype) -> tuple:
    """Create a zero-filled recording file and return its spec for a process parameter."""
    mm = np.memmap(path, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape))
    mm.flush()
    del mm
    return (path, tuple(int(s) for s in shape), np.dtype(dtype).str)
