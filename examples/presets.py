"""Named configurations of the example models, and rebuilding them from checkpoints.

Preset names follow the papers (``L-D``: L blocks of dimension D):

* CIFAR-10 ``4-384``, ``4-256``, ``2-384``: 32×32×3, T = 4, 10 classes, max-pool in stem stages 3 and 4
  (64 tokens), attention ``(QKᵀ)V``; Spikformer uses ``nn.Linear`` q/k/v/proj/fc (with bias).
* ImageNet ``8-384``, ``6-512``, ``8-512``, ``10-512``, ``8-768``: 224×224×3, T = 4, 1000 classes, max-pool
  in every stem stage (196 tokens), 1×1 convolutions, attention ``Q(KᵀV)``.
* DVS ``2-256``: 128×128×2 events ``[B, T, 2, H, W]``, T = 16, 10 classes (CIFAR10-DVS), 16 heads, max-pool
  in every stem stage (16×16 patches, 64 tokens); Spikformer: Conv1d MLP, scale 0.25 and the unused
  ``pos_embed``; Spikingformer: tau = 1.5.
* ``digits``: CIFAR-style, 16×16×1, T = 4, 10 classes, L = 2, D = 64, 4 heads (16 tokens), for sklearn digits.
* ``dvs-small``: DVS-style, 32×32×2 events, T = 8, 4 classes, L = 2, D = 64, 4 heads (4 tokens), for
  :func:`data.load_events`.

Heads (no effect on parameter counts): 32 channels per head on CIFAR (the authors' 4-384 uses 12), 8 heads on
ImageNet (the authors' yml files).

Parameter counts (:func:`count_params`) follow the papers' convention: BatchNorm γ/β counted, the authors'
never-called LayerNorms not built and not counted (:func:`unbuilt_layernorm_params` gives their size). The
published figures (:data:`PUBLISHED_PARAMS`, millions) are printed sometimes truncated (Spikformer-8-512:
29,689,384 -> 29.68) and sometimes rounded (10-512: 36,005,416 -> 36.01; 8-768: 66,338,632 -> 66.34).
Spikformer DVS ``2-256``: the built model (with its unused 64×256 ``pos_embed``) has 2,583,050 parameters
(2.58 M); the published 2.59 M is only reached by also counting the authors' never-called LayerNorms
(2 per block + a final ``norm``: 2,560 parameters): 2,585,610 -> 2.59 M. The DVS figure thus counts every
parameter the authors built, unlike the CIFAR/ImageNet figures (which match only without the LayerNorms).
"""
import copy
import inspect
from typing import Dict

import torch
import torch.nn as nn

from .ilifnet import ILIFNet
from .metaspikeformer import MetaSpikeFormer
from .qkformer import QKFormer
from .sdt import SpikeDrivenTransformer
from .spikformer import Spikformer
from .spikingformer import Spikingformer
from .zoo import ZooResNet

__all__ = ["ARCHS", "PRESETS", "PUBLISHED_PARAMS", "PUBLISHED_HEAD_CLASSES", "build", "build_from_config", "build_from_checkpoint",
           "count_params", "unbuilt_layernorm_params", "save_checkpoint"]

ARCHS = {"spikformer": Spikformer, "spikingformer": Spikingformer, "sdt": SpikeDrivenTransformer,
         "qkformer": QKFormer, "metaspikeformer": MetaSpikeFormer, "ilifnet": ILIFNet,
         "sew_resnet": lambda **kw: ZooResNet(kind="sew", **kw),
         "spiking_resnet": lambda **kw: ZooResNet(kind="spiking", **kw)}

