"""Ops and energy reports (``snncompile report``): per-layer FLOPs, firing rates, exact ACs/MACs and
energy under the papers' 45 nm model and a Loihi per-synaptic-op model.

* :mod:`.report` — :func:`build_report` from a graph and (optionally) exact event counts streamed over data
  by :func:`stream_counts`;
* :mod:`.models` — the energy models and their sources;
* :mod:`.formats` — text, JSON (documented schema), CSV;
* :mod:`.plots` — PNG plots; :mod:`.ledger` — per-core ledgers of a lowered model;
* :mod:`.cli` — the ``report`` command.
"""
from .models import HOROWITZ_45NM, LOIHI_SOP, EnergyModel
from .report import LayerRow, NeuronRow, Report, Samples, build_report, load_samples, stream_counts

__all__ = ["build_report", "stream_counts", "load_samples", "Samples", "Report", "LayerRow", "NeuronRow",
           "EnergyModel", "HOROWITZ_45NM", "LOIHI_SOP"]
