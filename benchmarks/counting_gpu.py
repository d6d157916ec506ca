#!/usr/bin/env python
"""GPU benchmark of the torch counting engine (issue 12); writes ``<out>/counting_gpu_results.json``
and ``<out>/counting_gpu_results.md`` (default ``<out>`` = ``benchmarks/``).

Made to run once, unattended, on a lent GPU machine (numpy 2.x, no Lava, no network) within a wall-time
budget: every section checks the budget before each step and is cut off at the budget's end
("skipped: budget"); a failing step is recorded and the next one runs; the results files are rewritten
after every section, so an interrupted run still leaves what it measured.

1. **Exactness**: both digits models (trained checkpoints in ``examples/models``), a batch of test digits
   counted by :class:`TorchCounter` on ``--device`` in float64 and float32 vs on CPU in float64 (the
   engine's exact configuration, equal to the numpy reference: tests/torch_engine): are the per-node
   records identical, the largest difference of any per-node count, the largest relative difference of
   the per-kind totals.
2. **Digits throughput** on ``--device``: counting (``TorchCounter.add`` + ``result``) vs a plain forward
   of the same model, data, batch and dtype; batch 32 and 256, float32 and float64; medians of interleaved
   runs after warm-up, synchronised; peak device memory.
3. **ImageNet size** (224x224 presets, untrained: firing rates are not a trained model's): counting vs
   plain forward at several (batch, dtype) settings, peak device memory, out-of-memory caught and recorded,
   trace time on CPU, projected time for 50,000 images.
4. **CLI end to end**: ``python -m snncompile report CKPT --data X.npy --format json`` wall time with
   ``--device cpu`` and ``--device <device>`` (batch 32, and 256 on the device); identical JSON (minus
   ``version`` and ``batch``)?

Usage (from the repository root)::

    PYTHONPATH=. python3 benchmarks/counting_gpu.py --out OUT_DIR            # on the GPU machine
    PYTHONPATH=. python benchmarks/counting_gpu.py --device cpu --quick --out /tmp/gpb   # local test

A run with ``--device cpu`` tests the script; its results say so and are not GPU figures.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import run_benchmarks as rb  # noqa: E402  (the digits helpers are reused)
from results_files import write_results  # noqa: E402

DIGITS = ("spikformer", "spikingformer")
PRESETS = "spikingformer:8-512,spikformer:8-768"
IMAGENET_CONFIGS = "1:float32,8:float32,8:float64,32:float32"
QUICK_IMAGENET_CONFIGS = "1:float32,2:float64"
PROJECTED_IMAGES = 50_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", file=sys.stderr, flush=True)


def med(xs):
    return statistics.median(xs)


# -- budget ----------------------------------------------------------------------------------------

class OutOfBudget(BaseException):
    """The wall-time budget ran out in the middle of a step (a ``BaseException``, like
    ``KeyboardInterrupt``, so that no ``except Exception`` on the way wraps it as the step's error)."""


class Budget:
    """The script's wall-time budget: ``left()`` seconds remain; :meth:`deadline` interrupts a step
    (SIGALRM) when the budget, or the section's own end ``until`` (a ``time.perf_counter()`` time), is reached."""

    def __init__(self, seconds: float):
        self.start, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)

    @contextlib.contextmanager
    def deadline(self, until: float):
        def expire(signum, frame):
            raise OutOfBudget()

        seconds = min(until - time.perf_counter(), self.left())
        if seconds <= 0:
            raise OutOfBudget()
        old = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def attempt(fn, *args, **kwargs) -> dict:
    """``fn(*args, **kwargs)``, or a record of why it gave no result (budget, out of memory, error)."""
    import torch

    try:
        return fn(*args, **kwargs)
    except OutOfBudget:
        log("  skipped: budget")
        return {"skipped": "budget"}
    except torch.cuda.OutOfMemoryError as e:
        log(f"  out of memory: {str(e).splitlines()[0]}")
        return {"error": "out of memory", "message": str(e).splitlines()[0]}
    except Exception as e:  # noqa: BLE001 - an unattended run records the failure and goes on
        traceback.print_exc()
        first = str(e).splitlines()[0] if str(e) else ""
        return {"error": f"{type(e).__name__}: {first}"}
    finally:
        free_device()


