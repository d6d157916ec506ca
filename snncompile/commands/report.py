"""``snncompile report MODEL``: ops and energy per layer, from the graph and an exact run over data."""
from __future__ import annotations

import sys
from typing import Optional

import click
import numpy as np

from snncompile.backends.torch import resolve_device
from snncompile.commands.common import guarded, load_and_trace, model_options, write_atomically
from snncompile.energy import distributed, formats
from snncompile.energy.datasets import ArraySamples, RandomSamples, open_data
from snncompile.energy.ledger import read_ledger
from snncompile.energy.plots import write_plots
from snncompile.energy.pricing import estimate, models_from
from snncompile.energy.report import build_report
from snncompile.energy.streaming import count_dataset
from snncompile.errors import InputError
from snncompile.frontends.torch.loading import parse_model_args
from snncompile.outputs import check_file_target

SMALL_INPUT = 65536  # elements per sample up to which the default traced batch is 8 (else 1)


@click.command(epilog="""\b
Examples:
  snncompile report examples/models/spikingformer-digits/checkpoint.pth
  snncompile report preset:spikingformer:8-512 --random 0          # structural FLOPs only
  snncompile report ckpt.pth --data val.npy --batch 16 --format json -o report.json --plot plots/
  snncompile report preset:spikformer:digits --random 32 --format csv
  snncompile report ckpt.pth --dataset torchvision.datasets:CIFAR10 --dataset-root data --dataset-arg train=false
  snncompile report ckpt.pth --data shards/ --workers 4 --device cuda:0 --energy-model my_chip.toml
  torchrun --nproc_per_node 4 -m snncompile report ckpt.pth --data shards/ --device cuda
\b
Every figure is per image.  FLOPs are structural (bias adds included, every time step the layer runs,
as the papers count them); SOPs(papers) = input firing rate x FLOPs; ACs are exact (counted run; --engine).
Energy, side by side: 45 nm (4.6 pJ/MAC, 0.9 pJ/AC; Horowitz 2014), Loihi (23.6 pJ/SOP; Davies et al.
2018), Loihi per event (SANA-FE), memory-aware (Lemaire et al. 2022), and --energy-model files.
""")
@model_options
@click.option("--data", type=click.Path(), help=".npy of samples [N, ...], or a folder of .npy/.npz shards (streamed).")
@click.option("--dataset", metavar="PKG.MOD:CLASS",
              help="torchvision-style dataset class, built as CLASS(root, **args) (imports that code: name only code you trust; --import-path adds folders).")
@click.option("--dataset-arg", "dataset_args", multiple=True, metavar="KEY=VALUE",
              help="Keyword argument for --dataset (repeatable; values parsed as JSON).")
@click.option("--dataset-root", type=click.Path(exists=True, file_okay=False), help="Root folder passed to --dataset.")
@click.option("--random", "random_n", type=click.IntRange(min=0), metavar="N",
              help="Use N seeded random inputs instead (0: structural figures only, no run).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Use at most the first N samples of --data / --dataset.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --random inputs.")
@click.option("--batch", "-b", type=click.IntRange(min=1), metavar="B",
              help="Images per run: the traced batch and the DataLoader's (default 8, or 1 for inputs over "
                   "64k elements).")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True,
              help="Arithmetic of the counting run (float64: counts equal the reference exactly).")
@click.option("--engine", type=click.Choice(["torch", "numpy"]), default="torch", show_default=True,
              help="Counting engine: torch ops (any device) or the numpy reference executor (the specification).")
