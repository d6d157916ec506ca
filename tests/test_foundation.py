"""Foundation checks: packaging layout, Lava-free import, console entry point.

Every check that concerns the *installed* package runs in a subprocess whose working directory is a
temporary folder, so that the repository root (which holds top-level ``frontends/``, ``backends/``,
``examples/`` folders) is not on ``sys.path``.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.nolava

ROOT = Path(__file__).resolve().parents[1]
# import name -> repository folder (must match ROOTS in setup.py)
SOURCE_ROOTS = {
    "snncompile": ROOT / "snncompile",
    "snncompile.frontends": ROOT / "frontends",
    "snncompile.exporters": ROOT / "exporters",
    "snncompile.backends": ROOT / "backends",
    "snncompile.examples": ROOT / "examples",
}


def _run_python(code, tmp_path, timeout=300):
    """Run ``code`` with this interpreter in ``tmp_path`` (repository root not on sys.path)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def test_import_without_lava(tmp_path):
    """The core (IR, ops, torch frontend, CLI, reference backend) imports with Lava made unimportable."""
    out = _run_python(
        """
        import importlib.abc, importlib.util, json, sys

        class BlockLava(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "lava" or name.startswith("lava."):
                    raise ImportError(f"lava is blocked in this test ({name})")
                return None

        sys.meta_path.insert(0, BlockLava())
        try:
            import lava  # noqa: F401
        except ImportError:
            pass
        else:
            raise SystemExit("the lava blocker does not work")

        import snncompile, snncompile.ir, snncompile.ops  # noqa: E401,F401

        def present(name):
            try:
                return importlib.util.find_spec(name) is not None
            except ModuleNotFoundError:  # a parent package does not exist (yet)
                return False

        imported = []
        for name in ["snncompile.cli", "snncompile.frontends", "snncompile.frontends.torch",
                     "snncompile.backends", "snncompile.backends.reference"]:
            if present(name):
                importlib.import_module(name)
                imported.append(name)
        leaked = sorted(m for m in sys.modules if m == "lava" or m.startswith("lava."))
        print(json.dumps({"imported": imported, "lava_modules": leaked}))
        """,
        tmp_path,
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["lava_modules"] == []
    assert "snncompile.frontends" in result["imported"]


def _console_script():
    exe = Path(sys.executable).parent / "snncompile"
    if exe.exists():
        return str(exe)
    found = shutil.which("snncompile")
    assert found, "the 'snncompile' console script is not installed (run scripts/bootstrap.sh)"
    return found


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_console_script(flag, tmp_path):
    import snncompile

    proc = subprocess.run([_console_script(), flag], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), f"'snncompile {flag}' printed nothing"
    assert "Traceback" not in proc.stdout + proc.stderr
    if flag == "--version":
        assert snncompile.__version__ in proc.stdout


def test_installed_under_snncompile_namespace(tmp_path):
    """frontends/backends/examples install as snncompile.*, never as top-level packages."""
    out = _run_python(
        """
        import importlib.metadata as md, importlib.util, json

        def origin(name):
            try:
                spec = importlib.util.find_spec(name)
            except ModuleNotFoundError:
                return None
            if spec is None:
                return None
            return spec.origin or list(spec.submodule_search_locations or [])

        dist = md.distribution("snncompile")
        files = [str(f) for f in (dist.files or [])]
        print(json.dumps({
            "specs": {n: origin(n) for n in ["snncompile", "snncompile.frontends",
                                             "snncompile.frontends.torch", "snncompile.backends",
                                             "snncompile.examples", "frontends", "backends"]},
            "top_level": (dist.read_text("top_level.txt") or "").split(),
            "files": files,
            "console_scripts": [e.value for e in dist.entry_points if e.group == "console_scripts"],
        }))
        """,
        tmp_path,
    )
    info = json.loads(out.strip().splitlines()[-1])
    specs = info["specs"]
    assert specs["snncompile"] is not None
    assert specs["snncompile.frontends"] is not None, "snncompile.frontends is not importable"
    assert str(specs["snncompile.frontends"]).endswith(os.path.join("frontends", "__init__.py"))
    if (ROOT / "frontends" / "torch").is_dir():
        assert specs["snncompile.frontends.torch"] is not None
    if (ROOT / "backends" / "__init__.py").is_file():
        assert specs["snncompile.backends"] is not None
    if (ROOT / "examples" / "__init__.py").is_file():
        assert specs["snncompile.examples"] is not None
    # No generic top-level package comes from this distribution.
    assert specs["frontends"] is None, f"a top-level 'frontends' is importable: {specs['frontends']}"
    assert specs["backends"] is None, f"a top-level 'backends' is importable: {specs['backends']}"
    if info["top_level"]:
        assert info["top_level"] == ["snncompile"], info["top_level"]
    for f in info["files"]:
        first = f.replace("\\", "/").split("/")[0]
        assert first not in ("frontends", "backends", "examples"), f"installed as top level: {f}"
    assert "snncompile.cli:main" in info["console_scripts"]


def test_every_source_folder_is_a_regular_package():
    """Each folder holding .py files under a source root needs an __init__.py.

    Without one it would be an implicit namespace package, which the editable install's import hook
    cannot map for the renamed roots (``import snncompile.examples`` fails in an editable install
    when examples/__init__.py is missing).
    """
    missing = []
    for folder in SOURCE_ROOTS.values():
        if not folder.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
            if any(f.endswith(".py") for f in filenames) and "__init__.py" not in filenames:
                missing.append(os.path.relpath(dirpath, ROOT))
    assert not missing, f"folders with .py files but no __init__.py: {missing}"
