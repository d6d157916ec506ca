"""One loop that drives a neuron op's one-step function over a node's input, for numpy and torch alike.

A neuron op declares its state (``Neuron.state``): its membrane ``v`` and, where its next step reads them, the
spikes ``s`` it last emitted (``lif``: ``("v", "s")``, for snnTorch's reset-then-charge; ``ilif``:
``("v",)``).  The op supplies

* ``step(attrs, x_t, *state) -> (s_t, v_t)``: one time step from the state in its declared order;
* ``rest(attrs, like, xp) -> state``: the state at rest, arrays shaped and typed like ``like``;

and the array library ``xp`` (the module ``numpy`` or ``torch``: both spell ``empty_like``/``zeros_like``/
``full_like``/``asarray`` alike), so the reference (numpy) and the counting engine (torch) run the same loop.
:func:`charge_trace` runs that loop once more to record ``H``, the membrane each step decides on (its
``charge(attrs, x_t, *state)``), for the ``charge`` hooks that run comparisons and Lava's float neurons use.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..ir.graph import Node
from .registry import get


def run_neuron(node: Node, x, state: dict, step: Callable, rest: Callable, xp,
               start: Optional[tuple] = None) -> list:
    """Run neuron node ``node`` on its input ``x``.

    * ``step_mode == "multi"``: ``x`` is ``[T, ...]``; every step from rest; ``state`` keeps the final ``v``.
    * ``"single"``: one step from ``start`` when given (a state the node's inputs state explicitly), else
      from the state the previous call left in ``state``, else from rest; ``state`` keeps the new state.

    Returns the node's outputs: the spikes, then the membrane after the last step if it has a second output.
    """
    a = node.attrs
    names = get(node.op).neuron.state

    def carried(s, v) -> tuple:  # the state after a step that emitted s and left membrane v
        return tuple({"v": v, "s": s}[k] for k in names)

    if a["step_mode"] == "multi":
        st = rest(a, x[0], xp)
        spikes = xp.empty_like(x)
        for t in range(x.shape[0]):
            s, v = step(a, x[t], *st)
            spikes[t], st = s, carried(s, v)
        state["v"] = st[0]
    else:
        if start is None:
            start = rest(a, x, xp) if state.get("v") is None else tuple(state[k] for k in names)
        spikes, v = step(a, x, *start)
        state.update(zip(names, carried(spikes, v)))
    return [spikes, state["v"]][: len(node.outputs)]


def charge_trace(node: Node, x: np.ndarray, state: dict, step: Callable, charge: Callable, rest: Callable,
                 start: Optional[tuple] = None) -> np.ndarray:
    """``H = charge(attrs, x_t, *state)`` at every step :func:`run_neuron` takes over ``x`` (numpy), shaped
    and typed like ``x`` (the spikes); ``state`` advances as that run leaves it."""
    hs = []

    def recording(a, x_t, *st):
        hs.append(charge(a, x_t, *st))
        return step(a, x_t, *st)

    run_neuron(node, x, state, recording, rest, np, start)
    h = np.empty_like(x)
    h[...] = np.stack(hs) if node.attrs["step_mode"] == "multi" else hs[0]
    return h
