"""``snncompile check MODEL``: the spike-purity gate."""
from __future__ import annotations

import sys
from typing import Optional

import click

from snncompile import validate
from snncompile.backends.reference.verify import verify_domains
from snncompile.check import check_graph
from snncompile.commands.common import (EXIT_CLEAN, EXIT_FINDINGS, guarded, load_and_trace, model_options,
                                        write_atomically)
from snncompile.config import load_policy
from snncompile.errors import InputError
from snncompile.outputs import check_file_target
from snncompile.reports import formats


@click.command(epilog="""\b
Examples:
  snncompile check model.pt --trust-pickle
  snncompile check ckpt.pth --model mypkg.models:spikformer --model-arg depth=4
  snncompile check preset:spikformer:4-384 --format sarif -o snn.sarif
  snncompile check model.pt --trust-pickle --verify-domains 8 --exit-zero
""")
@model_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--select", multiple=True, metavar="CODES", help="Only these rule codes or prefixes (comma-separated).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rule codes or prefixes.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="pyproject.toml or setup.cfg to read policy from (default: the nearest one).")
@click.option("--allow-encoding-mac/--forbid-encoding-mac", default=None,
              help="Allow MACs in the layer fed the analog input (default: allowed).")
@click.option("--allow-readout-mac/--forbid-readout-mac", default=None,
              help="Allow MACs after the last neuron (default: allowed).")
@click.option("--verify-domains", type=click.IntRange(min=0), default=0, metavar="N",
              help="Run the reference executor on N sample inputs and fail if a value leaves its static domain.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help=".npy of sample inputs for --verify-domains (default: inputs.npy beside MODEL, else random).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even with findings (report only).")
@click.option("--verbose", "-v", is_flag=True, help="List every weight layer, spike-driven ones too.")
@click.option("--color/--no-color", default=None, help="Colour text output (default: when stdout is a TTY).")
@guarded
def check(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps, input_shape,
          input_domain, fmt, output, select, ignore, config_file, allow_encoding_mac, allow_readout_mac,
          verify_domains, data, exit_zero, verbose, color):
    """Check that every operation of MODEL is spike-driven.

    MODEL is a whole-module file (model.pt, needs --trust-pickle), a state-dict checkpoint (with --model, or
    written by snncompile's example trainer) or preset:ARCH:NAME.  Each finding names the rule, the module
    path, the op, the input's value domain, the source line and a fix.
    """

    policy = load_policy(explicit=config_file).override(
        select=select, ignore=ignore, allow_encoding_mac=allow_encoding_mac, allow_readout_mac=allow_readout_mac)
    if output:
        check_file_target(output, inputs=(model_source, data, config_file))
    loaded, graph = load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron,
                                   timesteps, input_shape, input_domain)
    result = check_graph(graph, policy)
    verify = _verify(graph, loaded, verify_domains, data) if verify_domains else None
    if fmt == "json":
        text = formats.to_json(result, verify)
    elif fmt == "sarif":
        text = formats.to_sarif(result, verify)
    else:
        use_color = (sys.stdout.isatty() and not output) if color is None else color
        text = formats.to_text(result, color=use_color, verbose=verbose, verify=verify)
    if output:
        write_atomically(output, text)
    else:
        click.echo(text, nl=False)
    failed = bool(result.failing) or bool(verify and verify["violations"])
    sys.exit(EXIT_FINDINGS if failed and not exit_zero else EXIT_CLEAN)


def _verify(graph, loaded, n: int, data: Optional[str]) -> dict:
    """Run the reference executor on ``n`` samples; a dict for the formatters."""
    import numpy as np

    if data:
        samples = validate.load_array(data, "--data")
    elif loaded.samples is not None:
        samples = loaded.samples
    else:
        samples = np.stack([loaded.example_input(1, seed=i).numpy()[0] for i in range(n)])
    expected = tuple(graph.values[graph.inputs[0]].shape[1:])
    if tuple(samples.shape[1:]) != expected:
        raise InputError(f"sample inputs have shape {tuple(samples.shape[1:])} per item, the model takes {expected}")
    report = verify_domains(graph, samples[:n])
    return report.to_dict()
