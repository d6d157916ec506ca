"""Rounding a weight layer onto its integer grid so that the currents, not the single weights, come out closest.

A weight row ``w`` (one output channel, in grid units) is rounded to integers ``q`` in ``[lo, hi]``.  What its
neurons see is the current error ``ε = (q − w)·x`` on the vectors ``x`` the row multiplies (a token, or a
convolution window: the op's ``patches`` hook).  Over calibration inputs, with ``H = E[x xᵀ]``,

    E[ε²] = (q − w)ᵀ H (q − w).

Round-to-nearest minimises every ``|q_j − w_j|`` but ignores ``H``.  *Sequential rounding with error feedback*
(Optimal Brain Quantization; GPTQ, Frantar et al., ICLR 2023) rounds one weight at a time and moves its error
onto the weights not yet rounded, by the least-squares correction given ``H``: with ``U`` the upper Cholesky
factor of ``H⁻¹``, after rounding weight ``j``

    w_{>j} ← w_{>j} − ((w_j − q_j) / U_jj) · U_{j,>j},

which keeps ``E[ε²]`` of the remaining problem minimal.  Weights are taken in decreasing order of ``H_jj``
(the inputs that are active most often first); ``H`` is damped by ``DAMPING``·mean(diag H) (a calibration set
does not pin every direction); an input never active in calibration (``H_jj = 0``) takes no correction and is
rounded to nearest; a weight that is exactly zero stays zero (a pruned synapse is not revived).  Rows are
independent problems (one ``H`` per weight group), so per-channel scales of the row do not change the result.
Values outside ``[lo, hi]`` are clipped.
"""
from __future__ import annotations

import numpy as np

DAMPING = 0.01
BLOCK = 128  # columns corrected together before the rest of the row is updated (same result, fewer passes)


def second_moment(patches: np.ndarray) -> np.ndarray:
    """``Σ x xᵀ`` per group of ``patches`` [groups, N, n] (unnormalised; scale does not matter)."""
    p = np.asarray(patches, dtype=np.float64)
    return np.matmul(p.transpose(0, 2, 1), p)


def row_groups(rows: np.ndarray, groups: int) -> list[np.ndarray]:
    """The rows ``[O, n]`` of a weight layer split by weight group: group ``g`` holds rows ``g·O/groups`` up to
    ``(g+1)·O/groups − 1`` (the rows that multiply the ``g``-th ``patches`` group)."""
    per = rows.shape[0] // groups
    return [rows[g * per:(g + 1) * per] for g in range(groups)]


def compensated_round(w: np.ndarray, H: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Integers ``q`` in ``[lo, hi]`` for the rows of ``w`` [rows, n] (grid units) that minimise, row by row and
    one weight at a time, ``(q − w)ᵀ H (q − w)`` (the module's algorithm); ``H`` [n, n] symmetric ≥ 0."""
    w = np.asarray(w, dtype=np.float64)
    rows, n = w.shape
    H = np.array(H, dtype=np.float64)
    d = np.diag(H).copy()
    dead = d <= 0
    if dead.all():
        return np.clip(np.round(w), lo, hi)
    H[dead, :] = 0.0
    H[:, dead] = 0.0
    H[dead, dead] = 1.0
    H[np.diag_indices(n)] += DAMPING * float(d[~dead].mean())
    order = np.argsort(-d, kind="stable")
    inv = np.argsort(order)
    W = w[:, order].copy()
    zero = W == 0.0
    U = np.linalg.cholesky(np.linalg.inv(H[np.ix_(order, order)])).T
    Q = np.zeros_like(W)
    for b0 in range(0, n, BLOCK):
        b1 = min(b0 + BLOCK, n)
        err = np.zeros((rows, b1 - b0))
        for j in range(b0, b1):
            q = np.where(zero[:, j], 0.0, np.clip(np.round(W[:, j]), lo, hi))
            Q[:, j] = q
            e = (W[:, j] - q) / U[j, j]
            err[:, j - b0] = e
            W[:, j + 1:b1] -= np.outer(e, U[j, j + 1:b1])
        W[:, b1:] -= err @ U[b0:b1, b1:]
    return Q[:, inv]


def current_rel_error(w_q: np.ndarray, w: np.ndarray, moments: np.ndarray) -> float:
    """The layer's RMS current error relative to its RMS current over the calibration inputs:
    ``√(Σ_rows (w_q − w)ᵀ H (w_q − w) / Σ_rows wᵀ H w)``, rows ``w[o].reshape(-1)`` of group ``o // (rows/groups)``
    using that group's ``H`` (``moments`` [groups, n, n])."""
    d = (np.asarray(w_q, dtype=np.float64) - w).reshape(w.shape[0], -1)
    r = np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1)

    def energy(rows):
        return sum(float(np.einsum("oi,ij,oj->", x, H, x)) for x, H in zip(row_groups(rows, len(moments)), moments))

    ref = energy(r)
    return float(np.sqrt(energy(d) / ref)) if ref > 0 else 0.0
