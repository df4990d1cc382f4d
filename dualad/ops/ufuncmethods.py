"""``ufunc.reduce`` and ``ufunc.accumulate`` for every binary ufunc with a rule that numpy has no
dedicated function for (``np.subtract.reduce``, ``np.divide.accumulate``, ``np.hypot.reduce``,
``np.arctan2.accumulate``, ``np.logical_and.reduce``, ...).

numpy applies such a ufunc as a left fold along the axis (``((a0 ∘ a1) ∘ a2) ∘ ...``), so that is
what these do: one call of the ufunc per entry along the axis, each through the rule table, so the
derivative is the table's and the arithmetic (and the value) is numpy's. numpy's own call on the
plain values runs first, for its errors (an axis it refuses, several axes for a ufunc that is not
reorderable, an empty reduction without identity).

>>> import numpy as np, dualad
>>> dualad.jacobian(lambda x: np.subtract.reduce(x), np.array([5.0, 1.0, 2.0])).tolist()
[1.0, -1.0, -1.0]
"""
from __future__ import annotations

import operator

import numpy as np

from ..decisions import note
from ..errors import UnsupportedFunctionError
from ..rules import ACCUMULATE, REDUCE, TABLE
from .common import plain, shape_of

__all__ = ["fold_reduce", "fold_accumulate"]


def _fold(ufunc, moved, start):
    """``start ∘ moved[0] ∘ moved[1] ...`` (start None: from ``moved[0]``), one ufunc call per step."""
    n = shape_of(moved)[0]
    acc = moved[0] if start is None else ufunc(start, moved[0])
    for i in range(1, n):
        acc = ufunc(acc, moved[i])
    return acc


def fold_reduce(ufunc: np.ufunc):
    """``ufunc.reduce`` as a left fold through the rule table."""
    def reduce(a, axis=0, keepdims=False, initial=np._NoValue, where=True):
        if where is not True:
            raise UnsupportedFunctionError(
                f"np.{ufunc.__name__}.reduce(..., where=) on a differentiable value has no rule in dualad; "
                "remedy: select the entries first (a[mask]) or use np.where to put the identity there")
        extra = {} if initial is np._NoValue else {"initial": plain(initial)}
        expected = ufunc.reduce(plain(a), axis=axis, keepdims=keepdims, **extra)  # numpy's checks and shape
        if np.asarray(expected).dtype.kind != "f":  # logical_and, ...: a bool result has no derivative
            return note("compare", expected)
        nd = len(shape_of(a))
        axes = tuple(range(nd)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        axes = tuple(operator.index(ax) % max(nd, 1) for ax in axes)
        if nd == 0 or not axes:
            return a if initial is np._NoValue else ufunc(initial, a)
        kept = [i for i in range(nd) if i not in axes]
        moved = np.transpose(a, list(axes) + kept)  # several axes only for reorderable ufuncs (numpy checked)
        length = int(np.prod([shape_of(a)[i] for i in axes]))
        moved = np.reshape(moved, (length,) + tuple(shape_of(a)[i] for i in kept))
        if length == 0:
            return expected  # numpy's identity (or initial): a constant
        result = _fold(ufunc, moved, None if initial is np._NoValue else initial)
        if keepdims:
            result = np.reshape(result, np.shape(expected))
        return result
    return reduce


def fold_accumulate(ufunc: np.ufunc):
    """``ufunc.accumulate`` as a left fold through the rule table, every partial result kept."""
    def accumulate(a, axis=0):
        expected = ufunc.accumulate(plain(a), axis=axis)  # numpy's checks
        if np.asarray(expected).dtype.kind != "f":  # a bool result (logical_and, ...): no derivative
            return note("compare", expected)
        ax = operator.index(axis) % max(len(shape_of(a)), 1)
        moved = np.moveaxis(a, ax, 0)
        n = shape_of(moved)[0]
        if n == 0:
            return a * 1.0
        parts = [moved[0]]
        for i in range(1, n):
            parts.append(ufunc(parts[-1], moved[i]))
        return np.moveaxis(np.stack(parts), 0, ax)
    return accumulate


for _ufunc in list(TABLE):
    if isinstance(_ufunc, np.ufunc) and _ufunc.nin == 2 and _ufunc.nout == 1:
        REDUCE.setdefault(_ufunc, fold_reduce(_ufunc))
        ACCUMULATE.setdefault(_ufunc, fold_accumulate(_ufunc))
del _ufunc
