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

from .availability import require_lava
from .plan import LavaPlan


@dataclass
class Recordings:
    """What a run recorded, mapped back to the IR's natural element order (rows = model steps)."""

    steps: int
    spikes: dict[str, np.ndarray] = field(default_factory=dict)  # neuron/pool unit -> [steps, n] uint8
    membranes: dict[str, np.ndarray] = field(default_factory=dict)  # neuron unit -> [steps, n] (H)
    attention_ops: dict[str, np.ndarray] = field(default_factory=dict)  # unit -> [steps, 2, heads]
    readouts: dict[str, np.ndarray] = field(default_factory=dict)  # readout value -> [steps, n]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # input unit -> [steps, n] (as sent)
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


def simulate(plan: LavaPlan, step_inputs: dict[str, np.ndarray], workdir: str, *, record_membrane: bool = False,
             channel_size: int = 4, progress: Optional[Callable[[int, int], None]] = None,
             chunk: Optional[int] = None, loglevel: int = logging.ERROR, T: Optional[int] = None) -> Recordings:
    """Run ``plan`` on ``step_inputs`` (graph input -> ``[steps, n]`` per-step vectors, natural order)."""
    require_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.sparse.process import Sparse

    from .procs.attention.process import SpikeAttention
    from .procs.delay.process import StepDelay
    from .procs.neuron.process import LIFStep
    from .procs.pool.process import SpikeMaxPool
    from .procs.readout.process import StepReadout
    from .procs.runtime import create
    from .procs.source.process import StepSource

    os.makedirs(workdir, exist_ok=True)
    steps = int(next(iter(step_inputs.values())).shape[0])
    T = T or plan.T
    fixed = plan.mode == "fixed"
    vdtype = np.int64 if fixed else np.float64
    recs: dict[str, tuple] = {}
    procs = {}
    for name, spec in plan.procs.items():
        p = dict(spec.params)
        safe = name.replace(":", "_").replace("/", "_")
        clock = {"T": T, "steps": steps, "lag": spec.lag}
        if spec.type == "source":
            data = np.ascontiguousarray(step_inputs[spec.unit][:, plan.emission[spec.unit]])
            data = data.astype(np.int32 if fixed else np.float64)
            path = os.path.join(workdir, f"{safe}.npy")
            np.save(path, data)
            procs[name] = StepSource(n=p["n"], data=path, name=name)
        elif spec.type == "sparse":
            kw = {k: v for k, v in p.items() if k not in ("weights", "num_message_bits")}
            procs[name] = Sparse(weights=p["weights"], num_message_bits=p["num_message_bits"], name=name, **kw)
        elif spec.type == "shared":
            from .procs.synapse.process import SharedSynapse

            procs[name] = SharedSynapse(name=name, **p)
        elif spec.type == "neuron":
            rec = recs[f"spikes:{spec.unit}"] = create(os.path.join(workdir, f"{safe}.spk"), (steps, p["n"]),
                                                      np.uint8)
            rec_v = None
            if record_membrane:
                rec_v = recs[f"v:{spec.unit}"] = create(os.path.join(workdir, f"{safe}.v"), (steps, p["n"]),
                                                        vdtype)
            procs[name] = LIFStep(n=p["n"], attrs=p.get("attrs"), bias=p.get("bias"), fixed=p.get("fixed"),
                                  rec=rec, rec_v=rec_v, name=name, **clock)
        elif spec.type == "pool":
            rec = recs[f"spikes:{spec.unit}"] = create(os.path.join(workdir, f"{safe}.spk"),
                                                      (steps, len(p["windows"])), np.uint8)
            procs[name] = SpikeMaxPool(n_in=p["n_in"], windows=p["windows"], rec=rec, name=name, **clock)
        elif spec.type == "attention":
            heads = p["shape_a"][0]
            rec = recs[f"ops:{spec.unit}"] = create(os.path.join(workdir, f"{safe}.ops"), (steps, 2, heads),
                                                   np.int64)
            kw = {k: v for k, v in p.items()}
            procs[name] = SpikeAttention(rec_ops=rec, name=name, **kw, **clock)
        elif spec.type == "delay":
            procs[name] = StepDelay(n=p["n"], taps=p["taps"], name=name)
        elif spec.type == "readout":
            rec = recs[f"readout:{name}"] = create(os.path.join(workdir, f"{safe}.out"),
                                                   (steps, p["G"].shape[0]), np.float64)
            procs[name] = StepReadout(n_in=p["n_in"], G=p["G"], c=p.get("c"), scale=p.get("scale", 1.0),
                                      rec=rec, name=name, **clock)
        else:  # pragma: no cover
            raise ValueError(spec.type)
    for c in plan.conns:
        getattr(procs[c.src], c.src_port).connect(getattr(procs[c.dst], c.dst_port))

    total = steps + plan.max_lag
    chunk = chunk or max(T, 1)
    cfg = Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt", loglevel=loglevel)
    anchor = next(iter(procs.values()))
    out = Recordings(steps, lava_steps=total)
    t0 = time.perf_counter()
    done = 0
    try:
        while done < total:
            k = min(chunk, total - done)
            anchor.run(condition=RunSteps(num_steps=k), run_cfg=cfg,
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

    def read(key):
        path, shape, dtype = recs[key]
        return np.array(np.memmap(path, mode="r", dtype=np.dtype(dtype), shape=shape))

    for key in recs:
        kind, _, unit = key.partition(":")
        if kind == "spikes":
            out.spikes[unit] = _natural(plan, unit, read(key))
        elif kind == "v":
            out.membranes[unit] = _natural(plan, unit, read(key))
        elif kind == "ops":
            out.attention_ops[unit] = read(key)
    for value, names in plan.readouts.items():
        out.readouts[value] = sum(read(f"readout:{n}") for n in names)
    for unit, data in step_inputs.items():
        out.inputs[unit] = data
    return out