def free_device() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# -- timing ----------------------------------------------------------------------------------------

class Device:
    """The measured device: synchronisation and peak-memory figures (none on CPU)."""

    def __init__(self, name: str):
        import torch

        self.torch = torch
        self.device = torch.device(name)
        self.cuda = self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)

    def reset_peak(self) -> None:
        if self.cuda:
            self.sync()
            self.torch.cuda.reset_peak_memory_stats(self.device)

    def peak_mib(self):
        return self.torch.cuda.max_memory_allocated(self.device) / 2**20 if self.cuda else None

    def timed(self, fn) -> float:
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - t0


def forward_and_count(dev: Device, graph, model, x, dtype, warmup: int, runs: int) -> dict:
    """Interleaved timings of a plain forward of ``model`` and of counting ``graph`` on the same input
    (``[B, ...]``, already on the device in ``dtype``), after ``warmup`` runs of each; peak device memory
    of each, measured in its warm-up."""
    from snncompile.backends.torch import TorchCounter

    def forward():
        with dev.torch.no_grad():
            rb._reset_neurons(model)
            model(x)

    counter = TorchCounter(graph, dev.device, dtype)

    def count():
        counter.add([x])
        counter.result()

    dev.reset_peak()
    for _ in range(warmup):
        dev.timed(forward)
    peak_forward = dev.peak_mib()
    dev.reset_peak()
    for _ in range(warmup):
        dev.timed(count)
    peak_count = dev.peak_mib()
    tf, tc = [], []
    for _ in range(runs):
        tf.append(dev.timed(forward))
        tc.append(dev.timed(count))
    batch = x.shape[0]
    c = counter.result()
    return {"batch": batch, "dtype": str(dtype).replace("torch.", ""), "warmup": warmup, "runs": runs,
            "forward_s": tf, "count_s": tc, "count_over_forward": med(tc) / med(tf),
            "forward_images_per_s": batch / med(tf), "count_images_per_s": batch / med(tc),
            "peak_forward_mib": peak_forward, "peak_count_mib": peak_count,
            "synaptic_ops_per_image": c.synaptic_ops / c.samples, "spikes_per_image": c.spikes / c.samples}


def traced(loaded, x):
    """``loaded.model`` traced on CPU (float32) at ``x``'s batch; returns ``(graph, seconds)``."""
    import torch

    from snncompile.frontends.torch import trace

    loaded.model.to("cpu", torch.float32)
    rb._reset_neurons(loaded.model)
    t0 = time.perf_counter()
    graph = trace(loaded.model, torch.as_tensor(x, dtype=torch.float32), [loaded.input_domain], name=loaded.name)
    return graph, time.perf_counter() - t0


def dtype_of(name: str):
    import torch

    dtypes = {"float32": torch.float32, "float64": torch.float64}
    if name not in dtypes:
        raise ValueError(f"dtype must be float32 or float64, got {name!r}")
    return dtypes[name]


# -- 1. exactness ----------------------------------------------------------------------------------

_INT_FIELDS = ("synaptic_ops", "dense_ops", "neuron_updates", "spikes")
_LIST_FIELDS = ("input_elements", "nonzero_inputs", "spikes_per_step")


