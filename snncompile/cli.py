"""The ``snncompile`` command line: the group.  Subcommands are registered in one place,
``snncompile.commands.COMMAND_MODULES``; what they share is ``snncompile.commands.common``.

Exit codes (a contract): 0 success / clean, 1 findings, 2 usage or input errors, 130 interrupted
(SIGINT), 143 terminated (SIGTERM).  Errors are one line on stderr; ``--debug`` shows the traceback.
Outputs are written by ``snncompile.outputs``; the current directory is not importable
(``snncompile.importpath``).
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings

import click

from snncompile import __version__, interrupts
from snncompile.commands import COMMAND_MODULES, COMMAND_SUMMARIES
from snncompile.importpath import drop_working_directory

EXIT_CLEAN, EXIT_ERROR = 0, 2


def _quiet_libraries() -> None:
    """Silence import-time chatter of torch/spikingjelly (CUDA probes, optional-dataset notices)."""
    warnings.filterwarnings("ignore")
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


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
    """The subcommands of ``snncompile.commands.COMMAND_MODULES``, each module imported when its command is
    used (click's lazy group: most import torch).  The command modules never import this module (their shared
    helpers are ``snncompile.commands.common``), so this is not a cycle."""

    def list_commands(self, ctx):
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx, name):
        module = COMMAND_MODULES.get(name)
        if module is None:
            return None
        return getattr(importlib.import_module(f"snncompile.commands.{module}"), name)

    def format_commands(self, ctx, formatter):
        """The command list of ``--help`` from ``COMMAND_SUMMARIES``: no command module is imported."""
        limit = formatter.width - 6 - max(len(n) for n in COMMAND_MODULES)
        rows = [(n, click.utils.make_default_short_help(COMMAND_SUMMARIES[n], limit)) for n in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Click's main with the CLI contract: the current directory off ``sys.path``; usage errors as
        one line (exit 2); SIGINT exits 130 and SIGTERM 143 after ``finally`` blocks have cleaned up."""
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
