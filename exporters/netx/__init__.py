"""lava-dl netx HDF5 export (``lava.lib.dl.netx.hdf5.Network``) of sequential spiking networks.

netx builds a strict chain ``input → (conv | dense | flatten)*`` of blocks, each block a synapse
(Lava ``Conv`` / ``Dense``) and a population of Lava ``LIF`` neurons (``CUBA``), run in ``fixed_pt``.
:func:`to_netx` accepts exactly that shape of network and refuses anything else with the reason:

* the unit view of the one-step graph (``snncompile.loihi.prepare``: BatchNorm, scales and 1/τ folded)
  must alternate synapse → neuron from the one input, each connected by data moves only (a residual
  sum, a pool, attention or a readout after the time loop has no netx layer);
* every neuron must fire strictly (``v > vth``: Lava's LIF).  A spikingjelly ``≥`` neuron would need a
  threshold of ``vth − 1``, and Lava's threshold register holds multiples of 64 only;
* the network is quantised with the project's quantiser (``snncompile.loihi.fixed.quantise``).  netx
  stores no weight exponent (its reader derives one from the integer weights, so the effective weight
  is the stored integer): each layer's exponent ``e`` is absorbed into the activation scale of the
  neurons it feeds (``K' = K·2^−e``, so the same mantissas become the effective weights) and the
  thresholds/biases are re-quantised at ``K'`` (:func:`absorb_exponents`).  The resulting fixed-point
  step graph is what the file holds, and what :class:`~snncompile.backends.reference.fixed.FixedStepExecutor` runs.

Layout written (read from lava-dl 0.6.0 ``netx/hdf5.py``): ``layer/<i>/{type, shape (C,H,W), weight
(torch layout: netx flips and transposes conv kernels itself), stride, padding, dilation, groups, bias,
neuron/{type=CUBA, iDecay=4096 (u = input), vDecay=dv, vThMant, refDelay, gradedSpike}}``,
``simulation/{Ts, tSample}``.  Lava neurons add ``bias << 6``; the input is sent as graded messages
``round(x·S_in)`` into the first synapse (``Network(input_message_bits=...)``).  Each synapse delays by
one step, so model step ``t`` leaves the last layer at Lava step ``t + len(layers) − 1``.
"""
from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from snncompile import ops
from snncompile.analysis import infer_domains
from snncompile.errors import SnnCompileError
from snncompile.ir.graph import Graph
from snncompile.loihi import Prepared, build_network
from snncompile.loihi.fixed import (ACT_SHIFT, V_BITS, VTH_MANT_BITS, QuantConfig, _port_constant, fixed_lif,
                                   input_decay, quantise)
from snncompile.ops.registry import MissingHook
from snncompile.outputs import write_file
from snncompile.passes import LOIHI_PIPELINE, POST, TimeAxisError, run_passes, slice_time, time_axes

from . import emitters  # noqa: F401 - registers the ops' "netx" hooks
from .errors import NetxRefusal

INPUT_BITS = 8
HOST_REDUCTIONS = ("sum", "mean")
"""Reductions (the ``reduction`` trait) a host may apply to the spikes of the last layer after the time loop."""


@dataclass
class NetxLayer:
    kind: str  # input | conv | flatten | dense
    shape: tuple  # C,H,W (conv/input) or (N,)
    synapse: Optional[str] = None  # IR node of the weight layer
    neuron: Optional[str] = None  # IR node of the lif
    params: dict = field(default_factory=dict)


@dataclass
class NetxExport:
    layers: list[NetxLayer]
    program: object  # snncompile.passes.StepProgram of the float graph
    fixed_step: Graph  # the fixed-point step graph the file holds (FixedStepExecutor runs it)
    input_scale: float
    T: int

    @property
    def synapse_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.kind in ("conv", "dense"))