def compare_counts(ref, other) -> dict:
    """How ``other`` (an :class:`EventCounts`) differs from ``ref``: identical records?, the largest
    absolute difference of any per-node count, the nodes that differ, and per cost kind and field the
    relative difference of the totals (|other − ref| / |ref|, 0 when both are 0)."""
    max_abs, differing = 0, []
    for name in list(ref.nodes) + [n for n in other.nodes if n not in ref.nodes]:
        a, b = ref.nodes.get(name), other.nodes.get(name)
        if a is None or b is None:
            differing.append(name)
            continue
        diffs = [abs(getattr(a, f) - getattr(b, f)) for f in _INT_FIELDS]
        for f in _LIST_FIELDS:
            la, lb = getattr(a, f), getattr(b, f)
            diffs += [abs(x - y) for x, y in zip(la, lb)] + ([float("inf")] if len(la) != len(lb) else [])
        worst = max(diffs, default=0)
        if worst:
            differing.append(name)
        max_abs = max(max_abs, worst)
    rel, ta, tb = {}, ref.totals(), other.totals()
    for kind in sorted(set(ta) | set(tb)):
        for f in _INT_FIELDS:
            x, y = ta.get(kind, {}).get(f, 0), tb.get(kind, {}).get(f, 0)
            if x or y:
                rel[f"{kind}.{f}"] = abs(y - x) / abs(x) if x else float("inf")
    return {"identical": ref.to_dict() == other.to_dict() and ref.samples == other.samples,
            "max_abs_difference": max_abs, "differing_nodes": len(differing), "first_differing": differing[:5],
            "max_rel_difference_of_totals": max(rel.values(), default=0.0), "rel_difference_of_totals": rel}


def exactness(arch: str, n: int, device: str, budget: Budget, until: float) -> dict:
    import torch

    from snncompile.backends.torch import TorchCounter

    log(f"[exactness] {arch} digits, {n} images")
    loaded, source = rb._digits_model(arch)
    x, data = rb._digits_samples(loaded, n)
    xt = torch.as_tensor(x)
    counts, seconds = {}, {}
    with budget.deadline(until):
        graph, trace_s = traced(loaded, x)
        for dev, dt in (("cpu", torch.float64), (device, torch.float64), (device, torch.float32)):
            d = Device(dev)
            counter = TorchCounter(graph, d.device, dt)
            seconds[f"{dev} {str(dt).replace('torch.', '')}"] = d.timed(lambda: counter.add([xt]))
            counts[(dev, dt)] = counter.result()
    ref = counts[("cpu", torch.float64)]
    return {"arch": arch, "model": source, "data": data, "images": n, "trace_s": trace_s, "count_s": seconds,
            "reference": "cpu float64",
            "synaptic_ops_per_image": ref.synaptic_ops / ref.samples, "totals_cpu_float64": ref.totals(),
            "float64": compare_counts(ref, counts[(device, torch.float64)]),
            "float32": compare_counts(ref, counts[(device, torch.float32)])}


# -- 2. digits throughput --------------------------------------------------------------------------

def digits_throughput(arch: str, batches, dtypes, device: str, warmup: int, runs: int, budget: Budget,
                      until: float) -> list:
    import torch

    rows = []
    loaded, source = rb._digits_model(arch)
    dev = Device(device)
    trace_s = None
    for batch in batches:
        x, data = rb._digits_samples(loaded, batch)
        graph = None
        for dt_name in dtypes:
            log(f"[digits] {arch} batch {batch} {dt_name}")
            dt = dtype_of(dt_name)

            def measure():
                nonlocal graph, trace_s
                with budget.deadline(until):
                    if graph is None:
                        graph, trace_s = traced(loaded, x)
                    model = loaded.model.to(dev.device, dt)
                    return forward_and_count(dev, graph, model, torch.as_tensor(x).to(dev.device, dt), dt,
                                             warmup, runs)

            r = attempt(measure)
            rows.append({"arch": arch, "model": source, "data": data, "batch": batch, "dtype": dt_name,
                         "trace_s": trace_s, **r})
    return rows


# -- 3. ImageNet size ------------------------------------------------------------------------------

