"""The graph of a loaded model, as every command traces it."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from snncompile.frontends import slayer
from snncompile.frontends import torch as torch_frontend

if TYPE_CHECKING:  # the loader imports torch
    from snncompile.frontends.torch.loading import LoadedModel


def trace_loaded(loaded: "LoadedModel", batch: int = 1):
    """The graph of a loaded model, as every command traces it: SLAYER networks read, torch models traced on
    ``batch`` samples with the declared time axis (a time-major model traced on its batch-first transpose)."""
    if slayer.is_slayer_network(loaded.model):  # SLAYER blocks are read, not traced (see frontends/slayer)
        graph = slayer.slayer_graph(loaded.model, loaded.example_input(batch), name=loaded.name)
        if loaded.samples is not None:  # the graph reads [B, T, ...]: SLAYER's samples with time moved first
            loaded.samples = np.moveaxis(loaded.samples, -1, 1)
        return graph
    graph = torch_frontend.trace(loaded.model, loaded.example_input(batch), [loaded.input_domain], name=loaded.name,
                                 time_major=loaded.time_axis == 0)
    return torch_frontend.declare_time_axis(graph, loaded.time_axis, getattr(loaded.model, "T", None))
