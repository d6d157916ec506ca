#!/usr/bin/env python
"""Every family's shipped digits model on Loihi: writes ``benchmarks/families_results.json`` and
``benchmarks/families_results.md`` (the README's "Families on Loihi" table).

Per family (``examples/models/<arch>-digits[-variant]``, loaded and traced as ``snncompile lower`` does:
meta.json's time axis, spikingjelly's zoo nets taking ``[T, B, ...]``):

* parameters of the model;
* accuracy on the 360 test digits of torch (float32) and of the fixed-point executor (the specification of the
  Loihi fixed-point run; Lava equals it bit for bit, tests/lava/test_families_on_loihi.py), calibrated on the
  training images, as tests/lava/test_fixed_point_accuracy.py is;
* the same at 16-bit weights (``--weight-bits 16``: every weight layer as a high and a low 8-bit synapse,
  ``snncompile.loihi.split_weights``; twice the synapses and synaptic ops of those layers);
* Lava processes and Loihi 2 cores of the lowered plan, float, fixed and fixed 16-bit;
* Lava wall seconds per image, float, fixed and fixed 16-bit, on the first ``--images`` samples: the steady-state time of T
  steps (images are pipelined), measured after the first chunk, which includes compilation and the start-up of
  one OS process per Lava process (as benchmarks/lava_benchmark.py measures it);
* machine and date.

A family or mode that does not lower is listed with its one-line refusal; the script does not stop.  Images
are the sklearn digits at 16×16 (``snncompile.examples.data.load_digits``), encoded as each model takes them:
static images, or the image repeated over T on the time axis (direct encoding, as the trainer fed them).

    python benchmarks/families.py                       # every shipped family (a few minutes on 2 cores)
    python benchmarks/families.py --family sdt-digits   # one (repeatable)
    python benchmarks/families.py --no-lava             # accuracy, processes and cores only
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
from typing import Callable, Optional

import numpy as np

from results_files import write_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = os.path.join(ROOT, "examples", "models")
RESULTS = os.path.join(HERE, "families_results")
MODES = ("float", "fixed", "fixed16")  # fixed16: --weight-bits 16, every weight layer as two 8-bit synapses


def shipped_families() -> list[str]:
    """Folders of trained digits models written by the example trainer (meta.json names arch and preset)."""
    from snncompile.examples.shipped import trained_digits_models

    return trained_digits_models(MODELS)


def refusal(e: BaseException) -> str:
    """The one line the CLI would print for ``e`` (a toolchain error), else the exception's first line."""
    from snncompile.errors import SnnCompileError

    if isinstance(e, SnnCompileError):
        return e.one_line()
    return f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"


