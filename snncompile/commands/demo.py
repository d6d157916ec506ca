"""``snncompile demo``: the main job end to end on the shipped example models."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import NamedTuple, Optional

import click

from snncompile import examples
from snncompile.backends import lava as lava_backend
from snncompile.commands.common import guarded
from snncompile.outputs import ensure_dir

OUTCOME = {0: "ok", 1: "findings", 2: "error"}


class Step(NamedTuple):
    """One ``snncompile`` call of the demo, the exit codes it may end with, and why it is skipped (if so)."""
    args: list
    expected: tuple
    skipped: Optional[str] = None


@click.command(epilog="Example:\n\n  snncompile demo\n\n  snncompile demo --skip-lava")
@click.option("--models-dir", type=click.Path(file_okay=False), help="Where the trained example models live.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Where lowered networks go (default: a temp dir).")
@click.option("--images", type=click.IntRange(min=1), default=8, show_default=True, help="Test images simulated on Lava.")
@click.option("--skip-lava", is_flag=True, help="Check and report only (no lowering or Lava simulation).")
@guarded
def demo(models_dir, out_dir, images, skip_lava):
    """Check, report, lower and simulate the shipped digits models, then check two paper presets.

    The digits models are trained only when missing (they ship with the package).  Without Lava (a core
    install), the simulations are skipped and the demo says why."""

    root = models_dir or examples.MODELS_DIR
    click.echo(f"== example models in {root} (trained only when missing)")
    examples.train.ensure_trained(root)
    if out_dir:
        ensure_dir(out_dir)
    out_root = out_dir or tempfile.mkdtemp(prefix="snncompile-demo-")
    lava_ok, lava_why = lava_backend.lava_status()
    failures = 0
    for name in ("spikformer-digits", "spikingformer-digits"):
        folder = os.path.join(root, name)
        ckpt = os.path.join(folder, "checkpoint.pth")
        lowered = os.path.join(out_root, f"{name}.loihi")
        steps = [Step(["check", ckpt, "--verify-domains", "8"], (0, 1)),
                 Step(["report", ckpt, "--limit", "32", "--no-progress"], (0,))]
        if not skip_lava:
            steps += [Step(["lower", ckpt, "--mode", "fixed", "-o", lowered], (0,)),
                      Step(["run", lowered, "--input", os.path.join(folder, "inputs.npy"),
                            "--labels", os.path.join(folder, "labels.npy"), "--limit", str(images)], (0,),
                           skipped=None if lava_ok else lava_why)]
        failures += _run_steps(steps)
    failures += _run_steps([Step(["check", "preset:spikformer:8-512"], (1,)),
                            Step(["check", "preset:spikingformer:8-512"], (0,))])
    click.echo(f"\n== demo finished: {failures} unexpected outcome(s); lowered networks in {out_root}")
    sys.exit(1 if failures else 0)


def _run_steps(steps: list) -> int:
    """Run each step (skipped ones only announced); the number that ended with an unexpected exit code."""
    failures = 0
    for args, expected, skipped in steps:
        if skipped:
            click.echo(f"\n== skipped snncompile {' '.join(args)}: {skipped}")
            continue
        click.echo(f"\n== snncompile {' '.join(args)}", nl=True)
        sys.stdout.flush()
        code = subprocess.call([sys.executable, "-m", "snncompile", *args])
        ok = code in expected
        failures += not ok
        click.echo(f"-- exit code {code} ({OUTCOME.get(code, '?')}){'' if ok else '  <- unexpected'}")
    return failures
