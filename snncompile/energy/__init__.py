"""Ops and energy reports (``snncompile report``): per-layer FLOPs, firing rates, exact ACs/MACs and
energy under the papers' 45 nm model and a Loihi per-synaptic-op model.

* :mod:`.report` — :func:`build_report` from a graph and (optionally) exact event counts streamed over data
  by :func:`stream_counts`;
* :mod:`.streaming` — :func:`count_dataset`: exact counts over a dataset (DataLoader, torch engine, torchrun);
  :mod:`.datasets` — the sample sources; :mod:`.distributed` — sharding and the int64 all-reduce;
* :mod:`.models` — the energy models and their sources; :mod:`.pricing` — every model side by side
  (45 nm, Loihi per SOP, Loihi per event, memory-aware Lemaire et al.) and user price lists;
* :mod:`.formats` — text, JSON (documented schema), CSV;
* :mod:`.plots` — PNG plots; :mod:`.ledger` — per-core ledgers of a lowered model;
* :mod:`.cli` — the ``report`` command.

Names are imported lazily so that registering the CLI command stays cheap.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "build_report": "report", "stream_counts": "report", "Samples": "report",
    "Report": "report", "LayerRow": "report", "NeuronRow": "report",
    "EnergyModel": "models", "HOROWITZ_45NM": "models", "LOIHI_SOP": "models",
    "count_dataset": "streaming", "open_data": "datasets",
    "EventPrices": "pricing", "MemoryAware": "pricing", "estimate": "pricing", "load_prices": "pricing",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
