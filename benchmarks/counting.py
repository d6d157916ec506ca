#!/usr/bin/env python
"""Benchmarks of the torch counting engine (issue 12); writes ``benchmarks/counting_results.json`` and
``benchmarks/counting_results.md``.

1. **Counting overhead** on CPU: exact counting with the torch engine (``TorchCounter.add`` + reading
   the counts) vs a plain torch forward of the same model, data and batch, in the same dtype; and
   vs the syops-style hook counter of ``run_benchmarks.py`` (float32 forward with hooks) and the numpy
   reference executor (``count_events``).  Digits example models, batch 32, interleaved runs, medians.
2. **ImageNet size**: Spikingformer-8-512 and Spikformer-8-768 at 224×224 (untrained presets: the
   firing rates are not a trained model's), images/s of counting on CPU in float64 (exact) and float32,
   the plain forward beside it, and the projected time for 50,000 images.
3. **torchrun on CPU**: ``snncompile report`` on N digits images with 1 process and with 2 processes
   (gloo), wall time of each and whether the JSON reports are identical.

GPU: measured only when ``torch.cuda.is_available()``; otherwise recorded as not measured.

Usage: ``python benchmarks/counting.py [--quick]``.  Every ratio compares runs made in one process
(sections 1-2) or back to back (section 3) on the same machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import run_benchmarks as rb  # noqa: E402  (the hook counter and the digits helpers are reused)


def med(xs):
    return statistics.median(xs)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def overhead(arch: str, batch: int, runs: int, device: str = "cpu") -> dict:
    import numpy as np
    import torch

    from snncompile.backends.reference import count_events
    from snncompile.backends.torch import TorchCounter
    from snncompile.frontends.torch import trace

    loaded, source = rb._digits_model(arch)
    x, data = rb._digits_samples(loaded, batch)
    graph = trace(loaded.model, torch.as_tensor(x), [loaded.input_domain], name=loaded.name)
    out = {"arch": arch, "model": source, "data": data, "batch": batch, "runs": runs, "device": device,
           "torch_threads": torch.get_num_threads()}
    for dt in (torch.float64, torch.float32):
        model = loaded.model.to(dt).to(device)
        xt = torch.as_tensor(x).to(dt).to(device)
        counter = TorchCounter(graph, device, dt)

        def forward():
            rb._reset_neurons(model)
            with torch.no_grad():
                model(xt)
            if device != "cpu":
                torch.cuda.synchronize()

        def count():
            counter.add([xt])
            counter.result()

        forward(), count()
        tf, tc = [], []
        for _ in range(runs):
            tf.append(timed(forward))
            tc.append(timed(count))
        name = str(dt).replace("torch.", "")
        out[name] = {"forward_s": tf, "count_s": tc, "ratio": med(tc) / med(tf),
                     "count_images_per_s": batch / med(tc)}
    if device == "cpu":  # the hook counter (float32 forward with hooks) and the numpy reference, once each
        model = loaded.model.to(torch.float32)
        xt = torch.as_tensor(x)
        hooks = rb.HookCounter(model)

        def hooked():
            rb._reset_neurons(model)
            with torch.no_grad():
                model(xt)

        hooked()
        th = [timed(hooked) for _ in range(runs)]
        hooks.remove()
        tn = [timed(lambda: count_events(graph, x)) for _ in range(max(1, runs // 3))]
        out["hooks_s"], out["numpy_s"] = th, tn
        out["hooks_images_per_s"], out["numpy_images_per_s"] = batch / med(th), batch / med(tn)
    return out


def imagenet(arch: str, preset: str, images: int, numpy_images: int = 0) -> dict:
    import torch

    from snncompile.backends.torch import TorchCounter
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import load_model

    loaded = load_model(f"preset:{arch}:{preset}")
    x = torch.rand((1,) + tuple(loaded.input_shape[1:]), generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    graph = trace(loaded.model, x, [loaded.input_domain], name=loaded.name)
    out = {"arch": arch, "preset": preset, "images": images, "input": list(x.shape), "trace_s": time.perf_counter() - t0,
           "weights": "untrained preset (firing rates are not a trained model's)"}
    for dt in (torch.float32, torch.float64):
        model = loaded.model.to(dt)
        xt = x.to(dt)
        counter = TorchCounter(graph, "cpu", dt)
        tc = []
        for _ in range(images):
            tc.append(timed(lambda: counter.add([xt])))
        c = counter.result()
        rb._reset_neurons(model)
        with torch.no_grad():
            tf = timed(lambda: model(xt))
        name = str(dt).replace("torch.", "")
        out[name] = {"count_s_per_image": tc, "forward_s": tf, "images_per_s": 1 / med(tc),
                     "projected_50k_hours": 50_000 * med(tc) / 3600, "synaptic_ops_per_image": c.synaptic_ops / c.samples}
    if numpy_images:  # the reference executor on the same image, same process (the pre-issue-12 path)
        import numpy as np

        from snncompile.backends.reference import count_events

        tn = [timed(lambda: count_events(graph, x.numpy().astype(np.float64))) for _ in range(numpy_images)]
        out["numpy_float64_s_per_image"] = tn
    return out


def torchrun(n: int, batch: int) -> dict:
    """Wall time of the CLI with 1 and 2 processes (1 torch thread each, as torchrun sets by default)."""
    import numpy as np

    loaded, source = rb._digits_model("spikingformer")
    x, data = rb._digits_samples(loaded, min(n, 32))
    x = np.concatenate([x] * (n // len(x) + 1))[:n]
    model = os.path.join(ROOT, "examples", "models", "spikingformer-digits", "checkpoint.pth")
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONWARNINGS="ignore")
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        common = [model, "--data", os.path.join(tmp, "x.npy"), "--batch", str(batch), "--format", "json", "-q"]
        runs = {}
        for procs in (1, 2):
            out = os.path.join(tmp, f"{procs}.json")
            launch = [sys.executable, "-m", "snncompile"] if procs == 1 else [
                sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
                "-m", "snncompile"]
            t0 = time.perf_counter()
            r = subprocess.run(launch + ["report", *common, "-o", out], capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t0
            if r.returncode:
                return {"error": r.stderr[-500:]}
            doc = json.load(open(out))
            doc.pop("version")
            runs[procs] = (wall, doc)
    same = runs[1][1] == runs[2][1]
    return {"images": n, "batch": batch, "model": source, "data": data + " (repeated)",
            "wall_1_process_s": runs[1][0], "wall_2_processes_s": runs[2][0],
            "speedup": runs[1][0] / runs[2][0], "identical_reports": same,
            "synops_per_image": runs[1][1]["totals"]["all"]["synops"]}


def to_markdown(res: dict) -> str:
    runs = res["runs"]
    m = next(iter(runs.values()))["machine"]
    when = "; ".join(f"{k}: {v['utc']} UTC, load average {v['machine']['load_average_start'][0]:.1f}"
                     for k, v in runs.items())
    out = ["# Counting engine benchmarks (issue 12)", "",
           f"`python benchmarks/counting.py` on {m['cpus']} CPU cores shared with other work, torch {m['torch']}, "
           f"{res['threads']} torch thread(s) per process; each section measured in one run ({when}). "
           f"Ratios compare runs made in the same process. GPU: {res['gpu']}.", "",
           "## 1. Counting overhead vs a plain torch forward (CPU, same model, data, batch, dtype)", "",
           "| model | batch | dtype | forward s | count s | count / forward | count img/s | hooks img/s | numpy img/s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in res["overhead"]:
        for dt in ("float64", "float32"):
            d = r[dt]
            out.append(f"| {r['arch']} digits | {r['batch']} | {dt} | {med(d['forward_s']):.3f} | {med(d['count_s']):.3f} "
                       f"| {d['ratio']:.2f}x | {d['count_images_per_s']:.0f} | {r['hooks_images_per_s']:.0f} "
                       f"| {r['numpy_images_per_s']:.0f} |")
    out += ["", "hooks = the syops-style forward-hook counter of `run_benchmarks.py` (float32, Conv/Linear/LIF only, "
            "estimates AC = FLOPs x rate); numpy = the reference executor's `count_events` (float64).", "",
            "## 2. ImageNet size, 224x224, CPU (batch 1, untrained presets)", "",
            "| model | dtype | s / image (median) | images/s | forward s | projected 50,000 images |", "|---|---|---|---|---|---|"]
    for r in res["imagenet"]:
        for dt in ("float32", "float64"):
            d = r[dt]
            out.append(f"| {r['arch']}-{r['preset']} | {dt} | {med(d['count_s_per_image']):.2f} | "
                       f"{d['images_per_s']:.3f} | {d['forward_s']:.2f} | {d['projected_50k_hours']:.1f} h |")
        if "numpy_float64_s_per_image" in r:
            tn = med(r["numpy_float64_s_per_image"])
            out.append(f"| {r['arch']}-{r['preset']} | float64, numpy reference | {tn:.2f} | {1 / tn:.3f} | - | "
                       f"{50_000 * tn / 3600:.1f} h |")
    t = res["torchrun"]
    out += ["", "## 3. torchrun on CPU (gloo): `snncompile report` wall time, 1 vs 2 processes", ""]
    if "error" in t:
        out.append(f"failed: {t['error']}")
    else:
        out += [f"{t['images']} images ({t['model']}), traced batch {t['batch']}: 1 process {t['wall_1_process_s']:.1f} s, "
                f"2 processes {t['wall_2_processes_s']:.1f} s (speed-up {t['speedup']:.2f}x, wall time including "
                f"start-up, model load and trace in every process); identical JSON reports: {t['identical_reports']}."]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs and images")
    ap.add_argument("--only", default="overhead,imagenet,torchrun",
                    help="comma-separated sections to (re)measure; the others are kept from the results file")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in every process (default 1: the "
                    "machine is shared; the same for the forward and the counting it is compared with)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    for k in rb.THREAD_VARS:
        os.environ[k] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    runs = 3 if args.quick else 7
    only = set(args.only.split(","))
    path = os.path.join(HERE, "counting_results.json")
    res = json.load(open(path)) if os.path.exists(path) and only != {"overhead", "imagenet", "torchrun"} else {}
    res.setdefault("runs", {})
    stamp = {"machine": rb.machine(), "threads": args.threads, "utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    res.update(gpu="not measured here (no GPU lent)", threads=args.threads)
    if "overhead" in only:
        res["overhead"] = [overhead(a, 32, runs) for a in ("spikformer", "spikingformer")]
        res["runs"]["overhead"] = stamp
        if torch.cuda.is_available():
            res["gpu"] = torch.cuda.get_device_name(0)
            res["overhead_cuda"] = [overhead(a, 32, runs, "cuda") for a in ("spikformer", "spikingformer")]
    if "imagenet" in only:
        res["imagenet"] = [imagenet("spikingformer", "8-512", 2, numpy_images=1), imagenet("spikformer", "8-768", 2)]
        res["runs"]["imagenet"] = stamp
    if "torchrun" in only:
        res["torchrun"] = torchrun(256 if args.quick else 2048, 32)
        res["runs"]["torchrun"] = stamp
    with open(os.path.join(HERE, "counting_results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = to_markdown(res)
    with open(os.path.join(HERE, "counting_results.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
