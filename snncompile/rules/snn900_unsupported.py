"""SNN900/SNN901: the model uses an operation or a neuron class the IR cannot represent.

These are raised by the frontend as errors (exit code 2): the analysis cannot be sound past them.
"""
from __future__ import annotations

from .base import Rule, register

register(Rule(
    code="SNN900",
    name="unsupported-op",
    severity="error",
    summary="The model executes a torch operation that snncompile has no IR op for (with a dynamic operand).",
    why="Every operation on the data path must have a value-domain rule and reference semantics; an unknown "
        "one would make the spike-purity verdict unsound, so checking stops with exit code 2.",
    example="y = torch.fft.rfft(x)   # error[SNN900]: unsupported op torch.fft.rfft in module block.0",
    fix="Rewrite the operation with supported ops, or open an issue asking for the op (name, semantics, "
        "the model that uses it).",
))

register(Rule(
    code="SNN901",
    name="unknown-neuron",
    severity="error",
    summary="A module holds a threshold like a spiking neuron but its class is not in the neuron table.",
    why="Neurons are kept opaque: their dynamics are read from the table (tau, threshold, reset, comparison). "
        "Tracing through an unknown neuron would record its internals as real-valued arithmetic.",
    example="class MyLIF(nn.Module): v_threshold = 1.0 ...   # error[SNN901]: module block.0.lif of class MyLIF",
    fix="Define `snncompile_neuron_attrs(self) -> dict` on the class (keys: tau, v_threshold, v_reset, "
        "decay_input, fire 'ge'|'gt', style, step_mode 'multi'|'single'), or use spikingjelly LIF/IF/PLIF or "
        "snnTorch Leaky.",
))
