"""One place per op: the registry declares what every pass and backend needs.

* No module outside ``snncompile/ops`` compares an op name (consumers ask traits and hooks).
* Every registered op implements each concern or is refused by it with a reason (declared with
  ``refuses`` or implied by its traits); a consumer that lacks a hook refuses in one line naming op and hook.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

from snncompile import ops
from snncompile.analysis.time_axes import rule_for
from snncompile.errors import SnnCompileError

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ["snncompile", "frontends", "backends", "exporters", "examples"]
OPS_PACKAGE = ROOT / "snncompile" / "ops"

# hooks an op may have or not (each has a default in its consumer), as opposed to concerns every op must answer
OPTIONAL_HOOKS = {"noop", "compose", "resized", "creates_axis", "time", "charge", "margin"}


def _is_op_ref(node: ast.AST) -> bool:
    """``x.op``, ``op``, ``ir_op``, ``op_name``: an expression that holds an op name."""
    if isinstance(node, ast.Attribute):
        return node.attr == "op"
    return isinstance(node, ast.Name) and node.id in ("op", "ir_op", "op_name")


def _names_an_op(node: ast.AST) -> bool:
    """A string literal, or a tuple/list/set of them (an op-name list)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    return False


def op_name_comparisons(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_op_ref(s) for s in sides) and any(_names_an_op(s) for s in sides):
                yield node.lineno
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("startswith", "endswith") and _is_op_ref(node.func.value):
            yield node.lineno


def test_the_detector_sees_a_comparison():
    code = "a = n.op == 'lif'\nb = node.op in ('mul', 'div')\nc = op == 'pow'\nd = n.op.startswith('max')\n"
    assert list(op_name_comparisons(ast.parse(code))) == [1, 2, 3, 4]
    assert not list(op_name_comparisons(ast.parse("a = prev.op != node.op\nb = ops.get(n.op).neuron\n")))


def test_no_op_names_compared_outside_ops():
    found = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if OPS_PACKAGE in path.parents:
                continue
            for line in op_name_comparisons(ast.parse(path.read_text(encoding="utf-8"))):
                found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, "op names compared outside snncompile/ops (ask a trait or a hook):\n" + "\n".join(found)


def _concerns() -> set[str]:
    import snncompile.exporters.netx  # noqa: F401 - registers the "netx" emitters and refusals
    import snncompile.exporters.nir  # noqa: F401 - registers the "nir" emitters and refusals
    import snncompile.exporters.onnx  # noqa: F401 - registers the "onnx" emitters

    named = {c for d in ops.all_ops().values() for c in list(d.hooks) + list(d.refusals)}
    return (named | {"affine", "synops", "axis", "onnx"}) - OPTIONAL_HOOKS


@pytest.mark.parametrize("concern", sorted(_concerns()))
def test_every_op_implements_or_refuses(concern):
    missing = [name for name, d in sorted(ops.all_ops().items()) if not d.has_hook(concern) and not d.why_not(concern)]
    assert not missing, f"ops with neither a {concern!r} hook nor a reason to refuse it: {missing}"


def test_every_op_has_a_time_axis_rule():
    assert [name for name, d in sorted(ops.all_ops().items()) if rule_for(d) is None] == []


def test_trait_implied_hooks_are_consistent():
    for name, d in ops.all_ops().items():
        if d.movement:
            assert d.has_hook("axis"), name
        if d.weight is not None:
            assert d.has_hook("affine") and d.has_hook("synops") and d.has_hook("patches"), name
        if d.scale is not None or d.summation:
            assert d.has_hook("affine"), name
        if ops.produces_events(d) is not None:  # the torch engine counts what the reference counts
            assert d.has_hook("count"), name
        if ops.produces_events(d) == "synaptic":
            assert d.has_hook("synops"), name


def test_missing_hook_is_one_line_naming_op_and_hook():
    with pytest.raises(SnnCompileError) as e:
        ops.get("softmax").hook("affine")
    text = e.value.one_line()
    assert "\n" not in text and "softmax" in text and "affine" in text and "not a linear map" in text
