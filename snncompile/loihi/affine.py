"""Exact linear maps between populations, as scipy sparse matrices (no Lava needed).

Between two units of a :class:`snncompile.loihi.network.Network` the IR only moves, sums, scales or
(linearly) reduces values, so every port term is a matrix ``M`` (rows: the port value's elements, columns:
the producer's output elements, both in row-major order of the one-step shapes).  A move's matrix is
found by running the op's own reference function on an array of element indices, so it is exactly the
op's semantics.  Weight layers give their synapse matrix ``A`` (``y = A·x + b``), with a *structural*
twin (every synapse 1, zero weights included) for counting synaptic ops the way the reference executor
does.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from snncompile import ops
from snncompile.ir.graph import Graph, Node
from snncompile.ops.pool import pool_nd

from .network import MOVES, REDUCES, SCALES, SUMS, Term


def numel(graph: Graph, value: str) -> int:
    return int(np.prod(graph.values[value].shape)) if graph.values[value].shape else 1


def _move_rows(graph: Graph, node: Node, in_value: str) -> np.ndarray:
    """Row selection of a data move (or a broadcasting operand of a sum/scale): for each output element,
    the input element it reads."""
    shape = graph.values[in_value].shape
    idx = np.arange(int(np.prod(shape)) if shape else 1, dtype=np.int64).reshape(shape)
    out_shape = graph.values[node.outputs[0]].shape
    if node.op in MOVES:
        out = ops.get(node.op).reference(node, [idx], {})[0]
    else:
        out = np.broadcast_to(idx, out_shape)
    return np.ascontiguousarray(out).reshape(-1)


def _reduce_matrix(graph: Graph, node: Node, in_value: str) -> sp.csr_matrix:
    shape = graph.values[in_value].shape
    dims = node.attrs.get("dims")
    dims = list(range(len(shape))) if dims is None else [d % len(shape) for d in dims]
    kept = tuple(1 if i in dims else s for i, s in enumerate(shape))
    n_out = int(np.prod(kept))
    rows = np.broadcast_to(np.arange(n_out).reshape(kept), shape).reshape(-1)
    n_in = rows.size
    count = n_in // n_out
    data = np.full(n_in, 1.0 / count if node.op == "mean" else 1.0)
    return sp.csr_matrix((data, (rows, np.arange(n_in))), shape=(n_out, n_in))


def term_matrix(graph: Graph, term: Term) -> sp.csr_matrix:
    """``M`` of a term: port value = M · producer output (``term.sign`` included)."""
    cur = term.value
    n = numel(graph, cur)
    X = sp.identity(n, format="csr", dtype=np.float64)
    for name in term.chain:
        node = graph.node(name)
        if node.op in MOVES or node.op in SUMS:
            X = X[_move_rows(graph, node, cur)]
        elif node.op in SCALES:
            c = graph.constants[node.inputs[1] if node.inputs[0] == cur else node.inputs[0]].astype(np.float64)
            f = np.broadcast_to(1.0 / c if node.op == "div" else c, graph.values[node.outputs[0]].shape)
            X = sp.diags(np.ascontiguousarray(f).reshape(-1)) @ X[_move_rows(graph, node, cur)]
        elif node.op in REDUCES:
            X = _reduce_matrix(graph, node, cur) @ X
        else:  # pragma: no cover - network.py admits only the ops above
            raise ValueError(f"{node.location}: not a linear move")
        cur = node.outputs[0]
        X = sp.csr_matrix(X)
    return (X * term.sign).tocsr() if term.sign != 1.0 else X.tocsr()


def constant_vector(graph: Graph, term: Term) -> np.ndarray:
    """The value a constant term contributes to its port (flat)."""
    arr = graph.constants[term.value].astype(np.float64)
    cur = term.value
    for name in term.chain:
        node = graph.node(name)
        out_shape = graph.values[node.outputs[0]].shape
        if node.op in MOVES:
            arr = ops.get(node.op).reference(node, [arr], {})[0]
        elif node.op in SUMS:
            arr = np.broadcast_to(arr, out_shape)
        elif node.op in SCALES:
            other = node.inputs[1] if node.inputs[0] == cur else node.inputs[0]
            c = graph.constants[other].astype(np.float64)
            arr = arr / c if node.op == "div" else arr * c
            arr = np.broadcast_to(arr, out_shape)
        elif node.op in REDUCES:
            arr = ops.get(node.op).reference(node, [arr], {})[0]
        cur = node.outputs[0]
    return np.ascontiguousarray(np.broadcast_to(arr, graph.values[cur].shape)).reshape(-1) * term.sign


# -- weight layers ------------------------------------------------------------------------------------

def synapse_matrix(graph: Graph, node: Node, structural: bool = False) -> sp.csr_matrix:
    """``A`` with ``y = A·x + b`` (flat row-major), zero weights kept as explicit entries."""
    x = graph.values[node.inputs[0]].shape
    y = graph.values[node.outputs[0]].shape
    w = graph.constants[node.inputs[1]].astype(np.float64)
    if node.op == "linear":
        tok = int(np.prod(x[:-1]))
        c_out, c_in = w.shape
        t, o, i = np.meshgrid(np.arange(tok), np.arange(c_out), np.arange(c_in), indexing="ij")
        rows = (t * c_out + o).reshape(-1)
        cols = (t * c_in + i).reshape(-1)
        data = np.ones(rows.size) if structural else np.broadcast_to(w[None], (tok, c_out, c_in)).reshape(-1)
        return sp.csr_matrix((data, (rows, cols)), shape=(int(np.prod(y)), int(np.prod(x))))
    if node.op in ("conv1d", "conv2d"):
        a = node.attrs
        nd = w.ndim - 2
        groups = int(a.get("groups", 1))
        if nd == 1:  # treat as 2-D with height 1
            x, y = (x[0], x[1], 1, x[2]), (y[0], y[1], 1, y[2])
            w = w[:, :, None, :]
            stride, pad, dil = [1, a["stride"][0]], [0, a["padding"][0]], [1, a["dilation"][0]]
        else:
            stride, pad, dil = list(a["stride"]), list(a["padding"]), list(a["dilation"])
        B, C_in, H, W = x
        _, C_out, Ho, Wo = y
        og, cg = C_out // groups, C_in // groups
        kh, kw = w.shape[2], w.shape[3]
        b, o, ho, wo, ci, i, j = np.meshgrid(np.arange(B), np.arange(C_out), np.arange(Ho), np.arange(Wo),
                                             np.arange(cg), np.arange(kh), np.arange(kw), indexing="ij",
                                             sparse=True)
        hi = ho * stride[0] - pad[0] + i * dil[0]
        wi = wo * stride[1] - pad[1] + j * dil[1]
        c = (o // og) * cg + ci
        shape = np.broadcast_shapes(b.shape, o.shape, ho.shape, wo.shape, ci.shape, i.shape, j.shape)
        valid = np.broadcast_to((hi >= 0) & (hi < H) & (wi >= 0) & (wi < W), shape)
        rows = np.broadcast_to(((b * C_out + o) * Ho + ho) * Wo + wo, shape)[valid]
        cols = np.broadcast_to(((b * C_in + c) * H + np.clip(hi, 0, H - 1)) * W + np.clip(wi, 0, W - 1),
                               shape)[valid]
        if structural:
            data = np.ones(rows.size)
        else:
            data = np.broadcast_to(w[o, ci, i, j], shape)[valid]
        return sp.csr_matrix((data, (rows, cols)), shape=(B * C_out * Ho * Wo, B * C_in * H * W))
    raise ValueError(f"{node.location}: not a weight layer")


def synapse_bias(graph: Graph, node: Node) -> np.ndarray:
    """``b`` broadcast over the output (flat), zeros when the layer has none."""
    y = graph.values[node.outputs[0]].shape
    if len(node.inputs) < 3:
        return np.zeros(int(np.prod(y)))
    b = graph.constants[node.inputs[2]].astype(np.float64).reshape(-1)
    if node.op == "linear":
        return np.broadcast_to(b, y).reshape(-1).copy()
    shape = (1, -1) + (1,) * (len(y) - 2)
    return np.broadcast_to(b.reshape(shape), y).reshape(-1).copy()


def pool_windows(graph: Graph, node: Node) -> np.ndarray:
    """``[n_out, k]`` input indices of every output's window (−1 = padding), natural orders."""
    x = graph.values[node.inputs[0]].shape
    a = node.attrs
    idx = np.arange(int(np.prod(x)), dtype=np.float64).reshape(x)
    nd = len(a["kernel"])

    cols = []

    def grab(win, axis):
        cols.append(win.reshape(win.shape[: win.ndim - nd] + (-1,)))
        return win[(Ellipsis,) + (0,) * nd]

    pool_nd(idx, a["kernel"], a["stride"], a["padding"], a.get("dilation", [1] * nd), a.get("ceil_mode", False),
            grab, -1.0)
    win = cols[0]
    return win.reshape(-1, win.shape[-1]).astype(np.int64)


def is_selection(M: sp.csr_matrix) -> bool:
    """Every row reads exactly one column with weight 1."""
    M = M.tocsr()
    return bool(np.all(np.diff(M.indptr) == 1) and np.all(M.data == 1.0))


def is_permutation(M: sp.csr_matrix) -> bool:
    return M.shape[0] == M.shape[1] and is_selection(M) and np.unique(M.indices).size == M.shape[1]


def same_matrix(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    if a.shape != b.shape:
        return False
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    return (np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data, b.data))


def fingerprint(M: sp.csr_matrix) -> tuple:
    M = M.tocsr()
    M.sort_indices()
    return (M.shape, hash(M.indptr.tobytes()), hash(M.indices.tobytes()), hash(M.data.tobytes()))
