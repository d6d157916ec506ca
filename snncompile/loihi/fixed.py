"""Loihi fixed point: the bit-exact semantics of a quantised network, the quantiser, and a fixed-point run.

Semantics (integers; what the Lava ``fixed_pt`` run computes and ``snncompile.backends.reference.fixed.FixedStepExecutor`` specifies)
------------------------------------------------------------------------------------------------------
* **Inputs** (analog pixels) are sent as graded messages ``x_q = round(x·S_in)`` (``S_in`` maps the
  calibrated range onto ``input_bits`` = 12 signed bits; a power of two fitting 8 bits with
  :meth:`QuantConfig.per_layer`).
* **Synapses** (lava-nc ``Sparse``, Loihi bit-accurate model): weights are integers ``w`` in Lava's final
  form (mixed sign: even numbers in [−256, 254], i.e. an 8-bit mantissa × 2; one sign: [0, 255] or
  [−255, 0]) with one exponent ``e`` per layer: ``a = (Σ w·x) << e`` for ``e ≥ 0``, ``>> −e`` (floor) for
  ``e < 0``.  ``x`` is a spike (1), a graded spike count (the residual stream) or ``x_q``.  No bias: a
  layer's bias becomes its neurons' bias.  A layer reading a mean of spikes (``M = M_int/n``: average
  pooling) reads ``n·x`` (``attrs['fixed_input_gain'] = n``; the weights absorb ``1/n``).
* **Spikes straight into a membrane** (a term ``M·s`` of a neuron's input, ``M`` integer: moves and sums)
  arrive as ``M·s·K/64``: the fixed graph multiplies that operand by ``K/64``
  (``attrs['fixed_operand_gain']`` on the term's first node); Lava, a unit synapse with that exact weight.
* **Neurons** (:class:`LIFFixed`): 24-bit membrane, 12-bit decay ``dv``, the activation shifted by 6 bits
  (Lava's ``act_shift``), a bias ``bias_mant << bias_exp`` (13-bit mantissa, 3-bit exponent):
      v' = sign(v)·((|v|·(4096 − dv)) >> 12) + (a << 6) + bias,   clipped to ±(2²³ − 1)
      spike = v' ≥ vth (spikingjelly) or v' > vth (neurons that fire strictly, ``fire="gt"``);
      v = 0 on a spike (hard reset) or v' − vth (soft reset)

  ``vth = vth_mant << 6`` (a 17-bit mantissa, as Loihi's threshold register).  spikingjelly fires at
  ``≥``, Lava's LIF at ``>``: on integers ``v ≥ vth ⇔ v > vth − 1``, so this is exactly Lava's comparison
  against ``vth − 1``; the custom neuron process implements it directly (Loihi 2 neurons are programmable).
* **Spike matmuls** (SSA) are integer counts; their output is multiplied by an integer ``mult``.
* **Readouts** dequantise: ``real = value·scale + c`` (float64, on the host).

Scales.  A neuron's membrane scale ``S_v`` (integer units per 1.0 of the float membrane) and its input
decay ``k`` (1/τ if the neuron applies it, 1 if ``fold_tau`` moved it into the weights) combine into the
*activation scale* ``K = k·S_v``: a synaptic current ``X`` arrives as ``a = X·K/64``.  Neurons fed by the
same synapses (Spikingformer's residual stream) must share ``K``: scale classes are found by union-find
over the network's terms.  ``K = 64·2^j`` with the largest ``j`` such that ``max(|X|max, θ)·S_v < 2²²``
(the value-domain bounds give ``|X|max``), so spike-matmul outputs (integer counts) stay exact
(``mult = K/64``).  Per element (``snncompile.loihi.element_scales``, :class:`QuantConfig` ``per_channel``)
the class scale is refined to ``K·f``, ``f ∈ [f_min, 1]``, so that every weight channel fills the 8-bit
mantissa; a neuron's threshold and bias are then per neuron (``vth`` an array).  A class of weight layers
read only by the host (``fc(x).mean(0)``) gets ``K`` from its current bound, and the readout dequantises by
``64/(K·f)``.  Thresholds, biases and decays are rounded to nearest in their registers; weights so that each
layer's current error over the calibration inputs is least (error-compensating rounding,
:mod:`snncompile.loihi.rounding`; to nearest with ``QuantConfig(compensated_rounding=False)``); every rounding
is reported per layer (:class:`QuantReport`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import scipy.sparse as sp

from snncompile import ops
from snncompile.analysis import infer_domains
from snncompile.ir.domain import Domain
from snncompile.ir.graph import Graph, Node
from snncompile.passes.fold_tau import input_decay as decay_factor

from .affine import constant_vector, synapse_bias, term_matrix
from .current_pool import bias_through, is_current_pool, reads_current_pool, weight_divisor
from .element_scales import element_factors, per_channel
from .graded import membrane_bound, quantise_graded
from .mapped import separate
from .registers import (ACT_SHIFT, BIAS_EXP_MAX, BIAS_MANT_BITS, DECAY_BITS, V_BITS, V_MAX, VTH_MANT_BITS,
                        QuantisationError, quantise_bias, quantise_weights)
from .rounding import current_rel_error
from .split_weights import quantise_split


# -- quantisation of a unit network ------------------------------------------------------------------------

@dataclass
class LayerError:
    name: str
    module: str
    kind: str
    detail: dict = field(default_factory=dict)


@dataclass
class QuantReport:
    input_scale: dict
    classes: list[dict]
    layers: list[LayerError]
    agreement: dict = field(default_factory=dict)  # filled by measure_agreement

    def to_dict(self) -> dict:
        return {"input_scale": self.input_scale, "classes": self.classes,
                "layers": [{"name": l.name, "module": l.module, "kind": l.kind, **l.detail} for l in self.layers],
                "spike_agreement": self.agreement}

    def table(self) -> str:
        rows = [f"{'layer':44s} {'kind':8s} {'w exp':>7s} {'w rel.err':>9s} {'I rel.err':>9s} {'K':>8s} "
                f"{'f min':>6s} {'vth err':>9s} {'bias err':>9s} {'spike agree':>11s}"]
        for l in self.layers:
            d = l.detail
            agree = self.agreement.get(l.name)
            f_min = f"{d['f_min']:.3f}" if "f_min" in d else ""
            rows.append(f"{(l.module or l.name)[:44]:44s} {l.kind:8s} {_exponents(d):>7s} "
                        f"{_f(d.get('weight_rel_error')):>9s} {_f(d.get('current_rel_error')):>9s} "
                        f"{str(d.get('K', '')):>8s} {f_min:>6s} "
                        f"{_f(d.get('threshold_rel_error')):>9s} {_f(d.get('bias_max_abs_error')):>9s} "
                        f"{_f(agree):>11s}")
        return "\n".join(rows)


def _exponents(detail: dict) -> str:
    """A weight layer's exponent, or ``e/e−8`` for a split (16-bit) layer."""
    e = detail.get("weight_exp")
    return "" if e is None else f"{e}/{detail['low_exp']}" if "low_exp" in detail else str(e)


