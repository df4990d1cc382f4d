"""Dual-aware buffers: arrays you can assign Duals into, element by element."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .arraylike import ArrayLike
from .errors import InputError, describe

__all__ = ["zeros_like"]


def _numeric(x) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise InputError(f"zeros_like needs an array of numbers; numpy could not read {type(x).__name__} "
                         f"({err}); remedy: pass an ndarray or a Dual") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"zeros_like needs real numbers, got {describe(arr)}; remedy: pass a float array or a Dual")
    return arr


def _shape(shape) -> tuple:
    try:
        dims = tuple(operator.index(n) for n in shape) if isinstance(shape, (tuple, list)) else \
            (operator.index(shape),)
    except TypeError:
        dims = (-1,)
    if any(n < 0 for n in dims):
        raise InputError(f"shape must be a non-negative int or a tuple of them, got {shape!r}; "
                         "remedy: pass e.g. shape=5 or shape=(2, 3)")
    return dims


def zeros_like(x: Any, shape: tuple | int | None = None):
    """A zero buffer that accepts differentiable values, like ``np.zeros_like``.

    For a Dual ``x`` the result is a Dual with zero value and zero tangent, so
    ``out[i] = expr`` keeps each entry's derivative. ``shape`` overrides the
    shape (the tangent layout still follows ``x``). For a plain array it is
    ``np.zeros_like``.

    >>> import numpy as np, dualad
    >>> def f(x):
    ...     out = dualad.zeros_like(x)
    ...     for i in range(len(x)):
    ...         out[i] = x[i] ** 2
    ...     return out
    >>> dualad.jacobian(f, [1.0, 2.0])
    array([[2., 0.],
           [0., 4.]])
    """
    if not isinstance(x, ArrayLike):
        x = _numeric(x)
    if shape is None:
        return np.zeros_like(x)
    shape = _shape(shape)
    if not isinstance(x, ArrayLike):  # Duals and tape values get a differentiable buffer
        return np.zeros(shape, dtype=x.dtype)
    base = np.zeros_like(np.reshape(x, -1)[:1])  # a zero Dual of x's kind, one entry
    return np.broadcast_to(base.reshape(()), shape) + 0.0
