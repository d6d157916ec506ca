"""Fixtures of the safety suite (helpers: tests/cli_harness.py)."""
from __future__ import annotations

import os

import pytest

from cli_harness import invoke


@pytest.fixture(scope="session")
def digits_dir():
    from snncompile.examples import MODELS_DIR

    return os.path.join(MODELS_DIR, "spikformer-digits")


@pytest.fixture(scope="session")
def lowered_dir(tmp_path_factory, digits_dir):
    """A real lowered directory (float mode) of the digits Spikformer, written once per session."""
    out = tmp_path_factory.mktemp("lowered") / "net.loihi"
    code, _, err = invoke("lower", os.path.join(digits_dir, "checkpoint.pth"), "-o", str(out))
    assert code == 0, err
    return str(out)