def _chain(net) -> list:
    """The units in sequence, or NetxRefusal naming what breaks the chain."""
    units = net.units
    order = [units[u] for u in net.order if units[u].kind != "readout"]
    if len(net.of_kind("input")) != 1:
        raise NetxRefusal("netx networks have one input")
    expect = "synapse"
    prev = order[0]
    for u in order[1:]:
        if u.kind not in ("synapse", "neuron"):
            raise NetxRefusal(f"{u.module or u.name} is a {u.kind} unit: netx chains conv/dense layers with CUBA "
                              f"neurons only")
        if u.kind != expect:
            raise NetxRefusal(f"{u.module or u.name}: netx alternates a synapse and its neurons; found two "
                              f"{u.kind}s in a row")
        terms = [t for p in u.ports for t in p.terms]
        if len(terms) != 1 or terms[0].source != prev.name or terms[0].sign != 1.0:
            srcs = ", ".join(sorted({units[t.source].module or t.source for t in terms if t.source})) or "constants"
            raise NetxRefusal(f"{u.module or u.name} reads {srcs}: netx connects layers strictly in sequence "
                              f"(a residual sum or a second input has no netx form)")
        bad = [net.graph.node(c) for c in terms[0].chain if not keeps_order(net.graph, net.graph.node(c))]
        if bad:
            raise NetxRefusal(f"{bad[0].location}: netx moves data between layers only by flattening")
        prev, expect = u, ("neuron" if u.kind == "synapse" else "synapse")
    if prev.kind != "neuron":
        raise NetxRefusal("the network does not end in a neuron layer: every netx layer has neurons")
    return order


def keeps_order(graph: Graph, node) -> bool:
    """Whether ``node`` is a data move whose map is the identity on the row-major elements of its operand
    (a reshape, an identity, a repeat by 1, ...): the only move netx makes between layers is ``flatten``,
    which relabels a ``C, H, W`` tensor without reordering it."""
    d = ops.get(node.op)
    if not d.movement:
        return False
    m = d.hook("affine")(graph, node, node.inputs[0])
    n = m.shape[1]
    every = np.arange(n)
    return (m.shape[0] == n and np.array_equal(m.rows, every) and np.array_equal(m.cols, every)
            and bool(np.all(m.data == 1)))


def to_netx(graph: Graph, *, calibration: Optional[np.ndarray] = None) -> NetxExport:
    """The netx layers of ``graph`` and the fixed-point step graph they hold (see the module docstring);
    ``calibration`` (sample inputs) sets the input scale."""

    try:
        folded, logs = run_passes(graph, LOIHI_PIPELINE)
        infer_domains(folded)
        _admit(folded)  # names residuals and attention before the time analysis can trip over them
        program = slice_time(folded)
        infer_domains(program.step)
        _check_readout(program)
        readouts = list(program.post.inputs) + [o for o, w in program.outputs
                                                if w == "step" and o not in program.post.inputs]
        net = build_network(program.step, readouts)
    except NetxRefusal:
        raise
    except SnnCompileError as e:
        raise NetxRefusal(f"not a network netx can build: {e.one_line().removeprefix('error: ')}") from None
    prepared = Prepared(graph, folded, program, net, logs)
    order = _chain(prepared.network)
    g = prepared.network.graph
    if calibration is None:
        raise NetxRefusal("netx export quantises to Loihi fixed point and needs sample inputs for the input "
                          "scale (inputs.npy beside the model, or --calibration X.npy)")
    name = g.inputs[0]
    fixed, report = quantise(prepared.network, {name: (float(np.min(calibration)), float(np.max(calibration)))},
                             config=QuantConfig.per_layer())  # netx: one vThMant per layer
    bounds = {m: c["bound"] for c in report.classes for m in c["members"]}
    fixed = absorb_exponents(prepared.network, fixed, bounds)
    layers = _layers(prepared.network, order, fixed)
    return NetxExport(layers, prepared.program, fixed, float(fixed.meta["fixed"]["inputs"][name]),
                      prepared.program.T)


