"""Loihi resource limits: one table per chip generation, in one place, each figure with its source.

A :class:`Limits` holds the per-core and per-chip budgets the partitioner checks.  ``None`` means
"no published limit" (the figure is not checked).  Users override any field with a JSON or TOML file
(``--limits FILE``): either a full table (``{"base": "loihi2", ...}`` picks the table to start from,
default ``loihi2``) or just the fields to change, e.g. ``{"neurons_per_core": 4096}``.

Sources
-------
* **Loihi 1** — nengo-loihi, ``nengo_loihi/block.py`` (github.com/nengo/nengo-loihi): ``MAX_COMPARTMENTS =
  1024``, ``MAX_IN_AXONS = 4096``, ``MAX_OUT_AXONS = 4096``, ``MAX_SYNAPSE_BITS = 1048576`` per core, and
  its synapse-memory cost model (``SynapseConfig.bits_per_axon``): each synapse costs its weight bits
  (8) plus compartment-index bits (6–12, from ``INDEX_BITS_MAP``); synapses are stored in blocks of at
  most 64 with a 10-bit header (4 index + 6 count bits), each block rounded up to 64 bits.  128 neuro
  cores per chip (Davies et al., "Loihi: a neuromorphic manycore processor with on-chip learning",
  IEEE Micro 38(1), 2018).  Energy per synaptic op 23.6 pJ (same paper, as widely quoted).
* **Loihi 2** — Intel, "Taking Neuromorphic Computing to the Next Level with Loihi 2" (technology brief,
  2021): 128 neuro cores per chip, up to 8,192 neurons per core, 1,048,576 neurons and ~120 M synapses
  per chip, synaptic delays 0..63, graded spikes up to 32 bits (Lava's models use 24).  Per-core memory
  is flexibly shared between neurons and synapses and Intel publishes no per-core axon limit; this
  table therefore checks neurons per core and spreads the chip's synapse budget evenly over its cores
  (120 M / 128 = 937,500 synapses per core).  These are the published ceilings, not a guarantee that
  Intel's compiler would fit a given layer.
* **Energy model of the papers** (45 nm, Horowitz 2014): 0.9 pJ per AC, 4.6 pJ per MAC.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Optional

from snncompile.errors import InputError

PAPER_PJ_PER_AC = 0.9
PAPER_PJ_PER_MAC = 4.6


@dataclass(frozen=True)
class Limits:
    name: str
    cores_per_chip: int
    neurons_per_core: int
    input_axons_per_core: Optional[int] = None
    output_axons_per_core: Optional[int] = None
    synapse_bits_per_core: Optional[int] = None  # checked with the nengo-loihi memory model
    synapses_per_core: Optional[int] = None  # checked as a plain count
    neurons_per_chip: Optional[int] = None
    synapses_per_chip: Optional[int] = None
    weight_bits: int = 8
    state_bits: int = 24
    decay_bits: int = 12
    max_delay: Optional[int] = None
    pj_per_synop: Optional[float] = None
    source: str = ""
    notes: tuple = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


LOIHI1 = Limits(
    name="loihi1",
    cores_per_chip=128,  # Davies et al. 2018
    neurons_per_core=1024,  # nengo-loihi MAX_COMPARTMENTS
    input_axons_per_core=4096,  # nengo-loihi MAX_IN_AXONS
    output_axons_per_core=4096,  # nengo-loihi MAX_OUT_AXONS
    synapse_bits_per_core=1_048_576,  # nengo-loihi MAX_SYNAPSE_BITS (128 KiB)
    weight_bits=8,
    state_bits=24,
    decay_bits=12,
    max_delay=None,
    pj_per_synop=23.6,  # Davies et al. 2018
    source="nengo-loihi nengo_loihi/block.py (per-core limits, synapse memory model); "
           "Davies et al., IEEE Micro 2018 (128 cores/chip, 23.6 pJ/synop)",
)

LOIHI2 = Limits(
    name="loihi2",
    cores_per_chip=128,  # Intel Loihi 2 brief
    neurons_per_core=8192,  # Intel Loihi 2 brief ("up to")
    synapses_per_core=120_000_000 // 128,  # ~120 M synapses per chip spread over 128 cores
    neurons_per_chip=1_048_576,  # Intel Loihi 2 brief
    synapses_per_chip=120_000_000,  # Intel Loihi 2 brief (~120 M)
    weight_bits=8,
    state_bits=24,
    decay_bits=12,
    max_delay=63,  # Intel Loihi 2 brief: synaptic delays 0..63
    pj_per_synop=None,  # not published for Loihi 2
    source="Intel, 'Taking Neuromorphic Computing to the Next Level with Loihi 2', technology brief 2021",
    notes=("no per-core axon limit is published for Loihi 2: axons are not checked",
           "synapses per core = the chip's ~120 M spread evenly over 128 cores (an assumption)"),
)

TABLES = {"loihi1": LOIHI1, "loihi2": LOIHI2}

# nengo-loihi SynapseConfig.INDEX_BITS_MAP: possible compartment-index widths
INDEX_BITS = (0, 6, 7, 8, 9, 10, 11, 12)
SYNAPSES_PER_BLOCK = 64  # n_synapses field 63 -> blocks of 64
BLOCK_HEADER_BITS = 4 + 6  # synapse_idx_bits + n_synapses_bits
WORD_BITS = 64


def index_bits(compartments: int) -> int:
    need = max(1, math.ceil(math.log2(max(compartments, 1))))
    for b in INDEX_BITS[1:]:
        if b >= need:
            return b
    return INDEX_BITS[-1] + (need - INDEX_BITS[-1])  # out of range: the layer must be split


def synapse_bits_per_axon(n_synapses: int, compartments: int, weight_bits: int = 8) -> int:
    """nengo-loihi's memory cost of one input axon driving ``n_synapses`` synapses on a core."""
    per = weight_bits + index_bits(compartments)
    bits, left = 0, n_synapses
    while left > 0:
        n = min(left, SYNAPSES_PER_BLOCK)
        bits += -WORD_BITS * (-(n * per + BLOCK_HEADER_BITS) // WORD_BITS)
        left -= n
    return bits


def get_limits(name_or_file: Optional[str] = None) -> Limits:
    """``'loihi1'`` / ``'loihi2'`` (default), or a JSON/TOML file of overrides (see the module docstring)."""
    if name_or_file is None:
        return LOIHI2
    if name_or_file in TABLES:
        return TABLES[name_or_file]
    if not os.path.isfile(name_or_file):
        raise InputError(f"--limits {name_or_file}: neither a file nor one of {', '.join(TABLES)}")
    try:
        if name_or_file.endswith(".toml"):
            try:
                import tomllib  # type: ignore[import-not-found]
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            with open(name_or_file, "rb") as f:
                data = tomllib.load(f)
            data = data.get("limits", data)
        else:
            with open(name_or_file, encoding="utf-8") as f:
                data = json.load(f)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"--limits {name_or_file}: cannot read it ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise InputError(f"--limits {name_or_file}: expected a table of fields")
    base_name = data.pop("base", None) or "loihi2"
    base = TABLES.get(base_name)
    if base is None:
        raise InputError(f"--limits {name_or_file}: unknown base table {base_name!r}; one of {', '.join(TABLES)}")
    known = {f.name: f for f in fields(Limits)}
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        raise InputError(f"--limits {name_or_file}: unknown field(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known))}")
    changes = {}
    for k, v in data.items():
        if k == "notes":
            v = tuple(v)
        elif v is not None and k not in ("name", "source"):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise InputError(f"--limits {name_or_file}: {k} must be a non-negative number or null, got {v!r}")
        changes[k] = v
    changes.setdefault("name", f"{base.name}+{os.path.basename(name_or_file)}")
    changes.setdefault("source", f"{base.source}; overridden by {name_or_file}")
    return check_limits(replace(base, **changes), f"--limits {name_or_file}")


# fields that may be zero (an energy cost); every other number is a count or a width and must be >= 1
ZERO_ALLOWED = {"pj_per_synop"}


def check_limits(limits: Limits, where: str) -> Limits:
    """Every number of the table finite, counts and bit widths at least 1 (a chip of 0 cores would divide
    by zero in the partitioner)."""
    for f in fields(Limits):
        v = getattr(limits, f.name)
        if f.name in ("name", "source", "notes") or v is None:
            continue
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise InputError(f"{where}: {f.name} must be a finite number or null, got {v!r}")
        if v < (0 if f.name in ZERO_ALLOWED else 1):
            raise InputError(f"{where}: {f.name} must be at least {0 if f.name in ZERO_ALLOWED else 1}, got {v!r}")
    return limits
