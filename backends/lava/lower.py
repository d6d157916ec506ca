"""``lower`` a traced graph for Loihi and save/load the self-contained lowered directory; ``run`` it.

A lowered directory (written atomically: a temporary folder renamed into place, nothing left on error):

===================  ========================================================================================
``network.json``     what runs: mode, T, the Lava processes (type, unit, lag, parameters), connections,
                     emission orders, the unit network, the pass log, the step program's time axes
``params.npz``       every array of the processes (weights as CSR parts, integer weights and exponents in
                     fixed mode, biases, gathers, windows, readout maps)
``step.snnir``       the one-step graph (fixed mode: with integer weights and neuron registers)
``post.snnir``       the graph the host runs after the time loop (mean over T, head)
``core_map.json``    the partition: limits table used, layers → cores and tiles, cores and chips needed
``quantisation.json`` fixed mode: input scales, scale classes, per-layer rounding errors
``report.txt``       the same, for people
``snncompile-manifest.json`` marks the directory as written by snncompile (``--force`` replaces only such)
===================  ========================================================================================

``run`` needs only this directory and an input ``.npy``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp

from snncompile import ops, strictjson, validate
from snncompile.analysis.time_axes import TimeAxis
from snncompile.backends.reference import ReferenceExecutor
from snncompile.backends.reference.fixed import run_fixed
from snncompile.errors import InputError
from snncompile.ir import load_graph
from snncompile.ir.graph import Graph
from snncompile.ir.serialize import graph_writer
from snncompile.loihi import Limits, Prepared, build_network, get_limits, partition, prepare
from snncompile.loihi.limits import check_limits
from snncompile.loihi.fixed import QuantConfig, quantise, quantise_input
from snncompile.loihi.rounding import second_moment
from snncompile.loihi.split_weights import split_layers, synapse_planes
from snncompile.outputs import write_directory
from snncompile.passes.time import StepProgram, retime

from .ledger import build_ledger, record_mac_convention
from .plan import Conn, LavaPlan, ProcSpec, make_plan
from .readouts import place_readouts


FORMAT = "snncompile-loihi"
VERSION = 1


@dataclass
class Lowered:
    prepared: Prepared
    mode: str
    limits: Limits
    plan: LavaPlan
    part: "object"
    step: Graph  # the graph the plan was made from (fixed: quantised)
    quant: Optional["object"] = None  # QuantReport

    @property
    def program(self) -> StepProgram:
        return self.prepared.program


def lower_graph(graph: Graph, *, mode: str = "float", limits: Optional[Limits] = None,
                calibration: Optional[np.ndarray] = None, agreement_samples: int = 8,
                current_samples: int = 32, readout: str = "host",
                quant_config: Optional[QuantConfig] = None) -> Lowered:
    """Passes, time slicing, partitioning and (fixed mode) quantisation of a traced graph (the currents'
    scales calibrated on ``current_samples`` calibration inputs); ``readout``: where the readouts run
    (``host`` or ``chip``, :mod:`.readouts`); ``quant_config``: the quantiser's choices (fixed mode; default
    :class:`QuantConfig`), whose ``weight_bits`` 16 doubles the weight layers' synapses in the partition."""
    if mode not in ("float", "fixed"):
        raise InputError(f"--mode must be float or fixed, got {mode!r}")
    if quant_config is not None and mode != "fixed":
        raise InputError("quantiser choices (e.g. --weight-bits) apply to --mode fixed only")
    quant_config = quant_config or QuantConfig()
    limits = limits or get_limits(None)
    prepared = prepare(graph)
    planes = quant_config.synapse_planes if mode == "fixed" else 1
    part = partition(prepared.network, limits, readout=readout, synapse_planes=planes)
    quant = None
    step = prepared.program.step
    net = prepared.network
    if mode == "fixed":
        name = prepared.program.step.inputs[0]
        if calibration is None:
            raise InputError("fixed mode needs sample inputs to choose the input scale (inputs.npy beside the "
                             "model, or --calibration X.npy)")
        cal = {name: (float(np.min(calibration)), float(np.max(calibration)))}
        top, means, moments = observe_currents(prepared, calibration[:current_samples])
        step, quant = quantise(prepared.network, cal, observed=top, input_means=means, second_moments=moments,
                               config=quant_config)
        net = build_network(step, [u.ports[0].value for u in prepared.network.of_kind("readout")])
    record_mac_convention(step, graph)
    plan = make_plan(net, prepared.program.T, mode=mode)
    place_readouts(plan, prepared.program, readout, fixed=step.meta.get("fixed"))
    low = Lowered(prepared, mode, limits, plan, part, step, quant)
    if quant is not None:
        measure_agreement(low, calibration[:agreement_samples])
    return low


