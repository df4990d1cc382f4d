"""In-place writes that numpy spells as functions: ``np.putmask``, ``np.place``, ``ufunc.at``, ``x.flat[...]``.

Each one is turned into an ordinary write ``a[key] = v`` (which forward mode, the tape and the
sparsity tracer all record, including writes through views). Which entry receives which value is
decided by running numpy's OWN function on plain integer arrays (the entries' numbers), so the
cycling of short value arrays, the order of repeated indices and every error are numpy's.

>>> import numpy as np, dualad
>>> def f(x):
...     z = x * 1.0
...     np.add.at(z, [0, 0, 2], x)          # unbuffered: index 0 receives two additions
...     return z
>>> dualad.jacobian(f, np.array([1.0, 2.0, 3.0])).tolist()
[[2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..arraylike import ArrayLike, primal
from ..errors import UnsupportedFunctionError
from .common import composite, shape_of

__all__ = ["ufunc_at", "FlatIndexer"]


def _require_target(a, what: str) -> None:
    if not isinstance(a, ArrayLike):
        raise UnsupportedFunctionError(
            f"{what} of a differentiable value into a plain array would drop its derivative; remedy: make the "
            "target with dualad.zeros_like(x) or np.zeros_like(x) (or compute it from x, e.g. z = x * 1.0)")


def _flat_values(values):
    """``values`` flattened: differentiable ones stay differentiable, constants become float arrays."""
    return np.ravel(values) if isinstance(values, ArrayLike) else np.ravel(np.asarray(values, dtype=float))


def _write_numbered(a, numbered, values) -> None:
    """``a`` takes ``values.flat[k]`` where ``numbered`` (a's shape) holds ``k >= 0``; -1 leaves an entry alone."""
    chosen = numbered >= 0
    if np.any(chosen):
        a[chosen] = _flat_values(values)[numbered[chosen]]


@composite(np.putmask)
def _putmask(a, mask, values):
    _require_target(a, "np.putmask")
    flat = _flat_values(values)
    numbered = np.full(shape_of(a), -1, dtype=np.intp)
    # numpy's own cycling: a.flat[n] = values.flat[n % values.size] where mask.flat[n]
    np.putmask(numbered, np.asarray(primal(mask), dtype=bool), np.arange(math.prod(shape_of(flat))))
    _write_numbered(a, numbered, flat)


@composite(np.place)
def _place(arr, mask, vals):
    _require_target(arr, "np.place")
    flat = _flat_values(vals)
    numbered = np.full(shape_of(arr), -1, dtype=np.intp)
    # numpy's own order: the k-th True of mask takes vals.flat[k % vals.size] (and numpy's errors)
    np.place(numbered, np.asarray(primal(mask), dtype=bool), np.arange(math.prod(shape_of(flat))))
    _write_numbered(arr, numbered, flat)


def _occurrence_rank(positions: np.ndarray) -> np.ndarray:
    """For each entry of ``positions``, how many earlier entries hold the same position."""
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    n = positions.size
    starts = np.ones(n, dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n) - group_start
    return rank


def ufunc_at(ufunc: np.ufunc, a: Any, indices: Any, b: Any = None) -> None:
    """``ufunc.at(a, indices[, b])`` on differentiable values: unbuffered, like numpy's.

    Repeated indices are applied one after the other in numpy's order: round r applies the
    r-th occurrence of every index at once (within a round all positions differ).
    """
    name = f"np.{ufunc.__name__}.at"
    _require_target(a, name)
    shape = shape_of(a)
    positions = np.asarray(np.arange(math.prod(shape)).reshape(shape)[indices])  # numpy's indexing of a
    flat_positions = positions.ravel()
    current = np.copy(np.ravel(a))
    operand = None
    if b is not None:
        operand = np.ravel(np.broadcast_to(b if isinstance(b, ArrayLike) else np.asarray(b), positions.shape))
    if flat_positions.size:
        rank = _occurrence_rank(flat_positions)
        for r in range(int(rank.max()) + 1):
            chosen = np.flatnonzero(rank == r)
            where = flat_positions[chosen]
            args = (current[where],) if operand is None else (current[where], operand[chosen])
            current[where] = ufunc(*args)
    a[...] = np.reshape(current, shape)


class FlatIndexer:
    """``x.flat`` of a differentiable value: reads and writes in C order, like ``ndarray.flat``.

    ``x.flat[key] = v`` writes ``x[unravelled positions] = v`` with numpy's cycling of a short
    ``v``; the positions come from a plain array's own ``.flat[key]`` (same keys, same errors).
    """

    def __init__(self, base: ArrayLike):
        self.base = base

    def _positions(self, key) -> np.ndarray:
        shape = shape_of(self.base)
        return np.asarray(np.arange(math.prod(shape)).reshape(shape).flat[key])

    def __len__(self) -> int:
        return math.prod(shape_of(self.base))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key):
        positions = self._positions(key)
        return self.base[np.unravel_index(positions, shape_of(self.base))]

    def __setitem__(self, key, value) -> None:
        positions = self._positions(key).ravel()
        if positions.size == 0:
            return
        flat = _flat_values(value)
        size = math.prod(shape_of(flat))
        if size == 0:
            raise ValueError("cannot assign an empty sequence through .flat")
        picks = np.resize(np.arange(size), positions.size)  # short values cycle, long ones are cut
        self.base[np.unravel_index(positions, shape_of(self.base))] = flat[picks]

    def __repr__(self) -> str:
        return f"FlatIndexer({self.base!r})"
