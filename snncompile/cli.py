"""The ``snncompile`` command line: the group.  Subcommands are registered in one place,
``snncompile.commands.COMMAND_MODULES``; what they share is ``snncompile.commands.common``.

Exit codes (a contract): 0 success / clean, 1 findings, 2 usage or input errors.  Errors are one
line on stderr; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import importlib
import logging
import os
import warnings

import click

from snncompile import __version__
from snncompile.commands import COMMAND_MODULES


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
Exit codes: 0 clean, 1 findings, 2 usage or input error.
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


@click.group(cls=_CommandTable, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, "--version", "-V", prog_name="snncompile")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
def main(debug: bool) -> None:
    """snncompile: check that a spiking network is spike-driven and what it costs on Loihi."""
    _quiet_libraries()


if __name__ == "__main__":  # pragma: no cover
    main()
