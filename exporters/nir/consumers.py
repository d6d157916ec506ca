"""Run an exported NIR graph in a simulator nobody here wrote: snnTorch (``import_from_nir``) or
Norse (``norse.torch.from_nir``), both built on nirtorch.

Both consumers build torch modules for *unbatched* NIR tensors (snnTorch's ``Flatten`` flattens from
NIR's ``start_dim`` as given), so :func:`run_consumer` feeds one sample at a time, one step per call,
clearing the consumer's neuron state between samples.  Used by the tests and the benchmark that
compare consumers with the original torch model.
"""
from __future__ import annotations

import contextlib
import io
import logging
from typing import Callable

import numpy as np

CONSUMERS = ("snntorch", "norse", "norse-fx")


def load_consumer(graph, consumer: str, dt: float):
    """The torch module ``consumer`` builds from NIR ``graph`` (its own import function, unchanged)."""
    if consumer == "snntorch":
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):  # it prints a warning per rescaled neuron
            return import_from_nir(graph)
    if consumer == "norse":
        import norse.torch

        logging.getLogger().setLevel(logging.ERROR)
        return norse.torch.from_nir(graph, dt=dt)
    if consumer == "norse-fx":
        # Norse's own node mapping through nirtorch's current interpreter: Norse 1.1.0's from_nir still
        # calls the deprecated nirtorch.load, whose executor returns the wrong tensor on graphs with
        # fan-in (a SEW-ResNet's output came back as [128, 4, 4] instead of [10])
        import functools

        import nir
        import nirtorch
        from norse.torch.utils.import_nir import _import_norse_module

        logging.getLogger().setLevel(logging.ERROR)
        fn = functools.partial(_import_norse_module, dt=dt, ignore_warnings=True)
        kinds = {type(n) for n in graph.nodes.values()} - {nir.Input, nir.Output}
        return nirtorch.nir_to_torch(graph, {k: fn for k in kinds})
    raise ValueError(f"unknown consumer {consumer!r} (known: {', '.join(CONSUMERS)})")


def _reset(module, consumer: str) -> None:
    if consumer == "snntorch":
        import snntorch.utils

        snntorch.utils.reset(module)


def run_consumer(module, consumer: str, inputs: np.ndarray, steps: int,
                 step_input: Callable[[np.ndarray, int], np.ndarray] = lambda x, t: x) -> np.ndarray:
    """Outputs ``[steps, N, ...]`` of ``module`` for inputs ``[N, ...]``; ``step_input(x, t)`` gives the
    input of step ``t`` (default: the same static sample at every step)."""
    import torch

    outs = []
    with torch.no_grad():
        for x in inputs:
            _reset(module, consumer)
            state, per = None, []
            for t in range(steps):
                y, state = module(torch.as_tensor(step_input(x, t), dtype=torch.float32), state)
                per.append(y.detach().numpy().copy())
            outs.append(np.stack(per))
    return np.stack(outs, axis=1)
