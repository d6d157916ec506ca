"""Imports go one way: a room imports only rooms below it, and never from inside a function.

The rooms, lowest first (a module belongs to the longest prefix that matches it)::

    snncompile (the package root), errors,                     vocabulary
    interrupts, importpath, strictjson, validate, outputs      the CLI contract's mechanisms
    config, diagnostic                                         vocabulary that validates its input
    examples                                                   torch model zoo: imports nothing of snncompile
    ir  <-  ops  <-  analysis  <-  rules  <-  check  <-  passes   the core
    frontends                                                  torch -> IR
    loihi                                                      the target: limits, network, partition, fixed point
    backends.reference  <-  backends (others)  <-  backends.lava
    energy  <-  reports  <-  exporters  <-  commands  <-  cli, __main__

The rule has no exceptions list.  An ``import`` of project code inside a function is refused whether or
not it goes down (a lazy project import is how cycles hide); lazy imports of third-party libraries
(torch, onnx, lava, matplotlib, ...) are fine.  The CLI group loads its command table by name
(``importlib``, click's lazy group) so that ``snncompile --version`` does not import torch: that is a
downward load from the top room and is not an ``import`` statement.
"""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE_ROOTS = {"snncompile": "snncompile", "frontends": "snncompile.frontends", "backends": "snncompile.backends",
                "examples": "snncompile.examples", "exporters": "snncompile.exporters"}

LAYERS = [
    "snncompile", "snncompile.errors",
    "snncompile.interrupts", "snncompile.importpath", "snncompile.strictjson", "snncompile.validate",
    "snncompile.outputs",
    "snncompile.config", "snncompile.diagnostic",
    "snncompile.examples",
    "snncompile.ir", "snncompile.ops", "snncompile.analysis", "snncompile.rules", "snncompile.check",
    "snncompile.passes",
    "snncompile.frontends",
    "snncompile.loihi",
    "snncompile.backends.reference", "snncompile.backends", "snncompile.backends.lava",
    "snncompile.energy", "snncompile.reports", "snncompile.exporters",
    "snncompile.commands", "snncompile.cli", "snncompile.__main__",
]
RANK = {room: i for i, room in enumerate(LAYERS)}


def room_of(module: str) -> str:
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in RANK:
            return prefix
    raise AssertionError(f"module {module} is in no room: add its room to LAYERS in {__file__}")


def _module_name(path: pathlib.Path) -> tuple[str, bool]:
    rel = path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join([SOURCE_ROOTS[parts[0]]] + parts[1:]), is_pkg


def _is_module(name: str) -> bool:
    """Whether ``name`` (snncompile.X.Y) is a module or package of the source tree."""
    parts = name.split(".")
    if len(parts) < 2:
        return True
    top = {v: k for k, v in SOURCE_ROOTS.items()}
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in top:
            base = ROOT / top[".".join(parts[:k])] / pathlib.Path(*parts[k:]) if parts[k:] else \
                ROOT / top[".".join(parts[:k])]
            return base.with_suffix(".py").exists() or (base / "__init__.py").exists()
    return False


def project_imports():
    """(module, imported module, inside a function?, line) for every import of project code."""
    for top in SOURCE_ROOTS:
        for path in sorted((ROOT / top).rglob("*.py")):
            module, is_pkg = _module_name(path)
            package = module if is_pkg else module.rpartition(".")[0]
            tree = ast.parse(path.read_text(encoding="utf-8"))
            in_function = {id(sub) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                           for sub in ast.walk(fn)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = package.split(".")[:len(package.split(".")) - node.level + 1]
                        target = ".".join(base + ([node.module] if node.module else []))
                    else:
                        target = node.module or ""
                    # `from pkg import sub` imports the submodule sub
                    targets = [f"{target}.{a.name}" if _is_module(f"{target}.{a.name}") else target for a in node.names]
                else:
                    continue
                for t in targets:
                    if t == "snncompile" or t.startswith("snncompile."):
                        yield module, t, id(node) in in_function, f"{path.relative_to(ROOT)}:{node.lineno}"


def test_imports_only_go_down():
    wrong = []
    for module, target, _, where in project_imports():
        src, dst = room_of(module), room_of(target)
        if src != dst and RANK[dst] > RANK[src]:
            wrong.append(f"{where}: {src} imports {dst}, a room above it")
    assert not wrong, "\n".join(wrong)


def test_no_project_import_inside_a_function():
    lazy = [f"{where}: imports {target} inside a function" for module, target, inside, where in project_imports()
            if inside and room_of(module) != room_of(target)]
    assert not lazy, "\n".join(lazy)


def test_every_module_has_a_room():
    for module, target, _, _ in project_imports():
        room_of(module), room_of(target)