def _f(x) -> str:
    return "" if x is None else f"{x:.2e}" if isinstance(x, float) and x and abs(x) < 1e-2 else \
        (f"{x:.4f}" if isinstance(x, float) else str(x))


def _union_find(items):
    parent = {i: i for i in items}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    return find, union


def input_decay(attrs: dict) -> float:
    """The factor a neuron applies to its input current (1 when it applies none)."""
    v = decay_factor(attrs)
    return 1.0 if v is None else v


@dataclass(frozen=True)
class QuantConfig:
    """Choices of the quantiser.

    ``per_channel``: refine each scale class per element (``snncompile.loihi.element_scales``: every weight
    channel uses the whole mantissa; thresholds and biases per neuron), the largest channel of a layer at
    ``f_min`` of the class scale; ``exact_thresholds``: ``f`` rounded down so that every threshold mantissa
    is an integer.  ``current_margin``: currents bounded by this multiple of their calibrated maximum (None:
    by their value domains only).  ``bias_correction``: each weight layer's expected rounding error
    ``(w_q − w)·E[x]`` (``E[x]`` from calibration, see :func:`quantise`) is taken off its bias.
    ``input_bits``: the graded input messages' width; ``pow2_input``: a power-of-two input scale (else the
    calibrated range fills ``input_bits`` exactly).  ``compensated_rounding``: weights rounded so that each
    layer's current error over calibration inputs is least (:mod:`snncompile.loihi.rounding`; needs the
    layers' input second moments, see :func:`quantise`), else to nearest.  ``weight_bits``: 8 (one Loihi synapse
    per connection) or 16 (every weight layer split into a high and a low synapse, :mod:`.split_weights`: twice
    the synapses and synaptic ops)."""

    per_channel: bool = True
    f_min: float = 2.0 ** -4
    exact_thresholds: bool = True
    current_margin: Optional[float] = 2.0
    bias_correction: bool = True
    input_bits: int = 12
    pow2_input: bool = False
    compensated_rounding: bool = True
    weight_bits: int = 8

    def __post_init__(self):
        if self.weight_bits not in (8, 16):
            raise QuantisationError(f"weight bits must be 8 or 16 (a split synapse pair), got {self.weight_bits}")

    @property
    def synapse_planes(self) -> int:
        """Loihi synapses per connection of every weight layer: 1 at 8-bit weights, 2 (high, low) at 16."""
        return self.weight_bits // 8

    @staticmethod
    def per_layer() -> "QuantConfig":
        """One scale per class, one threshold per population, 8-bit power-of-two input (netx's layout)."""
        return QuantConfig(per_channel=False, input_bits=8, pow2_input=True)


