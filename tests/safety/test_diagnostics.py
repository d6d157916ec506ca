"""Diagnostics: one verdict in text, JSON and SARIF (findings and --verify-domains failures alike);
strict JSON; SARIF valid against the official 2.1.0 schema, with percent-encoded URIs."""
from __future__ import annotations

import json
import math
import os

import jsonschema
import pytest

from cli_harness import invoke

SCHEMA = os.path.join(os.path.dirname(__file__), "schemas", "sarif-2.1.0-rtm.5.json")


def strict_loads(text: str):
    """json.loads that fails on NaN/Infinity tokens, as JavaScript's JSON.parse does."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def sarif_validator():
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def results():
    """A check result with findings (spikformer preset) and one without (spikingformer), traced once."""
    from snncompile.check import check_graph
    from snncompile.examples import presets
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import _describe_example

    out = {}
    for arch in ("spikformer", "spikingformer"):
        model = presets.build(arch, "digits")
        loaded = _describe_example(model, f"{arch}-digits")
        graph = trace(model, loaded.example_input(1), [loaded.input_domain], name=loaded.name)
        out[arch] = check_graph(graph)
    assert out["spikformer"].findings and not out["spikingformer"].findings
    return out


VIOLATION = {"samples": 2, "checked": 10, "ok": False, "violations": [
    {"value": "v7", "node": "blocks.0 attn/matmul", "static_domain": "int[0,4]",
     "observed": {"min": -float("inf"), "max": float("nan"), "integral": False, "nan": True},
     "reason": "observed values outside int[0,4]"}]}


@pytest.mark.parametrize("arch,verify", [("spikformer", None), ("spikingformer", None),
                                         ("spikingformer", VIOLATION), ("spikformer", VIOLATION)])
def test_every_format_gives_the_same_verdict(results, sarif_validator, arch, verify):
    from snncompile.reports import formats

    result = results[arch]
    failed = bool(result.findings) or bool(verify and verify["violations"])
    doc = strict_loads(formats.to_json(result, verify))
    sarif = strict_loads(formats.to_sarif(result, verify))
    text = formats.to_text(result, verify=verify)
    sarif_validator.validate(sarif)
    assert doc["clean"] is (not failed)
    assert sarif["runs"][0]["properties"]["clean"] is (not failed)
    errors = [r for r in sarif["runs"][0]["results"] if r["level"] == "error"]
    assert (len(sarif["runs"][0]["results"]) > 0) is failed
    n_verify = len(verify["violations"]) if verify else 0
    assert sum(r["ruleId"] == formats.VERIFY_RULE_ID for r in errors) == n_verify
    assert len(sarif["runs"][0]["results"]) == len(result.findings) + n_verify
    assert ("Failed:" in text or "Found" in text) is failed
    if verify:
        observed = doc["verify_domains"]["violations"][0]["observed"]
        assert observed["min"] == "-Infinity" and observed["max"] == "NaN"
        assert math.isinf(float(observed["min"]))


def test_sarif_uris_are_percent_encoded():
    from snncompile.reports.formats import sarif_uri

    assert sarif_uri("models/my model#1.py") == "models/my%20model%231.py"
    assert sarif_uri("/work/a b/ü.py") == "file:///work/a%20b/%C3%BC.py"
    assert sarif_uri("C:\\\\x\\\\y.py").startswith("C%3A/")


def test_check_cli_sarif_is_schema_valid_and_its_locations_encoded(sarif_validator, tmp_path):
    code, out, err = invoke("check", "preset:spikformer:digits", "--format", "sarif")
    assert code == 1, err
    doc = strict_loads(out)
    sarif_validator.validate(doc)
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]
            for loc in r.get("locations", []) if "physicalLocation" in loc]
    assert uris and all(" " not in u for u in uris)


def test_strict_json_never_emits_nan_or_infinity_tokens():
    import numpy as np

    from snncompile.strictjson import dumps

    text = dumps({"a": float("nan"), "b": [np.float32("inf"), -float("inf")], "c": np.arange(2), "d": (1, 2)})
    assert strict_loads(text) == {"a": "NaN", "b": ["Infinity", "-Infinity"], "c": [0, 1], "d": [1, 2]}