def _admit(graph: Graph) -> None:
    """Every node through its op's ``"netx"`` hook; the refusals (a hook's NetxRefusal or the op's declared
    reason) in one line, branches (residuals, attention) first."""
    try:
        axes = time_axes(graph)
    except TimeAxisError:
        axes = {}
    refused = []
    for node in graph.nodes:
        if axes.get(node.outputs[0]) is POST:
            continue  # after the time loop: the host's readout (_check_readout)
        try:
            ops.get(node.op).hook("netx")(graph, node)
        except MissingHook as e:
            refused.append(f"{node.location}: {e.reason or 'no netx form'}")
        except NetxRefusal as e:
            refused.append(str(e))
    if refused:
        refused.sort(key=lambda r: not ("residual" in r or "attention" in r))
        more = f"; and {len(refused) - 2} more" if len(refused) > 2 else ""
        raise NetxRefusal("; ".join(refused[:2]) + more)


def _check_readout(program) -> None:
    """After the time loop only a count or mean of the output spikes over time may run (on the host,
    reading the spikes netx's last layer emits): data moves, and sums or means."""
    for node in program.post.nodes:
        d = ops.get(node.op)
        if not (d.movement or d.reduction in HOST_REDUCTIONS):
            raise NetxRefusal(f"{node.location} runs after the time loop: netx networks end in spiking neurons "
                              f"(a spike count or mean over time is the only readout kept on the host)")


def absorb_exponents(net, fixed: Graph, bounds: dict) -> Graph:
    """The fixed step graph with every weight exponent 0 (netx stores none).

    A layer quantised as ``q·2^e`` with ``e > 0`` keeps ``q`` as its effective weights and its neurons are
    re-quantised at ``K' = K·2^−e``.  With ``e < 0`` the neurons' scale grows by ``2^s``, ``s ≤ −e`` the
    largest that keeps the input current's bound (``bounds``: neuron module -> float bound, from the
    quantiser) inside 22 bits, as the quantiser requires, and the weights become ``q·2^(e+s)`` rounded
    (Lava's even mantissas for mixed signs).  Thresholds ``round(θ·K'/(k·64))`` and biases
    ``round(c·K'/64)·64`` (``k`` the input decay, ``c`` the constant input) are recomputed at ``K'``.
    Refused where a register overflows."""

    fg = copy.deepcopy(fixed)
    units = net.units
    for u in net.of_kind("neuron"):
        syn = units[u.ports[0].terms[0].source]
        wnode = fg.node(syn.node)
        e = int(wnode.attrs["fixed_exp"])
        node = fg.node(u.node)
        fx = fixed_lif(fg, node)
        k = input_decay(node.attrs)
        shift = -e
        if e < 0:
            bound = max(bounds.get(u.module, 0.0), abs(node.attrs["v_threshold"]))
            shift = 0
            while shift < -e and bound * fx["K"] * 2.0 ** (shift + 1) / k < 2 ** (V_BITS - 2):
                shift += 1
            q = np.asarray(fg.constants[wnode.inputs[1]], dtype=np.float64) * 2.0 ** (e + shift)
            q = 2 * np.round(q / 2) if wnode.attrs.get("fixed_sign_mode") == "mixed" else np.round(q)
            wname = fg.unique_name(f"{wnode.name}_netx_weight")
            fg.add_constant(wname, q.astype(np.int64))
            wnode.inputs = [wnode.inputs[0], wname] + wnode.inputs[2:]
        K = fx["K"] * 2.0 ** shift
        vth_mant = int(round(node.attrs["v_threshold"] * K / (k * 2 ** ACT_SHIFT)))
        if not 0 < vth_mant < 2 ** VTH_MANT_BITS:
            raise NetxRefusal(f"{u.module}: with its synapses' exponent {e} absorbed the threshold mantissa is "
                              f"{vth_mant}, outside netx's 17-bit vThMant")
        c = _port_constant(net.graph, units, u)
        bias = np.round(c * K / 2 ** ACT_SHIFT).astype(np.int64)
        if np.abs(bias).max(initial=0) >= 2 ** 12:
            raise NetxRefusal(f"{u.module}: bias mantissa {int(np.abs(bias).max())} does not fit netx's bias "
                              f"(shifted by 6)")
        bname = fg.unique_name(f"{node.name}_netx_bias")
        fg.add_constant(bname, bias << ACT_SHIFT)
        node.attrs = dict(node.attrs, fixed=dict(node.attrs["fixed"], vth=vth_mant << ACT_SHIFT, bias=bname, K=K))
        wnode.attrs = dict(wnode.attrs, fixed_exp=0, netx_absorbed_exp=e, netx_scale_shift=shift)
    return fg


