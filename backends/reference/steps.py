"""Running a step program (``snncompile.passes.time.StepProgram``) with the reference executor: T calls of
the one-step graph with neuron state kept between calls, then the post graph once on the stacked steps.
Its result equals a run of the full graph (tests/passes checks this)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from snncompile.ir.graph import Graph
from snncompile.passes.time import StepProgram

from .executor import ReferenceExecutor


@dataclass
class StepRun:
    outputs: list[np.ndarray]
    steps: dict[str, list[np.ndarray]]  # value -> one array per step


class StepExecutor:
    """The reference executor with neuron state that persists across calls (one call = one step)."""

    def __init__(self):
        outer = self

        class _Ex(ReferenceExecutor):
            def run_node(self, graph, node, args, state):
                key = node.attrs.get("state_key") or node.name
                return super().run_node(graph, node, args, outer.states.setdefault(key, {}))

        self._ex = _Ex()
        self.states: dict[str, dict] = {}

    def reset(self) -> None:
        self.states = {}

    def run(self, graph: Graph, inputs, **kw):
        return self._ex.run(graph, inputs, **kw)


def run_steps(program: StepProgram, inputs: Sequence[np.ndarray], *, dtype=np.float64, record: Sequence[str] = (),
              executor: Optional[StepExecutor] = None) -> StepRun:
    """Run the T steps and then the post graph with the reference executor's op dispatch."""
    ex = executor or StepExecutor()
    ex.reset()
    want = set(program.post.inputs) | set(record) | {o for o, where in program.outputs if where == "step"}
    per_step: dict[str, list[np.ndarray]] = {v: [] for v in want}
    for t in range(program.T):
        res = ex.run(program.step, program.step_inputs(inputs, t), dtype=dtype, record=sorted(want))
        for v in want:
            per_step[v].append(res.values[v] if v in res.values else res.outputs[program.step.outputs.index(v)])
    post_out = ex.run(program.post, program.stack(per_step), dtype=dtype).outputs if program.post.nodes else []
    outs = []
    for name, where in program.outputs:
        if where == "post":
            outs.append(post_out[program.post.outputs.index(name)])
        else:
            outs.append(np.concatenate(per_step[name], axis=program.boundary[name].axis)
                        if name in program.boundary else per_step[name][-1])
    return StepRun(outs, per_step)
