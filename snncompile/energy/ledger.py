"""Per-core ledgers of a lowered model, read for the report's side-by-side view.

A ledger is a JSON file (``--ledger FILE``, or a lowering folder holding ``ledger.json``) that says what
each core did.  The reader takes the Lava backend's ``Ledger.to_dict()`` (``backends/lava/ledger.py``)::

    {"samples": N,                        # counts below are sums over N images ("images" also read)
     "cores": [{"core": 0, "layer": str, "module": str, "kind": str, "op_kind": "ac" | "intmul" | "mac",
                "synaptic_ops": int, "spikes": int, "neuron_updates": int, "macs": int}],
     "host": {name: {"synaptic_ops": int, "kind": str, "module": str, "macs": int}}}   # off-chip work (the readout)

``macs`` (optional): MACs of layers fed real values under the one MAC convention
(``backends.reference.counts.mac_count``), comparable with the report's ``macs``.  ``low_synapse_ops`` and
``low_macs`` (optional): a split weight layer's low synapses, on chip work that the report does not count;
they are added to the core's ``synaptic_ops`` and ``macs``.

and, more loosely, ``units``/``layers``/``modules`` lists per core and ``synops``/``sops`` for the count.
Everything is normalised to per-image figures.
"""
from __future__ import annotations

import glob
import json
import os
from typing import Optional

from snncompile.errors import InputError

from .models import LOIHI_SOP
from snncompile.validate import regular_file

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
        found = sorted(glob.glob(os.path.join(path, "*ledger*.json")))
        return found[0] if found else None
    return path if os.path.isfile(path) else None


def _per(x, images: int) -> Optional[float]:
    return None if x is None else float(x) / images


def _macs_per_image(entries: list, images: int, found: str) -> Optional[float]:
    """The entries' ``macs`` summed, per image; None when no entry has them (a ledger from before the MAC
    convention, or another tool's)."""
    given = [e["macs"] for e in entries if e.get("macs") is not None]
    if not given:
        return None
    try:
        return sum(float(m) for m in given + [e.get("low_macs") or 0 for e in entries]) / images
    except (TypeError, ValueError):
        raise InputError(f"{found}: malformed ledger entry ('macs' must be a number)") from None


def read_ledger(path: str) -> dict:
    """The ledger at ``path`` normalised to per-image figures (raises InputError when unreadable)."""
    found = find_ledger(path)
    if found is None:
        raise InputError(f"{path}: no per-core ledger (expected a JSON file or a folder with ledger.json)")

    regular_file(found, "--ledger")
    try:
        with open(found, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{found}: not a readable ledger ({type(e).__name__})") from None
    if isinstance(doc, dict) and isinstance(doc.get("ledger"), dict):
        doc = doc["ledger"]
    cores = doc.get("cores") if isinstance(doc, dict) else doc
    if not isinstance(cores, list) or not all(isinstance(c, dict) for c in cores):
        raise InputError(f"{found}: a ledger needs a 'cores' list of objects")
    try:
        images = max(int(_first(doc, ("samples", "images"), 1)) if isinstance(doc, dict) else 1, 1)
    except (TypeError, ValueError):
        raise InputError(f"{found}: 'samples' must be an integer") from None
    out, by_module = [], {}
    try:
        for i, c in enumerate(cores):
            units = _first(c, ("units", "layers", "modules"))
            if units is None:
                units = [u for u in (c.get("module"), c.get("layer")) if u][:1]
            syn = _per(_first(c, _SYN_KEYS), images)
            if syn is not None and c.get("low_synapse_ops"):
                syn += float(c["low_synapse_ops"]) / images
            row = {"core": _first(c, ("core", "id", "index"), i), "units": [str(u) for u in units],
                   "module": c.get("module"), "kind": c.get("op_kind") or c.get("kind"),
                   "synaptic_ops": syn, "spikes": _per(c.get("spikes"), images),
                   "neuron_updates": _per(c.get("neuron_updates"), images),
                   "e_loihi": None if syn is None else syn * LOIHI_SOP.pj_per_sop}
            out.append(row)
            if syn and row["module"] is not None:
                by_module[row["module"]] = by_module.get(row["module"], 0.0) + syn
        host = {}
        for name, h in ((doc.get("host") or {}) if isinstance(doc, dict) else {}).items():
            if isinstance(h, dict):
                host[name] = {"synaptic_ops": _per(_first(h, _SYN_KEYS), images), "kind": h.get("kind"),
                              "module": h.get("module")}
                if host[name]["synaptic_ops"] and h.get("module") is not None:
                    by_module[h["module"]] = by_module.get(h["module"], 0.0) + host[name]["synaptic_ops"]
    except (TypeError, ValueError) as e:
        raise InputError(f"{found}: malformed ledger entry ({e})") from None
    hosts = [h for h in (doc.get("host") or {}).values() if isinstance(h, dict)] if isinstance(doc, dict) else []
    macs = _macs_per_image(list(cores) + hosts, images, found)
    known = [r["synaptic_ops"] for r in out if r["synaptic_ops"] is not None]
    on_chip = sum(known) if known else None
    host_ops = sum(h["synaptic_ops"] or 0 for h in host.values())
    return {"path": found, "images": images, "cores": out, "host": host, "by_module": by_module,
            "synaptic_ops": None if on_chip is None else on_chip + host_ops, "on_chip_synaptic_ops": on_chip,
            "macs": macs, "cores_used": sum(1 for r in out if r["synaptic_ops"] or r["neuron_updates"]),
            "e_loihi": None if on_chip is None else on_chip * LOIHI_SOP.pj_per_sop}
