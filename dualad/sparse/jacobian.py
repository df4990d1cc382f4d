"""Sparse Jacobians: detect the pattern, colour the columns, evaluate once with one direction per colour."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..arraylike import ArrayLike
from ..dual import Dual, new_tag
from ..lifetime import finish_tag
from ..errors import DualadError, InputError, OutputError, describe
from ..forward import as_input, split_output
from . import tracer
from .coloring import check_coloring, color_columns
from .plot import as_pattern, plot_pattern

__all__ = ["jacobian_sparsity", "sparse_jacobian", "SparseJacobian", "MissingDependencyError"]


class MissingDependencyError(DualadError, ImportError):
    """An optional dependency needed by this function is not installed."""


def _scipy_sparse():
    """``scipy.sparse``, imported only when a sparse function runs."""
    try:
        import scipy.sparse as sp
    except ImportError as err:
        raise MissingDependencyError(
            "sparse Jacobians return scipy.sparse matrices, and scipy is not installed; "
            "remedy: pip install dualad[scipy]") from err
    return sp


def _point(x, what: str = "x") -> np.ndarray:
    x = as_input(x, what)
    if isinstance(x, ArrayLike):
        raise InputError(f"{what} is a differentiable value ({describe(x)}); sparse Jacobians do not nest inside another "
                         "differentiation; remedy: call them on plain arrays")
    return x


def jacobian_sparsity(f: Callable, x: Any):
    """The structural nonzero pattern of the Jacobian of ``f`` at ``x``, as a boolean ``scipy.sparse.csr_matrix``.

    Shape ``(m, n)``: rows are the flattened (C order) outputs, columns the
    flattened inputs. ``f`` runs once on dependency-tracking values that go
    through dualad's rule table (see :mod:`dualad.sparse.dispatch`). The pattern
    contains every entry that can be nonzero *at this x*: ``np.where`` and
    ``max``/``min`` keep all candidates, but Python branches on values
    (``if x[0] > 0``), value-derived indices and ``np.sort`` follow ``x``, and
    can give another pattern elsewhere. Linear algebra (``solve``, ``inv``,
    ``det``) is taken to couple everything.

    >>> import numpy as np, dualad
    >>> S = dualad.jacobian_sparsity(lambda u: u[1:] - u[:-1], np.zeros(4))
    >>> S.toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    sp = _scipy_sparse()
    x = _point(x)
    value, (indptr, indices) = tracer.trace(f, x)
    m, n = int(np.size(value)), int(np.size(x))
    pattern = sp.csr_matrix((np.ones(len(indices), dtype=bool), indices, indptr), shape=(m, n))
    return as_pattern(pattern)  # the same matrix, with a .plot() method


def _as_pattern(sparsity, sp):
    if sp.issparse(sparsity):
        S = sp.csr_matrix(sparsity, dtype=bool)
    else:
        arr = np.asarray(sparsity)
        if arr.ndim != 2:
            raise InputError(f"sparsity must be an (m, n) matrix, got {describe(arr)}; remedy: pass "
                             "dualad.jacobian_sparsity(f, x) or a 2-D boolean array")
        S = sp.csr_matrix(arr != 0)
    S.eliminate_zeros()
    S.sum_duplicates()
    S.sort_indices()
    return S


def _colors(S, coloring) -> np.ndarray:
    if isinstance(coloring, str):
        return color_columns(S, coloring)
    colors = np.asarray(coloring)
    if colors.shape != (S.shape[1],) or colors.dtype.kind not in "iu" or (colors.size and colors.min() < 0):
        raise InputError(f"coloring must be a method name or n={S.shape[1]} non-negative ints, got "
                         f"{describe(colors)}")
    if not check_coloring(S, colors):
        raise InputError("the given coloring puts two columns that share a row in the same colour; "
                         "remedy: pass coloring='greedy'")
    return colors.astype(np.int64)


