"""Small helpers shared by the rule families in :mod:`dualad.ops` (no derivative formulas here).

Rules in these modules see tangents and cotangents in the table's layout, the
value's shape plus one trailing axis of ``k`` directions. Matrix formulas read
best with the directions in FRONT, ``(k, ..., m, n)``: then ``X @ T`` broadcasts
over the directions like any stack of matrices. :func:`front` and :func:`back`
move that axis. Every helper is plain numpy, so it also runs on differentiable
values (second derivatives, forward over reverse).

>>> import numpy as np
>>> front(np.zeros((2, 3, 5))).shape
(5, 2, 3)
"""
from __future__ import annotations

import operator

import numpy as np

from ..arraylike import primal
from ..composites import composite  # the one registration decorator (re-exported for the families)

__all__ = ["front", "back", "mT", "arg", "norm_axes", "diag_part", "diag_embed", "sum_to_shape",
           "composite", "plain", "shape_of"]


def front(t):
    """The trailing direction axis moved to the front: ``(..., k) -> (k, ...)``."""
    return np.moveaxis(t, -1, 0)


def back(t):
    """The leading direction axis moved to the back: ``(k, ...) -> (..., k)``."""
    return np.moveaxis(t, 0, -1)


def mT(x):  # noqa: N802 - the array API's name for the matrix transpose
    """``x`` with its last two axes swapped (a stack of matrices transposed)."""
    return np.swapaxes(x, -1, -2)


def arg(args, kwargs, pos: int, name: str, default=None):
    """Argument ``name`` given at position ``pos`` or as a keyword."""
    if len(args) > pos:
        return args[pos]
    return kwargs.get(name, default)


def norm_axes(axis, ndim: int) -> tuple:
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(operator.index(a) % ndim for a in axis))
    return (operator.index(axis) % ndim,)


def diag_part(x):
    """The diagonals of a stack of square matrices, by a product with the identity (runs on Duals)."""
    n = shape_of(x)[-1]
    return np.sum(x * np.eye(n), axis=-1)


def diag_embed(v):
    """Square matrices with the vectors ``v`` (last axis) on their diagonals."""
    n = shape_of(v)[-1]
    return v[..., None] * np.eye(n)


def sum_to_shape(g, shape: tuple):
    """Sum ``g`` (directions in front, ``(k,) + broadcast shape``) down to ``(k,) + shape``."""
    shape = tuple(shape)
    have = shape_of(g)[1:]
    if have == shape:
        return g
    lead = len(have) - len(shape)
    if lead > 0:
        g = np.sum(g, axis=tuple(range(1, 1 + lead)))
    axes = tuple(1 + i for i, n in enumerate(shape) if n == 1 and shape_of(g)[1 + i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return g


def shape_of(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def plain(x):
    """The plain ndarray under any differentiable layers (for decisions, never for derivatives)."""
    return np.asarray(primal(x))


