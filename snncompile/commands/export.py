"""``snncompile export MODEL --format nir|netx|onnx -o FILE``: the traced model in another tool's format.

One writer per format (``WRITERS``); each writes ``FILE`` completely or not at all.  A model the format
cannot carry is refused in one line naming the nodes and the reason (exit 2, nothing written); NIR's
``--partial`` writes the expressible subgraphs instead and lists every cut in ``FILE.json``.
"""
from __future__ import annotations

import os

import click

from snncompile.commands.common import guarded, load_and_trace, model_options
from snncompile.errors import InputError
from snncompile.exporters.netx import save_netx, to_netx
from snncompile.exporters.nir import save_nir, to_nir
from snncompile.exporters.onnx import save_onnx


def _write_onnx(graph, path, options) -> str:
    save_onnx(graph, path)
    return f"wrote {path} (ONNX)"


def _write_nir(graph, path, options) -> str:
    export = to_nir(graph, dt=options["dt"], partial=options["partial"])
    sidecar = path + ".json" if options["partial"] else None
    save_nir(export, path, sidecar_path=sidecar)
    cut = f", {len(export.cut)} node(s) cut (listed in {sidecar})" if export.cut else ""
    after = export.sidecar["after_time_loop"]
    later = f"; {len(after)} node(s) after the time loop not exported (graph metadata)" if after else ""
    return f"wrote {path} (NIR, {len(export.graph.nodes)} nodes, dt={options['dt']:g} s{cut}{later})"


def _write_netx(graph, path, options) -> str:
    export = to_netx(graph, calibration=options.get("calibration"))
    save_netx(export, path)
    return f"wrote {path} (lava-dl netx, {len(export.layers)} layers)"


WRITERS = {"nir": _write_nir, "netx": _write_netx, "onnx": _write_onnx}


@click.command(epilog="""\b
Examples:
  snncompile export ckpt.pth --model pkg.mod:build --format nir -o model.nir
  snncompile export examples/models/spikingformer-digits/checkpoint.pth --format nir --partial -o sf.nir
  snncompile export examples/models/sequential-digits/checkpoint.pth --format netx -o net.h5
  snncompile export preset:spikformer:4-384 --format onnx -o sf.onnx
""")
@model_options
@click.option("--format", "fmt", type=click.Choice(sorted(WRITERS)), required=True,
              help="nir: NIR HDF5 (snnTorch, Norse, Sinabs, SpiNNaker2, ...); netx: lava-dl netx HDF5 "
                   "(sequential networks, Loihi fixed point); onnx: ONNX with a custom domain for neurons.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--dt", type=float, default=1e-4, show_default=True,
              help="NIR: time step in seconds at which the neurons' time constants are stated (τ = τ_steps·dt).")
@click.option("--partial", is_flag=True,
              help="NIR: export the expressible subgraphs with named Input/Output boundaries instead of refusing; "
                   "the cuts are listed in FILE.json.")
@click.option("--calibration", type=click.Path(exists=True, dir_okay=False),
              help="netx: .npy of sample inputs for the fixed-point scales (default: inputs.npy beside MODEL).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@guarded
def export(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps, input_shape,
           input_domain, fmt, output, dt, partial, calibration, force):
    """Export MODEL's traced graph as NIR, lava-dl netx or ONNX."""
    if os.path.exists(output) and not force:
        raise InputError(f"{output} exists (--force replaces it)")
    if partial and fmt != "nir":
        raise InputError("--partial applies to --format nir only")
    loaded, graph = load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron,
                                   timesteps, input_shape, input_domain)
    options = {"dt": dt, "partial": partial, "calibration": _calibration(loaded, calibration)}
    click.echo(WRITERS[fmt](graph, output, options), err=True)


def _calibration(loaded, path):
    import numpy as np

    if path:
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"{path}: not a readable .npy file ({e})") from None
    return loaded.samples
