"""Energy models, each with its source.  Figures are energies per operation in picojoules.

* :data:`HOROWITZ_45NM` — the model the Spikformer/Spikingformer papers use: 4.6 pJ per MAC and
  0.9 pJ per AC (32-bit float multiply 3.7 pJ + add 0.9 pJ at 45 nm; M. Horowitz, "Computing's energy
  problem (and what we can do about it)", ISSCC 2014).  An *integer × float multiplication* (a weight
  layer fed a non-binary integer, the Spikformer residual flaw) needs a multiplier: it is priced as a
  MAC (4.6 pJ), and so is a dynamic real × real product.
* :data:`LOIHI_SOP` — 23.6 pJ per synaptic operation, the minimum energy per synaptic spike op of
  Loihi 1 (M. Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip Learning", IEEE
  Micro 38(1), 2018).  Applied to every exact synaptic event: each nonzero input element (a spike, or a
  graded value such as the analog image or a spike count) times each synapse it drives.  Neuron updates
  and routing are not priced (the report gives their counts).
"""
from __future__ import annotations

from dataclasses import dataclass

from snncompile.loihi.limits import LOIHI1, PAPER_PJ_PER_AC, PAPER_PJ_PER_MAC


@dataclass(frozen=True)
class EnergyModel:
    name: str
    source: str
    pj_per_mac: float = 0.0
    pj_per_ac: float = 0.0
    pj_per_sop: float = 0.0
    note: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


HOROWITZ_45NM = EnergyModel(
    "45nm", "Horowitz, ISSCC 2014 (as used by Spikformer/Spikingformer): E = 4.6 pJ x MACs + 0.9 pJ x ACs",
    pj_per_mac=PAPER_PJ_PER_MAC, pj_per_ac=PAPER_PJ_PER_AC,
    note="integer x float multiplications and dynamic real x real products are priced as MACs (4.6 pJ)")

LOIHI_SOP = EnergyModel(
    "loihi", "Davies et al., IEEE Micro 38(1) 2018: 23.6 pJ per synaptic op (Loihi 1, minimum)",
    pj_per_sop=LOIHI1.pj_per_synop or 23.6,
    note="every nonzero input element x synapse it drives (graded inputs included); neuron updates not priced")

MODELS = (HOROWITZ_45NM, LOIHI_SOP)