def quantise(net, calibration_max: Optional[dict] = None, *, config: QuantConfig = QuantConfig(),
             observed: Optional[dict] = None, input_means: Optional[dict] = None,
             second_moments: Optional[dict] = None):
    """A fixed-point copy of the one-step graph of ``net`` and the quantisation report.

    ``calibration_max``: graph input -> its largest magnitude, or a (lo, hi) range, over calibration data.
    ``observed``: IR value -> the largest magnitude it took in a float run of calibration data; a neuron's
    (or host readout's) current bound is then ``current_margin`` × that (never above the value-domain
    bound), which lets the scale use the membrane's bits the data needs rather than the worst case.
    ``input_means``: weight layer's input value -> its mean over calibration data (one step's shape); with
    ``config.bias_correction`` each layer's expected rounding error ``(w_q − w)·E[x]`` is taken off its bias.
    ``second_moments``: synapse unit -> ``Σ x xᵀ`` [groups, n, n] of the vectors its weight rows multiply over
    calibration data; with ``config.compensated_rounding`` its weights are rounded by least current error.
    Returns ``(fixed_step_graph, report)``.  The copy has integer weights (``attrs['fixed_exp']``), no
    weight-layer biases, ``attrs['fixed']`` on every ``lif`` (see :class:`LIFFixed`), ``attrs['fixed_mult']``
    on every spike matmul and ``meta['fixed']`` with the input scales and readout dequantisation."""
    net = separate(net)  # currents reaching a neuron through a map: their own integer layers (loihi.mapped)
    g: Graph = net.graph
    fg = g.copy()
    bounds = _bounded_domains(g, calibration_max or {})
    if observed and config.current_margin is not None:
        _tighten(bounds, observed, config.current_margin)
    K_of, class_info = _class_scales(net, bounds)
    in_scale = _input_scales(net, calibration_max or {}, config)
    f_of = (element_factors(net, K_of, lambda u: _synapse_input_scale(net, u, in_scale), config.f_min,
                            lambda u: _threshold_mantissa(g, u, K_of), exact_thresholds=config.exact_thresholds)
            if config.per_channel else {})
    shift: dict[str, np.ndarray] = {}  # synapse -> bias correction (flat output, float units)
    layers = (_quantise_synapses(net, fg, K_of, in_scale, f_of,
                                 input_means if config.bias_correction else None, shift,
                                 second_moments if config.compensated_rounding else None, config.weight_bits)
              + _quantise_attention(net, fg, K_of) + _scale_spike_terms(net, fg, K_of)
              + _quantise_neurons(net, fg, K_of, f_of, shift))
    for u in net.of_kind("synapse"):  # weight-layer biases live in the neurons now
        node = fg.node(u.node)
        fg.set_inputs(node, node.inputs[:2])
    fg.meta["fixed"] = {"inputs": in_scale, "readouts": _readouts(net, K_of, f_of, shift, bounds)}
    _drop_unused(fg)
    return fg, QuantReport(in_scale, class_info, layers)


def _scale_classes(net) -> dict[str, list[str]]:
    """Units that must share one activation scale K: a neuron (or readout) port and every synapse/attention
    unit feeding it, transitively."""
    units = net.units
    keys = [u for u in net.order if units[u].kind in ("neuron", "synapse", "attention", "readout")
            or is_current_pool(units, u)]  # a max-pool of currents: in its layer's units (loihi.current_pool)
    find, union = _union_find(keys)
    for name in keys:
        u = units[name]
        if u.kind in ("neuron", "readout", "pool"):
            for t in u.ports[0].terms:
                if t.source and (units[t.source].kind in ("synapse", "attention")
                                 or is_current_pool(units, t.source)):
                    union(name, t.source)
    classes: dict[str, list[str]] = {}
    for name in keys:
        classes.setdefault(find(name), []).append(name)
    return classes


