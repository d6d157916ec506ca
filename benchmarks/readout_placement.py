#!/usr/bin/env python
"""Fixed point, readouts on the host or on chip (``lower --mode fixed --readout host|chip``), every shipped family:
writes ``benchmarks/readout_placement_results.json`` and ``benchmarks/readout_placement_results.md``.

Per family (loaded, traced and calibrated as ``snncompile lower`` does: the folder's inputs.npy), both placements
lowered and run on Lava on the first ``--images`` samples:

* whether the chip placement lowers (else its one-line refusal);
* each integrator's integer sums against the sum over T of the fixed-point executor's readout integers
  (``Σ_t G·x_t / g``): equal bit for bit or not;
* the largest |difference| of the logits: chip vs host placement (both Lava), chip vs the fixed-point executor;
  whether the predictions agree;
* ``max_steps``: the most steps the integrators' 24-bit sums hold (from the quantiser's bound on the readout
  value), and the values the host reads per image (host placement: T rows per readout; chip: one);
* the per-core ledger of each run (``backends/lava/ledger.py``, as ``snncompile run`` builds it): on-chip synaptic
  ops per image, and under ``chip`` the integrators' own synaptic ops and compartment updates per image (the
  readout map that ``report`` does not count; the ledger exceeds the host placement's by exactly these);
* Lava wall seconds of each run (compilation and process start-up included; they move with the machine's load).

    python benchmarks/readout_placement.py [--family NAME ...] [--images 3]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
import warnings

import numpy as np

from families import MODELS, attempt, shipped_families
from results_files import write_results

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "readout_placement_results")


def lava_run(low, x: np.ndarray):
    """(per-image logits [images, classes], recordings, wall seconds, ledger totals) of a fixed-point Lava run of
    ``x``; the ledger is ``snncompile run``'s (``backends.lava.lower.run_ledger``)."""
    from snncompile.backends.lava.host import run_post, step_inputs
    from snncompile.backends.lava.lower import run_ledger
    from snncompile.backends.lava.simulate import simulate
    from snncompile.loihi.fixed import quantise_input

    name = low.program.step.inputs[0]
    inp = step_inputs(low.program, x)
    inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="snncompile-readouts-") as work:
        rec = simulate(low.plan, inp, work)
    wall = time.perf_counter() - t0
    outs, host = run_post(low.program, rec.readouts, len(x))
    readout_values = [u.ports[0].value for u in low.prepared.network.of_kind("readout")]
    totals = run_ledger(low.step, low.plan, low.limits, readout_values, rec, len(x), host).totals()
    return np.stack([o[0].reshape(-1) for o in outs]), rec, wall, totals


def bench_family(name: str, images: int) -> dict:
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.frontends.shipped import load_shipped

    family = load_shipped(name, MODELS)  # the CLI's loader and defaults
    graph = family.graph
    cal = np.asarray(family.loaded.samples, dtype=np.float64)
    x = cal[:images]
    r = {"family": name}
    runs = {}
    for place in ("host", "chip"):
        low = attempt(r, place, lambda: lower_graph(graph, mode="fixed", calibration=cal, readout=place))
        if low is None:
            continue
        logits, rec, wall, totals = lava_run(low, x)
        runs[place] = (low, logits, rec)
        r[place] = {"lava_wall_s": round(wall, 2),
                    "on_chip_synaptic_ops_per_image": totals["on_chip"]["synaptic_ops"] / len(x),
                    "integrator_synaptic_ops_per_image": totals["integrator"]["synaptic_ops"] / len(x),
                    "integrator_compartment_updates_per_image": totals["integrator"]["compartment_updates"] / len(x),
                    "host_values_per_image": int(
            sum(v.shape[1] for v in rec.readouts.values()) * (low.program.T if place == "host" else 1))}
    if "chip" not in runs:
        return r
    low, chip, rec = runs["chip"]
    T, n = low.program.T, len(x)
    want, rows, _ = run_fixed(low.program, low.step, x, record=list(low.plan.readouts))
    want = np.stack([w[0].reshape(-1) for w in want])
    exact = True
    for v, procs in low.plan.readouts.items():
        for proc in procs:
            expect = rows[v].reshape(n, T, -1).sum(axis=1) / low.plan.procs[proc].params["gain"]
            exact &= bool(np.array_equal(rec.integrals[proc], expect))
    r["chip"].update({"integer_sums_equal_executor": exact,
                      "max_abs_logit_diff_vs_executor": float(np.abs(chip - want).max()),
                      "predictions_equal_executor": bool((chip.argmax(1) == want.argmax(1)).all()),
                      "max_steps": min(p.params["max_steps"] for p in low.plan.procs.values()
                                       if p.type == "integrator")})
    if "host" in runs:
        host = runs["host"][1]
        r["chip"].update({"max_abs_logit_diff_vs_host": float(np.abs(chip - host).max()),
                          "predictions_equal_host": bool((chip.argmax(1) == host.argmax(1)).all())})
    return r


