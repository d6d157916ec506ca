"""The shipped trained digits models of every family (examples/models/<arch>-digits[-variant]), loaded and
traced the way ``snncompile lower CHECKPOINT`` does, with their inputs in the traced graph's layout."""
import json
import os

import numpy as np

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "models")


def folder(arch: str) -> str:
    """``sew_resnet-add`` -> examples/models/sew_resnet-digits-add."""
    base, _, variant = arch.partition("-")
    return os.path.join(MODELS, f"{base}-digits" + (f"-{variant}" if variant else ""))


def load_traced(arch: str):
    """(torch model, traced graph with domains, meta.json) of a shipped checkpoint."""
    from snncompile.analysis import infer_domains
    from snncompile.frontends import torch as torch_frontend

    ckpt = os.path.join(folder(arch), "checkpoint.pth")
    with open(os.path.join(folder(arch), "meta.json")) as f:
        meta = json.load(f)
    loaded = torch_frontend.load_model(ckpt, time_axis=meta.get("time_axis"))
    graph = torch_frontend.trace(loaded.model, loaded.example_input(1), [loaded.input_domain],
                                 time_major=loaded.time_axis == 0)
    torch_frontend.declare_time_axis(graph, loaded.time_axis, getattr(loaded.model, "T", None))
    infer_domains(graph)
    return loaded.model, graph, meta


def as_inputs(x: np.ndarray, meta: dict) -> np.ndarray:
    """Images [N, 1, H, W] in the traced graph's batch-first layout (time-major zoo nets: repeated over T)."""
    return np.repeat(x[:, None], int(meta["T"]), axis=1) if meta.get("time_axis") == 0 else x


def torch_predictions(model, x: np.ndarray, meta: dict) -> np.ndarray:
    """Class predictions of the torch model over ``x`` (graph layout), in batches of 32."""
    import torch

    preds = []
    with torch.no_grad():
        for i in range(0, len(x), 32):
            for m in model.modules():  # stateful neurons start every batch at rest
                if m is not model and callable(getattr(m, "reset", None)):
                    m.reset()
            xb = torch.from_numpy(x[i:i + 32])
            out = model(xb.transpose(0, 1) if meta.get("time_axis") == 0 else xb)
            preds.append((out.mean(0) if out.dim() == 3 else out).argmax(-1).numpy())
    return np.concatenate(preds)