def _class_scales(net, bounds: Graph) -> tuple[dict[str, int], list[dict]]:
    """Per scale class: K = 64·2^j, the largest that keeps the input currents (bounded by ``bounds``), the
    thresholds and the bias register within their bit widths."""
    g, units = net.graph, net.units
    K_of: dict[str, int] = {}
    class_info = []
    for members in _scale_classes(net).values():
        neurons = [units[m] for m in members if units[m].kind == "neuron"]
        if not neurons:
            if any(is_current_pool(units, m) for m in members):  # its scale would come from no neuron's budget
                raise QuantisationError(f"{units[members[0]].module}: a max-pool of its currents reaches neurons only "
                                        f"through a map (e.g. a mean); fixed point needs a neuron reading it directly")
            K = _readout_class_scale(units, members, bounds)
            if K is not None:
                K_of.update({m: K for m in members})
                class_info.append({"members": [units[m].module or m for m in members], "K": K, "input_decay": 1.0,
                                   "bound": _readout_bound(units, members, bounds)})
            continue
        ks = {input_decay(g.node(n.node).attrs) for n in neurons}
        if len(ks) != 1:
            raise QuantisationError(f"neurons {', '.join(n.module for n in neurons)} share synapses but decay "
                                    f"their input differently")
        k = ks.pop()
        bound = max(_current_bound(g, n, bounds) for n in neurons)
        j = math.floor(math.log2(2 ** (V_BITS - 2) * k / (64 * bound)))
        cmax = max(float(np.abs(_port_constant(g, units, n)).max(initial=0.0)) for n in neurons)
        if cmax > 0:  # the bias register: 13-bit mantissa << at most 7
            j = min(j, math.floor(math.log2((2 ** (BIAS_MANT_BITS - 1) - 1) * 2 ** BIAS_EXP_MAX / (64 * cmax))))
        K = 64 * 2 ** max(j, 0)
        for m in members:
            K_of[m] = K
        class_info.append({"members": [units[m].module or m for m in members], "K": K, "input_decay": k,
                           "bound": bound})
    return K_of, class_info


def _threshold_mantissa(g: Graph, u, K_of: dict) -> float:
    """``θ·S_v/64`` of neuron unit ``u`` at its class scale (``S_v = K/k``)."""
    a = g.node(u.node).attrs
    return abs(float(a["v_threshold"])) * K_of[u.name] / (input_decay(a) * 2 ** ACT_SHIFT)


def _value_bound(bounds: Graph, value: str) -> Optional[float]:
    """The largest magnitude ``value`` takes by its domain in ``bounds``; None when it has no finite bound."""
    d = bounds.values[value].domain
    if d is None or not (math.isfinite(d.lo) and math.isfinite(d.hi)):
        return None
    return max(abs(d.lo), abs(d.hi))


def _readout_bound(units: dict, members: list[str], bounds: Graph) -> float:
    """The largest magnitude of the currents a class of readouts receives (their port values' domains)."""
    out = 0.0
    for m in members:
        if units[m].kind == "readout":
            b = _value_bound(bounds, units[m].ports[0].value)
            if b is None:
                raise QuantisationError(f"readout {units[m].ports[0].value}: its current has no finite bound")
            out = max(out, b)
    return out


def _readout_class_scale(units: dict, members: list[str], bounds: Graph) -> Optional[int]:
    """A class of weight layers read only by the host (``fc(x_seq).mean(0)``): K = 64·2^j, the largest
    that keeps the currents ``X·K/64`` it sends inside 23 bits; None for a class without weight layers."""
    if not any(units[m].kind == "synapse" for m in members):
        return None
    bound = _readout_bound(units, members, bounds)
    if bound == 0.0:
        return 64
    return 64 * 2 ** max(0, math.floor(math.log2(2 ** (V_BITS - 2) / bound)))


def _current_bound(g: Graph, n, bounds: Graph) -> float:
    """The largest magnitude of neuron unit ``n``'s input current or threshold."""
    a = g.node(n.node).attrs
    if a.get("v_reset") not in (None, 0.0):
        raise QuantisationError(f"{n.module}: a nonzero reset potential is not supported in fixed point")
    d = bounds.values[n.ports[0].value].domain
    if d is None or not (math.isfinite(d.lo) and math.isfinite(d.hi)):
        raise QuantisationError(f"{n.module}: its input current has no finite bound (run domain inference first)")
    if n.graded:  # a graded (I-LIF) neuron: its membrane's bound, snncompile.loihi.graded
        return membrane_bound(a, max(abs(d.lo), abs(d.hi)), n.max_spike)
    return max(abs(d.lo), abs(d.hi), abs(a["v_threshold"]))


