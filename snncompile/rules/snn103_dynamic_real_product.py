"""SNN103: a product of two dynamic tensors, neither of them binary."""
from __future__ import annotations

from snncompile.analysis.regions import Region

from .base import CheckContext, Rule, register


def check(ctx: CheckContext):
    for nc in ctx.costs:
        if nc.cost.kind == "realmul" and nc.region is Region.BODY:
            doms = " × ".join(str(ctx.graph.values[v].domain) for v in nc.node.inputs)
            yield RULE.diagnostic(
                nc, f"{nc.node.module or '<root>'} ({nc.node.op}) multiplies two dynamic non-spike tensors "
                    f"({doms})")


RULE = register(Rule(
    code="SNN103",
    name="dynamic-real-product",
    severity="error",
    summary="Two dynamic tensors are multiplied (elementwise or as a matmul) and neither is a binary spike "
            "tensor, e.g. softmax attention scores × values, or Q·Kᵀ before the neurons.",
    why="A spike-driven product needs one binary operand: the spike selects the other operand and adds it. "
        "A product of two real or integer activations needs a multiplier at run time and cannot be mapped to "
        "synapses.",
    example="attn = q_real @ k_real.transpose(-2, -1)   # SNN103: q and k are BN outputs, not spikes",
    fix="Fire a neuron on at least one operand first (Spikformer's SSA multiplies the spike tensors Q, K, V).",
    check=check,
))