_FAMILY = {
    "cifar": dict(img_size=32, in_channels=3, num_classes=10, T=4, mlp_ratio=4.0,
                  stem_pool=[False, False, True, True], scale=0.125, attn_order="qk_v", attn_threshold=0.5,
                  tau=2.0, input="static"),
    "imagenet": dict(img_size=224, in_channels=3, num_classes=1000, T=4, mlp_ratio=4.0, num_heads=8,
                     stem_pool=[True, True, True, True], scale=0.125, attn_order="q_kv", attn_threshold=0.5,
                     tau=2.0, input="static"),
    "dvs": dict(img_size=128, in_channels=2, num_classes=10, T=16, mlp_ratio=4.0, num_heads=16,
                stem_pool=[True, True, True, True], scale=0.125, attn_order="qk_v", attn_threshold=0.5,
                tau=2.0, input="events"),
}
_ARCH_FAMILY = {
    "spikformer": {"cifar": dict(qkv_layer="linear", mlp_layer="linear"),
                   "imagenet": dict(qkv_layer="conv1d", mlp_layer="conv2d"),
                   "dvs": dict(qkv_layer="conv1d", mlp_layer="conv1d", scale=0.25, pos_embed=True)},
    "spikingformer": {"cifar": dict(qkv_layer="conv1d", mlp_layer="conv2d"),
                      "imagenet": dict(qkv_layer="conv1d", mlp_layer="conv2d"),
                      "dvs": dict(qkv_layer="conv1d", mlp_layer="conv2d", tau=1.5)},
}
_PRESET_SPECS = {  # name -> (family, overrides)
    "4-384": ("cifar", dict(depths=4, embed_dims=384, num_heads=12)),
    "4-256": ("cifar", dict(depths=4, embed_dims=256, num_heads=8)),
    "2-384": ("cifar", dict(depths=2, embed_dims=384, num_heads=12)),
    "8-384": ("imagenet", dict(depths=8, embed_dims=384)),
    "6-512": ("imagenet", dict(depths=6, embed_dims=512)),
    "8-512": ("imagenet", dict(depths=8, embed_dims=512)),
    "10-512": ("imagenet", dict(depths=10, embed_dims=512)),
    "8-768": ("imagenet", dict(depths=8, embed_dims=768)),
    "2-256": ("dvs", dict(depths=2, embed_dims=256)),
    "digits": ("cifar", dict(img_size=16, in_channels=1, depths=2, embed_dims=64, num_heads=4)),
    "dvs-small": ("dvs", dict(img_size=32, T=8, num_classes=4, depths=2, embed_dims=64, num_heads=4)),
}


_DIGITS = dict(img_size=16, in_channels=1, num_classes=10, T=4)
#: Presets of the other families: ``arch -> name -> constructor keywords``. Published configurations where the
#: paper gives one (CIFAR-10: 32×32×3, T = 4; ImageNet: 224×224×3, T = 4), ``digits`` for sklearn digits.
_OTHER_PRESETS = {
    "sdt": {
        "2-512": dict(img_size=32, in_channels=3, num_classes=10, T=4, depths=2, embed_dims=512, num_heads=8,
                      stem_pool=[False, False, True, True]),
        **{name: dict(img_size=224, in_channels=3, num_classes=1000, T=4, depths=int(name.split("-")[0]),
                      embed_dims=int(name.split("-")[1]), num_heads=8, stem_pool=[True, True, True, True])
           for name in ("8-384", "6-512", "8-512", "10-512", "8-768")},
        "digits": dict(_DIGITS, depths=2, embed_dims=64, num_heads=4, stem_pool=[False, False, True, True]),
    },
    "qkformer": {
        "4-384": dict(img_size=32, in_channels=3, num_classes=10, T=4, depths=4, embed_dims=384, num_heads=8),
        "digits": dict(_DIGITS, depths=3, embed_dims=64, num_heads=4),
    },
    "metaspikeformer": {
        "digits": dict(_DIGITS, embed_dims=[16, 32, 64], strides=[2, 2, 1], num_heads=4, depths=[1, 1, 1]),
    },
    "ilifnet": {
        "digits": dict(_DIGITS, channels=[16, 32, 64], decay=0.25, max_spike=4),
    },
    "sew_resnet": {f"digits-{cnf.lower()}": dict(_DIGITS, cnf=cnf, channels=[16, 32]) for cnf in ("ADD", "AND", "IAND")},
    "spiking_resnet": {"digits": dict(_DIGITS, channels=[16, 32])},
}


def _make_presets() -> Dict[str, Dict[str, dict]]:
    table = {arch: copy.deepcopy(presets) for arch, presets in _OTHER_PRESETS.items()}
    for arch in ("spikformer", "spikingformer"):
        table[arch] = {}
        for name, (family, over) in _PRESET_SPECS.items():
            cfg = dict(_FAMILY[family])
            cfg.update(_ARCH_FAMILY[arch][family])
            cfg.update(over)
            table[arch][name] = cfg
    return table


#: ``PRESETS[arch][name]`` -> constructor keyword arguments (without ``neuron``).
PRESETS = _make_presets()

