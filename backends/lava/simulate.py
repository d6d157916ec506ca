"""Instantiate a :class:`~.plan.LavaPlan` as Lava processes and simulate it on CPU (``Loihi2SimCfg``).

Images run back to back (``T`` model steps each, pipelined: see ``procs.runtime``); the run lasts
``images·T + depth`` Lava steps.  Spike trains, membranes, op counts and readout values come back
through memory-mapped recording files (never through ``Var.get``).  Lava is imported here only.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from snncompile.errors import InputError

from .availability import require_lava
from .plan import LavaPlan
from .readouts import per_step_from_totals


@dataclass
class Recordings:
    """What a run recorded, mapped back to the IR's natural element order (rows = model steps)."""

    steps: int
    spikes: dict[str, np.ndarray] = field(default_factory=dict)  # neuron/pool unit -> [steps, n] (graded: payloads)
    membranes: dict[str, np.ndarray] = field(default_factory=dict)  # neuron unit -> [steps, n] (H)
    attention_ops: dict[str, np.ndarray] = field(default_factory=dict)  # unit -> [steps, 2, heads]
    readouts: dict[str, np.ndarray] = field(default_factory=dict)  # readout value -> [steps, n]
    integrals: dict[str, np.ndarray] = field(default_factory=dict)  # on-chip integrator -> [images, n] (its sums)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # input unit -> [steps, n] (as sent)
    currents: dict[str, np.ndarray] = field(default_factory=dict)  # max-pool of currents -> [steps, n] (its output)
    wall_s: float = 0.0
    lava_steps: int = 0
    compile_s: float = 0.0  # the first chunk: compilation, process start-up and its steps
    first_chunk_steps: int = 0

    @property
    def step_s(self) -> float:
        """Mean wall time of one Lava step after the first chunk (NaN if there was only one chunk)."""
        rest = self.lava_steps - self.first_chunk_steps
        return (self.wall_s - self.compile_s) / rest if rest > 0 else float("nan")


def _natural(plan: LavaPlan, unit: str, arr: np.ndarray) -> np.ndarray:
    e = plan.emission[unit]
    out = np.empty_like(arr)
    out[:, e] = arr
    return out


@dataclass
class _Build:
    """What the process builders share: where recordings go, the run's length and arithmetic, Lava's classes."""

    plan: LavaPlan
    step_inputs: dict
    workdir: str
    steps: int
    T: int
    record_membrane: bool
    lava: dict
    recs: dict = field(default_factory=dict)

    @property
    def fixed(self) -> bool:
        return self.plan.mode == "fixed"

    def record(self, key: str, name: str, suffix: str, shape: tuple, dtype):
        self.recs[key] = self.lava["create"](os.path.join(self.workdir, f"{_safe(name)}.{suffix}"), shape, dtype)
        return self.recs[key]


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("/", "_")


def _lava_classes() -> dict:
    """Lava and this backend's process classes (imported here only: Lava is optional)."""
    require_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.sparse.process import Sparse

    from .procs.attention.process import SpikeAttention
    from .procs.delay.process import StepDelay
    from .procs.neuron.graded import GradedStep
    from .procs.neuron.process import LIFStep
    from .procs.pool.process import SpikeMaxPool
    from .procs.readout.process import StepReadout
    from .procs.runtime import create
    from .procs.source.process import StepSource
    from .procs.synapse.process import SharedSynapse

    return dict(RunSteps=RunSteps, Loihi2SimCfg=Loihi2SimCfg, Sparse=Sparse, SpikeAttention=SpikeAttention,
                StepDelay=StepDelay, LIFStep=LIFStep, GradedStep=GradedStep, SpikeMaxPool=SpikeMaxPool,
                StepReadout=StepReadout, create=create, StepSource=StepSource, SharedSynapse=SharedSynapse)


