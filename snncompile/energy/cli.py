"""``snncompile report MODEL``: ops and energy per layer, from the graph and an exact run over data."""
from __future__ import annotations

from typing import Optional

import click

from snncompile.cli import guarded, load_and_trace, model_options, write_atomically

SMALL_INPUT = 65536  # elements per sample up to which the default traced batch is 8 (else 1)


@click.command(epilog="""\b
Examples:
  snncompile report examples/models/spikingformer-digits/checkpoint.pth
  snncompile report preset:spikingformer:8-512 --random 0          # structural FLOPs only
  snncompile report ckpt.pth --data val.npy --batch 16 --format json -o report.json --plot plots/
  snncompile report preset:spikformer:digits --random 32 --format csv
\b
Every figure is per image.  FLOPs are structural (bias adds included, every time step the layer runs,
as the papers count them); SOPs(papers) = input firing rate x FLOPs; ACs are exact (reference executor).
Energy: 45 nm (4.6 pJ/MAC, 0.9 pJ/AC; Horowitz 2014) and Loihi (23.6 pJ/SOP; Davies et al. 2018).
""")
@model_options
@click.option("--data", type=click.Path(dir_okay=False), help=".npy of input samples [N, ...] (read batch by batch).")
@click.option("--random", "random_n", type=click.IntRange(min=0), metavar="N",
              help="Use N seeded random inputs instead (0: structural figures only, no run).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Use at most the first N samples of --data.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --random inputs.")
@click.option("--batch", "-b", type=click.IntRange(min=1), metavar="B",
              help="Images per executor run (the traced batch; default 8, or 1 for inputs over 64k elements).")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True,
              help="Arithmetic of the reference executor.")
@click.option("--ledger", type=click.Path(exists=True), help="Per-core ledger JSON (or a lowering folder) to show side by side.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write PNG plots here: firing rate and energy per layer (and per-core load with --ledger).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
@guarded
def report(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps, input_shape,
           input_domain, data, random_n, limit, seed, batch, dtype, ledger, fmt, output, plot_dir, progress):
    """Count the operations of MODEL per layer and estimate its energy.

    Per weight layer and spike matmul (module path as named_modules() spells it): structural FLOPs, input
    firing rate, SOPs as the papers estimate them, exact ACs, MACs, integer x float multiplications, output
    firing rate and energy; totals split into encoding / body / readout.  Data: --data X.npy, --random N, or
    inputs.npy beside MODEL (default; else one random input).
    """
    import numpy as np

    from snncompile.errors import InputError
    from snncompile.outputs import check_file_target

    from . import formats
    from .ledger import read_ledger
    from .report import Samples, build_report, load_samples, stream_counts

    if data and random_n is not None:
        raise click.UsageError("give either --data or --random, not both")
    samples: Optional[Samples] = None
    if data:
        samples = load_samples(data, limit)
    led = read_ledger(ledger) if ledger else None
    if output:
        check_file_target(output, inputs=(model_source, data, ledger))

    # the traced batch: big enough to vectorise, small enough for ImageNet-size inputs
    def default_batch(per_sample: int, n: int) -> int:
        return max(1, min(8 if per_sample <= SMALL_INPUT else 1, n))

    n_hint = samples.n if samples is not None else (random_n if random_n is not None else 1)
    b = batch
    if b is None and samples is not None:
        b = default_batch(int(np.prod(samples.shape)), samples.n)
    loaded, graph = load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps,
                                   input_shape, input_domain, batch=b or 1)
    if b is None:  # decide from the traced input and re-trace at the chosen size when it differs
        per = int(np.prod(graph.values[graph.inputs[0]].shape[1:]))
        if samples is None and random_n is None and loaded.samples is not None:
            n_hint = min(len(loaded.samples), limit or len(loaded.samples))
        want = default_batch(per, max(n_hint, 1))
        if want != 1:
            loaded, graph = load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron,
                                           timesteps, input_shape, input_domain, batch=want)
    shape = tuple(graph.values[graph.inputs[0]].shape[1:])
    if samples is None:
        if random_n is not None:
            samples = Samples.random(random_n, shape, loaded.input_domain.is_binary, seed) if random_n else None
        elif loaded.samples is not None and tuple(loaded.samples.shape[1:]) == shape:
            samples = Samples.from_array(loaded.samples, "inputs.npy beside MODEL", limit)
        else:
            samples = Samples.random(1, shape, loaded.input_domain.is_binary, seed)
    counts = None
    if samples is not None:
        if samples.n == 0:
            raise InputError("no samples to run")
        counts = stream_counts(graph, samples, dtype=np.dtype(dtype), progress=progress)
    result = build_report(graph, counts, data=samples.describe if samples is not None else "", ledger=led)
    if led is not None and not result.measured:
        result.notes.append("the ledger is shown without an executor run to compare with")
    text = {"json": formats.to_json, "csv": formats.to_csv}.get(fmt, formats.to_text)(result)
    if output:
        write_atomically(output, text)
    else:
        click.echo(text, nl=False)
    if plot_dir:
        from .plots import write_plots

        for path in write_plots(result, plot_dir):
            click.echo(f"wrote {path}", err=True)
