"""The host side of a run: per-step input vectors, and the post-time-loop graph on the readouts."""
from __future__ import annotations

from typing import Optional

import numpy as np

from snncompile.analysis import infer_domains
from snncompile.backends.reference import ReferenceExecutor
from snncompile.backends.reference.counts import counted, mac_count, node_counts
from snncompile.ir.domain import Domain
from snncompile.passes.time import StepProgram


def step_inputs(program: StepProgram, samples: np.ndarray, *, input_name: Optional[str] = None) -> dict:
    """``{graph input: [images·T, n]}``: each sample's per-step input vectors (natural order)."""
    name = input_name or program.step.inputs[0]
    if len(program.step.inputs) != 1:
        raise ValueError("models with several inputs are not supported by the Lava runner")
    rows = []
    full = tuple(program.full_shapes[name])
    for i in range(len(samples)):
        x = np.asarray(samples[i:i + 1], dtype=np.float64)
        if x.shape != full:
            x = x.reshape(full)
        for t in range(program.T):
            rows.append(program.step_inputs([x], t)[0].reshape(-1))
    return {name: np.stack(rows)}


def run_post(program: StepProgram, readouts: dict, images: int, *, count: bool = True):
    """Logits (graph outputs computed after the time loop) per image, and the host's op counts."""

    ex = ReferenceExecutor()
    T = program.T
    outs = []
    host: dict = {}

    def hook(node, args, res):
        if count and counted(program.post, node):
            c = node_counts(program.post, node, args, res)
            h = host.setdefault(f"host:{node.name}", {"synaptic_ops": 0, "kind": c.kind, "module": node.module,
                                                     "macs": 0})
            h["synaptic_ops"] += c.synaptic_ops
            if c.kind == "mac":  # the MAC convention (backends.reference.counts.mac_count)
                h["macs"] += mac_count(program.post, node)

    if any(v.domain is None for v in program.post.values.values() if not v.constant):
        for name in program.post.inputs:
            if program.post.values[name].domain is None:
                program.post.values[name].domain = Domain.real()
        infer_domains(program.post)
    for i in range(images):
        per_step = {}
        for v in program.post.inputs:
            shape = program.step.values[v].shape
            per_step[v] = [readouts[v][i * T + t].reshape(shape) for t in range(T)]
        res = ex.run(program.post, program.stack(per_step), dtype=np.float64, hooks=[hook])
        outs.append([np.asarray(o) for o in res.outputs])
    return outs, host
