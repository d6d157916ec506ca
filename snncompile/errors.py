"""Errors that the CLI reports as one line and exit code 2 (usage or input errors).

Each carries a message that already says what went wrong and, where it helps, what to do.
``rule`` names the rule code when the error is also a documented diagnostic (e.g. SNN900).
"""
from __future__ import annotations


class SnnCompileError(Exception):
    """Base of every error the toolchain reports to users (exit code 2)."""

    rule: str | None = None

    def __init__(self, message: str, *, rule: str | None = None):
        super().__init__(message)
        if rule is not None:
            self.rule = rule

    def one_line(self) -> str:
        text = " ".join(str(self).split())
        return f"error[{self.rule}]: {text}" if self.rule else f"error: {text}"


class InputError(SnnCompileError):
    """A file or argument the toolchain cannot use: missing, corrupt, wrong kind, wrong shape."""


class UnsafeFileError(InputError):
    """A model file that needs arbitrary unpickling while the user has not opted in."""


class UnsupportedOpError(SnnCompileError):
    """The model executes an operation the IR has no op for."""

    rule = "SNN900"


class UnknownNeuronError(SnnCompileError):
    """A stateful, thresholded module whose class is not in the neuron table."""

    rule = "SNN901"


class BackendUnavailableError(SnnCompileError):
    """An optional backend (Lava) is not installed or cannot run on this Python."""