def _layers(net, order, fixed: Graph) -> list[NetxLayer]:
    """The netx layers of the synapse/neuron chain ``order``, read from the fixed-point graph: each
    synapse's op says (its ``"netx"`` hook) which layer kind its weights make."""
    g = net.graph
    inp = g.values[fixed.node(order[1].node).inputs[0]].shape[1:]  # what the first synapse reads, per sample
    layers = [NetxLayer("input", tuple(int(s) for s in inp))]
    for syn, neu in zip(order[1::2], order[2::2]):
        wnode, nnode = fixed.node(syn.node), fixed.node(neu.node)
        w = np.asarray(fixed.constants[wnode.inputs[1]], dtype=np.int64)
        fx = fixed_lif(fixed, nnode)
        bias = np.asarray(fx["bias"], dtype=np.int64) >> ACT_SHIFT
        neuron = {"type": "CUBA", "iDecay": 4096, "vDecay": int(fx["dv"]), "vThMant": int(fx["vth"]) >> ACT_SHIFT,
                  "refDelay": 1, "gradedSpike": False}
        kind = ops.get(wnode.op).hook("netx")(fixed, wnode)  # the layer its weights make (emitters.py)
        y = g.values[wnode.outputs[0]].shape
        out = tuple(int(s) for s in (y[1:] if kind == "conv" else y[-1:]))
        if kind == "conv":
            a = wnode.attrs
            params = {"weight": w, "stride": list(a["stride"]), "padding": list(a["padding"]),
                      "dilation": list(a["dilation"]), "groups": int(a.get("groups", 1)), "neuron": neuron}
            if np.any(bias):
                params["bias"] = _channel_bias(bias, out, syn.module)
            layers.append(NetxLayer("conv", out, syn.node, neu.node, params))
        elif kind == "dense":
            if layers[-1].kind in ("conv", "input") and len(layers[-1].shape) > 1:
                layers.append(NetxLayer("flatten", (int(np.prod(layers[-1].shape)),)))
            params = {"weight": w, "neuron": neuron}
            if np.any(bias):
                params["bias"] = bias.reshape(-1)
            layers.append(NetxLayer("dense", (int(np.prod(out)),), syn.node, neu.node, params))
        else:
            raise NetxRefusal(f"{syn.module}: {wnode.op} has no netx layer (conv2d and dense only)")
    return layers


def _channel_bias(bias: np.ndarray, shape: tuple, module: str) -> np.ndarray:
    per = bias.reshape(shape)
    if not np.all(per == per[:, :1, :1]):
        raise NetxRefusal(f"{module}: a bias that varies within a channel has no netx form")
    return per[:, 0, 0]


def save_netx(export: NetxExport, path: str) -> None:
    """Write the netx HDF5 file under the output contract (``snncompile.outputs.write_file``: complete or
    not at all); the HDF5 bytes are built in memory first."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        sim = f.create_group("simulation")
        sim.create_dataset("Ts", data=1)
        sim.create_dataset("tSample", data=export.T)
        f.attrs["snncompile_input_scale"] = export.input_scale
        f.attrs["snncompile_time_steps"] = export.T
        group = f.create_group("layer")
        for i, layer in enumerate(export.layers):
            h = group.create_group(str(i))
            h.create_dataset("type", data=layer.kind.encode("ascii"))
            h.create_dataset("shape", data=np.asarray(layer.shape, dtype=np.int64))
            for key, value in layer.params.items():
                if key == "neuron":
                    n = h.create_group("neuron")
                    for nk, nv in value.items():
                        n.create_dataset(nk, data=nv.encode("ascii") if isinstance(nv, str) else nv)
                else:
                    h.create_dataset(key, data=np.asarray(value))
    write_file(path, buffer.getvalue())
