"""lava-dl SLAYER networks into the IR: the reader behind ``snncompile.frontends.slayer``.

A SLAYER network applies a sequence of blocks (``lava.lib.dl.slayer.block.cuba.Dense``, ``Conv``,
``Pool``, ``Flatten``) to spike tensors laid out ``[batch, features…, time]``.  Its blocks run
Python loops over time inside custom autograd functions, which a tracer cannot see into, so this
frontend reads the blocks instead: their effective weights (SLAYER's 8-bit weight quantisation
applied, as its forward does) and their neurons' parameters, and writes the graph the seed models'
tracer would have produced (time-major ``[T·B, …]`` weight layers, multi-step ``lif`` neurons).

**Neuron mapping.**  SLAYER's CUBA neuron (``slayer.neuron.cuba``), decays ``α_i = iDecay/4096`` and
``α_v = vDecay/4096``::

    i[t] = (1 − α_i)·i[t−1] + z[t];   v[t] = (1 − α_v)·v[t−1] + i[t];   s = v > θ;   v = 0 where s

(SLAYER compares ``v ≥ θ + 0.01/s_scale`` on its integer state grid of step ``1/s_scale``: that is
``v > θ``, Loihi's comparison, which it adds the epsilon to reproduce.)  With ``iDecay = 4096`` (the
current forgets at every step: ``current_decay=1``) this is the IR's ``lif`` with ``tau = 1/α_v``,
``decay_input = False``, hard reset to 0, firing at ``>`` (exact in real
arithmetic; SLAYER itself truncates its states to a grid of ``1/scale``, so the IR's float run agrees
with SLAYER's forward up to that truncation, measured in the tests).  A synaptic current that
persists (``current_decay < 1``) needs a second state the IR's neuron does not have, and
``delay_shift=True`` (a one-step delay after each block) has no IR op: both are refused, naming the
block.

**Layout.**  The graph's input is the network's input with time moved first, ``[B, T, features…]``
(binary: an event stream, the layout the IR's time analysis reads; the CLI moves the sample files'
axis for it); its output is the spike count of every output neuron over the T steps, ``[B, …]``
(SLAYER's rate readout: the class is its argmax).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from snncompile.errors import SnnCompileError, UnsupportedOpError
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph, Node, Value

SLAYER_BLOCKS = "lava.lib.dl.slayer.block"


class SlayerError(SnnCompileError):
    """A SLAYER network whose blocks or neurons the IR cannot state."""


def is_slayer_network(model: torch.nn.Module) -> bool:
    return any(type(m).__module__.startswith(SLAYER_BLOCKS) for m in model.modules())


def blocks_of(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The blocks in the order the network applies them: ``model.blocks`` (SLAYER's convention) or the
    model itself when it is a ``Sequential``/``ModuleList``."""
    if isinstance(model, (torch.nn.Sequential, torch.nn.ModuleList)):
        return [(name, m) for name, m in model.named_children()]
    seq = getattr(model, "blocks", None)
    if isinstance(seq, (torch.nn.Sequential, torch.nn.ModuleList)):
        return [(f"blocks.{name}", m) for name, m in seq.named_children()]
    raise SlayerError(f"{type(model).__name__}: a SLAYER network is read from its `blocks` (a ModuleList or "
                      f"Sequential applied in order), which this model does not have")


def _weight(synapse) -> np.ndarray:
    w = synapse.weight
    hook = getattr(synapse, "_pre_hook_fx", None)
    if hook is not None:
        w = hook(w)
    return w.detach().double().numpy()


class _Builder:
    def __init__(self, T: int, B: int):
        self.g = Graph()
        self.T, self.B = T, B

    def value(self, base: str, shape) -> str:
        name = self.g.unique_name(base)
        self.g.add_value(Value(name, tuple(int(s) for s in shape)))
        return name

    def node(self, op: str, inputs: list[str], shape, module: str, attrs: Optional[dict] = None,
             base: Optional[str] = None) -> str:
        base = (base or f"{module.replace('.', '_')}__{op}") if module else op
        out = self.value(f"{base}_out", shape)
        self.g.add_node(Node(self.g.unique_name(base), op, inputs, [out], dict(attrs or {}), module))
        return out

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.g.unique_name(base)
        self.g.add_constant(name, np.asarray(array))
        return name


def slayer_graph(model: torch.nn.Module, example: torch.Tensor, *, name: str = "") -> Graph:
    """The IR graph of the SLAYER network ``model`` for an input like ``example`` ``[B, features…, T]``."""
    blocks = blocks_of(model)
    x = example.detach()
    with torch.no_grad():
        expected = model(x)
        chained = x
        for _, blk in blocks:
            chained = blk(chained)
            chained = chained[0] if isinstance(chained, tuple) else chained
    if not torch.equal(expected if not isinstance(expected, tuple) else expected[0], chained):
        raise SlayerError(f"{type(model).__name__}: its forward is not the chain of its blocks")
    B, T = int(x.shape[0]), int(x.shape[-1])
    feat = tuple(int(s) for s in x.shape[1:-1])
    b = _Builder(T, B)
    binary = bool(((x == 0) | (x == 1)).all())
    b.g.add_value(Value("input", (B, T) + feat, domain=Domain.binary() if binary else Domain.real()))
    b.g.inputs.append("input")
    cur = b.node("permute", ["input"], (T, B) + feat, "", {"dims": [1, 0] + list(range(2, 2 + len(feat)))},
                 base="time_first")
    cur = b.node("reshape", [cur], (T * B,) + feat, "", {"shape": [T * B, *feat]}, base="merge_time")
    for path, blk in blocks:
        cur, feat = _block(b, path, blk, cur, feat)
    out = b.node("reshape", [cur], (T, B) + feat, "", {"shape": [T, B, *feat]}, base="split_time")
    count = b.node("sum", [out], (B,) + feat, "", {"dims": [0], "keepdim": False}, base="spike_count")
    b.g.outputs.append(count)
    b.g.meta.update({"name": name or type(model).__name__, "model": type(model).__name__, "time_steps": T,
                     "batch": B, "frontend": "slayer", "input_layout": "[B, T, features...] (SLAYER's input "
                     "with time moved first)"})
    b.g.validate()
    return b.g


