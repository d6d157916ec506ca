"""The neuron table: which module classes are spiking neurons and what their IR attributes are.

Each entry maps a fully qualified class name to an extractor ``module -> attrs`` giving the
``lif`` op's attributes (see ``snncompile.ops.neurons``), or, with ``"op": "ilif"``, an integer-spike
neuron's (``snncompile.ops.graded``). SpikeYOLO-style ``mem_update`` modules, whose class lives in whatever
file a user copied it to, are recognised by what they hold (:func:`_spikeyolo_mem_update`).  Lookup walks the class's MRO, so
subclasses of a known neuron are neurons too.  A user's own neuron class can opt in without
touching this table by defining ``snncompile_neuron_attrs(self) -> dict``.
"""
from __future__ import annotations

import math
import re
import sys
from typing import Callable, Optional

import torch

Extractor = Callable[[torch.nn.Module], dict]

# attribute names that mark a module as a thresholded (neuron-like) unit
THRESHOLD_ATTRS = ("v_threshold", "threshold", "thresh", "vth", "v_th")


def _num(x) -> Optional[float]:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return float(x.detach().reshape(-1)[0])
    return float(x)


def _spikingjelly(step_mode: Optional[str]) -> Extractor:
    """spikingjelly BaseNode subclasses: charge (LIF/IF/PLIF), fire at H ≥ V_th, hard/soft reset."""

    def extract(m: torch.nn.Module) -> dict:
        attrs = {
            "tau": _num(getattr(m, "tau", None)),
            "decay_input": bool(getattr(m, "decay_input", True)) if getattr(m, "decay_input", None) is not None else True,
            "v_threshold": _num(m.v_threshold),
            "v_reset": _num(m.v_reset),
            "fire": "ge",
            "style": "charge-fire-reset",
            "step_mode": step_mode or ("multi" if getattr(m, "step_mode", "s") == "m" else "single"),
        }
        w = getattr(m, "w", None)
        if isinstance(w, torch.Tensor):  # ParametricLIF: 1/τ = sigmoid(w)
            attrs["inv_tau"] = float(torch.sigmoid(w.detach().double()))
            attrs["tau"] = 1.0 / attrs["inv_tau"]
        if type(m).__name__.split("MultiStep")[-1].startswith("IF"):
            attrs["tau"] = None
        return attrs

    return extract


def _project_lif(m: torch.nn.Module) -> dict:
    """The example models' own MultiStepLIF (spikingjelly semantics in pure torch)."""
    return {
        "tau": _num(m.tau), "decay_input": bool(getattr(m, "decay_input", True)),
        "v_threshold": _num(m.v_threshold), "v_reset": _num(getattr(m, "v_reset", 0.0)),
        "fire": "ge", "style": "charge-fire-reset", "step_mode": "multi",
    }


def _snntorch_leaky(m: torch.nn.Module) -> dict:
    """snnTorch Leaky: V = β·V + X − V_th·S[t−1] (subtract) or zero reset; S = Θ(V − V_th) strictly."""
    beta = min(max(_num(m.beta), 0.0), 1.0)
    mechanism = getattr(m, "reset_mechanism", "subtract")
    if mechanism not in ("subtract", "zero"):
        raise ValueError(f"snnTorch reset_mechanism {mechanism!r} is not supported")
    return {
        "tau": math.inf if beta == 1.0 else 1.0 / (1.0 - beta),
        "beta": beta,
        "decay_input": False,
        "v_threshold": _num(m.threshold),
        "v_reset": None if mechanism == "subtract" else 0.0,
        "fire": "gt", "style": "reset-then-charge", "step_mode": "single",
    }


def _project_ilif(m: torch.nn.Module) -> dict:
    """The example models' MultiStepILIF: integer spikes clamp(round(β·V + X), 0, D), reset by the spike."""
    return {"op": "ilif", "max_spike": int(m.max_spike), "decay": _num(m.decay), "step_mode": "multi"}


