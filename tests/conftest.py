"""Suite-wide rules: the environment a run claims to be must be the one it is, and nothing in it may skip.

``SNNCOMPILE_TEST_ENV`` is set by ``make test`` (and so by CI); ad-hoc pytest runs leave it unset and keep
pytest's usual skips.

``full``  the lock's environment (scripts/bootstrap.sh): Lava must be importable (a broken Lava is an error
          of the run, not a reason to skip), and a test that skips fails.
``core``  the core-only environment (scripts/core_env.sh, ``pip install .``): snncompile must be the
          installed copy, not the checkout's sources; Lava must be absent; a selected test that skips fails.

A skip is turned into a failure both at collection (``importorskip`` at module level) and at run time
(``skipif``, ``pytest.skip``), with the skip's reason kept in the message.  Expected failures (xfail) are
not skips and are left alone.
"""
from __future__ import annotations

import importlib.metadata
import os
import sysconfig

import pytest

ENVIRONMENTS = ("full", "core")
_ENV_KEY = pytest.StashKey[object]()


def _expected_env() -> str | None:
    env = os.environ.get("SNNCOMPILE_TEST_ENV") or None
    if env is not None and env not in ENVIRONMENTS:
        raise pytest.UsageError(f"SNNCOMPILE_TEST_ENV={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return env


def _check_full() -> None:
    from snncompile.backends.lava import lava_status

    ok, why = lava_status()
    if not ok:
        raise pytest.UsageError(f"SNNCOMPILE_TEST_ENV=full, but Lava is unavailable: {why}")


def _check_core() -> None:
    import snncompile

    installed = os.path.realpath(sysconfig.get_paths()["purelib"])
    where = os.path.realpath(snncompile.__file__)
    if not where.startswith(installed + os.sep):
        raise pytest.UsageError(f"SNNCOMPILE_TEST_ENV=core, but snncompile was imported from {where}, "
                                f"not from the installed copy in {installed}")
    # by distribution, not by import name: tests/lava/ on pytest's pythonpath is itself importable as "lava"
    try:
        version = importlib.metadata.version("lava-nc")
    except importlib.metadata.PackageNotFoundError:
        return
    raise pytest.UsageError(f"SNNCOMPILE_TEST_ENV=core, but lava-nc {version} is installed: not a core-only environment")


def pytest_configure(config):
    env = _expected_env()
    config.stash[_ENV_KEY] = env
    if env == "full":
        _check_full()
    elif env == "core":
        _check_core()


def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_skip(report, env: str) -> None:
    report.outcome = "failed"
    report.longrepr = (f"skipped in SNNCOMPILE_TEST_ENV={env}, where every selected test must run: "
                       f"{_skip_reason(report.longrepr)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    env = item.config.stash.get(_ENV_KEY, None)
    if env and report.skipped and not hasattr(report, "wasxfail"):
        _fail_skip(report, env)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    env = collector.config.stash.get(_ENV_KEY, None)
    if env and report.skipped:
        _fail_skip(report, env)
