"""The fixed-point run of a quantised one-step graph (``snncompile.loihi.fixed.quantise``): the numpy
specification of the Lava ``fixed_pt`` run, on the reference executor's dispatch."""
from __future__ import annotations

import numpy as np

from snncompile import ops
from snncompile.ir.graph import Graph, Node
from snncompile.loihi.fixed import fixed_lif, quantise_input
from snncompile.loihi.registers import QuantisationError, shift
from snncompile.loihi.graded import fixed_neuron
from snncompile.loihi.split_weights import weight_planes

from .executor import ReferenceExecutor


# -- the fixed-point run -----------------------------------------------------------------------------------

class FixedStepExecutor:
    """Runs a fixed-point one-step graph step by step: the specification of the Lava ``fixed_pt`` run.

    Weight layers, neurons and spike matmuls use the semantics above; data moves, sums and pools use the
    ops' own reference functions on int64 arrays; readout values are dequantised."""

    def __init__(self, step: Graph):
        self.step = step
        outer = self
        self.states: dict[str, dict] = {}

        class _Ex(ReferenceExecutor):
            def run_node(self, graph, node, args, state):
                return outer.run_node(graph, node, args, super().run_node)

        self._ex = _Ex()

    def reset(self):
        self.states = {}

    def run_node(self, graph: Graph, node: Node, args, base):
        a = node.attrs
        opdef = ops.get(node.op)
        if a.get("fixed_operand_gain"):  # spikes entering a membrane: M·s·K/64 (loihi.fixed._scale_spike_terms)
            args = list(args)
            for i, q in a["fixed_operand_gain"]:
                args[i] = np.asarray(args[i]).astype(np.int64) * int(q)
        if opdef.weight is not None:
            x = np.asarray(args[0])
            gain = a.get("fixed_input_gain")  # means of spikes: n·x is the integer window sum
            x = np.round(x * gain).astype(np.int64) if gain is not None else x.astype(np.int64)
            out = None
            for plane in weight_planes(graph, node):  # a split layer: high and low synapses, summed
                w = (np.asarray(args[1]) if plane is node else graph.constants[plane.inputs[1]]).astype(np.int64)
                a_p = shift(base(graph, node, [x, w], {})[0], int(plane.attrs["fixed_exp"]))
                out = a_p if out is None else out + a_p
            return [out]
        if opdef.neuron is not None:
            st = self.states.setdefault(node.name, {})
            lif = fixed_neuron(fixed_lif(graph, node))  # LIFFixed, or ILIFFixed for graded spikes
            x = np.asarray(args[0]).astype(np.int64)
            v = st.get("v")
            if v is None:
                v = np.zeros(x.shape, dtype=np.int64)
            lif.bias = np.asarray(lif.bias).reshape(x.shape) if np.size(lif.bias) == x.size else lif.bias
            if np.ndim(getattr(lif, "vth", 0)):  # one threshold per neuron (per-element scales)
                lif.vth = np.asarray(lif.vth).reshape(x.shape)
            s, st["v"], st["h"] = lif.step(x, v)
            return [s] + ([st["v"]] if len(node.outputs) > 1 else [])
        if ops.is_dynamic_contraction(graph, node):
            out = np.matmul(np.asarray(args[0]).astype(np.int64), np.asarray(args[1]).astype(np.int64))
            if "fixed_mult" in a:
                out = out * int(a["fixed_mult"])
            return [out]
        if opdef.pooling == "max":  # exact on small integers; padding is -inf
            return [base(graph, node, [np.asarray(args[0], dtype=np.float64)], {})[0].astype(np.int64)]
        if opdef.pooling == "avg" or opdef.reduction == "mean":  # averages: readout side, real
            return base(graph, node, [np.asarray(x, dtype=np.float64) for x in args], {})
        if opdef.scale is not None and ops.scaled_operand(graph, node) is not None:  # products of spikes: exact
            raise QuantisationError(f"{node.location}: a constant scale left on the spike path cannot run in "
                                    f"fixed point (fold it first)")
        return base(graph, node, [np.asarray(x) for x in args], {})

    def run(self, inputs, *, record=()):
        """One step: ``inputs`` already quantised (integers).  Returns the executor's result."""
        fx = self.step.meta["fixed"]
        res = self._ex.run(self.step, [np.asarray(x, dtype=np.int64) for x in inputs], dtype=np.int64,
                           record=sorted(set(record) | set(self.step.outputs)))
        out = {}
        for v in self.step.outputs:
            arr = res.values[v] if v in res.values else res.outputs[self.step.outputs.index(v)]
            ro = fx["readouts"].get(v)
            if ro is not None:
                scale = np.asarray(ro["scale"], dtype=np.float64)
                arr = np.asarray(arr, dtype=np.float64) * (scale.reshape(arr.shape) if scale.ndim else scale) \
                    + np.asarray(ro["c"]).reshape(arr.shape)
            out[v] = arr
        return res, out


def run_fixed(program, fixed_step: Graph, samples: np.ndarray, *, record=(), record_membrane: bool = False):
    """Fixed-point run of ``samples`` through the step program (T steps each, then the post graph).

    Returns (per-image outputs, per-step recorded values {value: [images·T, ...]} — with
    ``record_membrane`` also ``'h:<neuron>'``: the membrane compared with the threshold —, readouts
    {value: rows})."""
    ex = FixedStepExecutor(fixed_step)
    scale = fixed_step.meta["fixed"]["inputs"]
    name = fixed_step.inputs[0]
    post_ex = ReferenceExecutor()
    lifs = [n.name for n in fixed_step.nodes if ops.get(n.op).neuron is not None] if record_membrane else []
    outs, rows, readouts = [], {v: [] for v in list(record) + [f"h:{n}" for n in lifs]}, \
        {v: [] for v in fixed_step.outputs}
    full = tuple(program.full_shapes[name])
    for i in range(len(samples)):
        ex.reset()
        x = np.asarray(samples[i:i + 1], dtype=np.float64).reshape(full)
        per_step = {v: [] for v in program.post.inputs}
        for t in range(program.T):
            xi = quantise_input(program.step_inputs([x], t)[0], scale[name])
            res, vals = ex.run([xi], record=record)
            for v in record:
                rows[v].append(np.asarray(res.values[v]))
            for n in lifs:
                rows[f"h:{n}"].append(np.asarray(ex.states[n]["h"]))
            for v in fixed_step.outputs:
                readouts[v].append(vals[v].reshape(-1))
            for v in program.post.inputs:
                per_step[v].append(vals[v])
        outs.append(post_ex.run(program.post, program.stack(per_step), dtype=np.float64).outputs)
    return outs, {v: np.stack(r) for v, r in rows.items()}, {v: np.stack(r) for v, r in readouts.items()}