def _input_scales(net, calibration_max: dict, config: QuantConfig) -> dict[str, float]:
    """Per graph input: the scale that maps its calibrated range onto ``input_bits`` bits (sign included),
    rounded down to a power of two with ``pow2_input``."""
    in_scale = {}
    for u in net.of_kind("input"):
        r = calibration_max.get(u.name, 1.0)
        top = (max(abs(float(r[0])), abs(float(r[1]))) if not np.isscalar(r) else abs(float(r))) or 1.0
        if config.pow2_input:
            in_scale[u.name] = float(2 ** math.floor(math.log2((2 ** config.input_bits - 1) / top)))
        else:
            in_scale[u.name] = float((2 ** (config.input_bits - 1) - 1) / top)
    return in_scale


def _synapse_input_scale(net, u, in_scale: dict) -> float:
    """``s_x`` of what synapse unit ``u`` reads: the input's scale, or 1 for spikes and spike counts."""
    srcs = {net.units[t.source].kind for t in u.ports[0].terms if t.source}
    if "input" in srcs and len(srcs) > 1:
        raise QuantisationError(f"{u.module}: mixes the analog input with spikes")
    return in_scale[next(t.source for t in u.ports[0].terms)] if srcs == {"input"} else 1.0


def _quantise_synapses(net, fg: Graph, K_of: dict, in_scale: dict, f_of: dict, input_means=None,
                       shift: Optional[dict] = None, second_moments: Optional[dict] = None,
                       weight_bits: int = 8) -> list[LayerError]:
    """Integer weights of every synapse unit, in the activation units of the class it feeds (output channel
    ``o`` at ``K·f_o``); with ``weight_bits`` 16, split into a high and a low synapse (:mod:`.split_weights`)."""
    g, layers = net.graph, []
    for u in net.of_kind("synapse"):
        node = fg.node(u.node)
        if u.name not in K_of:
            raise QuantisationError(f"{u.module}: its output feeds no neuron and no readout")
        K = K_of[u.name]
        s_x = _synapse_input_scale(net, u, in_scale)
        w = g.constants[node.inputs[ops.get(node.op).weight.weight]].astype(np.float64)
        gain = _input_gain(g, u)
        scale = np.full((1,) * w.ndim, K / (64 * s_x * gain))  # float weight -> mantissa units, per channel
        if reads_current_pool(net.units, u):  # integers in the pooled layer's units (loihi.current_pool)
            scale = scale / weight_divisor(g, net.units, u, K_of, f_of, w)
        if gain != 1.0:
            node.attrs = dict(node.attrs, fixed_input_gain=gain)
        if u.name in f_of:
            scale = scale * per_channel(g, g.node(u.node), f_of[u.name]).reshape((-1,) + (1,) * (w.ndim - 1))
        target = w * scale
        moments = (second_moments or {}).get(u.name)
        split = None
        if weight_bits == 16:
            split = quantise_split(target, moments)
            q, e, mode, realised = split.high, split.exp, split.mode, split.value()
        else:
            q, e, mode = quantise_weights(target, moments)
            realised = q * 2.0 ** e
        err = float(np.linalg.norm(realised - target) / max(np.linalg.norm(target), 1e-300))
        detail = {"weight_exp": e, "sign_mode": mode, "K": K, "weight_rel_error": err, "weight_bits": weight_bits,
                  "rounding": "nearest" if moments is None else "compensated"}
        if moments is not None:
            detail["current_rel_error"] = current_rel_error(realised, target, moments)
        mean = None if input_means is None else input_means.get(u.ports[0].value)
        if mean is not None and shift is not None:  # E[(w_q − w)·x] in float units, off the bias
            w_err = realised / scale - w
            src = g.node(u.node)
            shift[u.name] = -np.asarray(ops.get(src.op).reference(src, [np.asarray(mean), w_err], {})[0],
                                        dtype=np.float64).reshape(-1)
        name = fg.unique_name(f"{node.name}_wfixed")
        fg.add_constant(name, q)
        fg.set_inputs(node, [node.inputs[0], name])
        node.attrs = dict(node.attrs, fixed_exp=e, fixed_sign_mode=mode)
        if split is not None:
            low_name = fg.unique_name(f"{node.name}_wfixed_low")
            fg.add_constant(low_name, split.low)
            node.attrs["fixed_low"] = {"weight": low_name, "exp": split.low_exp}
            detail["low_exp"] = split.low_exp
        layers.append(LayerError(u.name, u.module, "synapse", detail))
    return layers