def imagenet(spec: str, configs, device: str, warmup: int, runs: int, budget: Budget, until: float) -> dict:
    import torch

    from snncompile.frontends.torch.loading import load_model

    arch, preset = spec.split(":", 1)
    torch.manual_seed(0)
    loaded = load_model(f"preset:{arch}:{preset}")
    shape = tuple(loaded.input_shape[1:])
    out = {"arch": arch, "preset": preset, "input": list(shape), "weights": "untrained preset (seed 0; firing "
           "rates are not a trained model's)", "data": "uniform random [0, 1) (seed 0)", "trace_s": {}, "rows": []}
    dev = Device(device)
    graphs = {}
    for batch, dt_name in configs:
        log(f"[imagenet] {arch}-{preset} batch {batch} {dt_name}")
        dt = dtype_of(dt_name)
        x = torch.rand((batch,) + shape, generator=torch.Generator().manual_seed(0))

        def measure():
            with budget.deadline(until):
                if batch not in graphs:
                    graphs.clear()  # one traced graph (its constants) in memory at a time
                    free_device()
                    graphs[batch], out["trace_s"][str(batch)] = traced(loaded, x)
                model = loaded.model.to(dev.device, dt)
                r = forward_and_count(dev, graphs[batch], model, x.to(dev.device, dt), dt, warmup, runs)
            r["projected_50k_hours"] = PROJECTED_IMAGES / r["count_images_per_s"] / 3600
            r["forward_projected_50k_hours"] = PROJECTED_IMAGES / r["forward_images_per_s"] / 3600
            return r

        r = attempt(measure)
        out["rows"].append({"batch": batch, "dtype": dt_name, **r})
    out["nodes"] = len(next(iter(graphs.values())).nodes) if graphs else None
    out["params"] = sum(p.numel() for p in loaded.model.parameters())
    return out


# -- 4. the CLI end to end -------------------------------------------------------------------------

