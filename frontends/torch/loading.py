"""Loading a model to trace: whole-module files, checkpoints + factories, example presets.

Safety: every file is first read with ``torch.load(weights_only=True)``, which cannot execute
code.  A file that needs arbitrary unpickling (a whole pickled ``nn.Module``) is refused unless
the caller opts in with ``trust_pickle=True`` — so the gate is safe on untrusted pull requests.

Sources (``load_model(source, ...)``):

* ``preset:ARCH:NAME`` — an example preset (``preset:spikformer:8-512``), untrained weights.
* ``path/model.pt`` — a whole pickled module (needs ``trust_pickle``; its classes must be
  importable: ``import_paths`` are put on ``sys.path``; the current directory is not, see
  ``snncompile.importpath``).
* ``path/checkpoint.pth`` — a state dict, or a dict holding one (``state_dict``/``model``/
  ``model_state``).  Rebuilt with ``factory="package.module:function"`` called with
  ``factory_args``; a checkpoint written by the example trainer (``arch``/``preset``/``config``)
  rebuilds itself.

A ``meta.json`` beside the file may give ``input_shape`` (as the model takes it), ``input_domain`` and
``time_axis``; a sibling ``inputs.npy`` gives sample inputs, batch first (``[N, ...]``; ``[N, T, ...]`` for a
model that takes ``[T, B, ...]``).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch

from snncompile import validate
from snncompile.errors import InputError, UnsafeFileError
from snncompile.examples import presets
from snncompile.importpath import add_user_paths
from snncompile.ir.domain import Domain

from .compat import cpu_constructible_neurons
from .inputs import batch_first, check_time_axis

STATE_DICT_KEYS = ("state_dict", "model", "model_state", "model_state_dict", "net")


@dataclass
class LoadedModel:
    model: torch.nn.Module
    name: str
    input_shape: Optional[tuple[int, ...]] = None
    input_domain: Domain = field(default_factory=Domain.real)
    samples: Optional[np.ndarray] = None  # sample inputs [N, ...] (without batching beyond N)
    labels: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict)
    time_axis: Optional[int] = None  # axis of T in the model's input (None: static, repeated by the model)

    def example_input(self, batch: int = 1, seed: int = 0) -> torch.Tensor:
        """A concrete input for tracing, batch first (like ``samples``; a time-major model's input is its
        transpose, see :mod:`.inputs`): the first samples if any, else seeded random data."""
        if self.samples is not None and len(self.samples) >= batch:
            return torch.as_tensor(np.ascontiguousarray(self.samples[:batch]), dtype=torch.float32)
        if self.input_shape is None:
            raise InputError(f"{self.name}: the input shape is unknown; pass --input-shape (e.g. 1,3,32,32)")
        shape = list(batch_first(self.input_shape, self.time_axis))
        shape[0] = batch
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand(shape, generator=gen)
        return (x < 0.2).float() if self.input_domain.is_binary else x


# Plain data containers that checkpoints of common trainers hold (timm's saver stores the
# argparse Namespace of the run): unpickling them sets attributes and runs no code.
SAFE_GLOBALS = [argparse.Namespace]


# What torch's weights-only unpickler says when a file would run code (group 1: what it would call).
CODE_RUNNING = (
    re.compile(r"Unsupported global: GLOBAL ([\w.]+)"),
    re.compile(r"unsupported GLOBAL ([\w.]+) whose module [\w.]+ is blocked"),
    re.compile(r"call reduce for callable <?([^>\n]+?)>? which is not allowed"),
)
# torch's boilerplate around the reason of a weights-only failure (dropped from the one-line message)
_BOILERPLATE = ("Weights only load failed", "Check the documentation", "(1)", "(2)", "Please file an issue",
                "Re-running")


def _weights_only_reason(text: str) -> str:
    """The sentence of torch's weights-only error that says what is wrong with the file."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    kept = [ln for ln in lines if not ln.startswith(_BOILERPLATE)]
    reason = " ".join(kept) or (lines[0] if lines else "")
    return re.sub(r"^WeightsUnpickler error:\s*", "", reason)[:300]


