#!/usr/bin/env python
"""Profile the trace of a preset against a plain torch forward of the same model (cProfile).

    python benchmarks/profile_trace.py preset:spikformer:8-768 [--threads 1] [--top 25]

Prints the forward time, the trace time, their ratio, and the functions where the trace spends its time
(by own time), so that a slow converter or bookkeeping step stands out from the model's own arithmetic.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
import warnings


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?", default="preset:spikformer:8-768")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args(argv)
    if a.threads:
        for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[k] = str(a.threads)
    warnings.filterwarnings("ignore")
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import load_model

    loaded = load_model(a.model)
    x = loaded.example_input(1)
    fwd, tr = [], []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        with torch.no_grad():
            loaded.model(x)
        fwd.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        g = trace(loaded.model, x, [loaded.input_domain])
        tr.append(time.perf_counter() - t0)
    fwd.sort()
    tr.sort()
    f, t = fwd[len(fwd) // 2], tr[len(tr) // 2]
    print(f"{a.model}: {len(g.nodes)} nodes, {len(g.constants)} constants; torch threads {torch.get_num_threads()}")
    print(f"forward {f:.2f} s, trace {t:.2f} s (medians of {a.runs}); trace / forward = {t / f:.2f}")
    prof = cProfile.Profile()
    prof.enable()
    trace(loaded.model, x, [loaded.input_domain])
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(a.top)
    print(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
