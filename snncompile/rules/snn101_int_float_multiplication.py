"""SNN101: a weight layer fed non-binary integers multiplies them by float weights."""
from __future__ import annotations

from snncompile.analysis.regions import Region

from .base import CheckContext, Rule, register


def check(ctx: CheckContext):
    for nc in ctx.costs:
        if nc.cost.weight_layer and nc.cost.kind == "intmul" and nc.region is Region.BODY \
                and not nc.input_domain.is_graded:  # integers a neuron emits are SNN105's
            yield RULE.diagnostic(
                nc, f"{nc.node.module or '<root>'} ({nc.node.op}) multiplies {nc.input_domain} activations by float "
                    f"weights: an integer×float multiplication, not an accumulate")


RULE = register(Rule(
    code="SNN101",
    name="int-float-multiplication",
    severity="error",
    summary="A weight layer (Conv, Linear, matmul with a parameter) receives non-binary integers, e.g. a residual "
            "sum of spike trains, so each synaptic event is a multiplication by a float weight.",
    why="Neuromorphic cores are efficient because a binary spike only selects a weight and adds it (an "
        "accumulate). An input of 0..k needs a multiplier or k accumulates per event; energy models that count "
        "this layer as ACs undercount it. This is the flaw of Spikformer's residual stream, which adds spike "
        "trains so block i's q/k/v layers see int[0,2i+2].",
    example="x = x + self.attn(x)        # attn ends in a LIF: x is now a sum of spike trains\n"
            "q = self.q_linear(x)        # SNN101: q_linear multiplies int[0,3] by float weights",
    fix="Put a spiking neuron before the weights (SN → Conv → BN, as Spikingformer does) so the layer sees "
        "binary spikes, or carry a membrane shortcut (add BN outputs, not spikes) and fire a neuron before each "
        "weight layer.",
    check=check,
))