def observe_currents(prepared: Prepared, samples: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray],
                                                                      dict[str, np.ndarray]]:
    """From a float64 run of ``samples``: the largest magnitude of every neuron's and host readout's input
    current (the quantiser's calibrated current bounds); the mean over samples and steps of every weight
    layer's input (one step's shape; the quantiser's bias correction); and per weight layer (synapse unit)
    ``Σ x xᵀ`` over the vectors its weight rows multiply (its op's ``patches``; the quantiser's
    error-compensating rounding)."""
    net, g, step = prepared.network, prepared.graph, prepared.network.graph
    values = [u.ports[0].value for u in net.of_kind("neuron", "readout") if u.ports[0].value in g.values]
    synapses = [u for u in net.of_kind("synapse") if u.ports[0].value in g.values
                and tuple(g.values[u.ports[0].value].shape[1:]) == tuple(step.values[u.ports[0].value].shape[1:])]
    inputs = sorted({u.ports[0].value for u in synapses})
    ex = ReferenceExecutor()
    top = {v: 0.0 for v in values}
    sums = {v: 0.0 for v in inputs}
    moments: dict[str, np.ndarray] = {}
    for i in range(len(samples)):
        r = ex.run(g, samples[i:i + 1], dtype=np.float64, record=values + inputs)
        for v in values:
            top[v] = max(top[v], float(np.abs(r.values[v]).max(initial=0.0)))
        for v in inputs:
            sums[v] = sums[v] + np.asarray(r.values[v], dtype=np.float64).mean(axis=0, keepdims=True)
        for u in synapses:
            node = step.node(u.node)
            m = second_moment(ops.get(node.op).hook("patches")(step, node, np.asarray(r.values[u.ports[0].value])))
            moments[u.name] = moments[u.name] + m if u.name in moments else m
    return top, {v: sums[v] / max(len(samples), 1) for v in inputs}, moments


def measure_agreement(low: Lowered, samples: np.ndarray) -> dict:
    """Per neuron layer: the fraction of spikes (every neuron, every step) on which the fixed-point run
    agrees with the float64 run, over ``samples``; stored in the quantisation report."""

    g = low.prepared.graph
    lifs = [n for n in g.nodes if ops.get(n.op).neuron is not None]
    ex = ReferenceExecutor()
    _, rows, _ = run_fixed(low.program, low.step, samples, record=[n.outputs[0] for n in lifs])
    same = {n.name: 0 for n in lifs}
    total = {n.name: 0 for n in lifs}
    T = low.program.T
    for i in range(len(samples)):
        r = ex.run(g, samples[i:i + 1], dtype=np.float64, record=[n.outputs[0] for n in lifs])
        for n in lifs:
            ref = r.values[n.outputs[0]].reshape(T, -1)
            got = rows[n.outputs[0]][i * T:(i + 1) * T].reshape(T, -1)
            same[n.name] += int((ref == got).sum())
            total[n.name] += ref.size
    agree = {k: same[k] / total[k] for k in same if total[k]}
    low.quant.agreement = agree
    return agree


# -- serialisation ------------------------------------------------------------------------------------------

