"""The ``snncompile`` command line.  Subcommands are registered in one place, ``COMMANDS`` below.

Exit codes (a contract): 0 success / clean, 1 findings, 2 usage or input errors, 130 interrupted
(SIGINT), 143 terminated (SIGTERM).  Errors are one line on stderr; ``--debug`` shows the traceback.
Outputs are written by ``snncompile.outputs``; the current directory is not importable
(``snncompile.importpath``).
"""
from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import sys
import warnings
from typing import Callable, Optional

import click

from snncompile import __version__
from snncompile.errors import SnnCompileError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _quiet_libraries() -> None:
    """Silence import-time chatter of torch/spikingjelly (CUDA probes, optional-dataset notices)."""
    warnings.filterwarnings("ignore")
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


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
    from snncompile.outputs import write_file

    write_file(path, text)


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
        click.option("--timesteps", "-T", type=click.IntRange(min=1),
                     help="Override the number of time steps (model attribute T)."),
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
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import load_model, parse_model_args

    shape = None
    if input_shape:
        try:
            shape = [int(s) for s in input_shape.replace("x", ",").split(",") if s.strip()]
        except ValueError:
            raise SnnCompileError(f"--input-shape must be integers like 1,3,32,32, got {input_shape!r}") from None
        from snncompile.validate import positive_dims

        shape = list(positive_dims(shape, "--input-shape"))
    loaded = load_model(model_source, factory=factory, factory_args=parse_model_args(model_args),
                        trust_pickle=trust_pickle, import_paths=import_paths, neuron=neuron,
                        timesteps=timesteps, input_shape=shape, input_domain=input_domain)
    graph = trace(loaded.model, loaded.example_input(batch), [loaded.input_domain], name=loaded.name)
    return loaded, graph


# -- the group -------------------------------------------------------------------------------------

EPILOG = """\b
Examples:
  snncompile check examples/models/spikformer-digits/checkpoint.pth
  snncompile check preset:spikformer:8-512 --format json -o report.json
  snncompile rules SNN101
  snncompile show preset:spikingformer:4-384
  snncompile demo
Exit codes: 0 clean, 1 findings, 2 usage or input error, 130/143 interrupted (SIGINT/SIGTERM).
"""


class _CommandTable(click.Group):
    """The subcommands come from ``snncompile.commands.COMMANDS``, imported on first use: command
    modules import this module for their shared options, so importing them here would be a cycle."""

    def _table(self) -> dict:
        from snncompile.commands import COMMANDS

        return {cmd.name: cmd for cmd in COMMANDS}

    def list_commands(self, ctx):
        return sorted(self._table())

    def get_command(self, ctx, name):
        return self._table().get(name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Click's main with the CLI contract: the current directory off ``sys.path``; usage errors as
        one line (exit 2); SIGINT exits 130 and SIGTERM 143 after ``finally`` blocks have cleaned up."""
        from snncompile import interrupts
        from snncompile.importpath import drop_working_directory

        drop_working_directory()
        try:
            with interrupts.signals_as_exceptions():
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else EXIT_CLEAN
        except click.exceptions.Exit as e:
            code = e.exit_code
        except click.ClickException as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `snncompile`: the help text, as click shows it
                e.show()
            else:
                click.echo(_usage_line(e), err=True)
            code = EXIT_ERROR
        except (KeyboardInterrupt, click.exceptions.Abort, interrupts.Terminated) as e:
            code = interrupts.exit_code(e)
            click.echo("interrupted" if code == interrupts.EXIT_SIGINT else "terminated", err=True)
        if standalone_mode:
            sys.exit(code)
        return code


def _usage_line(e: click.ClickException) -> str:
    """A click error as one line: the message and where help is."""
    text = " ".join(e.format_message().split())
    ctx = getattr(e, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"error: {text}{hint}"


@click.group(cls=_CommandTable, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, "--version", "-V", prog_name="snncompile")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
def main(debug: bool) -> None:
    """snncompile: check that a spiking network is spike-driven and what it costs on Loihi."""
    _quiet_libraries()


if __name__ == "__main__":  # pragma: no cover
    main()
