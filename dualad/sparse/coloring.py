"""Column colouring: group structurally orthogonal columns so one direction serves a whole group.

Two columns may share a colour when no row has a nonzero in both (distance-1
colouring of the column intersection graph). Then ``J @ seed`` with
``seed[:, c] = 1`` on the columns of colour ``c`` holds every nonzero of
those columns untouched, and the Jacobian is read back entry by entry.
"""
from __future__ import annotations

import numpy as np

from ..errors import OptionError

__all__ = ["color_columns", "band_coloring", "greedy_coloring", "check_coloring", "bicolor", "check_bicoloring",
           "METHODS"]

METHODS = ("greedy", "natural", "largest_first", "band", "bicolor", "auto")


def _csr_parts(S):
    S = S.tocsr()
    return S.shape, S.indptr.astype(np.int64), S.indices.astype(np.int64)


def band_coloring(S) -> np.ndarray:
    """``j mod (l + u + 1)``, where ``l``/``u`` are the lower/upper bandwidths: optimal for full bands.

    >>> import scipy.sparse as sp
    >>> band_coloring(sp.diags([1, 1, 1], [-1, 0, 1], shape=(5, 5), dtype=float)).tolist()
    [0, 1, 2, 0, 1]
    """
    (m, n), indptr, indices = _csr_parts(S)
    if len(indices) == 0:
        return np.zeros(n, dtype=np.int64)
    rows = np.repeat(np.arange(m), np.diff(indptr))
    lower = max(0, int((rows - indices).max()))
    upper = max(0, int((indices - rows).max()))
    return np.arange(n, dtype=np.int64) % min(n, lower + upper + 1)


def greedy_coloring(S, order: str = "natural") -> np.ndarray:
    """Greedy distance-1 colouring of the columns, visited in ``order`` ("natural" or "largest_first").

    Each column takes the smallest colour no column sharing a row with it has
    taken yet. "largest_first" visits columns by decreasing degree in the
    column intersection graph.

    >>> import scipy.sparse as sp
    >>> greedy_coloring(sp.csr_matrix([[1, 1, 0], [0, 1, 1]])).tolist()
    [0, 1, 0]
    """
    if order not in ("natural", "largest_first"):
        raise ValueError(f"unknown order {order!r}; use 'natural' or 'largest_first'")
    return _greedy(_Graph(S), order)


#: Largest sum over rows of (nonzeros in the row)**2 for which neighbour lists are built.
_ADJACENCY_ENTRIES = 5e7


class _Graph:
    """The column intersection graph: neighbour lists when they fit, else reached through the rows."""

    def __init__(self, S):
        (self.m, self.n), self.indptr, self.indices = _csr_parts(S)
        lens = np.diff(self.indptr)
        self.adjacency = None
        if float((lens.astype(np.float64) ** 2).sum()) <= _ADJACENCY_ENTRIES:
            B = S.tocsr().astype(np.int32)
            C = (B.T @ B).tocsr()  # columns sharing a row (and each column itself)
            self.adjacency = (C.indptr, C.indices)

    def degrees(self) -> np.ndarray:
        if self.adjacency is not None:
            indptr, indices = self.adjacency
            rows = np.repeat(np.arange(self.n), np.diff(indptr))
            return np.diff(indptr) - np.bincount(rows[indices == rows], minlength=self.n)
        lens = np.diff(self.indptr)  # an upper bound: a neighbour counted once per shared row
        return np.bincount(self.indices, weights=lens[np.repeat(np.arange(self.m), lens)], minlength=self.n)

    def column_rows(self) -> tuple:
        order = np.argsort(self.indices, kind="stable")
        rows = np.repeat(np.arange(self.m), np.diff(self.indptr))[order]
        cptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.indices, minlength=self.n), out=cptr[1:])
        return cptr, rows


def _greedy(graph: _Graph, order: str) -> np.ndarray:
    n = graph.n
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    visit = range(n) if order == "natural" else np.argsort(-graph.degrees(), kind="stable").tolist()
    color = [-1] * n
    mark = [-1] * (n + 1)  # mark[c] == j: colour c is taken by a neighbour of column j
    if graph.adjacency is not None:
        aptr, adj = graph.adjacency[0].tolist(), graph.adjacency[1].tolist()
        for j in visit:
            for k in adj[aptr[j]:aptr[j + 1]]:
                c = color[k]
                if c >= 0:
                    mark[c] = j
            c = 0
            while mark[c] == j:
                c += 1
            color[j] = c
    else:
        cptr, crow = (a.tolist() for a in graph.column_rows())
        rptr, rcol = graph.indptr.tolist(), graph.indices.tolist()
        for j in visit:
            for i in crow[cptr[j]:cptr[j + 1]]:
                for k in rcol[rptr[i]:rptr[i + 1]]:
                    c = color[k]
                    if c >= 0:
                        mark[c] = j
            c = 0
            while mark[c] == j:
                c += 1
            color[j] = c
    return np.asarray(color, dtype=np.int64)