#: Published parameter counts in millions, as printed in the papers (see the module docstring).
PUBLISHED_PARAMS = {
    "spikformer": {"4-384": 9.32, "4-256": 4.15, "2-384": 5.76, "2-256": 2.59, "8-384": 16.81, "6-512": 23.37,
                   "8-512": 29.68, "10-512": 36.01, "8-768": 66.34},
    "spikingformer": {"4-384": 9.32, "8-384": 16.81, "8-512": 29.68, "8-768": 66.34},
    # Yao et al. 2023 (ImageNet table; one CIFAR-10/100 figure)
    "sdt": {"2-512": 10.28, "8-384": 16.81, "6-512": 23.37, "8-512": 29.68, "10-512": 36.01, "8-768": 66.34},
    # Zhou et al. 2024 (one CIFAR-10/100 figure)
    "qkformer": {"4-384": 6.74},
}
#: Presets whose published figure is the CIFAR-100 model's: the papers print one count for CIFAR-10 and -100,
#: and only the 100-class head reaches it (SDT 2-512: 10,233,418 with 10 classes, 10,279,588 -> 10.28 M with
#: 100; QKFormer 4-384: 6,706,234 and 6,740,884 -> 6.74 M).
PUBLISHED_HEAD_CLASSES = {("sdt", "2-512"): 100, ("qkformer", "4-384"): 100}


def build_from_config(config: dict, neuron: str = None) -> nn.Module:
    """Build a model from a ``model.config`` dict (``arch`` selects the class; ``neuron`` overrides its back-end)."""
    cfg = copy.deepcopy(dict(config))
    arch = cfg.pop("arch")
    cfg.pop("kind", None)  # the zoo nets' kind is their arch
    if neuron is not None and _takes_neuron(arch):
        cfg["neuron"] = neuron
    return ARCHS[arch](**cfg)


def _takes_neuron(arch: str) -> bool:
    """Whether the family has interchangeable LIF back-ends (a ``neuron`` constructor argument)."""
    return "neuron" in inspect.signature(ARCHS[arch]).parameters


def build(arch: str, preset: str, neuron: str = "own", **overrides) -> nn.Module:
    """Build ``arch`` (``'spikformer'`` | ``'spikingformer'``) with preset ``preset``; ``overrides`` replace
    preset entries (e.g. ``num_classes=100``). The result carries ``model.config`` and ``model.preset``."""
    if arch not in PRESETS:
        raise KeyError(f"unknown arch {arch!r}; expected one of {sorted(PRESETS)}")
    if preset not in PRESETS[arch]:
        raise KeyError(f"unknown preset {preset!r} for {arch}; expected one of {sorted(PRESETS[arch])}")
    cfg = copy.deepcopy(PRESETS[arch][preset])
    cfg.update(overrides)
    if _takes_neuron(arch):
        cfg["neuron"] = neuron
    model = ARCHS[arch](**cfg)
    model.preset = preset
    return model


def count_params(model: nn.Module) -> int:
    """``sum(p.numel())`` over all parameters (BatchNorm γ/β included; no LayerNorms are built)."""
    return sum(p.numel() for p in model.parameters())


def unbuilt_layernorm_params(config: dict) -> int:
    """Parameters of the LayerNorms the authors construct but never call: ``norm1``/``norm2`` in every block
    (2·D each) and, in Spikformer's DVS model, a final ``norm`` (2·D)."""
    d, n = config["embed_dims"], 4 * config["depths"] * config["embed_dims"]
    if config.get("arch", "spikformer") == "spikformer" and config.get("input") == "events":
        n += 2 * d
    return n


def save_checkpoint(model: nn.Module, path, arch: str = None, preset: str = None, **extra) -> None:
    """``torch.save({'state_dict', 'arch', 'preset', 'config', **extra}, path)``."""
    config = copy.deepcopy(model.config)
    torch.save(dict(state_dict=model.state_dict(), arch=arch or config["arch"],
                    preset=preset or getattr(model, "preset", None), config=config, **extra), path)


def build_from_checkpoint(path, neuron: str = None, map_location="cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save_checkpoint` (loaded with ``weights_only=True``: no code runs)
    and load its weights strictly. ``neuron`` overrides the stored neuron back-end."""
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    config = dict(ckpt["config"])
    config.setdefault("arch", ckpt.get("arch"))
    model = build_from_config(config, neuron=neuron)
    model.load_state_dict(ckpt["state_dict"], strict=True)
    model.preset = ckpt.get("preset")
    return model
