"""SNN105: a weight layer receives integer ("multi-bit") spikes emitted by a neuron (a graded spike)."""
from __future__ import annotations

from snncompile.analysis.regions import Region

from .base import CheckContext, Rule, register


def check(ctx: CheckContext):
    for nc in ctx.costs:
        if nc.cost.weight_layer and nc.region is Region.BODY and nc.input_domain.is_graded:
            d = int(nc.input_domain.hi)
            yield RULE.diagnostic(
                nc, f"{nc.node.module or '<root>'} ({nc.node.op}) receives graded spikes {nc.input_domain} from a "
                    f"neuron: deploy as Loihi 2 graded spikes (payload × weight per event) or as {d} binary "
                    f"sub-steps per time step (up to {d} accumulates per event)")


RULE = register(Rule(
    code="SNN105",
    name="graded-spike-input",
    severity="note",
    summary="A weight layer receives integer spikes 0..D that a neuron emits as such (I-LIF / SpikeYOLO / "
            "SDT-V3 `clamp(round(v), 0, D)`), not a sum of binary spikes (SNN101). A deployment choice, not a "
            "defect: a note, which does not fail `check`.",
    why="An integer spike is still one event from one neuron, so the layer stays event-driven; what it costs "
        "depends on how it is deployed. As a Loihi 2 graded spike (payload up to 24 bits in Lava's models): one "
        "event per non-zero spike, each synapse multiplies the payload by its weight, priced as payload-weighted "
        "events (Σ over non-zero spikes of fan-out synaptic operations, each an integer×weight product; a "
        "zero emits nothing). As D binary sub-steps: the time step is split into D sub-steps and a spike of "
        "value s is s binary spikes, priced as s × fan-out accumulates (at most D × AC per event), with D "
        "neuron updates and D× the latency per time step. A residual sum of spikes (SNN101) has neither "
        "reading: no neuron emits it, so the hardware must multiply (or the sum must be re-spiked first). "
        "`snncompile lower` deploys the first reading (graded-spike populations, 24-bit messages), and `report` "
        "and the Lava ledger count it the same way: one spike per nonzero emission, fan-out synaptic ops per "
        "spike of cost kind intmul.",
    example="self.lif = MultiStepILIF(decay=0.25, max_spike=4)   # spikes in {0..4}\n"
            "y = self.conv(self.lif(x))        # SNN105 note: conv receives graded[0,4] from a neuron",
    fix="Nothing to fix. Choose the deployment: graded spikes (Loihi 2; payload bits >= log2(D+1)) or D binary "
        "sub-steps; or train with D = 1 for binary spikes.",
    check=check,
))
