"""Package discovery for the repository's four source roots (metadata lives in setup.cfg).

The repository keeps ``frontends/``, ``backends/`` and ``examples/`` as top-level folders, but they are
installed as ``snncompile.frontends``, ``snncompile.backends`` and ``snncompile.examples`` (never as
generic top-level ``frontends``/``backends``/``examples`` packages).  setup.cfg can hold only one
``find:`` directive with one root, so the per-root discovery is done here: every folder under a root
that holds a ``.py`` file becomes a package, so new subpackages are picked up without editing a list.
"""
import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))

# import name -> folder (relative to this file)
ROOTS = {
    "snncompile": "snncompile",
    "snncompile.frontends": "frontends",
    "snncompile.backends": "backends",
    "snncompile.examples": "examples",
    "snncompile.exporters": "exporters",
}


def _packages(name, folder):
    found = []
    base = os.path.join(HERE, folder)
    if not os.path.isdir(base):
        return found
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(
            d for d in dirnames
            if d.isidentifier() and d != "__pycache__" and not d.startswith(".")
        )
        if dirpath != base and not any(f.endswith(".py") for f in filenames):
            continue  # data-only folder (e.g. examples/models): shipped as package data
        rel = os.path.relpath(dirpath, base)
        found.append(name if rel == "." else name + "." + rel.replace(os.sep, "."))
    return found


packages = []
package_dir = {}
for _name, _folder in ROOTS.items():
    _found = _packages(_name, _folder)
    if _found:
        packages += _found
        package_dir[_name] = _folder

setup(packages=packages, package_dir=package_dir)