@click.option("--device", default="cpu", show_default=True, metavar="cpu|cuda[:N]", help="Device of the torch engine.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="DataLoader worker processes reading the samples.")
@click.option("--energy-model", "energy_models", multiple=True, type=click.Path(dir_okay=False),
              help="Extra energy model from a TOML/JSON price list, shown beside the built-in ones (repeatable).")
@click.option("--ledger", type=click.Path(exists=True), help="Per-core ledger JSON (or a lowering folder) to show side by side.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write PNG plots here: firing rate and energy per layer (and per-core load with --ledger).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no notices on stderr.")
@guarded
def report(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps, input_shape,
           input_domain, data, dataset, dataset_args, dataset_root, random_n, limit, seed, batch, dtype, engine,
           device, workers, energy_models, ledger, fmt, output, plot_dir, progress, quiet):
    """Count the operations of MODEL per layer and estimate its energy.

    Per weight layer and spike matmul (module path as named_modules() spells it): structural FLOPs, input
    firing rate, SOPs as the papers estimate them, exact ACs, MACs, integer x float multiplications, output
    firing rate and energy; totals split into encoding / body / readout.  Data: --data X.npy, --random N, or
    inputs.npy beside MODEL (default; else one random input).
    """
    if (data or dataset) and random_n is not None:
        raise click.UsageError(f"give either {'--data' if data else '--dataset'} or --random, not both")
    dev = resolve_device(device)
    prices = models_from(energy_models)
    if dataset:  # the user named code to import: their --import-path folders come first
        sys.path[:0] = [p for p in import_paths if p not in sys.path]
    samples = open_data(data, dataset, parse_model_args(dataset_args), dataset_root, limit)
    led = read_ledger(ledger) if ledger else None
    if output:
        check_file_target(output, inputs=(model_source, data, ledger))
    model = (model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps, input_shape, input_domain)
    loaded, graph = _trace_at_batch(model, batch, samples, random_n, limit)
    samples = _samples_for(graph, loaded, samples, random_n, limit, seed)
    counts = None
    if samples is not None:
        if samples.n == 0:
            raise InputError("no samples to run")
        counts = count_dataset(graph, samples, engine=engine, device=dev, dtype=np.dtype(dtype), workers=workers,
                               progress=False if quiet else progress)
    if distributed.rank() != 0:  # under torchrun, rank 0 writes the report of all processes' counts
        return distributed.leave()
    distributed.leave()
    result = build_report(graph, counts, data=samples.describe if samples is not None else "", ledger=led)
    result.estimates = estimate(graph, result, counts, prices)
    if led is not None and not result.measured:
        result.notes.append("the ledger is shown without an executor run to compare with")
    text = {"json": formats.to_json, "csv": formats.to_csv}.get(fmt, formats.to_text)(result)
    if output:
        write_atomically(output, text)
    else:
        click.echo(text, nl=False)
    if plot_dir:
        for path in write_plots(result, plot_dir):
            if not quiet:
                click.echo(f"wrote {path}", err=True)


def _default_batch(per_sample: int, n: int) -> int:
    """The traced batch: big enough to vectorise, small enough for ImageNet-size inputs."""
    return max(1, min(8 if per_sample <= SMALL_INPUT else 1, n))


def _trace_at_batch(model: tuple, batch: Optional[int], samples, random_n: Optional[int], limit: Optional[int]):
    """Trace MODEL at ``batch``, or at the default batch for its input size (tracing twice when the input
    size is only known from a first trace)."""
    n_hint = samples.n if samples is not None else (random_n if random_n is not None else 1)
    b = batch
    if b is None and samples is not None:
        b = _default_batch(int(np.prod(samples.shape)), samples.n)
    loaded, graph = load_and_trace(*model, batch=b or 1)
    if b is None:  # decide from the traced input and re-trace at the chosen size when it differs
        per = int(np.prod(graph.values[graph.inputs[0]].shape[1:]))
        if samples is None and random_n is None and loaded.samples is not None:
            n_hint = min(len(loaded.samples), limit or len(loaded.samples))
        want = _default_batch(per, max(n_hint, 1))
        if want != 1:
            loaded, graph = load_and_trace(*model, batch=want)
    return loaded, graph


def _samples_for(graph, loaded, samples, random_n: Optional[int], limit: Optional[int], seed: int):
    """The inputs to run: --data / --dataset, else --random N (None for 0: structural figures only), else the
    samples beside MODEL when their shape fits, else one seeded random input."""
    if samples is not None:
        return samples
    shape = tuple(graph.values[graph.inputs[0]].shape[1:])
    if random_n is not None:
        return RandomSamples(random_n, shape, loaded.input_domain.is_binary, seed) if random_n else None
    if loaded.samples is not None and tuple(loaded.samples.shape[1:]) == shape:
        return ArraySamples(loaded.samples, "inputs.npy beside MODEL", limit)
    return RandomSamples(1, shape, loaded.input_domain.is_binary, seed)