def _safe_load(path: str) -> Any:
    """``torch.load(weights_only=True)``: a parser of untrusted bytes, so *any* failure is an input error."""
    validate.regular_file(path)
    try:
        if zipfile.is_zipfile(path):  # itself raises on some corrupt end records
            with zipfile.ZipFile(path) as zf:
                validate.zip_archive(zf, path)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile fails in many ways on corrupt headers (e.g. NotImplementedError)
        raise InputError(f"{path}: not a readable PyTorch file ({_reason(e)})") from None
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        for pattern in CODE_RUNNING:
            match = pattern.search(str(e))
            if match:
                raise UnsafeFileError(
                    f"{path} is a pickled Python object that runs code when loaded ({_weights_only_reason(str(e))}); "
                    f"re-run with --trust-pickle if you trust this file, or save a state_dict checkpoint "
                    f"instead") from None
        raise InputError(f"{path}: not a readable PyTorch file ({_weights_only_reason(str(e))})") from None
    except MemoryError:
        raise InputError(f"{path}: not a readable PyTorch file (it declares more data than fits in memory)") from None
    except Exception as e:  # noqa: BLE001 - the weights-only unpickler fails in many ways on corrupt bytes
        raise InputError(f"{path}: not a readable PyTorch file ({_reason(e)})") from None


def _unsafe_load(path: str) -> Any:
    try:
        with cpu_constructible_neurons():
            return torch.load(path, map_location="cpu", weights_only=False)
    except (ModuleNotFoundError, AttributeError) as e:
        raise InputError(f"{path} needs a class that is not importable ({_reason(e)}); add its folder with "
                         f"--import-path DIR (the current directory is not searched unless named)") from None
    except Exception as e:  # noqa: BLE001 - any failure of a foreign pickle is an input error
        raise InputError(f"{path}: cannot unpickle ({_reason(e)})") from None


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def resolve_factory(spec: str):
    """``package.module:function`` → the callable."""
    if ":" not in spec:
        raise InputError(f"--model must look like package.module:factory, got {spec!r}")
    mod_name, fn_name = spec.split(":", 1)
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise InputError(f"cannot import {mod_name!r} for --model ({_reason(e)}); add --import-path DIR") from None
    fn = mod
    for part in fn_name.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            raise InputError(f"{mod_name} has no attribute {fn_name!r}")
    return fn


def parse_model_args(pairs: Sequence[str]) -> dict:
    """``key=value`` pairs; values parsed as JSON where possible (numbers, booleans, lists)."""
    out = {}
    for p in pairs:
        if "=" not in p:
            raise InputError(f"--model-arg must be key=value, got {p!r}")
        k, v = p.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _state_dict_of(obj: Any) -> Optional[dict]:
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for k in STATE_DICT_KEYS:
            if isinstance(obj.get(k), dict):
                return _state_dict_of(obj[k])
    return None


def _sidecars(path: str, loaded: LoadedModel) -> LoadedModel:
    folder = os.path.dirname(os.path.abspath(path))
    meta_path = os.path.join(folder, "meta.json")
    if os.path.isfile(meta_path):  # a FIFO or device named like a sidecar is not read
        try:
            with open(meta_path) as f:
                meta = json.load(f)
        except (OSError, json.JSONDecodeError):
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        loaded.meta.update(meta)
        shape = meta.get("input_shape")
        if loaded.input_shape is None and shape:
            if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
                raise InputError(f"{meta_path}: field 'input_shape' must be a list of integers, got {shape!r}")
            loaded.input_shape = validate.positive_dims(shape, f"{meta_path}: field 'input_shape'")
        if meta.get("input_domain"):
            try:
                loaded.input_domain = Domain.parse(meta["input_domain"])
            except (AttributeError, TypeError, ValueError):
                raise InputError(f"{meta_path}: field 'input_domain' must be a domain like 'real' or 'binary', "
                                 f"got {meta['input_domain']!r}") from None
        if isinstance(meta.get("time_axis"), int) and loaded.time_axis is None:
            loaded.time_axis = meta["time_axis"]
    for fname, attr in (("inputs.npy", "samples"), ("labels.npy", "labels")):
        p = os.path.join(folder, fname)
        if os.path.isfile(p) and getattr(loaded, attr) is None:
            try:
                setattr(loaded, attr, np.load(p, allow_pickle=False))
            except (OSError, ValueError):
                pass
    if loaded.input_shape is None and loaded.samples is not None:
        loaded.input_shape = batch_first(loaded.samples.shape, loaded.time_axis)  # the model's layout
    return loaded


def _from_preset(arch: str, preset: str, neuron: str, overrides: dict) -> LoadedModel:
    _refuse_oversized(lambda: presets.build(arch, preset, neuron=neuron, **overrides), f"preset:{arch}:{preset}",
                      "the parameters it asks for with these settings")
    try:
        with torch.random.fork_rng():  # untrained preset weights are seeded: reports are reproducible
            torch.manual_seed(0)
            model = presets.build(arch, preset, neuron=neuron, **overrides)
    except KeyError as e:
        raise InputError(f"unknown preset {arch}:{preset} ({_reason(e)}); see `snncompile presets`") from None
    except Exception as e:  # noqa: BLE001 - --model-arg overrides are the user's values
        raise InputError(f"preset {arch}:{preset} cannot be built with {overrides or 'its settings'} "
                         f"({_reason(e)})") from None
    return _describe_example(model, f"{arch}-{preset}")