def _source(b: _Build, name, spec, p, clock):
    data = np.ascontiguousarray(b.step_inputs[spec.unit][:, b.plan.emission[spec.unit]])
    path = os.path.join(b.workdir, f"{_safe(name)}.npy")
    np.save(path, data.astype(np.int32 if b.fixed else np.float64))
    return b.lava["StepSource"](n=p["n"], data=path, name=name)


def _sparse(b: _Build, name, spec, p, clock):
    kw = {k: v for k, v in p.items() if k not in ("weights", "num_message_bits")}
    return b.lava["Sparse"](weights=p["weights"], num_message_bits=p["num_message_bits"], name=name, **kw)


def _shared(b: _Build, name, spec, p, clock):
    return b.lava["SharedSynapse"](name=name, **p)


def _neuron(b: _Build, name, spec, p, clock):
    rec = b.record(f"spikes:{spec.unit}", name, "spk", (b.steps, p["n"]), np.uint8)
    rec_v = b.record(f"v:{spec.unit}", name, "v", (b.steps, p["n"]), np.int64 if b.fixed else np.float64) \
        if b.record_membrane else None
    return b.lava["LIFStep"](n=p["n"], attrs=p.get("attrs"), bias=p.get("bias"), fixed=p.get("fixed"), rec=rec,
                             rec_v=rec_v, name=name, **clock)


def _graded(b: _Build, name, spec, p, clock):
    dtype = np.uint8 if p["max_spike"] <= np.iinfo(np.uint8).max else np.int32
    rec = b.record(f"spikes:{spec.unit}", name, "spk", (b.steps, p["n"]), dtype)
    rec_v = b.record(f"v:{spec.unit}", name, "v", (b.steps, p["n"]), np.int64 if b.fixed else np.float64) \
        if b.record_membrane else None
    return b.lava["GradedStep"](n=p["n"], op=p["op"], attrs=p.get("attrs"), bias=p.get("bias"), fixed=p.get("fixed"),
                                rec=rec, rec_v=rec_v, name=name, **clock)


def _pool(b: _Build, name, spec, p, clock):
    currents = p.get("bias") is not None  # a pool of synaptic currents (plan._current_pool): its values, no spikes
    rec = b.record(f"currents:{spec.unit}", name, "cur", (b.steps, len(p["windows"])), np.int32 if b.fixed
                   else np.float64) if currents else \
        b.record(f"spikes:{spec.unit}", name, "spk", (b.steps, len(p["windows"])), np.uint8)
    return b.lava["SpikeMaxPool"](n_in=p["n_in"], windows=p["windows"], bias=p.get("bias"), pad=p.get("pad", 0.0),
                                  rec=rec, name=name, **clock)


def _attention(b: _Build, name, spec, p, clock):
    rec = b.record(f"ops:{spec.unit}", name, "ops", (b.steps, 2, p["shape_a"][0]), np.int64)
    return b.lava["SpikeAttention"](rec_ops=rec, name=name, **p, **clock)


def _delay(b: _Build, name, spec, p, clock):
    return b.lava["StepDelay"](n=p["n"], taps=p["taps"], name=name)


def _readout(b: _Build, name, spec, p, clock):
    rec = b.record(f"readout:{name}", name, "out", (b.steps, p["G"].shape[0]), np.float64)
    return b.lava["StepReadout"](n_in=p["n_in"], G=p["G"], c=p.get("c"), scale=p.get("scale", 1.0), rec=rec,
                                 name=name, **clock)


_BUILDERS = {"source": _source, "sparse": _sparse, "shared": _shared, "neuron": _neuron, "pool": _pool,
             "attention": _attention, "delay": _delay, "readout": _readout, "graded": _graded}
"""Process spec type -> the function that builds its Lava process."""


