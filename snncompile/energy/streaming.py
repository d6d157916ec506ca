"""Exact event counts over a dataset: a DataLoader feeds the torch engine (or the numpy reference).

:func:`count_dataset` reads the samples in batches of the graph's traced size B (the last one may be
short; both engines correct it exactly), with ``workers`` loader processes and pinned host memory when
counting on CUDA, shows a progress bar with an ETA on stderr, and — under torchrun — counts only this
process's shard and sums the counters of all processes (:mod:`.distributed`).
"""
from __future__ import annotations

import sys
from typing import Optional

import numpy as np

from snncompile.backends.reference import ReferenceExecutor, count_events
from snncompile.backends.reference.batching import traced_batch
from snncompile.backends.reference.counts import EventCounts
from snncompile.backends.torch import TorchCounter
from snncompile.energy.report import check_samples
from snncompile.errors import InputError
from snncompile.ir.graph import Graph

from . import distributed

ENGINES = ("torch", "numpy")


def count_dataset(graph: Graph, source, *, engine: str = "torch", device="cpu", dtype=np.float64,
                  workers: int = 0, progress: Optional[bool] = None) -> EventCounts:
    """Exact :class:`EventCounts` of ``graph`` over every sample of ``source`` (see the module doc).

    ``progress``: None = a bar when stderr is a terminal, False = none, True = always.  Under torchrun
    every process returns the summed counts of all processes.
    """
    import torch
    from torch.utils.data import DataLoader


    check_samples(graph, source)
    device = torch.device(device)
    if engine == "numpy" and device.type != "cpu":
        raise InputError("--engine numpy runs on the CPU only; use --engine torch for --device cuda")
    if distributed.launched():
        device = distributed.join(device)
    b = traced_batch(graph)
    loader = DataLoader(source, batch_size=b, sampler=distributed.sampler_for(source), shuffle=False,
                        num_workers=workers, pin_memory=device.type == "cuda", drop_last=False)
    if engine == "torch":

        counter = TorchCounter(graph, device, getattr(torch, np.dtype(dtype).name))
    else:

        executor, total = ReferenceExecutor(), EventCounts(0)
    bar = None
    if progress is not False and distributed.rank() == 0:
        from tqdm import tqdm

        bar = tqdm(total=len(source), unit="img", file=sys.stderr, desc="report",
                   leave=False, dynamic_ncols=True, disable=None if progress is None else False)
    try:
        for batch in loader:
            if engine == "torch":
                counter.add([batch])
            else:
                total.add(count_events(graph, batch.numpy(), dtype=dtype, executor=executor))
            if bar is not None:
                bar.update(len(batch) * distributed.world())
    finally:
        if bar is not None:
            bar.close()
    counts = counter.result() if engine == "torch" else total
    if distributed.launched():
        counts = distributed.all_reduce_counts(graph, counts, device)
    return counts
