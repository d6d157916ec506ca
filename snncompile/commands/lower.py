"""``snncompile lower`` and ``snncompile run``: the Loihi commands (registered by ``snncompile.cli``).

``lower MODEL --target loihi [-o DIR] [--mode float|fixed] [--limits FILE]`` traces MODEL, applies the
Loihi passes, partitions it over cores, quantises it (fixed mode) and writes a self-contained directory
(atomically; nothing is left behind on error).  It needs no Lava.

``run DIR --input X.npy [--steps N] [--format table|json]`` simulates the lowered network on Lava
(CPU, ``Loihi2SimCfg``) with a progress bar, prints the predictions and the per-core ledger, and writes a
PNG of the per-core load.  Lava missing or Python ≠ 3.10: a one-line error, exit 2.
"""
from __future__ import annotations

import os
import sys

import click
import numpy as np

from snncompile.backends.lava.availability import require_lava
from snncompile.backends.lava.lower import (_json_default, load_lowered, lower_graph, lowering_report, run_lowered,
                                            save_lowered)
from snncompile import strictjson, validate
from snncompile.commands.common import guarded, load_and_trace, model_options
from snncompile.energy.plots import plot_core_load
from snncompile.errors import InputError
from snncompile.loihi import get_limits, partition, prepare
from snncompile.loihi.fixed import QuantConfig
from snncompile.outputs import check_directory_target, check_file_target, ensure_dir, write_file


@click.command("lower", epilog="""\b
Examples:
  snncompile lower examples/models/spikformer-digits/checkpoint.pth --target loihi -o out/spikformer.loihi
  snncompile lower preset:spikformer:8-512 --target loihi --limits loihi1
  snncompile lower ckpt.pth --target loihi --mode fixed --limits my_chip.json
""")
@model_options
@click.option("--target", type=click.Choice(["loihi"]), default="loihi", show_default=True)
@click.option("-o", "--output", "output", type=click.Path(file_okay=False),
              help="Directory to write (default: out/<model>.loihi).")
@click.option("--mode", type=click.Choice(["float", "fixed"]), default="float", show_default=True,
              help="float: float64 Lava models; fixed: Loihi fixed point (8-bit weight mantissas, or 16 with --weight-bits, 24-bit states).")
@click.option("--limits", "limits_file", metavar="loihi1|loihi2|FILE",
              help="Limits table: loihi2 (default), loihi1, or a JSON/TOML file of overrides.")
@click.option("--calibration", type=click.Path(exists=True, dir_okay=False),
              help=".npy of sample inputs to choose the fixed-point input scale (default: inputs.npy beside MODEL).")
@click.option("--readout", type=click.Choice(["host", "chip"]), default="host", show_default=True,
              help="host: the readout value leaves the chip every step; chip: a non-spiking integrator "
                   "population sums it over T and is read once per input (the host must use only its sum or "
                   "mean over T; fixed mode: an integer sum dequantised on the host, refused where it may "
                   "overflow 24 bits).")
@click.option("--weight-bits", type=click.Choice(["8", "16"]), default=None,
              help="Fixed mode: the weights' mantissa bits. 8 (default): one 8-bit Loihi synapse per connection; "
                   "16: every weight layer as two synapses, a high and a low 8-bit mantissa (exponents e and e-8), "
                   "twice the synapses and synaptic ops (counted in the partition and the ledger).")