def _block(b: _Builder, path: str, blk, cur: str, feat: tuple) -> tuple[str, tuple]:
    kind = type(blk).__name__
    TB = b.T * b.B
    if kind == "Flatten":
        n = int(np.prod(feat))
        return b.node("reshape", [cur], (TB, n), path, {"shape": [TB, n]}), (n,)
    if getattr(blk, "delay_shift", False):
        raise SlayerError(f"{path} ({kind}): delay_shift=True delays its spikes by one step; the IR has no delay "
                          f"op (build the block with delay_shift=False)")
    if getattr(blk, "delay", None) is not None:
        raise SlayerError(f"{path} ({kind}): learnable axonal delays have no IR op")
    syn = blk.synapse
    w = _weight(syn)
    spath = f"{path}.synapse"
    if kind == "Dense":
        if len(feat) != 1:
            raise SlayerError(f"{path}: Dense block on features {list(feat)} (flatten first)")
        w2 = w.reshape(w.shape[0], -1)
        args = [cur, b.const(f"{spath}.weight", w2)]
        if getattr(syn, "bias", None) is not None:
            args.append(b.const(f"{spath}.bias", syn.bias.detach().double().numpy()))
        cur = b.node("linear", args, (TB, w2.shape[0]), spath)
        feat = (w2.shape[0],)
    elif kind in ("Conv", "Pool"):
        if len(feat) != 3:
            raise SlayerError(f"{path}: {kind} block on features {list(feat)} (expects channels, X, Y)")
        k = w.reshape(w.shape[:4])
        groups = int(getattr(syn, "groups", 1))
        if kind == "Pool":  # SLAYER's Pool: one weight per window, the same for every channel (depthwise)
            c = feat[0]
            k = np.broadcast_to(k.reshape(1, 1, *k.shape[-2:]), (c, 1) + k.shape[-2:]).copy()
            groups = c
        stride, padding, dilation = ([int(v) for v in getattr(syn, a)[:2]] for a in ("stride", "padding", "dilation"))
        args = [cur, b.const(f"{spath}.weight", k)]
        if getattr(syn, "bias", None) is not None:
            args.append(b.const(f"{spath}.bias", syn.bias.detach().double().numpy()))
        out_hw = [(feat[1 + i] + 2 * padding[i] - dilation[i] * (k.shape[2 + i] - 1) - 1) // stride[i] + 1
                  for i in range(2)]
        feat = (int(k.shape[0]), *out_hw)
        cur = b.node("conv2d", args, (TB,) + feat, spath, {"stride": stride, "padding": padding,
                                                           "dilation": dilation, "groups": groups})
    else:
        raise UnsupportedOpError(f"{path}: SLAYER block {type(blk).__module__}.{kind} is not supported "
                                 f"(Dense, Conv, Pool, Flatten of block.cuba)")
    return _neuron(b, path, blk.neuron, cur, feat), feat


def _neuron(b: _Builder, path: str, neuron, cur: str, feat: tuple) -> str:
    from lava.lib.dl.slayer.utils import quantize

    kind = f"{type(neuron).__module__}.{type(neuron).__name__}"
    if not kind.startswith("lava.lib.dl.slayer.neuron.cuba"):
        raise SlayerError(f"{path}.neuron: {kind} is not a CUBA neuron (the IR maps slayer.neuron.cuba only)")
    i_decay = int(quantize(neuron.current_decay).reshape(-1)[0])
    v_decay = int(quantize(neuron.voltage_decay).reshape(-1)[0])
    if neuron.current_decay.numel() != 1 or neuron.voltage_decay.numel() != 1:
        raise SlayerError(f"{path}.neuron: per-neuron decays (shared_param=False) are not supported")
    if i_decay != 4096:
        raise SlayerError(f"{path}.neuron: current_decay {i_decay}/4096 keeps a synaptic current between steps; "
                          f"the IR's lif has one state (use current_decay=1)")
    if getattr(neuron, "graded_spike", False):
        raise SlayerError(f"{path}.neuron: graded spikes are not supported")
    if getattr(neuron, "norm", None) is not None:
        raise SlayerError(f"{path}.neuron: neuron normalisation has no IR op")
    T, B = b.T, b.B
    timed = b.node("reshape", [cur], (T, B) + feat, f"{path}.neuron", {"shape": [T, B, *feat]},
                   base=f"{path.replace('.', '_')}_neuron__reshape")
    attrs = {"tau": (4096.0 / v_decay) if v_decay else None, "decay_input": False,
             "v_threshold": float(neuron.threshold), "v_reset": 0.0, "fire": "gt", "style": "charge-fire-reset",
             "step_mode": "multi", "neuron_class": kind, "slayer_decays": [i_decay, v_decay]}
    spikes = b.node("lif", [timed], (T, B) + feat, f"{path}.neuron", attrs)
    return b.node("reshape", [spikes], (T * B,) + feat, f"{path}.neuron", {"shape": [T * B, *feat]},
                  base=f"{path.replace('.', '_')}_neuron__reshape_1")
