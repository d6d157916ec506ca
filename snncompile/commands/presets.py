"""``snncompile presets``: the example model presets usable as ``preset:ARCH:NAME``."""
from __future__ import annotations

import click

from snncompile import examples
from snncompile.commands.common import guarded


@click.command(epilog="Example:\n\n  snncompile presets\n\n  snncompile check preset:spikformer:8-512")
@guarded
def presets():
    """List example presets (architecture, preset name, parameters as the papers count them)."""

    p = examples.presets
    for arch, table in p.PRESETS.items():
        for name in table:
            published = p.PUBLISHED_PARAMS.get(arch, {}).get(name)
            note = f"  (published {published} M)" if published else ""
            click.echo(f"preset:{arch}:{name}{note}")
