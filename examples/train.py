"""Train the small example models on data that ships with the packages (no downloads).

    python -m snncompile.examples.train --arch spikformer --out DIR [--preset digits] [--epochs N]
    python -m snncompile.examples.train --arch all --root examples/models [--force]

Presets ``digits`` and ``digits-*`` (sklearn digits, :func:`data.load_digits`) and ``dvs-small`` (generated
events, :func:`data.load_events`). Models whose config says ``input='time-major'`` (spikingjelly's multi-step
zoo networks) take ``[T, B, C, H, W]``: the image repeated over T (direct encoding), built by
:func:`model_input`. Training is seeded and single-process (CPU, ``--threads`` intra-op threads): the
same command gives the same weights. Each model directory receives:

* ``model.pt``: the whole module, ``torch.save(model)`` (eval mode);
* ``checkpoint.pth``: ``{'state_dict', 'arch', 'preset', 'config'}``; :func:`presets.build_from_checkpoint`
  rebuilds the model from it;
* ``inputs.npy`` (the first ``--n-samples`` test inputs, float32, batch first: exactly as ``model(x)`` takes
  them, except for time-major models, which take ``inputs.swapaxes(0, 1)``) and ``labels.npy`` (int64);
* ``meta.json``: arch, preset, neuron, test accuracy, training time, input shape (as the model takes it), T,
  parameter count, config, and ``time_axis`` (0) for time-major inputs.
"""
import argparse
import json
import time
from pathlib import Path
from typing import Dict, Iterable, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import data as _data
from .presets import ARCHS, build, build_from_checkpoint, count_params, save_checkpoint

__all__ = ["TRAIN_DEFAULTS", "DEFAULT_MODELS", "FAMILY_MODELS", "model_input", "load_dataset", "train_model", "evaluate", "write_artifacts",
           "is_valid", "ensure_trained", "main"]

#: Per-preset training hyper-parameters (overridable from the CLI / keyword arguments).
TRAIN_DEFAULTS = {
    "digits": dict(epochs=8, batch_size=32, lr=2e-3, weight_decay=1e-2),
    "dvs-small": dict(epochs=8, batch_size=32, lr=2e-3, weight_decay=1e-2),
}
#: Per-architecture changes to :data:`TRAIN_DEFAULTS` (the small zoo ResNets learn slowly at lr 2e-3: 82.8 %
#: after 8 epochs for SEW ADD, 99.4 % with these).
ARCH_TRAIN = {"sew_resnet": dict(epochs=12, lr=1e-2), "spiking_resnet": dict(epochs=12, lr=1e-2)}
#: Test inputs saved per model (event clips are large: 64 KiB each as float32).
N_SAMPLES = {"digits": 32, "dvs-small": 8}
#: (arch, preset) pairs produced by :func:`ensure_trained` by default.
DEFAULT_MODELS = (("spikformer", "digits"), ("spikingformer", "digits"))
#: The other families' trained digits models (``--arch families``).
FAMILY_MODELS = (("sdt", "digits"), ("qkformer", "digits"), ("metaspikeformer", "digits"), ("ilifnet", "digits"),
                 ("sew_resnet", "digits-add"), ("sew_resnet", "digits-and"), ("sew_resnet", "digits-iand"),
                 ("spiking_resnet", "digits"))
ARTIFACTS = ("model.pt", "checkpoint.pth", "inputs.npy", "labels.npy", "meta.json")


def _data_preset(preset: str) -> str:
    """``digits-add`` trains like ``digits``: the data set and hyper-parameters are the prefix's."""
    return "digits" if preset.startswith("digits") else preset


