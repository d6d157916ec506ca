"""Static analyses over the IR: value domains, costs, regions (encoding / body / readout)."""
from .domains import infer_domains
from .regions import Region, classify_regions

__all__ = ["infer_domains", "Region", "classify_regions"]
