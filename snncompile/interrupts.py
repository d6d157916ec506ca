"""Interrupts end a command as exceptions, so every ``finally`` (temporary files, lock files) runs.

SIGINT raises ``KeyboardInterrupt`` (Python's default); SIGTERM raises ``Terminated`` while
``signals_as_exceptions`` is active.  Both derive from ``BaseException``: ``except Exception`` in
the commands does not swallow them.  The CLI maps them to the shell's conventions, 128 + signal
number: 130 for SIGINT, 143 for SIGTERM (never 1, which means "findings").
"""
from __future__ import annotations

import contextlib
import signal
import threading

EXIT_SIGINT = 128 + signal.SIGINT    # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


class Terminated(BaseException):
    """The process received SIGTERM."""


def _raise_terminated(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Terminated()


@contextlib.contextmanager
def signals_as_exceptions():
    """Within the block, SIGTERM raises ``Terminated`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: BaseException) -> int | None:
    """The exit status for an interrupt exception, None for anything else."""
    import click

    if isinstance(exc, Terminated):
        return EXIT_SIGTERM
    if isinstance(exc, (KeyboardInterrupt, click.exceptions.Abort)):
        return EXIT_SIGINT
    return None
