"""Dual-aware buffers: arrays you can assign Duals into, element by element."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import dual

__all__ = ["zeros_like"]


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
    if shape is None:
        return np.zeros_like(x)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not isinstance(x, dual.LAYERS):  # Duals and tape values get a differentiable buffer
        return np.zeros(shape, dtype=np.asarray(x).dtype)
    base = np.zeros_like(np.reshape(x, -1)[:1])  # a zero Dual of x's kind, one entry
    return np.broadcast_to(base.reshape(()), shape) + 0.0