@click.option("--partition-only", is_flag=True, help="Only print the partition (cores, chips); write nothing.")
@click.option("--force", is_flag=True,
              help="Replace DIR if snncompile wrote it (it holds snncompile-manifest.json and nothing else of yours).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def lower(model_source, factory, model_args, trust_pickle, import_paths, neuron, timesteps, input_shape,
          input_domain, target, output, mode, limits_file, calibration, readout, weight_bits, partition_only, force,
          fmt):
    """Lower MODEL to Lava processes for Loihi (see 'snncompile run')."""

    if weight_bits is not None and mode != "fixed":
        raise InputError("--weight-bits applies to --mode fixed (float mode keeps float64 weights)")
    quant_config = QuantConfig(weight_bits=int(weight_bits)) if weight_bits else None
    limits = get_limits(limits_file)
    if output and not partition_only:
        check_directory_target(output, force=force)
    loaded, graph = load_and_trace(model_source, factory, model_args, trust_pickle, import_paths, neuron,
                                   timesteps, input_shape, input_domain)
    if partition_only:
        prepared = prepare(graph)
        part = partition(prepared.network, limits, readout=readout,
                         synapse_planes=quant_config.synapse_planes if quant_config else 1)
        click.echo(strictjson.dumps(part.to_dict(), indent=1) if fmt == "json" else part.table())
        return

    cal = None
    if mode == "fixed":
        if calibration:
            cal = validate.load_array(calibration, "--calibration")
        elif loaded.samples is not None:
            cal = np.asarray(loaded.samples)
        else:
            raise InputError("fixed mode needs sample inputs for the input scale: --calibration X.npy")
    low = lower_graph(graph, mode=mode, limits=limits, calibration=cal, readout=readout, quant_config=quant_config)
    out = output or os.path.join("out", f"{_slug(loaded.name)}.loihi")
    if not output:
        ensure_dir("out")
    path = save_lowered(low, out, model_name=loaded.name, force=force)
    if fmt == "json":
        click.echo(strictjson.dumps({"directory": path, "mode": mode, "processes": low.plan.summary(),
                               "cores": low.part.cores, "chips": low.part.chips}, indent=1))
    else:
        click.echo(lowering_report(low, loaded.name))
        click.echo(f"wrote {path}")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in (name or "model")).strip("-") or "model"


@click.command("run", epilog="""\b
Examples:
  snncompile run out/spikformer.loihi --input examples/models/spikformer-digits/inputs.npy
  snncompile run out/spikformer.loihi --input x.npy --labels y.npy --format json
""")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--input", "input_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help=".npy of inputs [N, ...] (one sample: its shape without N).")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), help=".npy of labels (prints accuracy).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N inputs.")
@click.option("--steps", type=click.IntRange(min=1),
              help="Time steps per input (default: the T the model was traced with).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--png", type=click.Path(dir_okay=False), help="Per-core load plot (default: DIR/core_load.png).")
@click.option("--all-cores", is_flag=True, help="List idle cores too.")
@guarded
def run(directory, input_file, labels, limit, steps, fmt, png, all_cores):
    """Simulate a lowered network on Lava; print predictions and the per-core ledger."""
    low = load_lowered(directory)
    png = png or os.path.join(directory, "core_load.png")
    for target in (png, os.path.join(directory, "ledger.json")):
        check_file_target(target)
    x = validate.load_array(input_file, "--input")
    y = validate.load_array(labels, "--labels") if labels else None
    if limit:
        x = x[:limit]
        y = y[:limit] if y is not None else None
    batched = x.ndim == len(low.program.full_shapes[low.program.step.inputs[0]])
    validate.samples_match(x if batched else x[None], y)
    _check_run_budget(low, len(x) if batched else 1, steps)
    require_lava()  # after the inputs are validated: their errors do not depend on Lava
    bar = _progress(fmt)
    try:
        res = run_lowered(low, x, labels=y, progress=bar.update if bar else None, steps=steps)
    finally:
        if bar:
            bar.close()
    if res.ledger.cores:
        plot_core_load(png, [c.synaptic_ops / max(res.ledger.samples, 1) for c in res.ledger.cores],
                       [c.layer for c in res.ledger.cores], "per-core load", "synaptic ops per input")
    doc = strictjson.dumps(_result_dict(res, low, png), indent=1, default=_default)
    write_file(os.path.join(directory, "ledger.json"), doc + "\n")  # read by `snncompile report --ledger DIR`
    if fmt == "json":
        click.echo(doc)
    else:
        click.echo(_result_table(res, low, png, all_cores))


def _check_run_budget(low, n: int, steps) -> None:
    """Refuse a run whose step inputs (N x steps x input elements, float64: what ``run_lowered`` builds
    before Lava starts) would not fit in memory."""
    prog = low.program
    per_input = int(np.prod(prog.full_shapes[prog.step.inputs[0]][1:], dtype=np.float64))
    t = steps or prog.T
    validate.require_memory(n * t * per_input * 8, f"run {low.folder}",
                            f"{n} input(s) x {t} steps x {per_input} values, float64")


def _default(o):
    """JSON encoding of numpy scalars and arrays (shared with the lowering's own files)."""

    return _json_default(o)


