"""Pictures of sparsity patterns and their column colourings (matplotlib, imported when a plot is drawn).

``dualad.jacobian_sparsity`` returns a :class:`SparsityPattern` (a
``scipy.sparse.csr_matrix`` with a ``.plot()`` method) and
``SparseJacobian.plot()`` draws the pattern it uses: one square per
structural nonzero, coloured by the colour group of its column, so columns
computed by the same tangent direction share a colour.

>>> import numpy as np, dualad
>>> S = dualad.jacobian_sparsity(lambda u: u[1:] - u[:-1], np.zeros(5))
>>> type(S).__name__, S.shape
('SparsityPattern', (4, 5))
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["plot_pattern", "as_pattern"]  # and SparsityPattern, made on first use


def plot_pattern(pattern: Any, colors: Any = None, *, ax: Any = None, title: str | None = None,
                 markersize: float | None = None) -> Any:
    """Draw ``pattern`` (an (m, n) sparse or dense matrix) as a spy plot, nonzeros coloured by column group.

    ``colors``: one colour index per column (e.g. ``SparseJacobian.colors``),
    ``"greedy"`` to colour the columns here, or ``None`` for a single colour.
    Returns the matplotlib ``Axes``.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        from .jacobian import MissingDependencyError
        raise MissingDependencyError("plotting a sparsity pattern needs matplotlib; "
                                     "remedy: pip install dualad[plot]") from err
    import scipy.sparse as sp
    S = sp.csr_matrix(pattern, dtype=bool) if not sp.issparse(pattern) else pattern.tocsr().astype(bool)
    m, n = S.shape
    if isinstance(colors, str):
        from .coloring import color_columns
        colors = color_columns(S, colors)
    coo = S.tocoo()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5 * max(m, 1) / max(n, 1)) if 0.2 < m / max(n, 1) < 5 else (5, 5))
    size = markersize if markersize is not None else max(0.5, min(60.0, 2000.0 / max(m, n, 1)))
    if colors is None:
        ax.scatter(coo.col, coo.row, s=size, marker="s", c="tab:blue", linewidths=0)
        ncolors = None
    else:
        colors = np.asarray(colors)
        if colors.shape != (n,):
            raise InputError(f"colors must hold one colour per column ({n}), got shape {colors.shape}")
        ncolors = int(colors.max()) + 1 if n else 0
        cmap = plt.get_cmap("tab10" if ncolors <= 10 else "tab20" if ncolors <= 20 else "turbo")
        ax.scatter(coo.col, coo.row, s=size, marker="s", c=colors[coo.col], cmap=cmap,
                   vmin=-0.5, vmax=max(ncolors, 1) - 0.5, linewidths=0)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(m - 0.5, -0.5)  # row 0 at the top, as a matrix is written
    ax.set_xlabel("input (column)")
    ax.set_ylabel("output (row)")
    if title is None:
        title = f"{m} x {n}, {S.nnz} nonzeros" + (f", {ncolors} colours" if ncolors is not None else "")
    ax.set_title(title)
    return ax


@functools.lru_cache(maxsize=None)
def _pattern_class() -> type:
    import scipy.sparse as sp

    class SparsityPattern(sp.csr_matrix):  # type: ignore[misc, valid-type]
        """A boolean ``scipy.sparse.csr_matrix`` (the Jacobian's structural nonzeros) that can draw itself."""

        def plot(self, colors: Any = "greedy", *, ax: Any = None, title: str | None = None) -> Any:
            """Spy plot of the pattern, columns coloured by a greedy colouring (``colors=None``: one colour)."""
            return plot_pattern(self, colors, ax=ax, title=title)

    SparsityPattern.__module__ = __name__  # pickled by name: found through the module __getattr__ below
    SparsityPattern.__qualname__ = "SparsityPattern"
    return SparsityPattern


def as_pattern(matrix: Any) -> Any:
    """``matrix`` (a scipy CSR matrix) as a :class:`SparsityPattern`, sharing its arrays."""
    cls = _pattern_class()
    return cls((matrix.data, matrix.indices, matrix.indptr), shape=matrix.shape, copy=False)


def __getattr__(name: str) -> Any:
    if name == "SparsityPattern":  # made on first use: scipy is imported only when needed
        return _pattern_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