def _ops(run: dict, key: str) -> str:
    v = run.get(key)
    return "—" if v is None else f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def markdown(doc: dict) -> str:
    lines = ["# Fixed point: readouts on the host or on chip (`python benchmarks/readout_placement.py`)", "",
             f"{doc['machine']}; {doc['date']}; {doc['images']} images per Lava run (the folder's inputs.npy, "
             f"calibrated on all of it as `snncompile lower` is).", "",
             "| family | chip lowers | integer sums = executor | max abs Δlogit chip vs host | chip vs executor | "
             "same predictions | max_steps (24 bits) | host values/image host → chip | on-chip synaptic ops/image "
             "host → chip | integrator ops / updates per image | Lava wall s host / chip |",
             "|---|---|---|---:|---:|---|---:|---|---|---|---|"]
    for r in doc["families"]:
        c, h = r.get("chip") or {}, r.get("host") or {}
        if "refused" in c:
            lines.append(f"| {r['family']} | refused: {c['refused']} | | | | | | | | | |")
            continue
        lines.append(f"| {r['family']} | yes | {c.get('integer_sums_equal_executor')} | "
                     f"{c.get('max_abs_logit_diff_vs_host', float('nan')):.2e} | "
                     f"{c.get('max_abs_logit_diff_vs_executor', float('nan')):.2e} | "
                     f"{c.get('predictions_equal_host') and c.get('predictions_equal_executor')} | "
                     f"{c.get('max_steps')} | {h.get('host_values_per_image')} → {c.get('host_values_per_image')} | "
                     f"{_ops(h, 'on_chip_synaptic_ops_per_image')} → {_ops(c, 'on_chip_synaptic_ops_per_image')} | "
                     f"{_ops(c, 'integrator_synaptic_ops_per_image')} / "
                     f"{_ops(c, 'integrator_compartment_updates_per_image')} | "
                     f"{h.get('lava_wall_s')} / {c.get('lava_wall_s')} |")
    lines += ["", "Logits differ only by float64 rounding order: the host dequantises the integer sum once "
              "(`scale·g·S + T·c`) where the host placement adds T dequantised steps.  On-chip synaptic ops: the Lava "
              "ledger's (`snncompile run`); under `chip` they exceed the host placement's by exactly the integrators' "
              "ops (the readout map, which `report` does not count).", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", action="append", help="folder under examples/models (repeatable; default: all)")
    ap.add_argument("--images", type=int, default=3, help="images per Lava run")
    ap.add_argument("-o", "--output", default=RESULTS, help="results path without extension (.json and .md)")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    doc = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
                      f"load average {os.getloadavg()[0]:.1f} at start",
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "images": a.images, "families": []}
    for name in a.family or shipped_families():
        r = {"family": name}
        got = attempt(r, "load", lambda: bench_family(name, a.images))
        doc["families"].append(got or r)
        print(json.dumps(got or r), flush=True)
    write_results(doc, a.output, markdown)


if __name__ == "__main__":
    main()