def _integrator(b: _Build, name, spec, p, clock):
    """A readout on chip (``readouts.place_readouts``): one recorded row per image."""
    from .procs.integrator.process import StepIntegrator

    if b.fixed and b.T > p["max_steps"]:
        raise InputError(f"{name}: {b.T} steps per input may overflow the integrator's 24-bit sum (at most "
                         f"{p['max_steps']} fit; lower again with --readout host)")
    rec = b.record(f"integral:{name}", name, "sum", (b.steps // b.T, p["G"].shape[0]),
                   np.int64 if b.fixed else np.float64)
    return StepIntegrator(n_in=p["n_in"], G=p["G"], c=None if b.fixed else p.get("c"), rec=rec, name=name,
                          **clock)


_BUILDERS["integrator"] = _integrator


def simulate(plan: LavaPlan, step_inputs: dict[str, np.ndarray], workdir: str, *, record_membrane: bool = False,
             channel_size: int = 4, progress: Optional[Callable[[int, int], None]] = None,
             chunk: Optional[int] = None, loglevel: int = logging.ERROR, T: Optional[int] = None) -> Recordings:
    """Run ``plan`` on ``step_inputs`` (graph input -> ``[steps, n]`` per-step vectors, natural order)."""
    os.makedirs(workdir, exist_ok=True)
    steps = int(next(iter(step_inputs.values())).shape[0])
    b = _Build(plan, step_inputs, workdir, steps, T or plan.T, record_membrane, _lava_classes())
    procs = {}
    for name, spec in plan.procs.items():
        clock = {"T": b.T, "steps": steps, "lag": spec.lag}
        procs[name] = _BUILDERS[spec.type](b, name, spec, dict(spec.params), clock)
    for c in plan.conns:
        getattr(procs[c.src], c.src_port).connect(getattr(procs[c.dst], c.dst_port))
    out = Recordings(steps, lava_steps=steps + plan.max_lag)
    _run(b, next(iter(procs.values())), out, chunk or max(b.T, 1), channel_size, loglevel, progress)
    _collect(b, out)
    return out


def _run(b: _Build, anchor, out: Recordings, chunk: int, channel_size: int, loglevel: int, progress) -> None:
    """Run the connected processes for ``out.lava_steps`` steps in chunks, timing the first (compilation)."""
    cfg = b.lava["Loihi2SimCfg"](select_tag="fixed_pt" if b.fixed else "floating_pt", loglevel=loglevel)
    total = out.lava_steps
    t0 = time.perf_counter()
    done = 0
    try:
        while done < total:
            k = min(chunk, total - done)
            anchor.run(condition=b.lava["RunSteps"](num_steps=k), run_cfg=cfg,
                       compile_config={"pypy_channel_size": channel_size})
            if done == 0:
                out.compile_s = time.perf_counter() - t0
                out.first_chunk_steps = k
            done += k
            if progress:
                progress(done, total)
    finally:
        anchor.stop()
    out.wall_s = time.perf_counter() - t0


def _collect(b: _Build, out: Recordings) -> None:
    """Read the recording files back into ``out`` in the IR's natural element order."""

    def read(key):
        path, shape, dtype = b.recs[key]
        return np.array(np.memmap(path, mode="r", dtype=np.dtype(dtype), shape=shape))

    for key in b.recs:
        kind, _, unit = key.partition(":")
        if kind == "spikes":
            out.spikes[unit] = _natural(b.plan, unit, read(key))
        elif kind == "v":
            out.membranes[unit] = _natural(b.plan, unit, read(key))
        elif kind == "ops":
            out.attention_ops[unit] = read(key)
        elif kind == "currents":
            out.currents[unit] = _natural(b.plan, unit, read(key))
    for key in b.recs:
        if key.startswith("integral:"):
            out.integrals[key.partition(":")[2]] = read(key)
    for value, names in b.plan.readouts.items():
        out.readouts[value] = sum(read(f"readout:{n}") if f"readout:{n}" in b.recs
                                  else per_step_from_totals(out.integrals[n], b.T, b.plan.procs[n].params)
                                  for n in names)
    for unit, data in b.step_inputs.items():
        out.inputs[unit] = data
