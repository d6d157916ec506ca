"""Formatters of an energy report: text (tables), JSON (schema below), CSV (one row per layer).

JSON schema (``schema_version`` 1)::

    {"schema_version": 1, "tool": "snncompile", "version": str, "report": "energy",
     "model": str, "parameters": int, "time_steps": int, "batch": int, "samples": int, "data": str,
     "conventions": {field: explanation},
     "energy_models": {"45nm": {"pj_per_mac", "pj_per_ac", "source", "note"}, "loihi": {"pj_per_sop", ...}},
     "layers": [{"module", "node", "op", "label", "kind", "region", "input_domain", "source",
                 "flops", "steps", "in_rate", "in_rates", "out_rate", "out_neuron", "sops", "acs", "macs",
                 "intmuls", "realmuls", "synops", "e45", "e45_papers", "e_loihi"}],
     "neurons": [{"module", "node", "region", "firing_rate", "spikes", "updates"}],
     "totals": {"all" | "encoding" | "body" | "readout": {"flops", "macs", "sops", "acs", "intmuls",
                "realmuls", "synops", "e45", "e45_papers", "e_loihi", "layers",
                "neuron_updates", "spikes", "firing_rate"}},
     "ledger": null | {"path", "images", "synaptic_ops", "on_chip_synaptic_ops", "macs", "cores_used", "e_loihi",
                       "by_module": {module: synaptic_ops},
                       "cores": [{"core", "units", "module", "kind", "synaptic_ops", "spikes",
                                  "neuron_updates", "e_loihi"}],
                       "host": {name: {"synaptic_ops", "kind", "module"}}},
     "notes": [str],
     "energy_estimates": [{"model", "source", "note", "prices", "total", "by_region": {region: pJ},
                           "by_term": {term: pJ}, "by_layer": {module: pJ}}]}

Every count is per image; energies are picojoules per image; measured fields are null without a run.
Strict JSON (``snncompile.strictjson``): a non-finite number is the string "NaN", "Infinity" or "-Infinity".
"""
from __future__ import annotations

import csv
import io
from typing import Optional

from snncompile import __version__, strictjson

from .models import HOROWITZ_45NM, LOIHI_SOP
from .report import REGIONS, Report

CONVENTIONS = {
    "flops": "structural FLOPs per image: K products + 1 bias add per output element, over every time step "
             "the layer runs (steps = T inside the time loop, 1 for the head after the mean over T)",
    "steps": "how many times per image the layer runs (the T factor contained in flops)",
    "in_rate": "input firing rate: nonzero fraction of the layer's input over all steps and samples "
               "(spike matmul: the smallest rate of its binary operands)",
    "sops": "papers' estimate SOPs = fr x T x FLOPs_step = in_rate x flops (spike-driven and integer x float "
            "layers, as the authors' scripts count them)",
    "acs": "exact accumulates of the counted run (torch engine or the numpy reference: equal): nonzero input "
           "elements x synapses each drives "
           "(no bias adds, no zero padding)",
    "macs": "structural FLOPs of layers fed real values (encoding, readout): dense arithmetic",
    "intmuls": "exact integer x float weight multiplications (nonzero integer inputs x synapses)",
    "realmuls": "exact dynamic real x real products",
    "synops": "every exact synaptic event, all kinds (the Loihi model's basis)",
    "e45": "45 nm, exact accounting: 0.9 pJ x acs + 4.6 pJ x (macs + intmuls + realmuls)",
    "e45_papers": "45 nm, the papers' formula: 0.9 pJ x sops + 4.6 pJ x macs",
    "e_loihi": "Loihi: 23.6 pJ x synops",
}

CSV_FIELDS = ["module", "node", "op", "label", "kind", "region", "input_domain", "flops", "steps", "in_rate",
              "out_rate", "out_neuron", "sops", "acs", "macs", "intmuls", "realmuls", "synops", "e45",
              "e45_papers", "e_loihi", "source"]