def cli(device: str, images: int, batches, budget: Budget, until: float) -> dict:
    """``snncompile report`` on ``images`` digits (the test split, repeated) with ``--device cpu`` and then
    ``--device DEVICE`` at each batch in ``batches``; wall time of each process and whether its JSON
    (minus ``version`` and ``batch``) is the CPU run's."""
    import numpy as np

    loaded, source = rb._digits_model("spikingformer")
    x, data = rb._digits_samples(loaded, min(images, 256))
    x = np.concatenate([x] * (images // len(x) + 1))[:images]
    ckpt = os.path.join(ROOT, "examples", "models", "spikingformer-digits", "checkpoint.pth")
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    runs = [("cpu", batches[0])] + [(device, b) for b in batches]
    out = {"images": images, "model": source, "data": data + " (repeated)", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        ref = None
        for i, (dev, batch) in enumerate(runs):
            path = os.path.join(tmp, f"{i}.json")
            cmd = [sys.executable, "-m", "snncompile", "report", ckpt, "--data", os.path.join(tmp, "x.npy"),
                   "--batch", str(batch), "--device", dev, "--format", "json", "-q", "-o", path]
            log(f"[cli] report --device {dev} --batch {batch} ({images} images)")
            row = {"device": dev, "batch": batch}
            timeout = min(until - time.perf_counter(), budget.left())
            if timeout <= 5:
                row["skipped"] = "budget"
                out["runs"].append(row)
                continue
            t0 = time.perf_counter()
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
            except subprocess.TimeoutExpired:
                row["skipped"] = f"budget (killed after {timeout:.0f} s)"
                out["runs"].append(row)
                continue
            row["wall_s"] = time.perf_counter() - t0
            if r.returncode:
                row["error"] = f"exit {r.returncode}: {r.stderr.strip()[-500:]}"
            else:
                doc = json.load(open(path, encoding="utf-8"))
                for key in ("version", "batch"):  # the tool's version and the traced batch (an input)
                    doc.pop(key, None)
                if ref is None:
                    ref = doc
                    row["synops_per_image"] = doc.get("totals", {}).get("all", {}).get("synops")
                row["identical_to_cpu"] = doc == ref
                if doc != ref:
                    row["differing_keys"] = sorted(k for k in set(doc) | set(ref) if doc.get(k) != ref.get(k))
            out["runs"].append(row)
    return out


# -- the run ---------------------------------------------------------------------------------------

def environment(device: str, argv) -> dict:
    import numpy as np
    import torch

    env = {"utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "python": platform.python_version(),
           "numpy": np.__version__, "torch": torch.__version__, "cuda_build": torch.version.cuda,
           "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
           "device": device, "command": "python " + " ".join([os.path.relpath(__file__, ROOT)] + list(argv))}
    if device.startswith("cuda"):
        env.update(_cuda_facts(torch, torch.device(device)))
    return env


def _cuda_facts(torch, d) -> dict:
    """Card, memory, cuDNN, TF32 switches and driver; a fact that cannot be read is recorded as None."""
    facts = {}
    readers = {
        "gpu": lambda: torch.cuda.get_device_name(d),
        "gpu_memory_gib": lambda: torch.cuda.get_device_properties(d).total_memory / 2**30,
        "cudnn": lambda: torch.backends.cudnn.version(),
        "tf32_matmul": lambda: torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": lambda: torch.backends.cudnn.allow_tf32,
        "driver": lambda: subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                         capture_output=True, text=True, timeout=15).stdout.strip().splitlines()[0],
    }
    for key, read in readers.items():
        try:
            facts[key] = read()
        except Exception:  # noqa: BLE001 - a missing fact must not stop the run
            facts[key] = None
    return facts


def parse_configs(text: str):
    """``"B:DTYPE,..."`` -> ``[(B, DTYPE), ...]`` (ValueError on a malformed item)."""
    out = []
    for item in text.split(","):
        batch, dt = item.split(":")
        dtype_of(dt)  # ValueError on an unknown dtype
        out.append((int(batch), dt))
    return out


def split(until: float, items, item) -> float:
    """The end time of ``item``'s equal share of the time from now to ``until``, shared with the items
    after it in ``items``."""
    items = list(items)
    return time.perf_counter() + (until - time.perf_counter()) / (len(items) - items.index(item))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="device measured: cuda[:N] (default) or cpu (a test of the script)")
    ap.add_argument("--out", default=HERE, help="folder for counting_gpu_results.{json,md} (default: benchmarks/)")
    ap.add_argument("--budget-s", type=float, default=270.0, help="wall-time budget of the whole run in seconds; "
                    "steps that do not fit are recorded as 'skipped: budget' (default 270)")
    ap.add_argument("--quick", action="store_true", help="fewer runs, images and ImageNet settings (a local test)")
    ap.add_argument("--only", default="exactness,digits,imagenet,cli", help="comma-separated sections to run")
    ap.add_argument("--presets", default=PRESETS, help=f"ImageNet-size presets ARCH:PRESET,... (default {PRESETS})")
    ap.add_argument("--imagenet-configs", default=None, help=f"BATCH:DTYPE,... counted at ImageNet size (default "
                    f"{IMAGENET_CONFIGS}; with --quick {QUICK_IMAGENET_CONFIGS})")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's default, all cores)")
    args = ap.parse_args(argv)
    quick = args.quick
    warnings.filterwarnings("ignore")
    budget = Budget(args.budget_s)
    import torch

    from snncompile.backends.torch import resolve_device
    from snncompile.errors import InputError

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = str(resolve_device(args.device))
        configs = parse_configs(args.imagenet_configs or (QUICK_IMAGENET_CONFIGS if quick else IMAGENET_CONFIGS))
    except (InputError, ValueError) as e:
        print(f"counting_gpu: {e}", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    digit_runs, imagenet_runs = (3, 2) if quick else (7, 3)
    os.makedirs(args.out, exist_ok=True)
    output = os.path.join(args.out, "counting_gpu_results")
    doc = {"environment": environment(device, argv), "quick": quick, "budget_s": args.budget_s, "sections": {}}
    log(f"device {device} ({doc['environment'].get('gpu', 'cpu')}), budget {args.budget_s:.0f} s")

    # Each section may use a share of the time left when it starts (the rest of the budget for the last);
    # within a section the models share its time equally.  A step cut off is recorded "skipped: budget".
    shares = {"exactness": 0.2, "digits": 0.3, "imagenet": 0.75, "cli": 1.0}
    presets = args.presets.split(",")
    sections = {
        "exactness": lambda until: [{"arch": a, **attempt(exactness, a, 32 if quick else 64, device, budget,
                                                          split(until, DIGITS, a))} for a in DIGITS],
        "digits": lambda until: [r for a in DIGITS for r in digits_throughput(
            a, (32, 64) if quick else (32, 256), ("float32", "float64"), device, 2, digit_runs, budget,
            split(until, DIGITS, a))],
        "imagenet": lambda until: [{"arch": p.split(":")[0], "preset": p.split(":")[-1], **attempt(
            imagenet, p, configs, device, 1, imagenet_runs, budget, split(until, presets, p))} for p in presets],
        "cli": lambda until: attempt(cli, device, 256 if quick else 2048, [32, 256], budget, until),
    }
    for name, run in sections.items():
        if name not in only:
            continue
        t0 = time.perf_counter()
        if budget.left() <= 5:
            doc[name] = {"skipped": "budget"}
        else:
            doc[name] = run(t0 + shares[name] * budget.left())
        doc["sections"][name] = {"wall_s": time.perf_counter() - t0}
        doc["wall_s"] = time.perf_counter() - budget.start
        write_results(doc, output, to_markdown)
    log(f"done in {time.perf_counter() - budget.start:.0f} s")
    print(to_markdown(doc))
    return 0


# -- markdown --------------------------------------------------------------------------------------

def _f(x, fmt=".3f"):
    return "-" if x is None else format(x, fmt)


def _why(r: dict) -> str:
    return r.get("skipped") and f"skipped: {r['skipped']}" or r.get("error", "")


def to_markdown(doc_in: dict) -> str:
    doc, env = doc_in, doc_in["environment"]
    cuda = env["device"].startswith("cuda")
    card = (f"{env['gpu']} ({_f(env['gpu_memory_gib'], '.0f')} GiB), driver {env['driver']}, CUDA {env['cuda_build']}, "
            f"cuDNN {env['cudnn']}, TF32 allowed: matmul {env['tf32_matmul']}, cuDNN {env['tf32_cudnn']} (torch's "
            "defaults, left as they are)" if cuda else
            "**device cpu: a test of the script, not a GPU measurement**")
    out = ["# Counting engine on a GPU (issue 12)", "",
           f"`{env['command']}` on {card}; torch {env['torch']}, numpy {env['numpy']}, Python {env['python']}, "
           f"{env['cpus']} CPU cores ({env['torch_threads']} torch threads for the CPU runs); {env['utc']} UTC; "
           f"whole run {_f(doc.get('wall_s'), '.0f')} s of a {doc['budget_s']:.0f} s budget"
           f"{' (--quick)' if doc['quick'] else ''}.", ""]
    dev = env["device"]
    for name in ("exactness", "digits", "imagenet"):
        if isinstance(doc.get(name), dict):  # the whole section did not run
            doc = dict(doc, **{name: []})
            out.append(f"Section {name}: {_why(doc_in[name])}.")
    if "exactness" in doc:
        out += [f"## 1. Exactness: counts on {dev} vs on CPU in float64 (trained digits models)", "",
                f"| model | images | {dev} float64 identical | largest per-node difference | differing nodes | "
                f"{dev} float32: largest relative difference of totals | synaptic ops / image |", "|---|---|---|---|---|---|---|"]
        for r in _rows(doc["exactness"]):
            if "float64" not in r:
                out.append(f"| {r['arch']} digits | | {_why(r)} | | | | |")
                continue
            a, b = r["float64"], r["float32"]
            out.append(f"| {r['arch']} digits | {r['images']} | {a['identical']} | {a['max_abs_difference']} | "
                       f"{a['differing_nodes']} | {b['max_rel_difference_of_totals']:.2e} ({b['differing_nodes']} nodes "
                       f"differ) | {r['synaptic_ops_per_image']:,.0f} |")
        out += ["", "Per-node records: synaptic ops, dense ops, neuron updates, spikes, spikes per step, nonzero and total "
                "input elements of every counted node. Totals: per cost kind (ac / mac / intmul / neuron) and field.", ""]
    if "digits" in doc:
        out += [f"## 2. Digits throughput on {dev}: counting vs a plain forward (same model, data, batch, dtype)", "",
                "| model | batch | dtype | forward s | count s | count / forward | forward img/s | count img/s | "
                "peak MiB forward / count |", "|---|---|---|---|---|---|---|---|---|"]
        for r in _rows(doc["digits"]):
            if "count_s" not in r:
                out.append(f"| {r['arch']} digits | {r['batch']} | {r['dtype']} | {_why(r)} | | | | | |")
                continue
            out.append(f"| {r['arch']} digits | {r['batch']} | {r['dtype']} | {med(r['forward_s']):.4f} | "
                       f"{med(r['count_s']):.4f} | {r['count_over_forward']:.2f}x | {r['forward_images_per_s']:,.0f} | "
                       f"{r['count_images_per_s']:,.0f} | {_f(r['peak_forward_mib'], '.0f')} / {_f(r['peak_count_mib'], '.0f')} |")
        out += ["", "Medians of interleaved runs after 2 warm-up runs each, synchronised; count = `TorchCounter.add` + "
                "`result()` (exact counts read back to the host every run).", ""]
    if "imagenet" in doc:
        out += [f"## 3. ImageNet size, 224x224, on {dev} (untrained presets, random inputs)", "",
                "| model | batch | dtype | trace s (CPU) | forward s | count s | count / forward | count img/s | "
                "peak MiB forward / count | 50,000 images (count) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for m in _rows(doc["imagenet"]):
            name = f"{m['arch']}-{m['preset']}"
            if "rows" not in m:
                out.append(f"| {name} | | | {_why(m)} | | | | | | |")
                continue
            for r in m["rows"]:
                tr = _f(m["trace_s"].get(str(r["batch"])), ".2f")
                if "count_s" not in r:
                    out.append(f"| {name} | {r['batch']} | {r['dtype']} | {tr} | {_why(r)} | | | | | |")
                    continue
                out.append(f"| {name} | {r['batch']} | {r['dtype']} | {tr} | {med(r['forward_s']):.3f} | "
                           f"{med(r['count_s']):.3f} | {r['count_over_forward']:.2f}x | {r['count_images_per_s']:.3g} | "
                           f"{_f(r['peak_forward_mib'], '.0f')} / {_f(r['peak_count_mib'], '.0f')} | "
                           f"{_hours(r['projected_50k_hours'])} |")
        out += ["", "Trace: on CPU at the row's batch (float32), once per batch. Untrained weights: the firing rates, "
                "hence the counting work, are not a trained model's. Medians of interleaved runs after 1 warm-up "
                "run each. Peak memory: `torch.cuda.max_memory_allocated` in the warm-up run (the count's figure "
                "includes the torch model's weights, still on the device).", ""]
    if "cli" in doc:
        c = doc["cli"]
        out += ["## 4. `snncompile report` end to end (new process: start-up, load, trace, count, report)", ""]
        if "runs" not in c:
            out.append(_why(c))
        else:
            out += [f"{c['images']} images ({c['model']}, {c['data']}), `--format json`:", "",
                    "| --device | --batch | wall s | JSON identical to the CPU run (minus version and batch) |", "|---|---|---|---|"]
            for r in c["runs"]:
                same = r.get("identical_to_cpu")
                note = _why(r) or ("" if same is not False else f" differing keys: {', '.join(r.get('differing_keys', []))}")
                out.append(f"| {r['device']} | {r['batch']} | {_f(r.get('wall_s'), '.1f')} | {'' if same is None else same}"
                           f"{' ' + note if note else ''} |")
        out.append("")
    return "\n".join(out)


def _rows(x):
    return x if isinstance(x, list) else [x]


def _hours(h: float) -> str:
    return f"{h * 60:.1f} min" if h < 1 else f"{h:.1f} h"


if __name__ == "__main__":
    sys.exit(main())
