"""The neuron table: which module classes are spiking neurons and what their IR attributes are.

Each entry maps a fully qualified class name to an extractor ``module -> attrs`` giving the
``lif`` op's attributes (see ``snncompile.ops.neurons``).  Lookup walks the class's MRO, so
subclasses of a known neuron are neurons too.  A user's own neuron class can opt in without
touching this table by defining ``snncompile_neuron_attrs(self) -> dict``.
"""
from __future__ import annotations

import math
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