def _describe_example(model: torch.nn.Module, name: str) -> LoadedModel:
    cfg = getattr(model, "config", {}) or {}
    shape = cfg.get("input_shape")
    domain = Domain.binary() if cfg.get("input") == "events" else Domain.real()
    time_major = cfg.get("input") == "time-major"  # multi-step [T, B, C, H, W] (spikingjelly's zoo)
    if shape is None and "img_size" in cfg:
        c, s, t = cfg.get("in_channels", 3), cfg["img_size"], cfg.get("T", 4)
        shape = (1, t, c, s, s) if cfg.get("input") == "events" else (t, 1, c, s, s) if time_major else (1, c, s, s)
    return LoadedModel(model, name, tuple(shape) if shape else None, domain, meta={"config": cfg},
                       time_axis=0 if time_major else None)


def load_model(source: str, *, factory: Optional[str] = None, factory_args: Optional[dict] = None,
               trust_pickle: bool = False, import_paths: Sequence[str] = (), neuron: Optional[str] = None,
               timesteps: Optional[int] = None, input_shape: Optional[Sequence[int]] = None,
               input_domain: Optional[str] = None, time_axis: Optional[int] = None) -> LoadedModel:
    """Load ``source`` as described in the module docstring and apply the user's overrides (``time_axis``:
    the axis of T in a multi-step input, see :mod:`.inputs`)."""
    add_user_paths(import_paths, factory_given=bool(factory))
    factory_args = dict(factory_args or {})
    if source.startswith("preset:"):
        parts = source.split(":")
        if len(parts) != 3:
            raise InputError(f"a preset is preset:ARCH:NAME (e.g. preset:spikformer:4-384), got {source!r}")
        if timesteps:
            factory_args.setdefault("T", timesteps)
        loaded = _from_preset(parts[1], parts[2], neuron or "own", factory_args)
    else:
        loaded = _load_file(source, factory, factory_args, trust_pickle, neuron)
    if timesteps and hasattr(loaded.model, "T"):
        loaded.model.T = int(timesteps)
    if time_axis is not None:
        loaded.time_axis = int(time_axis)
    if input_shape:
        loaded.input_shape = validate.positive_dims(input_shape, "--input-shape")
        want = batch_first(loaded.input_shape, loaded.time_axis)
        if loaded.samples is not None and tuple(loaded.samples.shape[1:]) != tuple(want[1:]):
            loaded.samples = None
    check_time_axis(loaded.time_axis, loaded.input_shape)
    if input_domain:
        loaded.input_domain = Domain.parse(input_domain)
    loaded.model.eval()
    _refuse_non_finite_weights(loaded.model, source)
    if loaded.samples is not None:
        loaded.samples = validate.array(loaded.samples, f"{source}: inputs.npy beside it")
    return loaded


def _refuse_non_finite_weights(model: torch.nn.Module, source: str) -> None:
    """Parameters must be finite; buffers must not be NaN (an infinite buffer, e.g. a -inf mask, is legal)."""
    params = {name for name, _ in model.named_parameters()}
    for name, t in model.state_dict().items():
        if not (torch.is_tensor(t) and t.is_floating_point()):
            continue
        bad = ~torch.isfinite(t) if name in params else torch.isnan(t)
        if bool(bad.any()):
            raise InputError(f"{source}: weight {name} has {int(bad.sum())} non-finite value(s) (NaN"
                             f"{' or infinity' if name in params else ''})")


