#!/usr/bin/env python
"""Cross-check of ``snncompile report`` against NeuroBench (a peer nobody here wrote), issue 12.

Same model, same data: NeuroBench 2.3.0's ``SynapticOperations`` and ``ActivationSparsity`` (run by its
own ``Benchmark`` over a DataLoader) beside our exact counts (torch engine, float64).  Writes
``benchmarks/neurobench_results.json`` / ``.md``.

What each side counts, hence what must agree:

* NeuroBench hooks the ``nn.Conv*``/``nn.Linear`` modules only; a layer is **AC** when every element
  of its input is in {-1, 0, 1}, else **MAC**; the count is the number of (nonzero input, nonzero
  weight) pairs (it runs a 0/1 copy of the layer with the bias zeroed).  Ours: per weight layer,
  nonzero inputs × structural synapses (zero weights included), AC when the input is binary by value
  domain.  So ``NB Effective_ACs + Effective_MACs = Σ our synops over the Conv/Linear layers`` exactly
  when no weight is exactly zero; the AC/MAC split agrees when our domains say AC exactly where the
  inputs are in {0, 1} (Spikformer's residual spike counts {0,1,2} are MACs to NeuroBench and
  integer x float multiplications to us — the same layers).
* NeuroBench cannot see spike matmuls (``q @ kᵀ``, ``attn @ v`` are not modules): their synaptic ops
  are ours only.
* ``ActivationSparsity`` = 1 − nonzero outputs / outputs of the activation modules (we register the
  spiking neuron classes) = 1 − our mean firing rate over all neurons.

NeuroBench cannot share the project's environment: ``pip install --dry-run neurobench`` wants to add
tonic, librosa, numba/llvmlite and torchaudio 2.11 (built for a newer torch than the pinned 2.9.1).
Its metrics need only torch and snntorch, so it is installed without dependencies into a folder of its
own and put on ``sys.path`` by this script only::

    pip install --no-deps --target /tmp/neurobench-nodeps neurobench==2.3.0
    NEUROBENCH_PATH=/tmp/neurobench-nodeps python benchmarks/neurobench_crosscheck.py
"""
from __future__ import annotations

import json
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def crosscheck(arch: str, n: int) -> dict:
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel

    from snncompile.backends.torch import count_events_torch
    from snncompile.energy.report import build_report
    from snncompile.frontends.torch import neurons as neuron_table
    from snncompile.frontends.torch import trace
    from snncompile.frontends.torch.loading import load_model

    path = os.path.join(ROOT, "examples", "models", f"{arch}-digits", "checkpoint.pth")
    loaded = load_model(path)
    model = loaded.model.double().eval()
    x = np.asarray(loaded.samples[:n], dtype=np.float64)

    # ours
    graph = trace(model, torch.as_tensor(x[:8]), [loaded.input_domain])
    counts = count_events_torch(graph, x)
    rep = build_report(graph, counts)
    modules = dict(model.named_modules())
    layer_rows = [r for r in rep.rows if isinstance(modules.get(r.module), (torch.nn.Conv1d, torch.nn.Conv2d,
                                                                           torch.nn.Linear)) and r.op != "matmul"]
    ours_ac = sum(r.synops for r in layer_rows if r.kind == "AC")
    ours_other = sum(r.synops for r in layer_rows if r.kind != "AC")
    matmul_only = sum(r.synops for r in rep.rows if r not in layer_rows)
    zero_weights = sum(int((modules[r.module].weight == 0).sum()) for r in layer_rows)

    # NeuroBench, its own Benchmark loop
    class Reset(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, xb):
            neuron_table.reset_states(self.net)
            return self.net(xb)

    nb_model = TorchModel(Reset(model))
    for m in model.modules():
        if neuron_table.neuron_extractor(m) is not None:
            nb_model.add_activation_module(type(m))
    loader = DataLoader(TensorDataset(torch.as_tensor(x), torch.zeros(len(x))), batch_size=8)
    bench = Benchmark(nb_model, loader, [], [], [[], [SynapticOperations, ActivationSparsity]])
    res = bench.run(quiet=True)
    syn = res["SynapticOperations"]
    nb_ac, nb_mac = syn["Effective_ACs"], syn["Effective_MACs"]
    ours_sparsity = 1 - rep.totals["all"]["firing_rate"]
    return {
        "arch": arch, "model": os.path.relpath(path, ROOT), "images": n,
        "neurobench": {"Effective_ACs": nb_ac, "Effective_MACs": nb_mac, "Dense": syn["Dense"],
                       "ActivationSparsity": res["ActivationSparsity"]},
        "ours": {"conv_linear_ac_synops": ours_ac, "conv_linear_other_synops": ours_other,
                 "spike_matmul_and_other_synops": matmul_only, "activation_sparsity": ours_sparsity,
                 "layers_compared": len(layer_rows), "zero_weights_in_those_layers": zero_weights},
        "differences": {
            "ac": nb_ac - ours_ac, "mac_vs_non_ac": nb_mac - ours_other,
            "total": (nb_ac + nb_mac) - (ours_ac + ours_other),
            "sparsity": res["ActivationSparsity"] - ours_sparsity},
    }


def to_markdown(res: list) -> str:
    out = ["# NeuroBench cross-check (per image)", "",
           "| model | NB ACs | ours AC synops | NB MACs | ours non-AC synops | ours spike-matmul synops (NB: unseen) "
           "| NB sparsity | ours 1 - fr | zero weights |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        nb, o = r["neurobench"], r["ours"]
        out.append(f"| {r['arch']}-digits ({r['images']} img) | {nb['Effective_ACs']:,.1f} | {o['conv_linear_ac_synops']:,.1f} "
                   f"| {nb['Effective_MACs']:,.1f} | {o['conv_linear_other_synops']:,.1f} "
                   f"| {o['spike_matmul_and_other_synops']:,.1f} | {nb['ActivationSparsity']:.6f} "
                   f"| {o['activation_sparsity']:.6f} | {o['zero_weights_in_those_layers']} |")
    return "\n".join(out) + "\n"


def main() -> int:
    warnings.filterwarnings("ignore")
    sys.path.insert(0, os.environ.get("NEUROBENCH_PATH", "/tmp/neurobench-nodeps"))
    try:
        import neurobench  # noqa: F401
    except ImportError:
        print("neurobench not found: see this script's docstring (installed apart, without dependencies)")
        return 2
    res = [crosscheck(a, 32) for a in ("spikformer", "spikingformer")]
    with open(os.path.join(HERE, "neurobench_results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = to_markdown(res)
    with open(os.path.join(HERE, "neurobench_results.md"), "w") as f:
        f.write(md)
    print(md)
    print(json.dumps([r["differences"] for r in res], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
