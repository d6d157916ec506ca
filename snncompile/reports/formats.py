"""Formatters of a check result: text (grouped by rule), JSON (documented schema), SARIF 2.1.0.

JSON schema (``schema_version`` 1)::

    {"schema_version": 1, "tool": "snncompile", "version": str, "model": str, "clean": bool,
     "summary": {"findings": int, "by_rule": {code: int}, "weight_layers": int,
                 "by_cost": {"AC": int, "INT×FLOAT": int, "MAC": int}, "allowed_macs": int,
                 "max_integer_into_weights": int | null},
     "findings": [{"rule", "name", "severity", "message", "module", "op", "node", "input_domain",
                   "region", "file", "line", "fix"}],
     "layers": [{"module", "op", "node", "input_domain", "cost", "region", "allowed", "flops",
                 "file", "line"}],
     "verify_domains": null | {"samples": int, "checked": int, "ok": bool,
                               "violations": [{"value", "node", "static_domain",
                                               "observed": {"min", "max", "integral", "nan"}, "reason"}]}}

One verdict in every format: ``clean`` is false when there is a finding *or* a ``--verify-domains``
violation; SARIF lists both (violations under the rule id ``VERIFY_RULE_ID``), text prints both.
Strict JSON (``snncompile.strictjson``): a non-finite number is the string "NaN", "Infinity" or
"-Infinity".  SARIF ``uri``s are percent-encoded (RFC 3986): relative paths as such, absolute paths as
``file://`` URIs.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional
from urllib.parse import quote

from snncompile import __version__
from snncompile.check import CheckResult
from snncompile.rules import RULES
from snncompile.strictjson import dumps

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note"}
VERIFY_RULE_ID = "verify-domains"
VERIFY_RULE = {
    "id": VERIFY_RULE_ID,
    "name": "value-left-its-static-domain",
    "shortDescription": {"text": "A value observed by the reference executor left the domain the static "
                                 "analysis gave it."},
    "fullDescription": {"text": "The spike-purity verdict rests on the inferred value domains; a value outside "
                                "its domain means a finding may be missed."},
    "help": {"text": "Report the model and the value: the domain inference is wrong for this op."},
    "defaultConfiguration": {"level": "error"},
}


def verdict_clean(result: CheckResult, verify: Optional[dict]) -> bool:
    """The one verdict every format reports: no finding and no domain violation."""
    return result.clean and not (verify and verify.get("violations"))


def sarif_uri(path: str) -> str:
    """A SARIF ``artifactLocation.uri``: percent-encoded; absolute paths as ``file://`` URIs."""
    path = path.replace("\\", "/")
    encoded = quote(path, safe="/")
    return f"file://{encoded}" if path.startswith("/") else encoded


def summary(result: CheckResult) -> dict:
    by_cost = Counter(layer.cost for layer in result.layers)
    return {
        "findings": len(result.findings),
        "by_rule": dict(sorted(Counter(d.rule for d in result.findings).items())),
        "weight_layers": len(result.layers),
        "by_cost": dict(sorted(by_cost.items())),
        "allowed_macs": sum(1 for layer in result.layers if layer.allowed),
        "max_integer_into_weights": result.max_integer_into_weights(),
    }


