"""NIR consumers and lava-dl netx against the original models, on scikit-learn digits.

Writes ``benchmarks/interop_results.json`` and ``benchmarks/figures/interop_consumers.png``:

* NIR: each model is traced, exported (dt = 1e-4 s), written with ``nir.write`` and read back with
  ``nir.read``, then imported by snnTorch (``import_from_nir``), Norse (``from_nir``) and Norse's node
  mapping through nirtorch's ``nir_to_torch`` ("norse-fx"); every output element of every step is
  compared with the torch model's.
* netx: the sequential model exported to netx HDF5, run on Lava (fixed_pt, Loihi2SimCfg) for the whole
  test split and compared with the project's fixed-point executor; accuracies of torch, executor, Lava.

Run: ``python benchmarks/interop_consumers.py [--images N]`` (about a minute on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def _models(n: int):
    from interop.test_nir import sequential_model
    from interop.zoo import digits_rgb, run_with_rates, zoo_resnet

    model, x, y = sequential_model()
    with torch.no_grad():
        ref = model(torch.from_numpy(x[:n])).numpy()
    yield "sequential CNN (examples/sequential_snn.py, trained)", model, x[:n], ref, model.T
    for kind, label in (("sew", "spikingjelly SEW-ResNet-18 (zoo)"), ("spiking", "spikingjelly Spiking-ResNet-18 (zoo)")):
        m = zoo_resnet(kind, T=4)
        xr = digits_rgb(min(n, 20))
        out, _ = run_with_rates(m, xr)
        yield label, m, xr, out, 4


def nir_rows(n: int, dt: float = 1e-4) -> list[dict]:
    import nir

    from snncompile.exporters.nir import save_nir, to_nir
    from snncompile.exporters.nir.consumers import CONSUMERS, load_consumer, run_consumer
    from snncompile.frontends.torch import trace

    rows = []
    for label, model, x, ref, T in _models(n):
        export = to_nir(trace(model, torch.from_numpy(x[:1]), None), dt=dt)
        with tempfile.TemporaryDirectory() as d:
            save_nir(export, os.path.join(d, "m.nir"))
            graph = nir.read(os.path.join(d, "m.nir"))
        for consumer in CONSUMERS:
            row = {"model": label, "consumer": consumer, "images": len(x), "steps": T,
                   "nir_nodes": len(graph.nodes)}
            try:
                got = run_consumer(load_consumer(graph, consumer, dt), consumer, x, T)
            except Exception as e:  # noqa: BLE001 - a consumer's failure is a measurement
                row["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
                rows.append(row)
                continue
            if got.shape != ref.shape:
                row["error"] = f"output shape {list(got.shape)} instead of {list(ref.shape)}"
                rows.append(row)
                continue
            binary = bool(np.isin(ref, (0.0, 1.0)).all())
            row.update({
                "output": "spikes" if binary else "readout (Linear of the last spikes)",
                "elements": int(ref.size),
                "equal_elements": int((np.abs(got - ref) <= 1e-5 * max(1.0, np.abs(ref).max())).sum()),
                "max_abs_diff": float(np.abs(got - ref).max()),
                "same_prediction": float((got.sum(0).argmax(-1) == ref.sum(0).argmax(-1)).mean()),
            })
            rows.append(row)
    return rows


def netx_row() -> dict:
    from interop.test_nir import sequential_model

    from snncompile.backends.lava.netx import run_netx
    from snncompile.exporters.netx import save_netx, to_netx
    from snncompile.frontends.torch import trace
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.fixed import quantise_input

    model, x, y = sequential_model()
    export = to_netx(trace(model, torch.from_numpy(x[:1]), None), calibration=x)
    _, _, readouts = run_fixed(export.program, export.fixed_step, x)
    fixed = readouts[export.fixed_step.outputs[0]].reshape(len(x), export.T, -1).transpose(1, 0, 2)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "seq.h5")
        save_netx(export, path)
        start = time.time()
        lava = run_netx(path, quantise_input(x, export.input_scale), export.T, export.synapse_layers)
        seconds = time.time() - start
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    acc = lambda s: float((s.sum(0).argmax(-1) == y).mean())  # noqa: E731
    return {"model": "sequential CNN", "images": len(x), "steps": export.T, "lava_seconds": round(seconds, 1),
            "spikes": int(fixed.sum()), "lava_vs_executor_mismatches": int((lava != fixed).sum()),
            "accuracy_torch": acc(ref), "accuracy_fixed_executor": acc(fixed), "accuracy_lava_netx": acc(lava),
            "torch_vs_fixed_output_spike_agreement": float((ref == fixed).mean())}


def figure(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    labels, values, colors = [], [], []
    for r in rows:
        labels.append(f"{r['model'].split(' (')[0].replace('spikingjelly ', '')}\n{r['consumer']}")
        if "error" in r:
            values.append(0.0)
            colors.append("#bbbbbb")
        else:
            values.append(100.0 * r["equal_elements"] / r["elements"])
            colors.append("#2a7ab0" if values[-1] == 100.0 else "#d98c1f")
    ax.bar(range(len(values)), values, color=colors)
    for i, (v, r) in enumerate(zip(values, rows)):
        ax.text(i, v + 1, "failed" if "error" in r else f"{v:.1f}%", ha="center", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, fontsize=6)
    ax.set_ylim(0, 110)
    ax.set_ylabel("output elements equal to torch (%)")
    ax.set_title("NIR export imported by snnTorch / Norse vs the original torch model (digits, every step)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = nir_rows(args.images)
    result = {"nir": rows, "netx": netx_row(), "torch": torch.__version__}
    with open(os.path.join(HERE, "interop_results.json"), "w") as f:
        json.dump(result, f, indent=2)
    figure(rows, os.path.join(HERE, "figures", "interop_consumers.png"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