def model_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` (batch first, as :func:`load_dataset` gives it) in the layout ``model`` takes: static images
    repeated over T on a new axis 0 for time-major models, unchanged otherwise."""
    if model.config.get("input") == "time-major":
        return x.unsqueeze(0).repeat(model.config["T"], *([1] * x.dim()))
    return x


def load_dataset(preset: str, config: dict, seed: int = 0) -> _data.Split:
    """Data set of a trainable preset, batch first (see :func:`model_input` for the model's layout)."""
    preset = _data_preset(preset)
    if preset == "digits":
        return _data.load_digits(img_size=config["img_size"], seed=seed)
    if preset == "dvs-small":
        return _data.load_events(T=config["T"], img_size=config["img_size"], num_classes=config["num_classes"],
                                 seed=seed)
    raise ValueError(f"no training data for preset {preset!r}; trainable: {sorted(TRAIN_DEFAULTS)}")


def _reset(model: nn.Module) -> None:
    """Clear neuron state kept between calls (spikingjelly's neurons; the own LIF keeps none)."""
    for m in model.modules():
        if m is not model and callable(getattr(m, "reset", None)):
            m.reset()


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 128) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on ``(x, y)``."""
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        _reset(model)
        correct += (model(model_input(model, x[i:i + batch_size])).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / len(y)


def train_model(arch: str, preset: str = "digits", epochs: Optional[int] = None, batch_size: Optional[int] = None,
                lr: Optional[float] = None, weight_decay: Optional[float] = None, seed: int = 0,
                neuron: str = "own", threads: int = 1, progress: bool = True):
    """Train ``arch``/``preset`` with AdamW, a cosine learning-rate schedule and cross-entropy; return
    ``(model in eval mode, split, info dict)``."""
    hp = dict(TRAIN_DEFAULTS[_data_preset(preset)], **ARCH_TRAIN.get(arch, {}))
    for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay).items():
        if v is not None:
            hp[k] = v
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = build(arch, preset, neuron=neuron)
    split = load_dataset(preset, model.config, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    steps_per_epoch = (len(split.y_train) + hp["batch_size"] - 1) // hp["batch_size"]
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=hp["epochs"] * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)

    from tqdm import tqdm
    bar = tqdm(total=hp["epochs"] * steps_per_epoch, desc=f"{arch}-{preset}", disable=not progress,
               dynamic_ncols=True)
    t0 = time.perf_counter()
    for epoch in range(hp["epochs"]):
        model.train()
        perm = torch.randperm(len(split.y_train), generator=gen)
        for i in range(0, len(perm), hp["batch_size"]):
            idx = perm[i:i + hp["batch_size"]]
            _reset(model)
            loss = F.cross_entropy(model(model_input(model, split.x_train[idx])), split.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    train_time = time.perf_counter() - t0
    bar.close()
    acc = evaluate(model, split.x_test, split.y_test)
    info = dict(arch=arch, preset=preset, neuron=neuron, accuracy=acc, n_test=len(split.y_test),
                train_time_s=round(train_time, 1), seed=seed, threads=threads, **hp)
    return model, split, info


def write_artifacts(model: nn.Module, split: _data.Split, info: dict, out_dir, n_samples: Optional[int] = None) -> Path:
    """Write the five artifact files (module docstring) into ``out_dir``; ``n_samples`` defaults to
    :data:`N_SAMPLES` of the preset."""
    if n_samples is None:
        n_samples = N_SAMPLES.get(_data_preset(info["preset"]), 32)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    time_major = model.config.get("input") == "time-major"
    model_x = model_input(model, split.x_test[:n_samples])
    inputs = (model_x.transpose(0, 1) if time_major else model_x).contiguous().numpy().astype(np.float32)
    labels = split.y_test[:n_samples].numpy().astype(np.int64)
    _reset(model)
    with torch.no_grad():
        sample_acc = float((model(model_x).argmax(1).numpy() == labels).mean())
    _reset(model)  # stateful neurons (spikingjelly's) would pickle the last batch's membranes
    torch.save(model, out / "model.pt")
    save_checkpoint(model, out / "checkpoint.pth", arch=info["arch"], preset=info["preset"])
    np.save(out / "inputs.npy", inputs)
    np.save(out / "labels.npy", labels)
    meta = dict(info, input_shape=list(model_x.shape), T=model.config["T"], num_params=count_params(model),
                sample_accuracy=sample_acc, torch=torch.__version__, config=model.config,
                format="snncompile.examples/1")
    if model.config.get("input") == "time-major":
        meta["time_axis"] = 0
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def is_valid(model_dir, arch: str, preset: str) -> bool:
    """True when ``model_dir`` holds all artifacts for ``arch``/``preset``, its meta matches the current preset
    configuration, the checkpoint rebuilds strictly and the samples have the recorded shape."""
    d = Path(model_dir)
    try:
        if not all((d / f).is_file() for f in ARTIFACTS):
            return False
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("arch") != arch or meta.get("preset") != preset:
            return False
        if meta.get("config") != build(arch, preset, neuron=meta.get("neuron", "own")).config:
            return False
        model = build_from_checkpoint(d / "checkpoint.pth")
        if model.config != meta["config"]:
            return False
        inputs, labels = np.load(d / "inputs.npy"), np.load(d / "labels.npy")
        model_shape = list(inputs.swapaxes(0, 1).shape) if meta.get("time_axis") == 0 else list(inputs.shape)
        return model_shape == meta["input_shape"] and labels.shape == (inputs.shape[0],)
    except Exception:  # any unreadable or inconsistent artifact means: not valid
        return False


def ensure_trained(out_root, models: Iterable = DEFAULT_MODELS, force: bool = False, progress: bool = True,
                   **train_kwargs) -> Dict[str, Path]:
    """Return ``{'<arch>-<preset>': directory}`` under ``out_root``, training only the models whose artifacts
    are missing or invalid (:func:`is_valid`), or all of them with ``force``."""
    result = {}
    for arch, preset in models:
        name = f"{arch}-{preset}"
        d = Path(out_root) / name
        if force or not is_valid(d, arch, preset):
            model, split, info = train_model(arch, preset, progress=progress, **train_kwargs)
            write_artifacts(model, split, info, d)
        result[name] = d
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m snncompile.examples.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHS) + ["all", "families"], default="all",
                   help="'all': spikformer and spikingformer; 'families': the other families' digits models")
    p.add_argument("--preset", default="digits", help="digits, digits-* (the same data) or dvs-small")
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", help="model directory (one --arch)")
    dest.add_argument("--root", help="write <root>/<arch>-<preset>/, skipping models already valid there")
    p.add_argument("--force", action="store_true", help="with --root: retrain even if valid")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--neuron", choices=["own", "spikingjelly"], default="own")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (1 is fastest on a shared 2-core machine)")
    p.add_argument("--n-samples", type=int, help="test inputs saved to inputs.npy (default: 32 digits, 8 clips)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.arch == "families":
        for arch, preset in FAMILY_MODELS:
            d = Path(a.root or a.out) / f"{arch}-{preset}"
            if not a.force and is_valid(d, arch, preset):
                print(f"{d}: valid, kept")
                continue
            model, split, info = train_model(arch, preset, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                                             seed=a.seed, threads=a.threads, progress=not a.no_progress)
            write_artifacts(model, split, info, d, n_samples=a.n_samples)
            print(f"{arch}-{preset}: test accuracy {info['accuracy']:.4f}, {info['train_time_s']} s -> {d}")
        return 0
    archs = ["spikformer", "spikingformer"] if a.arch == "all" else [a.arch]
    kw = dict(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed, neuron=a.neuron, threads=a.threads,
              progress=not a.no_progress)
    if a.out is not None:
        if len(archs) != 1:
            p.error("--out needs a single --arch (use --root for several)")
        model, split, info = train_model(archs[0], a.preset, **kw)
        out = write_artifacts(model, split, info, a.out, n_samples=a.n_samples)
        print(f"{archs[0]}-{a.preset}: test accuracy {info['accuracy']:.4f}, {info['train_time_s']} s -> {out}")
        return 0
    for arch in archs:
        d = Path(a.root) / f"{arch}-{a.preset}"
        if not a.force and is_valid(d, arch, a.preset):
            print(f"{d}: valid, kept")
            continue
        model, split, info = train_model(arch, a.preset, **kw)
        write_artifacts(model, split, info, d, n_samples=a.n_samples)
        print(f"{arch}-{a.preset}: test accuracy {info['accuracy']:.4f}, {info['train_time_s']} s -> {d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
