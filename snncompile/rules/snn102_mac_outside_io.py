"""SNN102: a weight layer multiplies real-valued activations outside the encoding and readout."""
from __future__ import annotations

from snncompile.analysis.regions import Region

from .base import CheckContext, Rule, register


def _allowed(ctx: CheckContext, region: Region) -> bool:
    return (region is Region.ENCODING and ctx.policy.allow_encoding_mac) or \
        (region is Region.READOUT and ctx.policy.allow_readout_mac)


def check(ctx: CheckContext):
    for nc in ctx.costs:
        if not nc.cost.weight_layer or nc.cost.kind == "ac" or _allowed(ctx, nc.region):
            continue
        if nc.region is Region.BODY and nc.cost.kind == "intmul":
            continue  # SNN101's case
        yield RULE.diagnostic(
            nc, f"{nc.node.module or '<root>'} ({nc.node.op}) multiplies {nc.input_domain} activations by weights "
                f"in the {nc.region.value}: a MAC where only accumulates are spike-driven")


RULE = register(Rule(
    code="SNN102",
    name="mac-outside-encoding-readout",
    severity="error",
    summary="A weight layer receives real values (membrane potentials, BN outputs, means) outside the encoding "
            "layer (fed the analog input) and the readout (after the last neuron).",
    why="Real × weight is a multiply-accumulate (4.6 pJ at 45 nm vs 0.9 pJ for an accumulate) and has no "
        "spike-driven implementation on Loihi's synapses. The papers allow MACs only in the first (encoding) "
        "layer and the classification head; policy settings allow-encoding-mac / allow-readout-mac control those.",
    example="x = self.bn(self.conv1(x))\n"
            "x = self.conv2(x)           # SNN102: conv2 sees real BN outputs",
    fix="Fire a spiking neuron before the layer (SN → Conv → BN) so it receives spikes; keep real values only "
        "on the residual (membrane) shortcut.",
    check=check,
))
