"""What every CLI command shares: the one-line error contract (:func:`guarded`, :func:`fail`), writes
under the output contract (``snncompile.outputs``), and the MODEL argument with the options that say how to load and trace it."""
from __future__ import annotations

import contextlib
import functools
import io
import sys
from typing import Callable, Optional

import click

from snncompile.errors import SnnCompileError
from snncompile.frontends import torch as torch_frontend
from snncompile.frontends.loaded import trace_loaded
from snncompile.outputs import write_file
from snncompile.validate import positive_dims

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
        except (OSError, MemoryError) as e:  # the environment (permissions, disk, memory), not a bug
            if debug:
                raise
            fail(_environment_error(e))
        except Exception as e:  # noqa: BLE001 - the contract: never a traceback without --debug
            if debug:
                raise
            text = " ".join(str(e).split())[:300]
            fail(f"internal error: {type(e).__name__}: {text} (re-run with --debug for the traceback)")

    return wrapper


def _environment_error(e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return "error: not enough memory for this input (re-run with --debug for the traceback)"
    where = f"{e.filename}: " if getattr(e, "filename", None) else ""
    return f"error: {where}{e.strerror or type(e).__name__}"


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` under the output contract (``snncompile.outputs.write_file``)."""
    write_file(path, text)


# -- shared model options --------------------------------------------------------------------------

def _remember_time_axis(ctx, param, value):
    """``--time-axis`` reaches :func:`load_and_trace` through the context (the commands' signatures stay)."""
    if value is not None:
        ctx.meta["snncompile.time_axis"] = value
    return value


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
        click.option("--timesteps", "-T", type=click.IntRange(min=1),
                     help="Override the number of time steps (model attribute T)."),
        click.option("--input-shape", metavar="B,C,H,W", help="Input shape, where the model does not say; label a "
                     "multi-step input's time and batch axes as T=4,B=1,2,128,128 (or use --time-axis)."),
        click.option("--time-axis", type=click.IntRange(min=0), expose_value=False, callback=_remember_time_axis,
                     metavar="N", help="The input has time on axis N (multi-step input, event data: T,B,C,H,W is 0); "
                     "default: a static input the model repeats over T."),
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
    shape, time_axis = torch_frontend.parse_input_shape(input_shape) if input_shape else (None, None)
    if shape is not None:
        shape = list(positive_dims(shape, "--input-shape"))
    time_axis = _time_axis_option(time_axis)
    loaded = torch_frontend.load_model(model_source, factory=factory,
                                       factory_args=torch_frontend.parse_model_args(model_args),
                                       trust_pickle=trust_pickle, import_paths=import_paths, neuron=neuron,
                                       timesteps=timesteps, input_shape=shape, input_domain=input_domain,
                                       time_axis=time_axis)
    return loaded, trace_loaded(loaded, batch)


def _time_axis_option(from_shape: Optional[int]) -> Optional[int]:
    ctx = click.get_current_context(silent=True)
    given = ctx.meta.get("snncompile.time_axis") if ctx is not None else None
    if given is not None and from_shape is not None and given != from_shape:
        raise SnnCompileError(f"--time-axis {given} contradicts the T label on axis {from_shape} of --input-shape")
    return given if given is not None else from_shape
