"""Neuron population processes: base.py (what every one shares: ports, step skeleton, fixed-point driver),
process.py (``LIFStep``, op ``lif``), graded.py (``GradedStep``, graded-spike ops such as ``ilif``)."""