def to_json(result: CheckResult, verify: Optional[dict] = None) -> str:
    doc = {
        "schema_version": 1,
        "tool": "snncompile",
        "version": __version__,
        "model": result.graph.meta.get("model", ""),
        "clean": verdict_clean(result, verify),
        "summary": summary(result),
        "findings": [d.to_dict() for d in result.findings],
        "layers": [layer.to_dict() for layer in result.layers],
        "verify_domains": verify,
    }
    return dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_sarif(result: CheckResult, verify: Optional[dict] = None) -> str:
    used = sorted({d.rule for d in result.findings})
    rules = [{
        "id": code,
        "name": RULES[code].name,
        "shortDescription": {"text": RULES[code].summary},
        "fullDescription": {"text": RULES[code].why},
        "help": {"text": RULES[code].fix},
        "defaultConfiguration": {"level": _SARIF_LEVEL[RULES[code].severity]},
    } for code in used]
    violations = (verify or {}).get("violations") or []
    if violations:
        rules.append(VERIFY_RULE)
    index = {code: i for i, code in enumerate(used)}
    results = []
    for d in result.findings:
        entry = {
            "ruleId": d.rule,
            "ruleIndex": index[d.rule],
            "level": _SARIF_LEVEL.get(d.severity, "warning"),
            "message": {"text": f"{d.message}. Fix: {d.fix}"},
            "properties": {"module": d.module, "op": d.op, "input_domain": d.input_domain, "region": d.region},
        }
        if d.file:
            region = {"startLine": d.line} if d.line else {}
            entry["locations"] = [{
                "physicalLocation": {"artifactLocation": {"uri": sarif_uri(d.file)}, "region": region},
                "logicalLocations": [{"fullyQualifiedName": d.module or "<root>", "kind": "module"}],
            }]
        results.append(entry)
    for v in violations:
        o = v.get("observed") or {}
        results.append({
            "ruleId": VERIFY_RULE_ID,
            "ruleIndex": len(rules) - 1,
            "level": "error",
            "message": {"text": f"{v['node']}: {v['value']} has static domain {v['static_domain']} but the reference "
                                f"executor observed [{o.get('min')}, {o.get('max')}]: {v['reason']}"},
            "locations": [{"logicalLocations": [{"fullyQualifiedName": str(v["node"]), "kind": "function"}]}],
            "properties": {"value": v["value"], "static_domain": v["static_domain"], "observed": o},
        })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "snncompile", "version": __version__,
                                "informationUri": "https://example.invalid/snncompile", "rules": rules}},
            "results": results,
            "properties": {"model": result.graph.meta.get("model", ""), "clean": verdict_clean(result, verify),
                           "summary": summary(result), "verify_domains": verify},
        }],
    }
    return dumps(doc, indent=2, ensure_ascii=False) + "\n"


class _Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text


def to_text(result: CheckResult, *, color: bool = False, verbose: bool = False,
            verify: Optional[dict] = None) -> str:
    s = _Style(color)
    lines = [s(f"snncompile check: {result.graph.meta.get('model', '')}", "1")]
    by_rule: dict[str, list] = {}
    for d in result.findings:
        by_rule.setdefault(d.rule, []).append(d)
    for code, items in by_rule.items():
        rule = RULES[code]
        lines.append("")
        lines.append(s(f"{code} {rule.name} ({len(items)})", "1;31" if rule.severity == "error" else "1;33"))
        for d in items:
            lines.append(f"  {s(d.location, '36')}: {s(d.module or '<root>', '1')} {d.op} <- {s(d.input_domain, '35')}")
            lines.append(f"      {d.message}")
        lines.append(f"  fix: {rule.fix}")
    lines.append("")
    lines.append(s("weight layers", "1"))
    shown = result.layers if verbose else [layer for layer in result.layers if layer.cost != "AC" or layer.allowed]
    for layer in shown:
        tag = f"allowed {layer.region} MAC" if layer.allowed else layer.cost
        lines.append(f"  {layer.module or '<root>':40s} {layer.op:8s} {layer.input_domain:14s} {tag}")
    sm = summary(result)
    n_ac = sm["by_cost"].get("AC", 0)
    if not verbose and n_ac:
        lines.append(f"  … and {n_ac} spike-driven (AC) layers (--verbose lists them)")
    if verify is not None:
        lines.append("")
        status = "ok" if not verify["violations"] else f"{len(verify['violations'])} violation(s)"
        lines.append(f"verify-domains: {verify['samples']} sample(s), {verify['checked']} values: {status}")
        for v in verify["violations"][:20]:
            o = v["observed"]
            lines.append(f"  {v['node']}: {v['value']} static {v['static_domain']} but observed "
                         f"[{o['min']:.6g}, {o['max']:.6g}]{' integral' if o['integral'] else ''}: {v['reason']}")
    lines.append("")
    counts = ", ".join(f"{k} {v}" for k, v in sm["by_cost"].items())
    mx = sm["max_integer_into_weights"]
    lines.append(f"{sm['weight_layers']} weight layers ({counts}); largest integer into a weight layer: "
                 f"{mx if mx is not None else '-'}")
    if result.failing:
        rules_txt = ", ".join(f"{k} ×{v}" for k, v in sm["by_rule"].items())
        lines.append(s(f"Found {len(result.findings)} finding(s): {rules_txt}", "1;31"))
    elif result.findings:  # notes only (SNN105): informative, the gate passes
        rules_txt = ", ".join(f"{k} ×{v}" for k, v in sm["by_rule"].items())
        lines.append(s(f"No failing findings; {len(result.findings)} note(s): {rules_txt}", "1;32"))
    else:
        lines.append(s("No findings: every weight layer outside encoding/readout is spike-driven.", "1;32"))
    if verify is not None and verify["violations"]:
        lines.append(s(f"Failed: {len(verify['violations'])} value(s) left their static domain (verify-domains).",
                       "1;31"))
    return "\n".join(lines) + "\n"