def _input_gain(g: Graph, u) -> float:
    """The integer gain ``n`` that makes a synapse's input integer: every input term ``M`` is ``M_int/n``
    (means and average pools of spikes, ``n`` the window; 1 for moves and sums).  The weights absorb ``1/n``
    and the synapse reads ``n·x`` (the executor: ``round(n·x)``, exact; Lava: weights over ``M_int``)."""
    gains = set()
    for t in u.ports[0].terms:
        if not t.source:
            continue
        data = np.abs(term_matrix(g, t).data)
        data = data[data != 0]
        if data.size == 0 or np.all(data == np.round(data)):
            gains.add(1.0)
            continue
        n = float(np.round(1.0 / data.min()))
        if not np.allclose(data * n, np.round(data * n), rtol=0, atol=1e-9):
            raise QuantisationError(f"{u.module}: its input is a non-integer combination of spikes (no integer "
                                    f"gain makes it exact in fixed point)")
        gains.add(n)
    if len(gains) > 1:
        raise QuantisationError(f"{u.module}: its input terms need different integer gains {sorted(gains)}")
    return gains.pop() if gains else 1.0


def _quantise_attention(net, fg: Graph, K_of: dict) -> list[LayerError]:
    """The integer multiplier of every spike matmul: its constant scale times K/64."""
    g, units, layers = net.graph, net.units, []
    for u in net.of_kind("attention"):
        K = K_of.get(u.name)
        if K is None:
            raise QuantisationError(f"{u.module}: its output feeds no neuron")
        cons = units[u.consumers[0]]
        t = next(t for t in cons.ports[0].terms if t.source == u.name)
        c = float(np.unique(term_matrix(g, t).data)[0])
        mult = c * K / 64
        if not float(mult).is_integer():
            raise QuantisationError(f"{u.module}: the scale {c} times K/64 = {mult} is not an integer")
        fg.node(u.node).attrs = dict(fg.node(u.node).attrs, fixed_mult=int(mult))
        layers.append(LayerError(u.name, u.module, "matmul", {"mult": int(mult), "K": K, "weight_rel_error": 0.0}))
    return layers


def _scale_spike_terms(net, fg: Graph, K_of: dict) -> list[LayerError]:
    """Spikes added straight to a membrane (a residual ``sn(bn(conv(x)) + x)``, a sum of spikes into a
    neuron): the term ``M·s`` arrives as ``M·s·K/64`` (its elements keep ``f = 1``, so ``K/64`` is an integer
    power of two and the term is exact).  The gain is carried by the fixed graph: the first node of the
    term's chain (or the neuron) gets ``attrs['fixed_operand_gain'] = [[operand index, K/64], ...]``, which
    the executor applies to that operand and the Lava plan folds into the term's synapse."""
    g, units, layers = net.graph, net.units, []
    for u in net.of_kind("neuron"):
        for t in u.ports[0].terms:
            if not t.source or units[t.source].kind in ("synapse", "attention") or is_current_pool(units, t.source):
                continue  # currents (a current pool's term arrives in the class's units, loihi.current_pool)
            if units[t.source].kind == "input":
                raise QuantisationError(f"{u.module}: the analog input is added straight to its membrane; fixed "
                                        f"point needs a weight layer between them")
            if not _emits_spikes(units, t.source):
                raise QuantisationError(f"{u.module}: it reads a max-pool of synaptic currents; fixed point pools "
                                        f"spikes only")
            M = term_matrix(g, t)
            if not np.all(M.data == np.round(M.data)):
                raise QuantisationError(f"{u.module}: spikes reach its membrane through a mean (weights "
                                        f"{float(np.abs(M.data).min()):g}); only sums and moves of spikes are exact "
                                        f"in fixed point")
            q = K_of[u.name] // 2 ** ACT_SHIFT
            target = fg.node(t.chain[0]) if t.chain else fg.node(u.node)
            gains = [list(p) for p in target.attrs.get("fixed_operand_gain", [])]
            gains += [[i, q] for i, v in enumerate(target.inputs) if v == t.value and [i, q] not in gains]
            target.attrs = dict(target.attrs, fixed_operand_gain=gains)
            layers.append(LayerError(f"{u.name}<-{t.source}", units[t.source].module or t.source, "spikes",
                                     {"K": K_of[u.name], "mult": q, "weight_rel_error": 0.0}))
    return layers


def _emits_spikes(units: dict, name: str) -> bool:
    """Whether unit ``name`` emits spikes (a pool: when everything it pools is spikes)."""
    u = units[name]
    if u.kind == "pool":
        return all(not t.source or _emits_spikes(units, t.source) for t in u.ports[0].terms)
    return u.kind not in ("synapse", "attention", "input")


def spike_term_gain(g: Graph, term, neuron_node: str) -> int:
    """The gain ``K/64`` that :func:`_scale_spike_terms` put on a spike term of a fixed graph."""
    target = g.node(term.chain[0]) if term.chain else g.node(neuron_node)
    for i, q in target.attrs.get("fixed_operand_gain", []):
        if target.inputs[i] == term.value:
            return int(q)
    raise QuantisationError(f"{target.location}: a spike term without its fixed-point gain (quantise first)")