class _Arrays:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, key: str, obj: Any) -> Any:
        if isinstance(obj, sp.spmatrix) or sp.issparse(obj):
            m = sp.csr_matrix(obj)
            for part in ("data", "indices", "indptr"):
                self.arrays[f"{key}.{part}"] = getattr(m, part)
            return {"$csr": key, "shape": list(m.shape)}
        if isinstance(obj, np.ndarray):
            self.arrays[key] = obj
            return {"$array": key}
        if isinstance(obj, dict):
            return {str(k): self.put(f"{key}.{k}", v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.put(f"{key}.{i}", v) for i, v in enumerate(obj)]
        if isinstance(obj, (np.integer,)):
            return int(obj)
        if isinstance(obj, (np.floating,)):
            return float(obj)
        if isinstance(obj, float) and not math.isfinite(obj):
            return {"$float": repr(obj)}
        return obj


def _restore(obj: Any, arrays) -> Any:
    if isinstance(obj, dict):
        if "$csr" in obj:
            k = obj["$csr"]
            return sp.csr_matrix((arrays[f"{k}.data"], arrays[f"{k}.indices"], arrays[f"{k}.indptr"]),
                                 shape=tuple(obj["shape"]))
        if "$array" in obj:
            return arrays[obj["$array"]]
        if "$float" in obj:
            return float(obj["$float"])
        return {k: _restore(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_restore(v, arrays) for v in obj]
    return obj


RUN_PRODUCTS = ("ledger.json", "core_load.png")  # what `snncompile run` adds to a lowered directory


def save_lowered(low: Lowered, out_dir: str, *, model_name: str = "", force: bool = False) -> str:
    """Write the lowered directory under the output contract (``snncompile.outputs.write_directory``:
    built beside, renamed into place, marked with a manifest; ``force`` replaces only a directory
    snncompile wrote); returns its absolute path."""

    def fill(w) -> None:
        arrays = _Arrays()
        plan = low.plan
        prog = low.program
        procs = {n: {"type": p.type, "unit": p.unit, "lag": p.lag, "params": arrays.put(f"p.{n}", p.params)}
                 for n, p in plan.procs.items()}
        net = low.prepared.network
        doc = {
            "format": FORMAT, "version": VERSION, "model": model_name or low.prepared.original.meta.get("model", ""),
            "mode": low.mode, "T": plan.T, "max_lag": plan.max_lag, "summary": plan.summary(),
            "processes": procs, "connections": [asdict(c) for c in plan.conns],
            "emission": {u: arrays.put(f"e.{u}", np.asarray(e)) for u, e in plan.emission.items()},
            "unit_sizes": plan.unit_sizes, "inputs": plan.inputs, "readouts": plan.readouts,
            "sparse_of": plan.sparse_of,
            "units": [{"name": u, "kind": net.units[u].kind, "module": net.units[u].module,
                       "sources": net.units[u].sources, "lag": plan.procs[next(
                           (n for n, p in plan.procs.items() if p.unit == u), None)].lag
                       if any(p.unit == u for p in plan.procs.values()) else None} for u in net.order],
            "program": {"T": prog.T, "boundary": {v: [a.axis, a.size] for v, a in prog.boundary.items()},
                        "input_axes": {v: (None if a is None else [a.axis, a.size]) for v, a in
                                       prog.input_axes.items()},
                        "outputs": prog.outputs,
                        "full_shapes": {v: list(s) for v, s in prog.full_shapes.items()
                                        if v in prog.post.values or v in prog.step.inputs}},
            "readout_values": [u.ports[0].value for u in net.of_kind("readout")],
            "passes": [log.to_dict() for log in low.prepared.pass_logs],
            "limits": low.limits.to_dict(),
        }
        w.file("network.json", strictjson.dumps(doc, indent=1, default=_json_default))
        w.file("params.npz", lambda fh: np.savez_compressed(fh, **arrays.arrays))
        w.file("step.snnir", graph_writer(low.step))
        w.file("post.snnir", graph_writer(prog.post))
        w.file("core_map.json", strictjson.dumps(low.part.to_dict(), indent=1, default=_json_default))
        if low.quant is not None:
            w.file("quantisation.json", strictjson.dumps(low.quant.to_dict(), indent=1, default=_json_default))
        w.file("report.txt", lowering_report(low, model_name))

    return write_directory(out_dir, fill, kind="lowered", force=force, products=RUN_PRODUCTS)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(type(o).__name__)


def lowering_report(low: Lowered, model_name: str = "") -> str:
    plan, part = low.plan, low.part
    lines = [f"snncompile lower --target loihi: {model_name or low.prepared.original.meta.get('model', '')}",
             f"mode: {low.mode}; T = {plan.T}; Lava processes: {plan.process_count} "
             f"({', '.join(f'{v} {k}' for k, v in plan.summary()['by_type'].items())}); pipeline depth "
             f"{plan.max_lag} steps", "", "passes:"]
    for log in low.prepared.pass_logs:
        lines.append(f"  {log.name}: {len(log.rewrites)} rewrite(s), {len(log.refusals)} refusal(s)")
        for r in log.refusals:
            lines.append(f"    refused {r.node}: {r.reason}")
    lines += ["", f"partition ({part.limits.name}; {part.limits.source}):", part.table()]
    if low.quant is not None:
        split = len(split_layers(low.step))
        bits = (f"16-bit weights: {split} weight layer(s) as two 8-bit synapses each (exponents e and e-8; twice "
                f"their synapses and synaptic ops)" if split else "8-bit weight mantissas")
        lines += ["", f"quantisation (Loihi fixed point; {bits}):", low.quant.table()]
    held = {n: p.params["max_steps"] for n, p in plan.procs.items()
            if p.type == "integrator" and "max_steps" in p.params}
    if held:  # fixed-point readouts on chip (snncompile.loihi.integrator)
        lines += ["", "readouts on chip (integer sums in 24 bits, by the quantiser's bound): "
                  + "; ".join(f"{n} holds {m} steps" for n, m in held.items())]
    return "\n".join(lines) + "\n"


@dataclass
class LoadedLowered:
    folder: str
    doc: dict
    plan: LavaPlan
    program: StepProgram
    step: Graph
    limits: Limits

    @property
    def mode(self) -> str:
        return self.doc["mode"]


# network.json's top-level fields and their JSON types (checked before any is used)
NETWORK_FIELDS = {"format": str, "version": int, "model": str, "mode": str, "T": int, "max_lag": int,
                  "processes": dict, "connections": list, "emission": dict, "unit_sizes": dict, "inputs": dict,
                  "readouts": dict, "sparse_of": dict, "program": dict, "readout_values": list, "limits": dict}
PROGRAM_FIELDS = {"T": int, "boundary": dict, "input_axes": dict, "outputs": list, "full_shapes": dict}


def load_lowered(folder: str) -> LoadedLowered:
    """Read a lowered directory; any malformed file is an ``InputError`` naming the file and field."""
    path = os.path.join(folder, "network.json")
    if not os.path.isfile(path):
        raise InputError(f"{folder}: not a lowered directory (no network.json); make one with "
                         f"'snncompile lower MODEL --target loihi -o {folder}'")
    validate.regular_file(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        raise InputError(f"{path}: not valid JSON ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    validate.fields(doc, NETWORK_FIELDS, path)
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise InputError(f"{folder}: unsupported lowered format {doc.get('format')} v{doc.get('version')}")
    validate.fields(doc["program"], PROGRAM_FIELDS, f"{path}: field 'program'")
    if doc["T"] < 1 or doc["program"]["T"] < 1:
        raise InputError(f"{path}: field 'T' must be at least 1")
    params = os.path.join(folder, "params.npz")
    validate.regular_file(params)
    try:
        with np.load(params, allow_pickle=False) as npz:
            validate.zip_archive(npz.zip, params)
            arrays = dict(npz)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - a corrupt archive of the user's is an input error
        raise InputError(f"{params}: not a readable .npz ({type(e).__name__}: {' '.join(str(e).split())[:200]})") \
            from None
    try:
        return _rebuild_lowered(folder, doc, arrays)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise InputError(f"{path}: malformed ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None


def _rebuild_lowered(folder: str, doc: dict, arrays: dict) -> LoadedLowered:
    procs = {n: ProcSpec(n, p["type"], p["unit"], p["lag"], _restore(p["params"], arrays))
             for n, p in doc["processes"].items()}
    for p in procs.values():  # tuples that JSON turned into lists
        for k in ("shape_a", "shape_b", "shape_c"):
            if k in p.params:
                p.params[k] = tuple(p.params[k])
    plan = LavaPlan(doc["mode"], doc["T"], procs, [Conn(**c) for c in doc["connections"]],
                    {u: _restore(e, arrays) for u, e in doc["emission"].items()}, doc["unit_sizes"],
                    doc["inputs"], doc["readouts"], doc["sparse_of"], doc["max_lag"])
    step = load_graph(os.path.join(folder, "step.snnir"))
    post = load_graph(os.path.join(folder, "post.snnir"))
    pr = doc["program"]
    program = StepProgram(step, post, pr["T"], {v: TimeAxis(*a) for v, a in pr["boundary"].items()},
                          {v: (None if a is None else TimeAxis(*a)) for v, a in pr["input_axes"].items()},
                          [tuple(o) for o in pr["outputs"]], {v: tuple(s) for v, s in pr["full_shapes"].items()})
    lim = doc["limits"]
    limits = Limits(**{f.name: (tuple(lim[f.name]) if f.name == "notes" else lim[f.name])
                       for f in fields(Limits) if f.name in lim})
    check_limits(limits, f"{folder}/network.json: field 'limits'")
    return LoadedLowered(folder, doc, plan, program, step, limits)


# -- running ------------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    outputs: list  # per image: list of graph outputs (logits)
    predictions: np.ndarray
    ledger: "object"
    recordings: "object"
    timing: dict = field(default_factory=dict)
    accuracy: Optional[float] = None


def run_ledger(step: Graph, plan: LavaPlan, limits: Limits, readout_values: list, rec, samples: int,
               host_counts: dict):
    """The per-core ledger of a Lava run of ``plan`` (``rec``: its recordings), as ``snncompile run`` reports it:
    the network of the graph the plan was made from (fixed point: the quantised one), partitioned as it was
    lowered (readouts on chip where the plan has integrators; a split layer's two synapses per connection)."""
    net = build_network(step, readout_values)
    on_chip = any(p.type == "integrator" for p in plan.procs.values())
    part = partition(net, limits, readout="chip" if on_chip else "host", synapse_planes=synapse_planes(step))
    return build_ledger(net, part, rec, samples=samples, host_counts=host_counts)


def run_lowered(low: LoadedLowered, samples: np.ndarray, *, labels: Optional[np.ndarray] = None,
                workdir: Optional[str] = None, progress: Optional[Callable[[int, int], None]] = None,
                record_membrane: bool = False, channel_size: int = 4, steps: Optional[int] = None) -> RunResult:
    """Simulate ``samples`` on Lava and build predictions and the per-core ledger.

    ``steps``: time steps per input (default: the T the model was traced with)."""

    from .host import run_post, step_inputs
    from .simulate import simulate

    prog = retime(low.program, steps) if steps else low.program
    name = prog.step.inputs[0]
    full = tuple(prog.full_shapes[name])
    samples = np.asarray(samples)
    if samples.shape[1:] != full[1:]:
        if samples.shape == full[1:]:
            samples = samples[None]
        else:
            raise InputError(f"inputs have shape {samples.shape}; the model takes [N, {', '.join(map(str, full[1:]))}]")
    n = len(samples)
    inputs = step_inputs(prog, samples.astype(np.float64))
    if low.mode == "fixed":
        scale = low.step.meta["fixed"]["inputs"][name]
        inputs = {name: quantise_input(inputs[name], scale)}
    own_tmp = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="snncompile-run-")
    try:
        rec = simulate(low.plan, inputs, workdir, record_membrane=record_membrane, progress=progress,
                       channel_size=channel_size, T=prog.T)
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
    t0 = time.perf_counter()
    outs, host = run_post(prog, rec.readouts, n)
    host_s = time.perf_counter() - t0
    ledger = run_ledger(low.step, low.plan, low.limits, low.doc["readout_values"], rec, n, host)
    logits = np.concatenate([o[0].reshape(1, -1) for o in outs])
    pred = logits.argmax(1)
    acc = float((pred == np.asarray(labels[:n])).mean()) if labels is not None else None
    timing = {"images": n, "lava_steps": rec.lava_steps, "wall_s": rec.wall_s, "startup_s": rec.compile_s,
              "step_s": rec.step_s, "per_image_s": rec.step_s * prog.T, "host_post_s": host_s,
              "processes": low.plan.process_count}
    return RunResult(outs, pred, ledger, rec, timing, acc)
