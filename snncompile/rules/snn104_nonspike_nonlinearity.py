"""SNN104: a non-spike nonlinearity (softmax, exp, division, LayerNorm, GELU…) on the spike path."""
from __future__ import annotations

from snncompile import ops
from snncompile.analysis.regions import Region

from .base import CheckContext, Rule, register


def check(ctx: CheckContext):
    for nc in ctx.costs:
        if nc.cost.kind == "nonlinear" and nc.region is Region.BODY:
            scale = ops.get(nc.node.op).scale
            what = "division by a dynamic tensor" if scale is not None and scale.inverse else nc.node.op
            yield RULE.diagnostic(
                nc, f"{nc.node.module or '<root>'} computes {what} on {nc.input_domain} values between spiking "
                    f"layers")


RULE = register(Rule(
    code="SNN104",
    name="nonspike-nonlinearity",
    severity="error",
    summary="A nonlinearity that neurons cannot compute by integrating and firing — softmax, exp, log, sqrt, "
            "division by a dynamic tensor, LayerNorm, GELU, sigmoid, tanh — sits between spiking layers.",
    why="On a neuromorphic core the only nonlinearity is the neuron's threshold. Softmax, normalisation and "
        "smooth activations need floating-point arithmetic per element; they break the spike-driven pipeline "
        "and are absent from SOP energy counts.",
    example="attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)   # SNN104: softmax between LIF layers",
    fix="Drop the softmax (spiking self-attention uses spike matmuls and a scale folded into the next "
        "threshold), replace LayerNorm by BatchNorm (folds into weights), and GELU by a spiking neuron.",
    check=check,
))
