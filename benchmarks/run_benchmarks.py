#!/usr/bin/env python
"""Benchmarks of snncompile; writes ``benchmarks/results.json`` and ``benchmarks/results.md``.

1. **trace + check** of every ImageNet preset of both models at 224×224 (batch 1): time (median of
   several runs in one fresh subprocess per preset) and peak memory (``resource.getrusage`` max RSS of
   that subprocess, which includes Python, torch and the model), with the plain torch forward of the same
   model in the same process for comparison; plus the end-to-end ``snncompile check`` wall time of the
   8-768 presets (target: Spikformer-8-768 in < 10 s).
2. **reference executor vs torch forward** on the same CPU batch (digits presets, batch 32): median times
   and their ratio, measured in the same run.
3. **report throughput** (images/s of the exact counting run + report) vs a syops-style forward-hook
   counter written here (FLOPs per Conv/Linear call, input firing rate, AC = FLOPs × rate), same model,
   same data, same batches; and how far their SOPs agree on the weight layers.
4. **Lava simulation** time per image (CPU, ``Loihi2SimCfg``) when the Lava backend can lower and run a
   digits model; skipped with the reason otherwise.

Usage::

    python benchmarks/run_benchmarks.py            # full (several minutes on 2 cores)
    python benchmarks/run_benchmarks.py --quick    # fewer runs and images
    python benchmarks/run_benchmarks.py --only trace,executor

Machines are noisy: every figure is a median, and every ratio compares runs made in the same process.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMAGENET = ["8-384", "6-512", "8-512", "10-512", "8-768"]
ARCHS = ["spikformer", "spikingformer"]


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _quiet():
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    threads = os.environ.get("SNN_BENCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def median(xs):
    return statistics.median(xs) if xs else None


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# -- workers (run in fresh subprocesses) ---------------------------------------------------------

def worker_trace(arch: str, preset: str, runs: int) -> dict:
    _quiet()
    t0 = time.perf_counter()
    import torch

    from snncompile.check import check_graph
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import load_model

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = load_model(f"preset:{arch}:{preset}")
    build_s = time.perf_counter() - t0
    x = loaded.example_input(1)
    rss_before = maxrss_mib()
    trace_s, check_s, nodes = [], [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        graph = trace(loaded.model, x, [loaded.input_domain], name=loaded.name)
        t1 = time.perf_counter()
        result = check_graph(graph)
        t2 = time.perf_counter()
        trace_s.append(t1 - t0)
        check_s.append(t2 - t1)
        nodes = len(graph.nodes)
        findings = len(result.findings)
        del graph, result
    rss_peak = maxrss_mib()
    forward_s = []
    with torch.no_grad():
        for _ in range(runs):
            t0 = time.perf_counter()
            loaded.model(x)
            forward_s.append(time.perf_counter() - t0)
    return {"arch": arch, "preset": preset, "runs": runs, "nodes": nodes, "findings": findings,
            "params": sum(p.numel() for p in loaded.model.parameters()),
            "import_s": import_s, "build_s": build_s, "trace_s": trace_s, "check_s": check_s,
            "trace_check_s": [a + b for a, b in zip(trace_s, check_s)], "forward_s": forward_s,
            "maxrss_before_trace_mib": rss_before, "maxrss_peak_mib": rss_peak,
            "torch_threads": torch.get_num_threads()}


def _digits_model(arch: str):
    """The trained digits example when it exists (examples/models), else the untrained preset."""
    from snncompile.frontends.torch.loading import load_model

    ckpt = os.path.join(ROOT, "examples", "models", f"{arch}-digits", "checkpoint.pth")
    if os.path.exists(ckpt):
        return load_model(ckpt), f"{os.path.relpath(ckpt, ROOT)} (trained)"
    return load_model(f"preset:{arch}:digits"), f"preset:{arch}:digits (untrained)"


def _digits_samples(loaded, n: int, seed: int = 1):
    import numpy as np

    if loaded.samples is not None and len(loaded.samples) >= n:
        return np.ascontiguousarray(loaded.samples[:n]).astype(np.float32), "inputs.npy of the example"
    from snncompile.examples import data

    try:
        split = data.load_digits() if hasattr(data, "load_digits") else None
    except Exception:  # noqa: BLE001 - fall back to random inputs
        split = None
    x = getattr(split, "x_test", None) if split is not None else None
    x = None if x is None else np.asarray(x)
    if x is not None and len(x) >= n and tuple(x.shape[1:]) == tuple(loaded.input_shape[1:]):
        return np.ascontiguousarray(x[:n]).astype(np.float32), "sklearn digits (test split)"
    rng = np.random.default_rng(seed)
    return rng.random((n,) + tuple(loaded.input_shape[1:])).astype(np.float32), "random uniform [0, 1)"


def worker_executor(arch: str, batch: int, runs: int) -> dict:
    _quiet()
    import numpy as np
    import torch

    from snncompile.backends.reference import ReferenceExecutor
    from snncompile.frontends.torch import trace

    loaded, source = _digits_model(arch)
    x, data = _digits_samples(loaded, batch)
    xt = torch.as_tensor(x)
    graph = trace(loaded.model, xt, [loaded.input_domain], name=loaded.name)
    ex = ReferenceExecutor()
    out = {"arch": arch, "model": source, "data": data, "batch": batch, "runs": runs, "nodes": len(graph.nodes),
           "torch_threads": torch.get_num_threads()}
    ex.run(graph, x, dtype=np.float64)  # warm-up (constant casts cached)
    ex.run(graph, x, dtype=np.float32)
    with torch.no_grad():
        loaded.model(xt)
    t_torch, t64, t32 = [], [], []
    for _ in range(runs):  # interleaved, so that load changes hit all three alike
        t0 = time.perf_counter()
        with torch.no_grad():
            loaded.model(xt)
        t_torch.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ex.run(graph, x, dtype=np.float64)
        t64.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ex.run(graph, x, dtype=np.float32)
        t32.append(time.perf_counter() - t0)
    out.update(torch_s=t_torch, executor_f64_s=t64, executor_f32_s=t32,
               ratio_f64=median(t64) / median(t_torch), ratio_f32=median(t32) / median(t_torch))
    return out


class HookCounter:
    """A syops-style counter: forward hooks on Conv/Linear (FLOPs per call with bias adds, input firing rate,
    AC = FLOPs x rate unless the rate is 100 % -> MAC) and on spiking neurons (spikes, updates)."""

    def __init__(self, model):
        import torch.nn as nn

        self.layers, self.neurons, self.handles = {}, {}, []
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                self.layers[name] = {"flops": 0.0, "acs": 0.0, "macs": 0.0}
                self.handles.append(m.register_forward_hook(self._layer(name)))
            elif "LIF" in type(m).__name__ or "IFNode" in type(m).__name__:
                self.neurons[name] = {"spikes": 0.0, "updates": 0.0}
                self.handles.append(m.register_forward_hook(self._neuron(name)))

    def _layer(self, name):
        import torch.nn as nn

        def hook(m, args, out):
            x = args[0]
            if isinstance(m, nn.Linear):
                k = m.in_features
            else:
                k = (m.in_channels // m.groups) * int(_prod(m.kernel_size))
            flops = out.numel() * (k + (1 if m.bias is not None else 0))
            rate = float((x != 0).float().mean())
            rec = self.layers[name]
            rec["flops"] += flops
            if abs(rate - 1.0) < 1e-6:
                rec["macs"] += flops
            else:
                rec["acs"] += flops * rate

        return hook

    def _neuron(self, name):
        def hook(m, args, out):
            s = out[0] if isinstance(out, (tuple, list)) else out
            self.neurons[name]["spikes"] += float((s != 0).sum())
            self.neurons[name]["updates"] += s.numel()

        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def _prod(xs):
    out = 1
    for v in xs:
        out *= v
    return out


def _reset_neurons(model):
    from snncompile.frontends.torch import neurons as neuron_table

    neuron_table.reset_states(model)


def worker_report(arch: str, n: int, batch: int, runs: int) -> dict:
    _quiet()
    import numpy as np
    import torch

    from snncompile.energy import Samples, build_report, stream_counts
    from snncompile.frontends.torch import trace

    loaded, source = _digits_model(arch)
    x, data = _digits_samples(loaded, n)
    t0 = time.perf_counter()
    graph = trace(loaded.model, torch.as_tensor(x[:batch]), [loaded.input_domain], name=loaded.name)
    trace_s = time.perf_counter() - t0
    ours, hooks, rep, counter = [], [], None, None
    for _ in range(runs):
        t0 = time.perf_counter()
        counts = stream_counts(graph, Samples.from_array(x, data), dtype=np.float64)
        rep = build_report(graph, counts, data=data)
        ours.append(time.perf_counter() - t0)
        counter = HookCounter(loaded.model)
        t0 = time.perf_counter()
        with torch.no_grad():
            for s in range(0, n, batch):
                _reset_neurons(loaded.model)
                loaded.model(torch.as_tensor(x[s:s + batch]))
        hooks.append(time.perf_counter() - t0)
        counter.remove()
    # agreement on the weight layers: the papers' SOPs (ours) vs the hook counter's ACs
    our_sops = sum(r.sops or 0 for r in rep.rows if r.op != "matmul" and r.op != "mul")
    hook_acs = sum(v["acs"] for v in counter.layers.values()) / n
    our_macs = sum(r.macs for r in rep.rows)
    hook_macs = sum(v["macs"] for v in counter.layers.values()) / n
    matmul_sops = sum(r.sops or 0 for r in rep.rows if r.op == "matmul")
    ips_ours, ips_hooks = n / median(ours), n / median(hooks)
    return {"arch": arch, "model": source, "data": data, "images": n, "batch": batch, "runs": runs,
            "trace_s": trace_s, "report_s": ours, "hooks_s": hooks,
            "report_images_per_s": ips_ours, "hooks_images_per_s": ips_hooks, "ratio_hooks_over_report": ips_hooks / ips_ours,
            "sops_weight_layers_report": our_sops, "acs_hook_counter": hook_acs,
            "sops_relative_difference": (our_sops - hook_acs) / hook_acs if hook_acs else None,
            "macs_report": our_macs, "macs_hook_counter": hook_macs,
            "spike_matmul_sops_report_only": matmul_sops,
            "layers_seen_by_hooks": len(counter.layers),
            "rows_in_report": len(rep.rows)}


def worker_lava(arch: str, n: int) -> dict:
    _quiet()
    import numpy as np
    import torch

    out = {"arch": arch, "images": n}
    try:
        from snncompile.backends.lava import lava_status

        ok, why = lava_status()
        if not ok:
            return dict(out, skipped=f"Lava unavailable: {why}")
        from snncompile.backends.lava.lower import load_lowered, lower_graph, run_lowered, save_lowered
    except ImportError as e:
        return dict(out, skipped=f"the Lava backend provides no lower/run functions yet ({e})")
    from snncompile.energy import Samples, build_report, stream_counts
    from snncompile.energy.ledger import read_ledger
    from snncompile.frontends.torch import trace

    loaded, source = _digits_model(arch)
    x, data = _digits_samples(loaded, n)
    graph = trace(loaded.model, torch.as_tensor(x[:1]), [loaded.input_domain], name=loaded.name)
    tmp = tempfile.mkdtemp(prefix="snn-bench-lava-")
    t0 = time.perf_counter()
    low = lower_graph(graph, mode="float")
    folder = save_lowered(low, os.path.join(tmp, "lowered"), model_name=loaded.name)
    lower_s = time.perf_counter() - t0
    res = run_lowered(load_lowered(folder), x)
    ledger_path = os.path.join(tmp, "ledger.json")
    with open(ledger_path, "w") as f:
        json.dump(res.ledger.to_dict(), f, default=float)
    counts = stream_counts(graph, Samples.from_array(x, data))
    rep = build_report(graph, counts, data=data, ledger=read_ledger(ledger_path))
    led_total, ex_total = rep.ledger["synaptic_ops"], rep.totals["all"]["synops"]
    return dict(out, model=source, data=data, lower_s=lower_s, timing=res.timing,
                per_image_s=res.timing.get("per_image_s"), wall_per_image_s=res.timing["wall_s"] / n,
                ledger_vs_executor_synops=(led_total / ex_total) if ex_total else None)


# -- driver --------------------------------------------------------------------------------------

def _env() -> dict:
    env = dict(os.environ)
    threads = env.get("SNN_BENCH_THREADS")
    if threads:
        for k in THREAD_VARS:
            env[k] = threads
    return env


def spawn(args: list, timeout: float = 1800) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=_env())
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"worker {args} exited {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


def cli_wall(args: list, runs: int) -> list:
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snncompile", *args], capture_output=True, cwd=ROOT, env=_env())
        walls.append(time.perf_counter() - t0)
    return walls


def machine() -> dict:
    import torch

    threads = os.environ.get("SNN_BENCH_THREADS")
    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "torch_threads": int(threads) if threads else torch.get_num_threads(), "platform": platform.platform(),
            "load_average_start": os.getloadavg()}


def run_all(quick: bool, only: set, runs: int | None) -> dict:
    res: dict = {"quick": quick, "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if "trace" in only:
        rows = []
        for arch in ARCHS:
            for preset in IMAGENET:
                r = runs or (3 if preset == "8-768" or not quick else 1)
                print(f"[trace] {arch}:{preset} x{r}", file=sys.stderr, flush=True)
                rows.append(spawn(["trace", arch, preset, r]))
        res["trace"] = rows
        res["check_cli_8_768"] = {}
        for arch in ARCHS:
            print(f"[cli] snncompile check preset:{arch}:8-768", file=sys.stderr, flush=True)
            res["check_cli_8_768"][arch] = cli_wall(["check", f"preset:{arch}:8-768", "--exit-zero"],
                                                    runs or (2 if quick else 3))
    if "executor" in only:
        res["executor"] = []
        for arch in ARCHS:
            print(f"[executor] {arch}:digits", file=sys.stderr, flush=True)
            res["executor"].append(spawn(["executor", arch, 32, runs or (5 if quick else 9)]))
    if "report" in only:
        res["report"] = []
        for arch in ARCHS:
            print(f"[report] {arch}:digits", file=sys.stderr, flush=True)
            res["report"].append(spawn(["report", arch, 64 if quick else 256, 32, runs or (3 if quick else 5)]))
    if "lava" in only:
        res["lava"] = []
        for arch in ARCHS[1:] if quick else ARCHS:
            print(f"[lava] {arch}:digits", file=sys.stderr, flush=True)
            try:
                res["lava"].append(spawn(["lava", arch, 2 if quick else 4], timeout=900))
            except subprocess.TimeoutExpired:
                res["lava"].append({"arch": arch, "skipped": "timed out after 900 s"})
    res["machine"]["load_average_end"] = os.getloadavg()
    res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return res


def _f(x, nd=2, unit=""):
    return "-" if x is None else f"{x:.{nd}f}{unit}"


def to_markdown(res: dict) -> str:
    m = res["machine"]
    out = ["# snncompile benchmarks", "",
           f"Run {res['started']} ({'quick' if res['quick'] else 'full'} mode) on {m['cpus']} CPUs, "
           f"torch {m['torch']} ({m['torch_threads']} threads), Python {m['python']}; load average "
           f"{m['load_average_start'][0]:.1f} at start, {m['load_average_end'][0]:.1f} at the end (shared machine: "
           f"figures are medians, ratios are measured in the same process).", ""]
    if "trace" in res:
        out += ["## 1. trace + check at 224×224 (batch 1)", "",
                "Median over the runs in one fresh subprocess per preset; peak memory = max RSS of that process "
                "(Python + torch + model + trace). `forward` is a plain torch forward of the same model in the same "
                "process.", "",
                "| model | params | nodes | runs | trace s | check s | trace+check s | forward s | trace/forward "
                "| max RSS before trace MiB | peak RSS MiB |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in res["trace"]:
            if "error" in r:
                out.append(f"| error | {r['error']} |")
                continue
            tr, fw = median(r["trace_s"]), median(r["forward_s"])
            out.append(f"| {r['arch']}-{r['preset']} | {r['params'] / 1e6:.2f} M | {r['nodes']} | {r['runs']} | "
                       f"{_f(tr)} | {_f(median(r['check_s']))} | {_f(median(r['trace_check_s']))} | {_f(fw)} | "
                       f"{_f(tr / fw if fw else None)} | {r['maxrss_before_trace_mib']:.0f} | {r['maxrss_peak_mib']:.0f} |")
        cli = res.get("check_cli_8_768", {})
        if cli:
            out += ["", "End to end, `python -m snncompile check preset:ARCH:8-768` (new process: imports, build, "
                    "trace, check, output), median wall time: "
                    + "; ".join(f"{a} {median(w):.1f} s ({len(w)} runs)" for a, w in cli.items())
                    + ". Target: Spikformer-8-768 < 10 s.", ""]
    if "executor" in res:
        out += ["## 2. Reference executor vs torch forward (same CPU batch)", "",
                "| model | data | batch | runs | torch s | executor f64 s | ratio | executor f32 s | ratio |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in res["executor"]:
            if "error" in r:
                out.append(f"| error | {r['error']} |")
                continue
            out.append(f"| {r['model']} | {r['data']} | {r['batch']} | {r['runs']} | {_f(median(r['torch_s']), 3)} | "
                       f"{_f(median(r['executor_f64_s']), 3)} | {_f(r['ratio_f64'], 1)}× | "
                       f"{_f(median(r['executor_f32_s']), 3)} | {_f(r['ratio_f32'], 1)}× |")
        out.append("")
    if "report" in res:
        out += ["## 3. `report` throughput vs a syops-style hook counter (same model, data, batches)", "",
                "`report` = exact event counts from the reference executor (float64) + the report; the hook counter "
                "= torch forward with hooks on Conv/Linear/LIF modules (FLOPs, input rate, AC = FLOPs × rate). "
                "SOPs agreement compares the weight layers (the hooks cannot see the spike matmuls). The hook "
                "counter calls a layer a MAC only when its input rate is exactly 100 % (the syops rule): "
                "Spikformer's head input (a mean of spike counts) has zeros, so the hooks count the head as ACs, "
                "which explains both small differences on Spikformer.", "",
                "| model | images | batch | runs | report img/s | hooks img/s | hooks/report | SOPs report vs hooks "
                "| MACs report vs hooks | spike-matmul SOPs (report only) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in res["report"]:
            if "error" in r:
                out.append(f"| error | {r['error']} |")
                continue
            diff = r["sops_relative_difference"]
            out.append(f"| {r['model']} | {r['images']} | {r['batch']} | {r['runs']} | {_f(r['report_images_per_s'], 1)} | "
                       f"{_f(r['hooks_images_per_s'], 1)} | {_f(r['ratio_hooks_over_report'], 1)}× | "
                       f"{'-' if diff is None else f'{100 * diff:+.4f}%'} | "
                       f"{r['macs_report']:.0f} vs {r['macs_hook_counter']:.0f} | {r['spike_matmul_sops_report_only']:.0f} |")
        out.append("")
    if "lava" in res:
        out += ["## 4. Lava simulation (CPU, Loihi2SimCfg)", ""]
        for r in res["lava"]:
            if "skipped" in r or "error" in r:
                out.append(f"- {r.get('arch', '?')}: skipped — {r.get('skipped') or r.get('error')}")
            else:
                t = r["timing"]
                out.append(f"- {r['model']}: {r['images']} images, {t.get('processes')} processes, "
                           f"{_f(r['per_image_s'], 2)} s per image in steady state, "
                           f"{_f(r['wall_per_image_s'], 2)} s per image wall (startup {_f(t.get('startup_s'), 1)} s); "
                           f"ledger / executor synaptic ops = {_f(r['ledger_vs_executor_synops'], 4)}")
        out.append("")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer runs and images")
    p.add_argument("--only", default="trace,executor,report,lava", help="comma-separated: trace,executor,report,lava")
    p.add_argument("--runs", type=int, help="override the number of runs of every measurement")
    p.add_argument("--out", default=os.path.join(HERE, "results.json"))
    p.add_argument("--threads", type=int, default=1,
                   help="torch/BLAS threads in every measured process (default 1: on a shared machine, torch's "
                        "OpenMP threads under contention are many times slower; 0 = library defaults)")
    p.add_argument("--render", action="store_true", help="only rewrite results.md from the results file")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.render:
        with open(a.out) as f:
            res = json.load(f)
        with open(os.path.splitext(a.out)[0] + ".md", "w") as f:
            f.write(to_markdown(res))
        return 0
    if a.worker:
        kind, *rest = a.worker
        fn = {"trace": lambda: worker_trace(rest[0], rest[1], int(rest[2])),
              "executor": lambda: worker_executor(rest[0], int(rest[1]), int(rest[2])),
              "report": lambda: worker_report(rest[0], int(rest[1]), int(rest[2]), int(rest[3])),
              "lava": lambda: worker_lava(rest[0], int(rest[1]))}[kind]
        print(json.dumps(fn(), default=float))
        return 0
    if a.threads:
        os.environ["SNN_BENCH_THREADS"] = str(a.threads)
    res = run_all(a.quick, {s.strip() for s in a.only.split(",") if s.strip()}, a.runs)
    md = to_markdown(res)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1, default=float)
    with open(os.path.splitext(a.out)[0] + ".md", "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
