"""Exact linear maps between populations, as scipy sparse matrices (no Lava needed).

Between two units of a :class:`snncompile.loihi.network.Network` the IR only applies linear maps of one
operand and sums, so every port term is a matrix ``M`` (rows: the port value's elements, columns: the
producer's output elements, both in row-major order of the one-step shapes): the product of the chain's
``"affine"`` hooks (``snncompile.ops``; a move's map is found by running the op's own reference function
on an array of element indices, so it is exactly the op's semantics).  Weight layers give their synapse
matrix ``A`` (``y = A·x + b``) the same way, with a *structural* twin (every synapse 1, zero weights
included) for counting synaptic ops the way the reference executor does.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snncompile import ops
from snncompile.ir.graph import Graph, Node
from snncompile.ops.pool import pool_windows as _pool_windows

from .network import Term


def numel(graph: Graph, value: str) -> int:
    return int(np.prod(graph.values[value].shape)) if graph.values[value].shape else 1


def as_csr(m: ops.LinearMap) -> sp.csr_matrix:
    return sp.csr_matrix((m.data, (m.rows, m.cols)), shape=m.shape)


def term_matrix(graph: Graph, term: Term) -> sp.csr_matrix:
    """``M`` of a term: port value = M · producer output (``term.sign`` included)."""
    cur = term.value
    X = sp.identity(numel(graph, cur), format="csr", dtype=np.float64)
    for name in term.chain:
        node = graph.node(name)
        X = sp.csr_matrix(as_csr(ops.get(node.op).hook("affine")(graph, node, cur)) @ X)
        cur = node.outputs[0]
    return (X * term.sign).tocsr() if term.sign != 1.0 else X.tocsr()


def constant_vector(graph: Graph, term: Term) -> np.ndarray:
    """The value a constant term contributes to its port (flat): the chain's ops applied to the constant
    (a summation passes it on broadcast; its sign is the term's)."""
    arr = graph.constants[term.value].astype(np.float64)
    cur = term.value
    for name in term.chain:
        node = graph.node(name)
        out_shape = graph.values[node.outputs[0]].shape
        opdef = ops.get(node.op)
        if opdef.summation:
            arr = np.broadcast_to(arr, out_shape)
        else:
            args = [arr if v == cur else graph.constants[v].astype(np.float64) for v in node.inputs]
            arr = np.broadcast_to(opdef.reference(node, args, {})[0], out_shape)
        cur = node.outputs[0]
    return np.ascontiguousarray(np.broadcast_to(arr, graph.values[cur].shape)).reshape(-1) * term.sign


# -- weight layers ------------------------------------------------------------------------------------

def synapse_matrix(graph: Graph, node: Node, structural: bool = False) -> sp.csr_matrix:
    """``A`` with ``y = A·x + b`` (flat row-major), zero weights kept as explicit entries."""
    m = ops.get(node.op).hook("affine")(graph, node, node.inputs[0])
    if structural:
        m = ops.LinearMap(m.rows, m.cols, np.ones(m.rows.size), m.shape)
    return as_csr(m)


def synapse_bias(graph: Graph, node: Node) -> np.ndarray:
    """``b`` broadcast over the output (flat), zeros when the layer has none."""
    y = graph.values[node.outputs[0]].shape
    layer = ops.get(node.op).weight
    if len(node.inputs) <= layer.bias:
        return np.zeros(int(np.prod(y)))
    b = graph.constants[node.inputs[layer.bias]].astype(np.float64).reshape(-1)
    shape = [1] * len(y)
    shape[layer.channel_axis(len(y))] = -1
    return np.broadcast_to(b.reshape(shape), y).reshape(-1).copy()


def pool_windows(graph: Graph, node: Node) -> np.ndarray:
    """``[n_out, k]`` input indices of every output's window (−1 = padding), natural orders."""
    return _pool_windows(node, graph.values[node.inputs[0]].shape)


def is_selection(M: sp.csr_matrix) -> bool:
    """Every row reads exactly one column with weight 1."""
    M = M.tocsr()
    return bool(np.all(np.diff(M.indptr) == 1) and np.all(M.data == 1.0))


def is_permutation(M: sp.csr_matrix) -> bool:
    return M.shape[0] == M.shape[1] and is_selection(M) and np.unique(M.indices).size == M.shape[1]


def fingerprint(M: sp.csr_matrix) -> tuple:
    M = M.tocsr()
    M.sort_indices()
    return (M.shape, hash(M.indptr.tobytes()), hash(M.indices.tobytes()), hash(M.data.tobytes()))