def to_json(report: Report) -> str:
    doc = {"schema_version": 1, "tool": "snncompile", "version": __version__, "report": "energy"}
    body = report.to_dict()
    doc.update({k: body[k] for k in ("model", "parameters", "time_steps", "batch", "samples", "data")})
    doc["conventions"] = CONVENTIONS
    doc.update({k: body[k] for k in ("energy_models", "layers", "neurons", "totals", "ledger", "notes",
                                     "energy_estimates")})
    return strictjson.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_csv(report: Report) -> str:
    """One row per layer, then one ``total`` row per region (``module`` = ``total:REGION``)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in report.rows:
        w.writerow({k: _csv(v) for k, v in r.to_dict().items()})
    for region, t in report.totals.items():
        w.writerow({"module": f"total:{region}", "region": region, **{k: _csv(v) for k, v in t.items()
                                                                       if k in CSV_FIELDS}})
    return buf.getvalue()


def _csv(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return v


# -- text ---------------------------------------------------------------------------------------

def _count(x: Optional[float]) -> str:
    if x is None:
        return "-"
    a = abs(x)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.2f}{unit}"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _exact(x: Optional[float]) -> str:
    if x is None:
        return "-"
    return f"{int(round(x)):,}" if abs(x - round(x)) < 1e-6 else f"{x:,.1f}"


def _rate(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _energy(pj: Optional[float]) -> str:
    """Picojoules shown in µJ (per image)."""
    return "-" if pj is None else f"{pj / 1e6:.3f}"


def _table(headers, rows, align) -> list[str]:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(str(c).rjust(w) if a == "r" else str(c).ljust(w)  # noqa: E731
                                  for c, w, a in zip(cells, widths, align)).rstrip()
    out = [fmt(headers), fmt(["-" * w for w in widths])]
    out += [fmt(r) for r in rows]
    return out


def to_text(report: Report) -> str:
    lines = [f"snncompile report: {report.model}"]
    params = f"{report.parameters:,}" if report.parameters is not None else "?"
    lines.append(f"parameters (sum of p.numel()): {params}   time steps: {report.time_steps}   "
                 f"traced batch: {report.batch}")
    if report.measured:
        lines.append(f"data: {report.data}: {report.samples} image(s); every figure is per image")
    else:
        lines.append("data: none (structural figures only; run with --data or --random N for rates and energy)")
    lines.append("")
    headers = ["module", "op", "kind", "region", "FLOPs", "T", "in fr", "SOPs(papers)", "ACs(exact)", "MACs",
               "INTxFLOAT", "out fr", "E45 uJ", "Loihi uJ"]
    rows = []
    for r in report.rows:
        op = r.op if r.label == r.op else f"{r.op} {r.label}"
        rows.append([r.module or "<root>", op, r.kind, r.region, _exact(r.flops), "-" if r.steps is None else r.steps,
                     _rate(r.in_rate), _count(r.sops), _count(r.acs), _count(r.macs or None), _count(r.intmuls),
                     _rate(r.out_rate), _energy(r.e45), _energy(r.e_loihi)])
    lines += _table(headers, rows, "lllllrrrrrrrrr")
    lines.append("")
    t = report.totals
    cols = ["all", *REGIONS]
    trows = [
        ["layers"] + [str(t[c]["layers"]) for c in cols],
        ["FLOPs (structural)"] + [_count(t[c]["flops"]) for c in cols],
        ["MACs"] + [_count(t[c]["macs"]) for c in cols],
        ["SOPs (papers' estimate)"] + [_count(t[c]["sops"]) for c in cols],
        ["ACs (exact)"] + [_count(t[c]["acs"]) for c in cols],
        ["INT x FLOAT mults (exact)"] + [_count(t[c]["intmuls"]) for c in cols],
        ["REAL x REAL products"] + [_count(t[c]["realmuls"]) for c in cols],
        ["synaptic ops (exact)"] + [_count(t[c]["synops"]) for c in cols],
        ["E 45nm exact (uJ)"] + [_energy(t[c]["e45"]) for c in cols],
        ["E 45nm papers' formula (uJ)"] + [_energy(t[c]["e45_papers"]) for c in cols],
        ["E Loihi (uJ)"] + [_energy(t[c]["e_loihi"]) for c in cols],
    ]
    if report.measured:
        trows.append(["neuron updates"] + [_count(t[c].get("neuron_updates")) for c in cols])
        trows.append(["spikes"] + [_count(t[c].get("spikes")) for c in cols])
        trows.append(["mean firing rate"] + [_rate(t[c].get("firing_rate")) for c in cols])
    lines.append("Totals per image")
    lines += _table(["", *cols], trows, "lrrrr")
    lines.append("")
    lines.append("Energy models:")
    lines.append(f"  45nm: {HOROWITZ_45NM.pj_per_mac} pJ/MAC, {HOROWITZ_45NM.pj_per_ac} pJ/AC - {HOROWITZ_45NM.source};"
                 f" {HOROWITZ_45NM.note}")
    lines.append(f"  Loihi: {LOIHI_SOP.pj_per_sop} pJ/SOP - {LOIHI_SOP.source}; {LOIHI_SOP.note}")
    lines.append("Conventions: FLOPs include bias adds and every time step the layer runs (column T);"
                 " SOPs(papers) = in fr x FLOPs = fr x T x FLOPs per step;")
    lines.append("  ACs(exact) = nonzero inputs x synapses, counted by the --engine run (no bias adds, no padding);"
                 " regions: encoding = before the first neuron, readout = after the last one.")
    if report.estimates:
        lines.append("")
        lines += estimates_text(report)
    if report.ledger:
        lines.append("")
        lines += ledger_text(report)
    for n in report.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines) + "\n"


def estimates_text(report: Report) -> list[str]:
    """One row per energy model (never summed across models), with its prices and source."""
    cols = ["all", *REGIONS]
    rows = [[e.model, *(_energy(e.total if c == "all" else e.by_region.get(c, 0.0)) for c in cols), e.prices]
            for e in report.estimates]
    lines = ["Energy per image by model (uJ; each row one model, never mixed):"]
    lines += _table(["model", *cols, "prices"], rows, "lrrrrl")
    for e in report.estimates:
        terms = ", ".join(f"{k} {_energy(v)}" for k, v in e.by_term.items())
        lines.append(f"  {e.model}: {e.source}; {e.note}" + (f" [terms, uJ: {terms}]" if terms else ""))
    return lines


def ledger_text(report: Report) -> list[str]:
    led = report.ledger
    lines = [f"Per-core ledger ({led['path']}, {led['images']} image(s); {led['cores_used']} of "
             f"{len(led['cores'])} cores active), per image:"]
    rows = []
    for c in led["cores"]:
        units = ", ".join(c["units"][:2]) + (" ..." if len(c["units"]) > 2 else "")
        rows.append([str(c["core"]), units, c["kind"] or "-", _count(c["synaptic_ops"]), _count(c["spikes"]),
                     _count(c["neuron_updates"]), _energy(c["e_loihi"])])
    for name, h in led["host"].items():
        rows.append(["host", name, h["kind"] or "-", _count(h["synaptic_ops"]), "-", "-", "-"])
    lines += _table(["core", "layer", "kind", "synaptic ops", "spikes", "neuron updates", "Loihi uJ"], rows,
                    "rllrrrr")
    if led["by_module"] and report.measured:
        ex: dict = {}
        for r in report.rows:
            ex[r.module] = ex.get(r.module, 0.0) + (r.synops or 0)
        lines.append("")
        lines.append("Side by side, synaptic ops per image (executor vs ledger):")
        mrows = []
        for module in sorted(set(ex) | set(led["by_module"]), key=lambda m: (m not in ex, m)):
            a, b = ex.get(module), led["by_module"].get(module)
            ratio = f"{b / a:.4f}" if a and b is not None else "-"
            mrows.append([module or "<root>", _count(a), _count(b), ratio])
        lines += _table(["module", "executor", "ledger", "ratio"], mrows, "lrrr")
    ex_total = report.totals["all"].get("synops")
    total = led["synaptic_ops"]
    lines.append(f"total synaptic ops: ledger {_count(total)} (on chip {_count(led['on_chip_synaptic_ops'])}) vs "
                 f"executor {_count(ex_total)}"
                 + (f" (ratio {total / ex_total:.4f})" if ex_total and total is not None else ""))
    if led.get("macs") is not None:
        lines.append(f"total MACs (layers fed real values, structural: one convention): ledger {_count(led['macs'])} "
                     f"vs report {_count(report.totals['all'].get('macs'))}")
    return lines
