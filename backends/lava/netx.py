"""Run a lava-dl netx HDF5 file on Lava (CPU, ``Loihi2SimCfg``, ``fixed_pt``): the check that an exported
netx network is what the project's fixed-point executor computes.

All images run in one Lava run, back to back: image ``n`` is sent for ``T`` steps as graded messages and
followed by ``lag`` zero steps that drain the pipeline (each synapse delays by one step; ``lag`` = number
of synapse layers).  netx's ``reset_interval`` zeroes every layer's neurons when its first step of a new
image arrives (``reset_offset = 1``: layer ``i`` sees model step 0 of image ``n`` at Lava time step
``n·P + 1 + i``, ``P = T + lag``).
"""
from __future__ import annotations

import numpy as np

from .availability import require_lava


def run_netx(path: str, x_q: np.ndarray, T: int, lag: int, *, input_bits: int = 9,
             timed: bool = False) -> np.ndarray:
    """Output spikes ``[T, N, outputs]`` of the netx network in ``path`` for quantised inputs ``x_q``:
    ``[N, C, H, W]`` (or ``[N, features]``) presented at every one of ``T`` steps, or with ``timed``
    ``[N, T, C, H, W]``, one input per step (events)."""
    require_lava()
    from lava.lib.dl.netx import hdf5
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    n = len(x_q)
    period = T + lag
    x = np.asarray(x_q, dtype=np.int64)
    x = x if timed else np.repeat(x[:, None], T, axis=1)  # [N, T, features...]
    lava_layout = x.transpose(0, 1, *range(x.ndim - 1, 1, -1))  # CHW -> WHC (netx's XYZ)
    steps = n * period
    data = np.zeros(lava_layout.shape[2:] + (steps,), dtype=np.int64)
    for i in range(n):
        for t in range(T):
            data[..., i * period + t] = lava_layout[i, t]
    net = hdf5.Network(net_config=path, input_message_bits=input_bits, reset_interval=period, reset_offset=1)
    if len(net) != lag:
        raise ValueError(f"{path}: {len(net)} netx blocks, expected {lag}")
    source = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=steps)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        rec = sink.data.get()
    finally:
        net.stop()
    out = rec.reshape(-1, steps)
    spikes = np.zeros((T, n, out.shape[0]), dtype=np.int64)
    for i in range(n):
        for t in range(T):
            spikes[t, i] = out[:, i * period + t + lag]
    return spikes
