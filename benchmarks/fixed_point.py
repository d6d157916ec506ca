"""Fixed-point accuracy of every shipped trained digits model: torch vs the fixed-point executor (the
specification of the Lava ``fixed_pt`` run) on the 360 test digits, calibrated on the training digits.

    python benchmarks/fixed_point.py [ARCH ...] [--limit N] [--split test|train] [--config NAME]
                                     [--json benchmarks/fixed_point_results.json]

Each model is loaded and traced by ``snncompile.frontends.shipped.load_shipped`` (as the CLI does).  Static-input
models (Spikformer, ...) get the image; models with a time axis get it repeated over T, batch first (the traced
graph's layout).  Prints per model: torch / fixed correct,
agreement, and the quantisation table; families that do not lower print their refusal."""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

FAMILIES = ["spikformer", "spikingformer", "sdt", "qkformer", "metaspikeformer", "ilifnet", "sew_resnet-add",
            "sew_resnet-and", "sew_resnet-iand", "spiking_resnet"]


def folder_name(arch: str) -> str:
    """The shipped model's folder: ``sew_resnet-iand`` -> ``sew_resnet-digits-iand``."""
    base, _, variant = arch.partition("-")
    return f"{base}-digits" + (f"-{variant}" if variant else "")


CONFIGS = {  # quantiser choices compared in benchmarks/fixed_point_results.md
    "default": {},
    # main's quantiser: one scale per class, one threshold per population, 8-bit power-of-two input, domain bounds
    "per_layer": {"per_channel": False, "input_bits": 8, "pow2_input": True, "current_margin": None,
                  "bias_correction": False},
    # per-channel only: rounded thresholds, domain bounds, no bias correction
    "rounded_thresholds": {"exact_thresholds": False, "current_margin": None, "bias_correction": False},
    "input16": {"input_bits": 16},
    "no_bias_correction": {"bias_correction": False},
    "nearest_rounding": {"compensated_rounding": False},
    # every weight layer as two 8-bit synapses (exponents e, e-8): 16-bit mantissas, twice the synaptic ops
    "weight16": {"weight_bits": 16},
}


CALIBRATION_SAMPLES = 32  # lower_graph's current_samples: the images whose float run calibrates the quantiser


def quant_config(name: str):
    from snncompile.loihi.fixed import QuantConfig

    return QuantConfig(**CONFIGS[name])


def spike_mismatch(low, samples) -> float:
    """Fraction of spikes (every neuron, every step, over ``samples``) on which the fixed-point run differs
    from the float64 run."""
    from snncompile.backends.lava.lower import measure_agreement

    agree = measure_agreement(low, samples)
    sizes = {n.name: int(np.prod(low.prepared.graph.values[n.outputs[0]].shape)) for n in low.prepared.graph.nodes
             if n.name in agree}
    return float(sum((1 - agree[k]) * sizes[k] for k in agree) / max(sum(sizes.values()), 1))


def measure(arch: str, x_train, x_test, y_test, limit=None, config: str = "default", spikes: int = 0) -> dict:
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.frontends.shipped import load_shipped

    family = load_shipped(folder_name(arch))
    xs, ys = x_test[:limit], y_test[:limit]
    t0 = time.time()
    low = lower_graph(family.graph, mode="fixed", calibration=family.graph_input(x_train),
                      quant_config=quant_config(config))
    x = family.graph_input(xs)
    outs, _, _ = run_fixed(low.program, low.step, x)
    fixed = np.array([o[0].reshape(-1).argmax() for o in outs])
    tp = family.predict(x)
    out = {"arch": arch, "config": config, "n": int(len(ys)), "torch": int((tp == ys).sum()),
           "fixed": int((fixed == ys).sum()), "agree": int((tp == fixed).sum()), "seconds": round(time.time() - t0, 1)}
    if spikes:
        out["spike_mismatch"] = spike_mismatch(low, family.graph_input(xs[:spikes]))
    return dict(out, table=low.quant.table())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archs", nargs="*", default=FAMILIES)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--table", action="store_true", help="print the quantisation table")
    ap.add_argument("--split", choices=["test", "train", "holdout"], default="test",
                    help="evaluate on the 360 test digits, the 1437 training digits (calibration: training), or "
                         "the training digits the calibration's current bounds, means and second moments never "
                         "saw (all but the first CALIBRATION_SAMPLES)")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="default", help="quantiser choices")
    ap.add_argument("--spikes", type=int, default=0, metavar="N",
                    help="also the fraction of spikes (all neurons, all steps) that differ from the float run over "
                         "the first N evaluated images")
    args = ap.parse_args(argv)
    from snncompile.examples.data import load_digits

    split = load_digits(img_size=16)
    x_train = split.x_train.numpy().astype(np.float32)
    x_test, y_test = split.x_test.numpy().astype(np.float32), split.y_test.numpy()
    if args.split == "train":
        x_test, y_test = x_train, split.y_train.numpy()
    elif args.split == "holdout":
        x_test, y_test = x_train[CALIBRATION_SAMPLES:], split.y_train.numpy()[CALIBRATION_SAMPLES:]
    results = []
    for arch in args.archs:
        try:
            r = measure(arch, x_train, x_test, y_test, args.limit, args.config, args.spikes)
        except Exception as e:  # a family this branch cannot lower: its refusal is the result
            r = {"arch": arch, "refused": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
        results.append(r)
        if "refused" in r:
            print(f"{arch:18s} refused: {r['refused']}", flush=True)
        else:
            print(f"{arch:18s} {args.config:18s} torch {r['torch']}/{r['n']}  fixed {r['fixed']}/{r['n']}  "
                  f"agree {r['agree']}" + (f"  spike mismatch {r['spike_mismatch']:.4%}" if "spike_mismatch" in r
                                            else "") + f"  ({r['seconds']} s)", flush=True)
            if args.table:
                print(r["table"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: v for k, v in r.items() if k != "table"} for r in results], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