def exact_weights(W: sp.csr_matrix) -> tuple[sp.csr_matrix, int]:
    """Integer weights in Lava's form and the exponent that represent ``W`` exactly (refused otherwise)."""
    q, e, _ = quantise_weights(W.data)
    if not np.array_equal(q * 2.0 ** e, W.data):
        raise QuantisationError(f"weights {sorted(set(W.data.tolist()))[:4]} are not exact 8-bit mantissas of one "
                                f"exponent")
    return sp.csr_matrix((q.astype(np.int32), W.indices, W.indptr), shape=W.shape), e


def _quantise_neurons(net, fg: Graph, K_of: dict, f_of: dict, shift: Optional[dict] = None) -> list[LayerError]:
    """Every neuron's registers: decay dv (12 bits), threshold (17-bit mantissa << 6, one per neuron when the
    scales are per element), bias (the feeding layers' biases, 13-bit mantissa << exponent), in membrane
    units S_v = K·f/k."""
    g, units, layers = net.graph, net.units, []
    for u in net.of_kind("neuron"):
        node = fg.node(u.node)
        a = node.attrs
        K = K_of[u.name]
        if u.graded:  # I-LIF registers (snncompile.loihi.graded); the bias as for a LIF
            c = _port_constant(g, units, u)
            bias, bexp = quantise_bias(c * K)
            bname = fg.unique_name(f"{node.name}_fixed_bias")
            fg.add_constant(bname, bias.astype(np.int64))
            fixed, detail = quantise_graded(a, K, bname)
            node.attrs = dict(a, fixed=fixed)
            layers.append(LayerError(u.name, u.module, "neuron", dict(detail, bias_exp=bexp, bias_max_abs_error=float(
                np.abs(bias / K - c).max()) if c.size else 0.0)))
            continue
        k = input_decay(a)
        f = f_of.get(u.name)
        S_v = K / k if f is None else K * f / k
        tau = a.get("tau")
        if a.get("inv_tau") is not None:
            leak = float(a["inv_tau"])
        elif tau is None or not math.isfinite(tau):
            leak = 0.0
        else:
            leak = 1.0 / float(tau)
        dv = int(round(leak * 2 ** DECAY_BITS))
        vth_mant = np.round(a["v_threshold"] * np.asarray(S_v, dtype=np.float64) / 2 ** ACT_SHIFT).astype(np.int64)
        if not (np.all(vth_mant > 0) and np.all(vth_mant < 2 ** VTH_MANT_BITS)):
            raise QuantisationError(f"{u.module}: threshold mantissa {int(vth_mant.max())} outside 17 bits")
        vth = vth_mant << ACT_SHIFT
        if vth.ndim and np.all(vth == vth.reshape(-1)[0]):
            vth = vth.reshape(-1)[0]
        if vth.ndim == 0:
            vth = int(vth)
        else:
            vname = fg.unique_name(f"{node.name}_fixed_vth")
            fg.add_constant(vname, vth)
        c = _port_constant(g, units, u, shift)
        bias, bexp = quantise_bias(c * (K if f is None else K * f))
        soft = a.get("v_reset") is None
        bname = fg.unique_name(f"{node.name}_fixed_bias")
        fg.add_constant(bname, bias.astype(np.int64))
        node.attrs = dict(a, fixed={"dv": dv, "vth": vth if isinstance(vth, int) else vname, "bias": bname,
                                    "soft_reset": soft, "K": K, "fire": a.get("fire", "ge")})
        layers.append(LayerError(u.name, u.module, "neuron", {
            "K": K, "dv": dv, "decay_rel_error": abs(dv / 2 ** DECAY_BITS - leak) / leak if leak else 0.0,
            "vth": vth if isinstance(vth, int) else f"{int(vth.min())}..{int(vth.max())}",
            "f_min": float(np.min(f)) if f is not None else 1.0,
            "threshold_rel_error": float(np.max(np.abs(vth / S_v - a["v_threshold"]))) / abs(a["v_threshold"]),
            "bias_exp": bexp, "bias_max_abs_error": float(np.abs(bias / S_v - c * k).max()) if c.size else 0.0}))
    return layers


