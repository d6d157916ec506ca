"""Benchmark of the Lava backend (not a test): simulation time per image and its ratio to the torch forward
and to the reference executor; optionally the fixed-point accuracy on the digits test split.

    python benchmarks/lava_benchmark.py [--arch spikformer] [--images 20] [--accuracy] [-o out.json]

Models: the trained digits artefacts (``examples/models/<arch>-digits``) when present, else the preset with
random weights (timings only).  ``--preset 4-384`` times Spikformer-4-384 at 32×32 (if it fits in memory).
Lava time per image is the steady-state wall time of T Lava steps (images are pipelined), measured after
the first chunk, which includes compilation and the start-up of one OS process per Lava process.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np


def _model(arch: str, preset: str):
    import torch

    from snncompile.examples import presets

    root = os.environ.get("SNNCOMPILE_MODELS") or os.path.join(os.path.dirname(presets.__file__), "models")
    folder = os.path.join(root, f"{arch}-{preset}")
    ckpt = os.path.join(folder, "checkpoint.pth")
    if os.path.isfile(ckpt):
        model = presets.build_from_checkpoint(ckpt, neuron="own").eval()
        x = np.load(os.path.join(folder, "inputs.npy")).astype(np.float32)
        return model, x, True
    cfg = presets.PRESETS[arch][preset]
    torch.manual_seed(0)
    model = presets.build(arch, preset, neuron="own").eval()
    rng = np.random.default_rng(0)
    return model, rng.random((64, cfg["in_channels"], cfg["img_size"], cfg["img_size"])).astype(np.float32), False


def bench(arch: str, preset: str = "digits", images: int = 20, mode: str = "float") -> dict:
    import torch

    from snncompile.analysis import infer_domains
    from snncompile.backends.reference import ReferenceExecutor
    from snncompile.frontends.torch import trace

    from snncompile.backends.lava.host import run_post, step_inputs
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate

    model, x, trained = _model(arch, preset)
    x = x[:images]
    g = trace(model, torch.from_numpy(x[:1]))
    infer_domains(g)
    t0 = time.perf_counter()
    low = lower_graph(g, mode=mode, calibration=x)
    lower_s = time.perf_counter() - t0
    with torch.no_grad():
        model(torch.from_numpy(x[:1]))
        t0 = time.perf_counter()
        for i in range(len(x)):
            model(torch.from_numpy(x[i:i + 1]))
        torch_s = (time.perf_counter() - t0) / len(x)
    ex = ReferenceExecutor()
    ex.run(g, x[:1], dtype=np.float64)
    t0 = time.perf_counter()
    for i in range(len(x)):
        ex.run(g, x[i:i + 1], dtype=np.float64)
    exec_s = (time.perf_counter() - t0) / len(x)
    inp = step_inputs(low.program, x)
    if mode == "fixed":
        from snncompile.loihi.fixed import quantise_input

        name = low.program.step.inputs[0]
        inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
    rec = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-bench-"))
    lava_s = rec.step_s * low.program.T
    outs, _ = run_post(low.program, rec.readouts, len(x))
    return {"arch": arch, "preset": preset, "trained": trained, "mode": mode, "images": len(x),
            "T": low.program.T, "processes": low.plan.process_count, "pipeline_depth": low.plan.max_lag,
            "lower_s": lower_s, "lava_startup_s": rec.compile_s, "lava_wall_s": rec.wall_s,
            "lava_s_per_image": lava_s, "lava_ms_per_step": rec.step_s * 1000, "torch_s_per_image": torch_s,
            "executor_s_per_image": exec_s, "lava_over_torch": lava_s / torch_s,
            "lava_over_executor": lava_s / exec_s, "cores_loihi2": low.part.cores,
            "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}


def accuracy(arch: str, *, lava: bool = True) -> dict:
    """Test-split accuracy of torch (float32), the fixed-point executor and (optionally) Lava fixed point."""
    import torch

    from snncompile.analysis import infer_domains
    from snncompile.examples.data import load_digits
    from snncompile.frontends.torch import trace
    from snncompile.backends.reference.fixed import run_fixed
    from snncompile.loihi.fixed import quantise_input

    from snncompile.backends.lava.host import run_post, step_inputs
    from snncompile.backends.lava.lower import lower_graph
    from snncompile.backends.lava.simulate import simulate

    model, x_cal, trained = _model(arch, "digits")
    split = load_digits(img_size=16)
    x = split.x_test.numpy().astype(np.float32)
    y = split.y_test.numpy()
    with torch.no_grad():
        torch_pred = model(torch.from_numpy(x)).argmax(1).numpy()
    g = trace(model, torch.from_numpy(x[:1]))
    infer_domains(g)
    low = lower_graph(g, mode="fixed", calibration=split.x_train.numpy())
    t0 = time.perf_counter()
    outs, _, _ = run_fixed(low.program, low.step, x)
    fixed_s = time.perf_counter() - t0
    fixed_pred = np.array([o[0].argmax() for o in outs])
    res = {"arch": arch, "trained": trained, "test_images": len(x),
           "torch_accuracy": float((torch_pred == y).mean()), "fixed_executor_accuracy": float((fixed_pred == y).mean()),
           "fixed_executor_s": fixed_s, "agreement_torch_fixed": float((torch_pred == fixed_pred).mean())}
    if lava:
        inp = step_inputs(low.program, x)
        name = low.program.step.inputs[0]
        inp = {name: quantise_input(inp[name], low.step.meta["fixed"]["inputs"][name])}
        rec = simulate(low.plan, inp, tempfile.mkdtemp(prefix="snncompile-acc-"), chunk=64)
        louts, _ = run_post(low.program, rec.readouts, len(x), count=False)
        lava_pred = np.array([o[0].argmax() for o in louts])
        res.update({"lava_fixed_accuracy": float((lava_pred == y).mean()),
                    "lava_equals_fixed_executor": bool(np.array_equal(lava_pred, fixed_pred)),
                    "lava_wall_s": rec.wall_s})
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", action="append", choices=["spikformer", "spikingformer"])
    ap.add_argument("--preset", default="digits")
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--mode", default="float", choices=["float", "fixed"])
    ap.add_argument("--accuracy", action="store_true", help="also the fixed-point accuracy on the test split")
    ap.add_argument("-o", "--output", help="write the results as JSON here")
    a = ap.parse_args(argv)
    results = []
    for arch in a.arch or ["spikformer", "spikingformer"]:
        r = bench(arch, a.preset, a.images, a.mode)
        print(json.dumps(r, indent=1))
        results.append(r)
        if a.accuracy:
            r2 = accuracy(arch)
            print(json.dumps(r2, indent=1))
            results.append(r2)
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