def check_coloring(S, colors: np.ndarray) -> bool:
    """True when no row has two nonzeros whose columns share a colour."""
    (m, n), indptr, indices = _csr_parts(S)
    colors = np.asarray(colors)
    if colors.shape != (n,):
        return False
    if len(indices) == 0:
        return True
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(indptr))
    key = np.sort(rows * (int(colors.max()) + 1) + colors[indices])
    return bool((key[1:] != key[:-1]).all())


def color_columns(S, method: str = "greedy") -> np.ndarray:
    """A colour per column of the pattern ``S`` (0, 1, ...), by ``method``.

    "greedy" tries the band colouring and greedy colouring in natural and in
    largest-first order and keeps the one with fewest colours (the band
    colouring alone when it already meets the lower bound, the largest
    number of nonzeros in a row).

    >>> import scipy.sparse as sp
    >>> color_columns(sp.eye(4)).tolist()
    [0, 0, 0, 0]
    """
    if method in ("bicolor", "auto"):
        raise ValueError(f"coloring={method!r} colours rows and columns together: call bicolor(S)")
    if method == "band":
        return band_coloring(S)
    if method in ("natural", "largest_first"):
        return greedy_coloring(S, method)
    if method != "greedy":
        raise OptionError(f"unknown colouring {method!r}; remedy: use one of {METHODS} or an array of colours")
    (m, n), indptr, indices = _csr_parts(S)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lower_bound = int(np.diff(indptr).max()) if m else 0
    best = band_coloring(S)
    if _count(best) <= max(1, lower_bound):
        return best
    graph = _Graph(S)
    for order in ("natural", "largest_first"):
        c = _greedy(graph, order)
        if _count(c) < _count(best):
            best = c
        if _count(best) <= lower_bound:
            break
    return best


def _count(colors: np.ndarray) -> int:
    return int(colors.max()) + 1 if len(colors) else 0


def _without_rows(S, rows: np.ndarray):
    """``S`` with the given rows emptied (same shape)."""
    keep = np.ones(S.shape[0], dtype=bool)
    keep[rows] = False
    S = S.tocsr()
    if not len(rows):
        return S
    lengths = np.where(keep, np.diff(S.indptr), 0)
    take = np.repeat(keep, np.diff(S.indptr))
    indptr = np.zeros(S.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return type(S)((np.ones(int(take.sum()), dtype=bool), S.indices[take], indptr), shape=S.shape)


def _row_colors(S, rows: np.ndarray) -> np.ndarray:
    """Colours of ``rows`` (-1 elsewhere): two rows that share a column never share a colour."""
    colors = np.full(S.shape[0], -1, dtype=np.int64)
    if len(rows):
        colors[rows] = color_columns(S.tocsr()[rows].T.tocsr(), "greedy")
    return colors


def bicolor(S, reverse_weight: float = 1.0) -> tuple:
    """Rows for reverse passes and colours for both modes: ``(column_colors, row_colors)``.

    A dense row forces one forward colour per column it touches; one reverse pass
    (a cotangent on that row) gets the whole row instead. So the densest rows are
    moved to reverse mode, one group at a time, while that lowers the number of
    passes (``forward colours + reverse_weight * reverse colours``): the remaining
    rows are column-coloured as usual, the moved rows are coloured so that rows of
    one colour share no column (their sum is one cotangent, each entry read back
    untouched). ``row_colors[i]`` is -1 for a row read from the forward passes.
    An arrow pattern (one dense row, one dense column, a diagonal) needs 2 forward
    and 1 reverse pass where column colouring alone needs n.

    >>> import numpy as np, scipy.sparse as sp
    >>> A = np.eye(6, dtype=bool); A[0, :] = A[:, 0] = True
    >>> cols, rows = bicolor(sp.csr_matrix(A))
    >>> int(cols.max()) + 1, int(rows.max()) + 1
    (2, 1)
    """
    S = S.tocsr()
    m, n = S.shape
    plain = color_columns(S, "greedy")
    best = (float(_count(plain)), plain, np.full(m, -1, dtype=np.int64))
    if m == 0 or n == 0:
        return best[1], best[2]
    lengths = np.diff(S.indptr)
    order = np.argsort(-lengths, kind="stable")
    tried = set()
    k = 1
    while k <= m:
        # moving rows no longer than the best pass count cannot remove enough forward colours
        if lengths[order[k - 1]] <= 1:
            break
        if k not in tried:
            tried.add(k)
            rows = order[:k]
            forward = color_columns(_without_rows(S, rows), "greedy")
            reverse = _row_colors(S, rows)
            cost = _count(forward) + reverse_weight * _count(reverse[rows])
            if cost < best[0]:
                best = (cost, forward, reverse)
        if lengths[order[k - 1]] < best[0] / 2:
            break
        k = k + 1 if k < 8 else 2 * k
    return best[1], best[2]


def check_bicoloring(S, column_colors: np.ndarray, row_colors: np.ndarray) -> bool:
    """True when every nonzero is read untouched: from its column's colour (rows with colour -1) or its row's."""
    S = S.tocsr()
    row_colors = np.asarray(row_colors)
    reverse = np.flatnonzero(row_colors >= 0)
    if not check_coloring(_without_rows(S, reverse), column_colors):
        return False
    if not len(reverse):
        return True
    R = S[reverse].T.tocsr()  # columns of the reverse rows, as rows
    return check_coloring(R, row_colors[reverse])