def _readouts(net, K_of: dict, f_of: dict, shift: Optional[dict] = None,
              bounds: Optional[Graph] = None) -> dict[str, dict]:
    """Per readout value: the scale (one, or one per element) and constant that dequantise what it receives,
    and ``bound``: the largest magnitude of the (real) value the quantiser assumed (``bounds``' domain: the
    calibrated current bound, or the value domain; None if unbounded or not given)."""
    g, units, readouts = net.graph, net.units, {}
    for u in net.of_kind("readout"):
        value = u.ports[0].value
        kinds = {units[t.source].kind for t in u.ports[0].terms if t.source}
        if kinds <= {"neuron", "pool", "product", "input"}:  # spikes: read as they are
            scale = 1.0
        else:
            Ks = {K_of[t.source] for t in u.ports[0].terms
                  if t.source and units[t.source].kind in ("synapse", "attention")}
            if len(Ks) != 1 or kinds & {"neuron", "pool", "product", "input"}:
                raise QuantisationError(f"readout {value} mixes spikes and currents of different scales")
            K = Ks.pop()
            f = f_of.get(u.name)
            scale = 64.0 / K if f is None or np.all(f == 1.0) else [float(v) for v in 64.0 / (K * f)]
        c = np.zeros(int(np.prod(g.values[value].shape)))
        for t in u.ports[0].terms:
            if not t.source:
                c += constant_vector(g, t)
            elif units[t.source].kind == "synapse":
                b = synapse_bias(g, g.node(units[t.source].node))
                c += term_matrix(g, t) @ (b + shift[t.source] if shift and t.source in shift else b)
        bound = _value_bound(bounds, value) if bounds is not None and value in bounds.values else None
        readouts[value] = {"scale": scale, "c": [float(v) for v in c], "bound": bound}
    return readouts


def _port_constant(g: Graph, units: dict, u, shift: Optional[dict] = None) -> np.ndarray:
    """The constant part of a neuron's input current: the feeding layers' biases (natural order), plus their
    bias corrections ``shift`` (synapse -> flat output vector) when given."""
    c = np.zeros(int(np.prod(g.values[u.output].shape)))
    for t in u.ports[0].terms:
        if not t.source:
            raise QuantisationError(f"{u.module}: a constant added to its input current is not supported in "
                                    f"fixed point (fold it into the weights' bias)")
        if units[t.source].kind == "synapse":
            b = synapse_bias(g, g.node(units[t.source].node))
            if shift and t.source in shift:
                b = b + shift[t.source]
            c += term_matrix(g, t) @ b
            src = units[t.source]  # a layer reading a max-pool of currents carries the pool's bias on
            c += sum((term_matrix(g, t) @ bias_through(g, units, src, s) for s in src.ports[0].terms
                      if is_current_pool(units, s.source)), np.zeros_like(c))
        elif is_current_pool(units, t.source):  # the pooled layer's bias, moved past the max
            c += bias_through(g, units, u, t)
    return c


def _tighten(bounds: Graph, observed: dict, margin: float) -> None:
    """Narrow the domains of observed values to ``± margin·observed`` (within their inferred domain)."""
    for v, m in observed.items():
        d = bounds.values[v].domain if v in bounds.values else None
        if d is None or d.is_binary:
            continue
        r = margin * float(m)
        lo, hi = max(d.lo, -r), min(d.hi, r)
        if lo <= hi:
            bounds.values[v].domain = Domain.real(lo, hi)


def _bounded_domains(g: Graph, ranges: dict) -> Graph:
    """A copy of ``g`` whose analog inputs have the calibration range, with domains re-inferred."""

    h = g.copy()
    for name in h.inputs:
        r = ranges.get(name)
        if r is not None and not h.values[name].domain.is_binary:
            lo, hi = (min(0.0, -float(r)), float(r)) if np.isscalar(r) else (float(r[0]), float(r[1]))
            h.values[name].domain = Domain.real(lo, hi)
    infer_domains(h)
    return h


def fixed_lif(graph: Graph, node: Node) -> dict:
    """The fixed-point registers of a quantised ``lif`` node (its bias array resolved)."""
    fx = dict(node.attrs["fixed"])
    for key in ("bias", "vth"):  # constants named by the registers (a graded neuron has no vth)
        if isinstance(fx.get(key), str):
            fx[key] = np.asarray(graph.constants[fx[key]], dtype=np.int64)
    return fx


def _drop_unused(g: Graph) -> None:
    used = {v for n in g.nodes for v in n.inputs} | set(g.outputs)
    used |= {n.attrs["fixed"][k] for n in g.nodes if isinstance(n.attrs.get("fixed"), dict) for k in ("bias", "vth")
             if isinstance(n.attrs["fixed"].get(k), str)}
    used |= {n.attrs["fixed_low"]["weight"] for n in g.nodes if n.attrs.get("fixed_low")}
    for name in [c for c in g.constants if c not in used]:
        del g.constants[name]
        g.values.pop(name, None)


def quantise_input(x: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * scale), -V_MAX, V_MAX).astype(np.int64)
