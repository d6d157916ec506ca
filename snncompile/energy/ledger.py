"""Per-core ledgers of a lowered model, read for the report's side-by-side view.

A ledger is a JSON file (``--ledger FILE``, or a lowering directory holding ``ledger.json``) that says
what each core did.  The reader accepts::

    {"images": N,                                   # or "samples"; counts below are sums over them
     "cores": [{"core": 0,                          # or "id"
                "units": ["block.0.attn.q_conv", ...],   # or "layers"/"modules" (optional)
                "synaptic_ops": int,                # or "synops"/"sops"
                "spikes": int,                      # optional
                "neuron_updates": int,              # optional
                "neurons": int, "synapses": int}]}  # optional static load

``images`` defaults to 1 (counts already per image).  Anything else is ignored.
"""
from __future__ import annotations

import json
import os
from typing import Optional

from snncompile.errors import InputError

from .models import LOIHI_SOP

_SYN_KEYS = ("synaptic_ops", "synops", "sops", "synaptic_events")


def _first(d: dict, keys, default=None):
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def find_ledger(path: str) -> Optional[str]:
    if os.path.isdir(path):
        for name in ("ledger.json", "core_ledger.json", "cores.json"):
            p = os.path.join(path, name)
            if os.path.isfile(p):
                return p
        return None
    return path if os.path.isfile(path) else None


def read_ledger(path: str) -> dict:
    """The ledger at ``path`` normalised to per-image figures (raises InputError when unreadable)."""
    found = find_ledger(path)
    if found is None:
        raise InputError(f"{path}: no per-core ledger (expected a JSON file or a folder with ledger.json)")
    try:
        with open(found, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{found}: not a readable ledger ({type(e).__name__})") from None
    cores = doc.get("cores") if isinstance(doc, dict) else doc
    if not isinstance(cores, list) or not all(isinstance(c, dict) for c in cores):
        raise InputError(f"{found}: a ledger needs a 'cores' list of objects")
    images = int(_first(doc, ("images", "samples"), 1)) if isinstance(doc, dict) else 1
    images = max(images, 1)
    out = []
    for i, c in enumerate(cores):
        syn = _first(c, _SYN_KEYS)
        row = {
            "core": _first(c, ("core", "id", "index"), i),
            "units": list(_first(c, ("units", "layers", "modules"), []) or []),
            "synaptic_ops": None if syn is None else float(syn) / images,
            "spikes": None if c.get("spikes") is None else float(c["spikes"]) / images,
            "neuron_updates": None if c.get("neuron_updates") is None else float(c["neuron_updates"]) / images,
            "neurons": c.get("neurons"),
            "synapses": c.get("synapses"),
        }
        row["e_loihi"] = None if row["synaptic_ops"] is None else row["synaptic_ops"] * LOIHI_SOP.pj_per_sop
        out.append(row)
    known = [r["synaptic_ops"] for r in out if r["synaptic_ops"] is not None]
    return {"path": found, "images": images, "cores": out,
            "synaptic_ops": sum(known) if known else None,
            "e_loihi": sum(known) * LOIHI_SOP.pj_per_sop if known else None}
