"""``snncompile demo``: the main job end to end on the shipped example models."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import click

from snncompile import examples
from snncompile.commands.common import guarded

OUTCOME = {0: "ok", 1: "findings", 2: "error"}


@click.command(epilog="Example:\n\n  snncompile demo\n\n  snncompile demo --skip-lava")
@click.option("--models-dir", type=click.Path(file_okay=False), help="Where the trained example models live.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Where lowered networks go (default: a temp dir).")
@click.option("--images", type=int, default=8, show_default=True, help="Test images simulated on Lava.")
@click.option("--skip-lava", is_flag=True, help="Check and report only (no lowering or Lava simulation).")
@guarded
def demo(models_dir, out_dir, images, skip_lava):
    """Check, report, lower and simulate the shipped digits models, then check two paper presets.

    The digits models are trained only when missing (they ship with the package)."""

    root = models_dir or examples.MODELS_DIR
    click.echo(f"== example models in {root} (trained only when missing)")
    examples.train.ensure_trained(root)
    out_root = out_dir or tempfile.mkdtemp(prefix="snncompile-demo-")
    failures = 0
    for name in ("spikformer-digits", "spikingformer-digits"):
        folder = os.path.join(root, name)
        ckpt = os.path.join(folder, "checkpoint.pth")
        lowered = os.path.join(out_root, f"{name}.loihi")
        steps = [(["check", ckpt, "--verify-domains", "8"], (0, 1)),
                 (["report", ckpt, "--limit", "32", "--no-progress"], (0,))]
        if not skip_lava:
            steps += [(["lower", ckpt, "--mode", "fixed", "-o", lowered], (0,)),
                      (["run", lowered, "--input", os.path.join(folder, "inputs.npy"),
                        "--labels", os.path.join(folder, "labels.npy"), "--limit", str(images)], (0,))]
        failures += _run_steps(steps)
    failures += _run_steps([(["check", "preset:spikformer:8-512"], (1,)),
                            (["check", "preset:spikingformer:8-512"], (0,))])
    click.echo(f"\n== demo finished: {failures} unexpected outcome(s); lowered networks in {out_root}")
    sys.exit(1 if failures else 0)


def _run_steps(steps) -> int:
    failures = 0
    for args, expected in steps:
        click.echo(f"\n== snncompile {' '.join(args)}", nl=True)
        sys.stdout.flush()
        code = subprocess.call([sys.executable, "-m", "snncompile", *args])
        ok = code in expected
        failures += not ok
        click.echo(f"-- exit code {code} ({OUTCOME.get(code, '?')}){'' if ok else '  <- unexpected'}")
    return failures