_MULTISPIKE_NAME = re.compile(r"MultiSpike(\d+)$")


def _integer_quantiser_bound(q: torch.nn.Module) -> Optional[int]:
    """D of a SpikeYOLO-style quantiser ``round(clamp(x, 0, D))``: ``MultiSpike4`` (D in the class name) or
    ``MultiSpike(min_value=0, max_value=D)``; None when it is not one."""
    if getattr(q, "min_value", 0) not in (0, 0.0):
        return None
    bound = getattr(q, "max_value", None)
    if bound is None:
        match = _MULTISPIKE_NAME.search(type(q).__name__)
        bound = match and int(match.group(1))
    return int(bound) if bound is not None and float(bound).is_integer() and bound >= 1 else None


def _spikeyolo_mem_update(m: torch.nn.Module) -> Optional[dict]:
    """SpikeYOLO's ``mem_update`` (I-LIF), recognised by what it holds rather than where it lives: a multi-step
    module with an integer quantiser ``qtrick`` and a decay (its own ``decay`` attribute or, as in the authors'
    files, the module-level constant ``decay`` of the file defining it)."""
    q = getattr(m, "qtrick", None)
    if not isinstance(q, torch.nn.Module):
        return None
    bound = _integer_quantiser_bound(q)
    decay = getattr(m, "decay", None)
    if decay is None:
        decay = getattr(sys.modules.get(type(m).__module__), "decay", None)
    if bound is None or not isinstance(decay, (int, float)):
        return None
    return {"op": "ilif", "max_spike": bound, "decay": float(decay), "step_mode": "multi"}


NEURON_TABLE: dict[str, Extractor] = {
    "spikingjelly.clock_driven.neuron.MultiStepLIFNode": _spikingjelly("multi"),
    "spikingjelly.clock_driven.neuron.MultiStepIFNode": _spikingjelly("multi"),
    "spikingjelly.clock_driven.neuron.MultiStepParametricLIFNode": _spikingjelly("multi"),
    "spikingjelly.clock_driven.neuron.LIFNode": _spikingjelly("single"),
    "spikingjelly.clock_driven.neuron.IFNode": _spikingjelly("single"),
    "spikingjelly.clock_driven.neuron.ParametricLIFNode": _spikingjelly("single"),
    "spikingjelly.activation_based.neuron.LIFNode": _spikingjelly(None),
    "spikingjelly.activation_based.neuron.IFNode": _spikingjelly(None),
    "spikingjelly.activation_based.neuron.ParametricLIFNode": _spikingjelly(None),
    "snncompile.examples.neurons.MultiStepLIF": _project_lif,
    "snncompile.examples.neurons.MultiStepILIF": _project_ilif,
    "snntorch._neurons.leaky.Leaky": _snntorch_leaky,
}


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def neuron_extractor(module: torch.nn.Module) -> Optional[Extractor]:
    """The extractor for ``module`` if it is a known neuron, else None."""
    if hasattr(module, "snncompile_neuron_attrs"):
        return lambda m: dict(m.snncompile_neuron_attrs())
    for cls in type(module).__mro__:
        ex = NEURON_TABLE.get(qualified_name(cls))
        if ex is not None:
            return ex
    if _spikeyolo_mem_update(module) is not None:
        return _spikeyolo_mem_update
    return None


def looks_like_neuron(module: torch.nn.Module) -> bool:
    """A module outside torch.nn that holds a threshold attribute: probably an unknown neuron."""
    if type(module).__module__.startswith("torch."):
        return False
    return any(hasattr(module, a) for a in THRESHOLD_ATTRS)


def reset_states(model: torch.nn.Module) -> None:
    """Clear membrane state kept between forward calls (spikingjelly ``reset``, snnTorch ``reset_mem``)."""
    for m in model.modules():
        if neuron_extractor(m) is None:
            continue
        for method in ("reset", "reset_mem"):
            fn = getattr(m, method, None)
            if callable(fn):
                try:
                    fn()
                except TypeError:
                    pass
                break
