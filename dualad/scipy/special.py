"""Differentiable versions of scipy.special's Python functions: ``logsumexp``, ``softmax``, ...

scipy.special's ufuncs (``erf``, ``gammaln``, ``xlogy``, ...) need no mirror: they run on Duals and
tape values as they are (their rules are in :mod:`dualad.ops.special`), and this module hands them
out too (``dualad.scipy.special.erf is scipy.special.erf``). The functions here are the ones scipy
writes in Python around ``np.asarray``, rewritten with numpy calls dualad differentiates; same
names, signatures and values.

>>> import numpy as np, dualad
>>> from dualad.scipy import special
>>> dualad.gradient(special.logsumexp, np.log([1.0, 3.0]))  # the softmax
array([0.25, 0.75])
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special as _scipy_special

from ..arraylike import ArrayLike, primal
from ..errors import UnsupportedFunctionError

__all__ = ["logsumexp", "softmax", "log_softmax", "polygamma", "multigammaln"]

def __getattr__(name: str) -> Any:
    # scipy.special's ufuncs differentiate as they are: hand them out under the same names
    value = getattr(_scipy_special, name, None)
    if isinstance(value, np.ufunc):
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (scipy.special.{name} is not a "
                         "ufunc, and dualad.scipy.special has no differentiable version of it)")


def _plain(x) -> np.ndarray:
    """The plain values under every differentiable layer (for shifts that do not change the result)."""
    return np.asarray(primal(x)) if isinstance(x, ArrayLike) else np.asarray(x)


def _refuse_differentiable(function: str, argument: str, value) -> None:
    if isinstance(value, ArrayLike):
        raise UnsupportedFunctionError(
            f"scipy.special.{function}: the argument {argument} is an integer and cannot be differentiated; "
            f"remedy: pass {argument} as a plain integer")


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False):
    """``log(sum(b * exp(a), axis))`` computed stably, like :func:`scipy.special.logsumexp`.

    Differentiable in ``a`` and in the weights ``b``. With ``return_sign=True`` returns
    ``(log|s|, sign(s))``; the sign is a plain array (piecewise constant).

    >>> import numpy as np
    >>> float(logsumexp(np.array([0.0, 0.0])))  # log 2
    0.6931471805599453
    """
    # the shift m is a constant (its derivative cancels exactly), so it is taken from plain values
    plain = _plain(a)
    if b is not None:
        dropped = (_plain(b) == 0) & ~np.isfinite(plain)
        if np.any(dropped):  # an infinite entry of weight 0 does not count (0 * inf would be nan)
            a = np.where(dropped, 0.0, a)
        plain = np.where(_plain(b) == 0, -np.inf, plain)
    with np.errstate(invalid="ignore"):
        shift = np.max(plain, axis=axis, keepdims=True) if plain.size else np.zeros((1,) * plain.ndim)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    terms = np.exp(a - shift)
    if b is not None:
        terms = b * terms
    total = np.sum(terms, axis=axis, keepdims=True)
    if return_sign:
        sign = np.sign(_plain(total))
        total = total * sign  # |total|, differentiable away from 0
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf; a negative sum gives nan, as scipy
        out = np.log(total) + shift
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else np.reshape(out, ())
    if not return_sign:
        return out
    if not keepdims:
        sign = np.squeeze(sign, axis=axis) if axis is not None else np.reshape(sign, ())
    return out, sign


def softmax(x, axis=None):
    """``exp(x) / sum(exp(x), axis)``, like :func:`scipy.special.softmax`.

    >>> softmax(np.log(np.array([1.0, 3.0])))
    array([0.25, 0.75])
    """
    # scipy's own formula, with its shift read off the plain values (a constant: the quotient does not
    # depend on it), so values at infinities are scipy's too (+inf gives nan, as scipy's does)
    with np.errstate(invalid="ignore"):
        shifted = np.exp(x - np.max(_plain(x), axis=axis, keepdims=True))
        return shifted / np.sum(shifted, axis=axis, keepdims=True)


def log_softmax(x, axis=None):
    """``x - logsumexp(x, axis)``, like :func:`scipy.special.log_softmax`.

    >>> log_softmax(np.zeros(2))
    array([-0.69314718, -0.69314718])
    """
    shift = np.max(_plain(x), axis=axis, keepdims=True)  # scipy's shift: 0 where the maximum is not finite
    shift = np.where(np.isfinite(shift), shift, 0.0)
    shifted = x - shift
    with np.errstate(divide="ignore", invalid="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def polygamma(n, x):
    """The n-th derivative of the digamma function, like :func:`scipy.special.polygamma`.

    Differentiable in ``x``; the order ``n`` is an integer (a Dual there is refused).

    >>> float(polygamma(1, 1.0))  # pi^2 / 6
    1.6449340668482266
    """
    _refuse_differentiable("polygamma", "n", n)
    n = np.asarray(n)
    if np.all(n == 0):
        return _scipy_special.psi(x) + np.zeros(n.shape)
    # (-1)^(n+1) n! zeta(n+1, x); the n == 0 entries (digamma) are computed apart, where zeta(1, x) is inf
    higher = (-1.0) ** (n + 1) * _scipy_special.gamma(n + 1.0) * _scipy_special.zeta(np.where(n == 0, 2, n + 1), x)
    if not np.any(n == 0):
        return higher
    return np.where(n == 0, _scipy_special.psi(x), higher)


def multigammaln(a, d: int):
    """The log of the multivariate gamma function of dimension ``d``, like :func:`scipy.special.multigammaln`.

    >>> round(float(multigammaln(23.5, 10)), 6)
    457.176675
    """
    _refuse_differentiable("multigammaln", "d", d)
    d = np.asarray(d)[()]
    if not np.isscalar(d) or np.floor(d) != d:
        raise ValueError("d should be a positive integer (dimension)")
    if np.any(_plain(a) <= 0.5 * (d - 1)):
        raise ValueError(f"condition a ({_plain(a)}) > 0.5 * (d-1) ({0.5 * (d - 1)}) not met")
    total = (d * (d - 1) * 0.25) * math.log(math.pi)
    for j in range(1, int(d) + 1):
        total = total + _scipy_special.gammaln(a - (j - 1.0) / 2)
    return total