def attempt(record: dict, key: str, fn: Callable):
    """``fn()``; on failure ``record[key] = {'refused': one line}`` and None."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - a family that does not lower is a result, not a crash
        record[key] = {"refused": refusal(e)}
        return None


def model_layout(x: np.ndarray, time_axis: Optional[int]):
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x))
    return t.transpose(0, 1) if time_axis == 0 else t


def torch_predictions(model, x: np.ndarray, time_axis: Optional[int], batch: int = 60) -> np.ndarray:
    import torch

    from snncompile.frontends.torch.neurons import reset_states

    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            reset_states(model)
            preds.append(model(model_layout(x[i:i + batch], time_axis)).argmax(1).numpy())
    return np.concatenate(preds)


def lava_timing(low, x: np.ndarray) -> dict:
    from snncompile.backends.lava.host import step_inputs
    from snncompile.backends.lava.simulate import simulate
    from snncompile.loihi.fixed import quantise_input

    inp = step_inputs(low.program, x)
    if low.mode == "fixed":
        name = low.program.step.inputs[0]
        inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    with tempfile.TemporaryDirectory(prefix="snncompile-families-") as work:
        rec = simulate(low.plan, inp, work)
    return {"images": len(x), "s_per_image": rec.step_s * low.program.T, "startup_s": rec.compile_s,
            "wall_s": rec.wall_s}


def bench_family(name: str, split, images: int, lava: bool) -> dict:
    import torch

    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.examples.shipped import repeat_over_time
    from snncompile.frontends.shipped import load_shipped
    from snncompile.loihi.fixed import QuantConfig

    t_start = time.perf_counter()
    family = load_shipped(name, MODELS)  # the CLI's loader and defaults
    loaded, graph = family.loaded, family.graph
    T = int(graph.meta.get("time_steps") or getattr(loaded.model, "T", 1))
    x_test = repeat_over_time(split.x_test.numpy().astype(np.float32), loaded.time_axis, T)
    x_train = repeat_over_time(split.x_train.numpy().astype(np.float32), loaded.time_axis, T)
    y = split.y_test.numpy()
    samples = np.asarray(loaded.samples, dtype=np.float32)
    r = {"family": name, "arch": loaded.meta.get("arch"), "preset": loaded.meta.get("preset"),
         "time_axis": loaded.time_axis, "T": T, "test_images": int(len(y)),
         "params": int(sum(p.numel() for p in loaded.model.parameters())),
         "trainer_accuracy": loaded.meta.get("accuracy"),  # meta.json: what the trainer measured
         # the encoding reproduces the shipped inputs.npy (the first test images, as the trainer wrote them)
         "encoding_matches_inputs_npy": bool(np.array_equal(x_test[:len(samples)], samples))}
    torch.manual_seed(0)
    torch_pred = torch_predictions(loaded.model, x_test, loaded.time_axis)
    r["torch_accuracy"] = float((torch_pred == y).mean())
    for mode in MODES:
        cal = x_train if mode != "float" else None
        config = QuantConfig(weight_bits=16) if mode == "fixed16" else None
        low = attempt(r, mode, lambda: lower_graph(graph, mode="float" if mode == "float" else "fixed",
                                                   calibration=cal, quant_config=config))
        if low is None:
            continue
        r[mode] = {"processes": low.plan.process_count, "cores": low.part.cores, "chips": low.part.chips}
        if mode != "float":
            t0 = time.perf_counter()
            outs = attempt(r[mode], "accuracy", lambda: run_fixed(low.program, low.step, x_test)[0])
            if outs is not None:
                pred = np.array([o[0].argmax() for o in outs])
                r[mode].update({"accuracy": float((pred == y).mean()), "executor_s": time.perf_counter() - t0,
                                "agreement_with_torch": float((pred == torch_pred).mean())})
        if lava:
            timing = attempt(r[mode], "lava", lambda: lava_timing(low, x_test[:images]))
            if timing is not None:
                r[mode]["lava"] = timing
    r["bench_s"] = time.perf_counter() - t_start
    return r


def _pct(v) -> str:
    return f"{100 * v:.2f} %" if isinstance(v, float) else "—"


def _mode_cells(m: Optional[dict]) -> tuple[str, str]:
    """(processes / cores, Lava s/image) of one mode, or its refusal."""
    if m is None:
        return "—", "—"
    if "refused" in m:
        return "refused (see below)", "—"
    lava = m.get("lava") or {}
    s = f"{lava['s_per_image']:.3f}" if "s_per_image" in lava else ("refused" if "refused" in lava else "—")
    return f"{m['processes']} / {m['cores']}", s


def markdown(doc: dict) -> str:
    lines = ["# Families on Loihi (`python benchmarks/families.py`)", "",
             f"{doc['machine']}; {doc['date']}; Lava: {doc['lava']}; Lava timing on the first "
             f"{doc['images']} test images (steady state, after compilation); accuracy on the "
             f"{doc['test_images']} test digits, fixed point calibrated on the training images.", "",
             "| family | params | torch acc | fixed acc (executor) | fixed − torch | fixed 16-bit acc | "
             "16-bit − torch | float: processes / cores | fixed: processes / cores | fixed 16-bit: processes / cores "
             "| Lava float s/image | Lava fixed s/image | Lava fixed 16-bit s/image |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|"]
    refusals = []
    for r in doc["families"]:
        if "refused" in r:
            lines.append(f"| {r['family']} | — | — | — | — | — | — | refused | refused | refused | — | — | — |")
            refusals.append((r["family"], "load", r["refused"]))
            continue
        cells = {mode: _mode_cells(r.get(mode)) for mode in MODES}
        accs = []
        for mode in ("fixed", "fixed16"):
            acc = (r.get(mode) or {}).get("accuracy")
            delta = f"{100 * (acc - r['torch_accuracy']):+.2f} points" if isinstance(acc, float) else "—"
            accs += [_pct(acc), delta]
        lines.append(f"| {r['family']} | {r['params']:,} | {_pct(r['torch_accuracy'])} | {' | '.join(accs)} | "
                     + " | ".join(cells[m][0] for m in MODES) + " | " + " | ".join(cells[m][1] for m in MODES) + " |")
        for mode in MODES:
            m = r.get(mode) or {}
            for where, sub in (("", m), (" Lava", m.get("lava") or {}), (" accuracy", m.get("accuracy"))):
                if isinstance(sub, dict) and "refused" in sub:
                    refusals.append((r["family"], mode + where, sub["refused"]))
    if refusals:
        lines += ["", "Refusals:", ""]
        lines += [f"- {fam}, {what}: `{text}`" for fam, what, text in refusals]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", action="append", help="folder under examples/models (repeatable; default: all)")
    ap.add_argument("--images", type=int, default=5, help="images per Lava timing run")
    ap.add_argument("--no-lava", action="store_true", help="skip the Lava runs")
    ap.add_argument("-o", "--output", default=RESULTS, help="results path without extension (.json and .md)")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    from snncompile.backends.lava import lava_status
    from snncompile.examples.data import load_digits

    torch.set_num_threads(1)
    lava_ok, why = lava_status()
    lava = lava_ok and not a.no_lava
    split = load_digits(img_size=16)
    families = a.family or shipped_families()
    doc = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
                      f"load average {os.getloadavg()[0]:.1f} at start (the Lava figures move with the load), "
                      f"torch threads 1",
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "lava": "run" if lava else ("skipped (--no-lava)" if lava_ok else f"unavailable: {why}"),
           "images": a.images, "test_images": len(split.y_test), "families": []}
    for name in families:
        r = {"family": name}
        got = attempt(r, "load", lambda: bench_family(name, split, a.images, lava))
        if got is None:
            r = {"family": name, "refused": r["load"]["refused"]}
        doc["families"].append(got or r)
        print(json.dumps(got or r), flush=True)
    doc["load_average_at_end"] = round(os.getloadavg()[0], 1)
    write_results(doc, a.output, markdown)


if __name__ == "__main__":
    main()