class SparseJacobian:
    """Pattern and colouring of ``f``'s Jacobian, computed once; call it to get the Jacobian at new points.

    ``J = sj(x)`` evaluates ``f`` once with ``ncolors`` tangent directions and
    returns a ``scipy.sparse.csr_matrix`` of shape ``(m, n)`` (flattened
    outputs x flattened inputs). The pattern is the one detected at
    ``x_example`` (or the ``sparsity`` given): entries outside it are not
    computed, so the function's structure must not change with ``x``.

    >>> import numpy as np, dualad
    >>> sj = dualad.SparseJacobian(lambda u: u[1:] * u[:-1], np.ones(5))
    >>> sj.ncolors
    2
    >>> sj(np.arange(5.0)).toarray()
    array([[1., 0., 0., 0., 0.],
           [0., 2., 1., 0., 0.],
           [0., 0., 3., 2., 0.],
           [0., 0., 0., 4., 3.]])
    """

    def __init__(self, f: Callable, x_example: Any, sparsity=None, coloring: str | Any = "greedy", *,
                 executor: Any = None):
        sp = _scipy_sparse()
        self.executor = executor  # colour groups on a concurrent.futures.Executor (dualad.parallel)
        x = _point(x_example, "x_example")
        self.f = f
        self.input_shape = np.shape(x)
        self.sparsity = jacobian_sparsity(f, x) if sparsity is None else _as_pattern(sparsity, sp)
        m, n = self.sparsity.shape
        if n != x.size:
            raise InputError(f"sparsity has {n} columns but x has {x.size} entries")
        self.colors = _colors(self.sparsity, coloring)
        self.ncolors = int(self.colors.max()) + 1 if n else 0
        k = max(1, self.ncolors)
        self._seed = np.zeros((n, k))
        self._seed[np.arange(n), self.colors] = 1.0
        self._seed.flags.writeable = False  # shared by every call: f must never be able to change it
        S = self.sparsity
        rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(S.indptr))
        self._take = rows * k + self.colors[S.indices]
        self._indices, self._indptr = S.indices.copy(), S.indptr.copy()
        self._k = k

    def plot(self, *, ax: Any = None, title: str | None = None) -> Any:
        """Spy plot of the pattern, each nonzero coloured by its column's colour (one tangent direction each).

        Needs matplotlib; returns the ``Axes``.
        """
        return plot_pattern(self.sparsity, self.colors, ax=ax, title=title)

    def __repr__(self) -> str:
        m, n = self.sparsity.shape
        return f"SparseJacobian(shape=({m}, {n}), nnz={self.sparsity.nnz}, ncolors={self.ncolors})"

    @property
    def shape(self) -> tuple:
        return self.sparsity.shape

    def __call__(self, x: Any):
        """The Jacobian at ``x`` (shaped like ``x_example``) as a ``scipy.sparse.csr_matrix``."""
        sp = _scipy_sparse()
        x = _point(x)
        if np.shape(x) != self.input_shape:
            raise InputError(f"x has shape {np.shape(x)}, but this SparseJacobian was built for shape "
                             f"{self.input_shape}; remedy: build another SparseJacobian")
        dtype = x.dtype
        if self.executor is not None:  # groups of colours, one pass each, on the executor's workers
            from ..parallel import sweeps
            shape, t = sweeps.compressed_tangent(self.f, x, self._seed.astype(dtype, copy=False),
                                                 executor=self.executor)
            value = np.empty(shape)  # only its size is read below
        else:
            tag = new_tag()
            # the cached seed is read-only (set in __init__), so nothing f does can change it
            seed = Dual._make(x, self._seed.astype(dtype, copy=False).reshape(self.input_shape + (self._k,)), tag)
            try:
                y = self.f(seed)
            finally:
                finish_tag(tag, "dualad.SparseJacobian")
            value, t = split_output(y, tag, self._k, dtype)
        if isinstance(t, Dual) or isinstance(value, Dual):
            raise OutputError("the function returned a value of an outer differentiation; "
                              "sparse Jacobians do not nest")
        m = self.sparsity.shape[0]
        if int(np.size(value)) != m:
            raise OutputError(f"f returned {np.size(value)} entries, but the sparsity pattern has {m} rows; "
                              "remedy: pass the pattern of this function (or let it be detected)")
        data = np.reshape(t, (-1,))[self._take] if m else np.zeros(0, dtype)
        return sp.csr_matrix((data, self._indices, self._indptr), shape=self.sparsity.shape)


def sparse_jacobian(f: Callable, x: Any, sparsity=None, coloring: str | Any = "greedy", *, executor: Any = None):
    """The Jacobian of ``f`` at ``x`` as a ``scipy.sparse.csr_matrix`` of shape ``(m, n)``, by colouring.

    The pattern is ``sparsity`` (a scipy sparse or dense boolean ``(m, n)``
    matrix) or detected by :func:`jacobian_sparsity`. Columns are coloured
    (``coloring``: "greedy" -- the best of band, natural-order and
    largest-first greedy colourings --, "natural", "largest_first", "band",
    or an array of one colour per column) and ``f`` runs ONCE with one tangent
    direction per colour. Rows and columns are the flattened outputs and
    inputs, as in ``dualad.jacobian(f, x).reshape(m, n)``.

    To evaluate many Jacobians of one function, build a :class:`SparseJacobian`
    once instead. ``executor`` (a ``concurrent.futures.Executor``) evaluates
    groups of colours on its workers (the pattern is detected on the caller).

    >>> import numpy as np, dualad
    >>> J = dualad.sparse_jacobian(lambda u: u ** 2, np.array([1.0, 2.0, 3.0]))
    >>> J.toarray()
    array([[2., 0., 0.],
           [0., 4., 0.],
           [0., 0., 6.]])
    """
    return SparseJacobian(f, x, sparsity=sparsity, coloring=coloring, executor=executor)(x)
