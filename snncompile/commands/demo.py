"""``snncompile demo``: the main job end to end on the shipped example models."""
from __future__ import annotations

import os
import subprocess
import sys

import click

from snncompile.cli import guarded


def _examples_root() -> str:
    from snncompile import examples

    return os.path.join(os.path.dirname(examples.__file__), "models")


@click.command(epilog="Example:\n\n  snncompile demo")
@click.option("--models-dir", type=click.Path(file_okay=False), help="Where the trained example models live.")
@guarded
def demo(models_dir):
    """Train (only if missing) the digits examples, then check them and the papers' presets."""
    from snncompile.examples.train import ensure_trained

    root = models_dir or _examples_root()
    click.echo(f"== example models in {root} (trained only when missing)")
    ensure_trained(root)
    steps = []
    for name in ("spikformer-digits", "spikingformer-digits"):
        steps.append(["check", os.path.join(root, name, "checkpoint.pth"), "--verify-domains", "8"])
    steps.append(["check", "preset:spikformer:8-512"])
    steps.append(["check", "preset:spikingformer:8-512"])
    for args in steps:
        click.echo(f"\n== snncompile {' '.join(args)}")
        code = subprocess.call([sys.executable, "-m", "snncompile", *args])
        click.echo(f"-- exit code {code} ({ {0: 'clean', 1: 'findings', 2: 'error'}.get(code, '?') })")