def _load_file(path: str, factory, factory_args, trust_pickle, neuron) -> LoadedModel:
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory; give the model file (model.pt or a checkpoint)")
    validate.regular_file(path)
    if path.endswith(".onnx"):
        raise InputError(f"{path}: ONNX input is not supported yet; export a PyTorch model.pt or checkpoint")
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        obj = _safe_load(path)
    except UnsafeFileError:
        if not trust_pickle:
            raise
        obj = _unsafe_load(path)
    if isinstance(obj, torch.nn.Module):
        loaded = LoadedModel(obj, _folder_name(path, name))
        cfg = getattr(obj, "config", None)
        if isinstance(cfg, dict):
            loaded = _describe_example(obj, _folder_name(path, name))
        return _sidecars(path, loaded)
    state = _state_dict_of(obj)
    if state is None:
        raise InputError(f"{path} holds a {type(obj).__name__}, neither a model nor a state dict")
    if factory:
        build = resolve_factory(factory)
        if not callable(build):
            raise InputError(f"--model {factory} is a {type(build).__name__}, not a function that builds a model")
        try:
            with cpu_constructible_neurons():
                model = build(**factory_args)
        except TypeError as e:
            raise InputError(f"--model {factory} cannot be called with {factory_args or 'no arguments'} "
                             f"({_reason(e)}); pass --model-arg KEY=VALUE") from None
        except Exception as e:  # noqa: BLE001 - the user's factory failed: their code, not a bug of ours
            raise InputError(f"--model {factory} failed ({_reason(e)})") from None
        if not isinstance(model, torch.nn.Module):
            raise InputError(f"--model {factory} returned a {type(model).__name__}, not a torch.nn.Module")
        loaded = LoadedModel(model, _folder_name(path, name))
    elif isinstance(obj, dict) and "arch" in obj and "config" in obj:
        if not isinstance(obj["config"], dict) or not isinstance(obj["arch"], str):
            raise InputError(f"{path}: its stored 'arch' must be a name and 'config' a table of settings")
        config = dict(obj["config"], **factory_args)
        config.setdefault("arch", obj["arch"])
        _refuse_oversized(lambda: presets.build_from_config(config, neuron=neuron), path,
                          "its stored config asks for a model larger than the weights it holds",
                          limit=CONFIG_BYTES_FACTOR * _state_bytes(state) + CONFIG_BYTES_SLACK)
        try:
            model = presets.build_from_config(config, neuron=neuron)
        except Exception as e:  # noqa: BLE001 - the stored config is data from the file, any failure is its fault
            raise InputError(f"{path}: its stored architecture cannot be rebuilt ({_reason(e)})") from None
        loaded = _describe_example(model, _folder_name(path, name))
    else:
        raise InputError(f"{path} is a state dict without its architecture; pass --model package.module:factory")
    state = _strip_wrapper_prefix(state, loaded.model)
    try:
        missing, unexpected = loaded.model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        detail = next((ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln), _reason(e))
        raise InputError(f"{path} does not fit the model: {detail}") from None
    if missing or unexpected:
        raise InputError(f"{path} does not fit the model: {len(missing)} missing keys (e.g. "
                         f"{(missing or ['-'])[0]}), {len(unexpected)} unexpected (e.g. {(unexpected or ['-'])[0]})")
    return _sidecars(path, loaded)


class _OverBudget(Exception):
    def __init__(self, nbytes: int):
        super().__init__(nbytes)
        self.nbytes = nbytes


class _TensorBytes(torch.overrides.TorchFunctionMode):
    """Counts the bytes of every tensor created under it and stops the construction (``_OverBudget``) as
    soon as they exceed ``limit``: a config asking for 2**31 blocks is stopped after a few, not built."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.total = limit, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            self.total += out.numel() * out.element_size()
            if self.total > self.limit:
                raise _OverBudget(self.total)
        return out


def _refuse_oversized(build, where: str, why: str = "the parameters its stored config asks for",
                      limit: Optional[int] = None) -> None:
    """Build the model on torch's ``meta`` device (shapes only, no storage) counting the tensor bytes it
    creates; refuse it once they exceed ``limit`` (default: the memory available).  A config can ask for
    any size; nothing is allocated for real before this check passes."""
    budget = validate.available_memory() if limit is None else min(limit, validate.available_memory())
    try:
        with torch.device("meta"), cpu_constructible_neurons(), _TensorBytes(budget):
            build()
    except _OverBudget as e:
        raise InputError(f"{where}: needs more than {validate.human_bytes(budget)} of tensors ({why}); "
                         f"refused before allocating") from None
    except Exception:  # noqa: BLE001 - not buildable on meta: the real build reports its own errors
        return


# A model rebuilt from a checkpoint's stored config must match that checkpoint's weights: construction may
# create at most this many times their bytes (temporaries of initialisers, buffers not saved), plus slack.
CONFIG_BYTES_FACTOR, CONFIG_BYTES_SLACK = 4, 1 << 20


def _state_bytes(state: dict) -> int:
    return sum(t.numel() * t.element_size() for t in state.values() if isinstance(t, torch.Tensor))


def _strip_wrapper_prefix(state: dict, model: torch.nn.Module) -> dict:
    """Drop the ``module.`` prefix DataParallel/DistributedDataParallel checkpoints carry."""
    own = set(model.state_dict())
    if state and not (set(state) & own) and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def _folder_name(path: str, name: str) -> str:
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return f"{folder}/{name}" if folder else name