class _Bar:
    def __init__(self):
        from tqdm import tqdm

        self.t = tqdm(total=None, unit="step", desc="lava", file=sys.stderr, leave=False)

    def update(self, done, total):
        self.t.total = total
        self.t.n = done
        self.t.refresh()

    def close(self):
        self.t.close()


def _progress(fmt):
    if not sys.stderr.isatty():
        return None
    try:
        return _Bar()
    except Exception:  # noqa: BLE001 - tqdm missing: no bar
        return None


def _result_dict(res, low, png) -> dict:
    led = res.ledger
    return {"model": low.doc.get("model"), "mode": low.mode, "predictions": res.predictions.tolist(),
            "logits": [o[0].reshape(-1).tolist() for o in res.outputs], "accuracy": res.accuracy,
            "ledger": led.to_dict(), "energy": led.energy(low.limits.pj_per_synop), "timing": res.timing,
            "limits": low.limits.name, "png": png}


def _result_table(res, low, png, all_cores) -> str:
    led = res.ledger
    tot = led.totals()
    lines = [f"{low.doc.get('model')} on Lava ({low.mode}, {res.timing['processes']} processes): "
             f"{res.timing['images']} input(s), {res.timing['lava_steps']} Lava steps, "
             f"{res.timing['wall_s']:.1f} s (start-up {res.timing['startup_s']:.1f} s, "
             f"{res.timing['per_image_s'] * 1000:.0f} ms per input after it)",
             "predictions: " + " ".join(str(int(p)) for p in res.predictions)]
    if res.accuracy is not None:
        lines.append(f"accuracy: {res.accuracy * 100:.2f}%")
    lines += ["", f"{'core':>5s}  {'layer':40s} {'kind':9s} {'synaptic ops':>13s} {'spikes':>9s} {'updates':>9s}"]
    for c in led.cores:
        if not all_cores and not (c.synaptic_ops or c.spikes or c.neuron_updates):
            continue
        lines.append(f"{c.core:5d}  {(c.module or c.layer)[:40]:40s} {c.kind:9s} {c.synaptic_ops:13d} "
                     f"{c.spikes:9d} {c.neuron_updates:9d}")
    for name, h in led.host.items():
        lines.append(f"{'host':>5s}  {(h.get('module') or name)[:40]:40s} {h['kind']:9s} {h['synaptic_ops']:13d}")
    e = led.energy(low.limits.pj_per_synop)
    lines += ["", f"totals over {led.samples} input(s): {tot['synaptic_ops']} synaptic ops "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(tot['by_kind'].items()))}), "
                  f"{tot['on_chip']['spikes']} spikes, {tot['on_chip']['neuron_updates']} neuron updates; "
                  f"{tot['cores_used']} of {tot['cores']} cores active ({low.limits.name})"]
    co = tot.get("coincidence", {})
    if co.get("compartment_updates"):  # products of spike trains: the populations' own work (ledger docstring)
        lines.append(f"coincidence populations (products of spikes): {co['unit_synapse_events']} unit-synapse "
                     f"events, {co['compartment_updates']} compartment updates (not in the totals above)")
    ig = tot.get("integrator", {})
    if ig.get("compartment_updates"):  # --readout chip: the readouts' integrators (ledger docstring)
        lines.append(f"readout integrators on chip: {ig['synaptic_ops']} synaptic ops (in the totals above), "
                     f"{ig['compartment_updates']} compartment updates")
    sw = tot.get("split_synapses", {})
    if sw.get("synaptic_ops"):  # --weight-bits 16: the low synapses fire with the high ones (ledger docstring)
        lines.append(f"split weight layers (16-bit weights): {sw['synaptic_ops']} low-synapse ops (in the totals "
                     f"above; the per-core column shows the high synapses' ops)")
    lines += [f"energy: {e['paper_45nm_pJ'] / 1e6 / max(led.samples, 1):.4f} uJ per input ({e['paper_model']})"
              + (f"; {e['chip_pJ'] / 1e6 / max(led.samples, 1):.4f} uJ per input ({e['chip_model']})"
                 if "chip_pJ" in e else ""),
              f"per-core load: {png}"]
    return "\n".join(lines)


COMMANDS = [lower, run]
