"""numpy's poly1d-style polynomial functions: polyfit, polyder, polyint, polyadd/sub/mul/div, vander.

All composites (plain numpy calls that dispatch as usual); coefficient arrays
may come from x, and ``polyfit`` is differentiable in ``x``, ``y`` and ``w``
(it is numpy's own scaled least-squares problem, solved by ``lstsq``).
``np.polyval`` (in both arguments) lives in :mod:`dualad.composites`.
``numpy.polynomial``'s evaluators (``polyval``, ``chebval``, ``legval``,
``hermval``) are plain arithmetic in ``x`` and need no rule.

>>> import numpy as np, dualad
>>> dualad.jacobian(lambda c: np.polyder(c), np.array([1.0, 2.0, 3.0])).tolist()
[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
"""
from __future__ import annotations

import numpy as np

from ..arraylike import ArrayLike
from .common import composite, plain, shape_of

__all__: list = []


def _is_diff(x) -> bool:
    return isinstance(x, ArrayLike)


def _coefficients(p):
    """Coefficients as a 1-D array (a poly1d gives its coefficients; lists become float arrays)."""
    if isinstance(p, np.poly1d):
        return p.coeffs
    if _is_diff(p):
        return np.atleast_1d(p)
    return np.atleast_1d(np.asarray(p, dtype=np.result_type(np.asarray(p).dtype, np.float64)))


def _float_dtype(x):
    dtype = plain(x).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


@composite(np.polyder)
def _polyder(p, m=1):
    m = int(m)  # as numpy
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    c = _coefficients(p)
    for _ in range(m):
        n = shape_of(c)[0] - 1
        c = c[:-1] * np.arange(n, 0, -1, dtype=_float_dtype(c))  # numpy: a constant's derivative is empty
    return c


@composite(np.polyint)
def _polyint(p, m=1, k=None):
    m = int(m)  # as numpy
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    if k is None:
        k = np.zeros(m)
    k = np.atleast_1d(k) if _is_diff(k) else np.atleast_1d(np.asarray(k, dtype=np.float64))
    if shape_of(k)[0] == 1 and m > 1:
        k = k[0] * np.ones(m)
    c = _coefficients(p)
    for i in range(m):
        n = shape_of(c)[0]
        c = np.concatenate([c / np.arange(n, 0, -1, dtype=_float_dtype(c)), np.reshape(k[i], (1,))])
    return c


def _pad_front(c, length):
    extra = length - shape_of(c)[0]
    return np.concatenate([np.zeros(extra, _float_dtype(c)), c]) if extra > 0 else c


@composite(np.polyadd)
def _polyadd(a1, a2):
    c1, c2 = _coefficients(a1), _coefficients(a2)
    n = max(shape_of(c1)[0], shape_of(c2)[0])
    return _pad_front(c1, n) + _pad_front(c2, n)


@composite(np.polysub)
def _polysub(a1, a2):
    c1, c2 = _coefficients(a1), _coefficients(a2)
    n = max(shape_of(c1)[0], shape_of(c2)[0])
    return _pad_front(c1, n) - _pad_front(c2, n)


@composite(np.polymul)
def _polymul(a1, a2):
    return np.convolve(_coefficients(a1), _coefficients(a2))


@composite(np.polydiv)
def _polydiv(u, v):
    u, v = _coefficients(u), _coefficients(v)
    m, n = shape_of(u)[0] - 1, shape_of(v)[0] - 1
    scale = 1.0 / v[0]
    quotient = []
    r = u * 1.0
    for k in range(max(m - n + 1, 0)):
        d = scale * r[k]
        quotient.append(d)
        r = np.concatenate([r[:k], r[k:k + n + 1] - d * v, r[k + n + 1:]])
    q = np.stack(quotient) if quotient else np.zeros(1, _float_dtype(u))
    while np.allclose(plain(r)[0], 0, rtol=1e-14) and shape_of(r)[-1] > 1:  # numpy trims leading zeros
        r = r[1:]
    return q, r


@composite(np.vander)
def _vander(x, N=None, increasing=False):
    x = np.ravel(x) if _is_diff(x) else np.asarray(x, dtype=np.float64).ravel()
    n = shape_of(x)[0]
    N = n if N is None else N
    if N == 0:
        return np.zeros((n, 0), _float_dtype(x))
    ones = np.ones((n, 1), _float_dtype(x))
    if N == 1:
        v = ones * (x[:, None] * 0.0 + 1.0)
    else:
        powers = np.cumprod(np.broadcast_to(x[:, None], (n, N - 1)), axis=1)  # numpy's multiply.accumulate
        v = np.concatenate([ones + 0.0 * x[:, None], powers], axis=1)
    return v if increasing else np.flip(v, axis=1)


@composite(np.polyfit)
def _polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    order = int(deg) + 1
    x = x if _is_diff(x) else np.asarray(x, dtype=np.float64)
    y = y if _is_diff(y) else np.asarray(y, dtype=np.float64)
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if len(shape_of(x)) != 1:
        raise TypeError("expected 1D vector for x")
    if len(shape_of(y)) < 1 or len(shape_of(y)) > 2:
        raise TypeError("expected 1D or 2D array for y")
    n = shape_of(x)[0]
    if rcond is None:
        rcond = n * np.finfo(_float_dtype(x)).eps
    lhs = np.vander(x, order)
    rhs = y
    if w is not None:
        w = w if _is_diff(w) else np.asarray(w, dtype=np.float64)
        lhs = lhs * w[:, None]
        rhs = rhs * (w if len(shape_of(rhs)) == 1 else w[:, None])
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    lhs = lhs / scale
    c, resids, rank, s = np.linalg.lstsq(lhs, rhs, rcond)
    c = (c.T / scale).T if len(shape_of(c)) == 2 else c / scale
    if full:
        return c, resids, rank, s, rcond
    if cov:
        base = np.linalg.inv(lhs.T @ lhs) / np.outer(scale, scale)
        if cov == "unscaled":
            factor = 1.0
        else:
            if n <= order:
                raise ValueError("the number of data points must exceed order to scale the covariance matrix")
            factor = resids / (n - order)
        if len(shape_of(y)) == 1:
            return c, base * factor
        return c, base[:, :, None] * factor
    return c
