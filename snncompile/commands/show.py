"""``snncompile show MODEL``: the traced IR as text (or saved as .snnir / .onnx)."""
from __future__ import annotations

import click

from snncompile.analysis.domains import infer_domains
from snncompile.commands.common import guarded, load_and_trace, model_options
from snncompile.exporters.onnx import save_onnx
from snncompile.ir.printer import format_graph
from snncompile.ir.serialize import save_graph
from snncompile.outputs import check_file_target


@click.command(epilog="""\b
Examples:
  snncompile show preset:spikformer:4-384
  snncompile show ckpt.pth --save model.snnir --onnx model.onnx
""")
@model_options
@click.option("--save", type=click.Path(dir_okay=False), help="Also save the IR (.snnir: JSON + arrays in one zip).")
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False),
              help="Also export the IR to ONNX (same as 'snncompile export --format onnx').")
@click.option("--constants", is_flag=True, help="List constants (weights) too.")
@guarded
def show(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps, input_shape,
         input_domain, save, onnx_path, constants):
    """Trace MODEL and print its spike-graph IR with value domains."""

    for target in (save, onnx_path):
        if target:
            check_file_target(target)
    _, graph = load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps,
                              input_shape, input_domain)
    infer_domains(graph)
    click.echo(format_graph(graph, show_constants=constants), nl=False)
    if save:
        save_graph(graph, save)
    if onnx_path:
        save_onnx(graph, onnx_path)
