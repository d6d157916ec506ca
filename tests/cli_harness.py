"""The CLI contract as test helpers (safety suite and others): run the CLI in process (fast) or as a
subprocess (signals, imports), and assert the one-line input-error contract.  A uniquely named module on
pytest's pythonpath (``tests``), so that ``from cli_harness import ...`` never picks another folder's
conftest."""
from __future__ import annotations

import os
import subprocess
import sys

from click.testing import CliRunner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def invoke(*args: str) -> tuple[int, str, str]:
    """The CLI in this process: (exit code, stdout, stderr)."""
    from snncompile.cli import main

    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def run_cli(args, cwd, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """``python -m snncompile ARGS`` in ``cwd`` with this checkout importable (PYTHONPATH)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "snncompile", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


def assert_one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    """The input-error contract: exit 2, nothing on stdout, one line on stderr starting with 'error'."""
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert out == "", out
    assert len(lines) == 1 and lines[0].startswith("error"), err
    assert "internal error" not in lines[0], err
    for n in needles:
        assert n in lines[0], (n, err)
