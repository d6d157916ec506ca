"""What every CLI command shares: the one-line error contract (:func:`guarded`, :func:`fail`), atomic
writes, and the MODEL argument with the options that say how to load and trace it."""
from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import tempfile
from typing import Callable

import click

from snncompile.errors import SnnCompileError
from snncompile.frontends import torch as torch_frontend

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def fail(message: str) -> None:
    click.echo(message if message.startswith("error") else f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def guarded(fn: Callable) -> Callable:
    """Turn toolchain errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        debug = (ctx.find_root().params or {}).get("debug", False)
        try:
            return fn(*args, **kwargs)
        except SnnCompileError as e:
            if debug:
                raise
            fail(e.one_line())
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the contract: never a traceback without --debug
            if debug:
                raise
            text = " ".join(str(e).split())[:300]
            fail(f"internal error: {type(e).__name__}: {text} (re-run with --debug for the traceback)")

    return wrapper


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder (no half-written output)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise SnnCompileError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".snncompile-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- shared model options --------------------------------------------------------------------------

def model_options(fn: Callable) -> Callable:
    """MODEL argument and the options that say how to load and trace it."""
    decorators = [
        click.argument("model_source", metavar="MODEL"),
        click.option("--model", "factory", metavar="PKG.MODULE:FACTORY",
                     help="Factory that builds the model for a state-dict checkpoint."),
        click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
                     help="Keyword argument for --model (repeatable; values parsed as JSON)."),
        click.option("--trust-pickle", is_flag=True,
                     help="Allow unpickling a whole-module file (runs code from the file: trusted files only)."),
        click.option("--import-path", "import_paths", multiple=True, type=click.Path(file_okay=False),
                     help="Folder put on sys.path so the model's classes import (repeatable)."),
        click.option("--neuron", type=click.Choice(["own", "spikingjelly"]),
                     help="Neuron implementation for preset: and example checkpoints (default: own / as saved)."),
        click.option("--timesteps", "-T", type=int, help="Override the number of time steps (model attribute T)."),
        click.option("--input-shape", metavar="B,C,H,W", help="Input shape, where the model does not say."),
        click.option("--input-domain", type=click.Choice(["real", "binary"]),
                     help="Value domain of the input: real (analog image, default) or binary (events)."),
    ]
    for d in reversed(decorators):
        fn = d(fn)
    return fn


def load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps,
                   input_shape, input_domain, batch: int = 1):
    """Load MODEL with the shared options and trace it; returns (loaded, graph)."""
    # model code and its libraries (spikingjelly imports lava-dl, which prints notices) must not
    # pollute reports on stdout; what they print is shown on stderr with --debug only
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            return _load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps,
                                   input_shape, input_domain, batch)
    finally:
        if captured.getvalue() and (click.get_current_context().find_root().params or {}).get("debug"):
            click.echo(captured.getvalue(), err=True, nl=False)


def _load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps,
                    input_shape, input_domain, batch):
    shape = None
    if input_shape:
        try:
            shape = [int(s) for s in input_shape.replace("x", ",").split(",") if s.strip()]
        except ValueError:
            raise SnnCompileError(f"--input-shape must be integers like 1,3,32,32, got {input_shape!r}") from None
    loaded = torch_frontend.load_model(model_source, factory=factory,
                                       factory_args=torch_frontend.parse_model_args(model_args),
                                       trust_pickle=trust_pickle, import_paths=import_paths, neuron=neuron,
                                       timesteps=timesteps, input_shape=shape, input_domain=input_domain)
    graph = torch_frontend.trace(loaded.model, loaded.example_input(batch), [loaded.input_domain], name=loaded.name)
    return loaded, graph
