"""Signal processing and calculus: interp, convolve/correlate, gradient, diff, trapezoid, unwrap, ...

All composites (plain numpy calls that dispatch as usual), plus the piecewise
ufuncs ``modf``, ``frexp``, ``ldexp``, ``floor_divide`` and ``divmod``.

Documented conventions:

- ``interp`` at a knot ``x == xp[j]`` uses the slope of the segment to its
  right (the one numpy evaluates), at the last knot the segment to its left;
  outside ``[xp[0], xp[-1]]`` the value is ``left``/``right`` (default the end
  values of ``fp``), so the derivative in ``x`` is 0 there;
- ``unwrap`` adds multiples of the period that are piecewise constant: its
  derivative is the identity;
- ``floor_divide`` and the quotient of ``divmod`` are piecewise constant
  (derivative 0); ``modf``'s integer part too, its fractional part has
  derivative 1; ``frexp``'s mantissa is ``x / 2**e`` (derivative ``2**-e``).

>>> import numpy as np, dualad
>>> float(dualad.derivative(lambda x: np.interp(x, [0.0, 1.0, 3.0], [0.0, 2.0, 3.0]), 2.0))
0.5
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..arraylike import ArrayLike
from ..errors import UnsupportedFunctionError
from ..rules import TABLE, Custom, Linear, ZeroDerivative, unbroadcast
from .common import composite, plain, shape_of

__all__: list = []


def _is_diff(x) -> bool:
    return isinstance(x, ArrayLike)


def _float(x):
    """A plain sequence as a float array (differentiable values pass unchanged)."""
    return x if _is_diff(x) or isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float64)


# ------------------------------------------------------------------ interp
@composite(np.interp)
def _interp(x, xp, fp, left=None, right=None, period=None):
    xp, fp = _float(xp), _float(fp)
    if len(shape_of(xp)) != 1 or len(shape_of(fp)) != 1:
        raise ValueError("Data points must be 1D sequences")
    if shape_of(xp)[0] != shape_of(fp)[0]:
        raise ValueError("fp and xp are not of the same length")
    if period is not None:
        if _is_diff(period):
            raise UnsupportedFunctionError("np.interp with a differentiable period; remedy: pass period as a number")
        if period == 0:
            raise ValueError("period must be a non-zero value")
        period = abs(period)
        left = right = None
        x = np.mod(x, period)  # derivative 1 (np.remainder's rule)
        xp = np.mod(xp, period)
        order = np.argsort(plain(xp), kind="stable")
        xp, fp = xp[order], fp[order]
        xp = np.concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = np.concatenate([fp[-1:], fp, fp[:1]])
    xv, xpv = plain(x), plain(xp)
    n = xpv.shape[0]
    if n == 1:
        r = np.zeros_like(x) + fp[0] if _is_diff(x) else np.broadcast_to(fp[0], np.shape(xv))
    else:
        j = np.clip(np.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
        x0, x1, y0, y1 = xp[j], xp[j + 1], fp[j], fp[j + 1]
        slope = (y1 - y0) / (x1 - x0)
        r = slope * (x - x0) + y0
    lo = fp[0] if left is None else left
    hi = fp[-1] if right is None else right
    below, above = xv < xpv[0], xv > xpv[-1]
    if np.any(below):
        r = np.where(below, lo, r)
    if np.any(above):
        r = np.where(above, hi, r)
    at_last = xv == xpv[-1]
    if n > 1 and np.any(at_last):  # numpy returns fp[-1] exactly there
        r = np.where(at_last, fp[-1] + 0.0 * (x - x0), r)
    return r


# ------------------------------------------------------------------ convolve, correlate
def _full_convolution(a, v):
    """``sum_i a[i] v[k - i]`` for every k (length n + m - 1): windows of zero-padded a times v reversed."""
    n, m = shape_of(a)[0], shape_of(v)[0]
    padded = np.concatenate([np.zeros(m - 1, plain(a).dtype), a, np.zeros(m - 1, plain(a).dtype)]) \
        if m > 1 else a
    index = np.arange(n + m - 1)[:, None] + np.arange(m)[None, :]  # window k starts at k
    return np.sum(padded[index] * np.flip(v), axis=-1)


def _mode_slice(full, n, m, mode):
    if mode in ("full", 2):
        return full
    if mode in ("same", 1):
        start = (m - 1) // 2 if n >= m else (n - 1) // 2
        length = max(n, m)
        return full[start:start + length]
    if mode in ("valid", 0):
        return full[min(n, m) - 1:max(n, m)]
    raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")


@composite(np.convolve)
def _convolve(a, v, mode="full"):
    a, v = _float(a), _float(v)
    if len(shape_of(a)) == 0:
        a = np.reshape(a, (1,))
    if len(shape_of(v)) == 0:
        v = np.reshape(v, (1,))
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n == 0 or m == 0:
        raise ValueError("v cannot be empty" if m == 0 else "a cannot be empty")
    return _mode_slice(_full_convolution(a, v), n, m, mode)


@composite(np.correlate)
def _correlate(a, v, mode="valid"):
    a, v = _float(a), _float(v)
    n, m = shape_of(a)[0], shape_of(v)[0]
    if n < m:  # numpy correlates the longer with the shorter and reverses the result
        return np.flip(_mode_slice(_full_convolution(v, np.flip(a)), m, n, mode))
    return _mode_slice(_full_convolution(a, np.flip(v)), n, m, mode)  # real: convolution with v reversed


# ------------------------------------------------------------------ gradient
@composite(np.gradient)
def _gradient(f, *varargs, axis=None, edge_order=1):
    nd = len(shape_of(f))
    axes = tuple(range(nd)) if axis is None else tuple(
        operator.index(a) % nd for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    count = len(axes)
    if len(varargs) == 0:
        spacings = [1.0] * count
    elif len(varargs) == 1 and np.ndim(plain(varargs[0])) == 0:
        spacings = [varargs[0]] * count
    elif len(varargs) == count:
        spacings = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    outs = []
    for ax, h in zip(axes, spacings):
        outs.append(_gradient_axis(f, ax, h, edge_order, nd))
    return outs[0] if count == 1 else tuple(outs)


def _take(a, ax, nd, key):
    index = [slice(None)] * nd
    index[ax] = key
    return a[tuple(index)]


def _gradient_axis(f, ax, h, edge_order, nd):
    n = shape_of(f)[ax]
    if n < edge_order + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least "
                         "(edge_order + 1) elements are required.")
    shape = [1] * nd
    shape[ax] = -1
    scalar = np.ndim(plain(h)) == 0
    if not scalar:
        h = _float(h)
        if not _is_diff(h) and plain(f).dtype.kind == "f":
            h = h.astype(plain(f).dtype)  # numpy's result has f's dtype, whatever the coordinates'
        if len(shape_of(h)) != 1 or shape_of(h)[0] != n:
            raise ValueError("when 1d, distances must match the length of the corresponding dimension")
        dx = np.diff(h)
    mid = _take(f, ax, nd, slice(2, None))
    lo = _take(f, ax, nd, slice(None, -2))
    centre = _take(f, ax, nd, slice(1, -1))
    if scalar:
        interior = (mid - lo) / (2.0 * h)
    else:
        dx1, dx2 = dx[:-1], dx[1:]
        a = -(dx2) / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
        interior = np.reshape(a, shape) * lo + np.reshape(b, shape) * centre + np.reshape(c, shape) * mid
    f0, f1, f2 = (_take(f, ax, nd, slice(i, i + 1)) for i in (0, 1, 2)) if n > 2 else (
        _take(f, ax, nd, slice(0, 1)), _take(f, ax, nd, slice(1, 2)), None)
    g0, g1, g2 = (_take(f, ax, nd, slice(i, i + 1 if i != -1 else None)) for i in (-1, -2, -3)) if n > 2 else (
        _take(f, ax, nd, slice(-1, None)), _take(f, ax, nd, slice(-2, -1)), None)
    if edge_order == 1:
        first_h = h if scalar else dx[0]
        last_h = h if scalar else dx[-1]
        first = (f1 - f0) / first_h
        last = (g0 - g1) / last_h
    else:
        if scalar:
            first = (-1.5 * f0 + 2.0 * f1 - 0.5 * f2) / h
            last = (0.5 * g2 - 2.0 * g1 + 1.5 * g0) / h
        else:
            d1, d2 = dx[0], dx[1]
            a = -(2.0 * d1 + d2) / (d1 * (d1 + d2))
            b = (d1 + d2) / (d1 * d2)
            c = -d1 / (d2 * (d1 + d2))
            first = a * f0 + b * f1 + c * f2
            d1, d2 = dx[-2], dx[-1]
            a = d2 / (d1 * (d1 + d2))
            b = -(d2 + d1) / (d1 * d2)
            c = (2.0 * d2 + d1) / (d2 * (d1 + d2))
            last = a * g2 + b * g1 + c * g0
    parts = [first, interior, last] if n > 2 else [first, last]
    return np.concatenate(parts, axis=ax)


# ------------------------------------------------------------------ diff, ediff1d, trapezoid, unwrap
def _side(value, a, ax):
    """prepend/append as numpy broadcasts them: a scalar becomes one slice along ``ax``."""
    value = _float(value) if not _is_diff(value) and not np.isscalar(value) else value
    if np.ndim(plain(value)) == 0:
        shape = list(shape_of(a))
        shape[ax] = 1
        return np.broadcast_to(value, tuple(shape))
    return value


_base_diff = TABLE[np.diff].impl


@composite(np.diff)
def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    nd = len(shape_of(a))
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    ax = operator.index(axis) % nd
    pieces = []
    if prepend is not np._NoValue and prepend is not None:
        pieces.append(_side(prepend, a, ax))
    pieces.append(a)
    if append is not np._NoValue and append is not None:
        pieces.append(_side(append, a, ax))
    if len(pieces) > 1:
        a = np.concatenate(pieces, axis=ax)
    return _base_diff(a, n=n, axis=ax)


@composite(np.ediff1d)
def _ediff1d(ary, to_end=None, to_begin=None):
    flat = np.ravel(ary)
    dtype = plain(flat).dtype if plain(flat).dtype.kind == "f" else np.float64  # numpy keeps ary's dtype
    pieces = []
    if to_begin is not None:
        pieces.append(np.ravel(to_begin) if _is_diff(to_begin) else np.ravel(np.asarray(to_begin, dtype)))
    pieces.append(flat[1:] - flat[:-1])
    if to_end is not None:
        pieces.append(np.ravel(to_end) if _is_diff(to_end) else np.ravel(np.asarray(to_end, dtype)))
    return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def _trapezoid(y, x=None, dx=1.0, axis=-1):
    nd = len(shape_of(y))
    ax = operator.index(axis) % nd
    if x is None:
        d = dx
    else:
        x = _float(x)
        if len(shape_of(x)) == 1:
            d = np.diff(x)
            shape = [1] * nd
            shape[ax] = shape_of(d)[0]
            d = np.reshape(d, tuple(shape))
        else:
            d = np.diff(x, axis=ax)
    hi = _take(y, ax, nd, slice(1, None))
    lo = _take(y, ax, nd, slice(None, -1))
    return np.sum(d * (hi + lo) / 2.0, axis=ax)


if hasattr(np, "trapezoid"):
    composite(np.trapezoid)(_trapezoid)
if hasattr(np, "trapz"):
    composite(np.trapz)(_trapezoid)


@composite(np.unwrap)
def _unwrap(p, discont=None, axis=-1, *, period=2 * math.pi):
    if _is_diff(period):
        raise UnsupportedFunctionError("np.unwrap with a differentiable period; remedy: pass period as a number")
    # the corrections are multiples of the period, piecewise constant in p: numpy's own, from the values.
    # discont is only a threshold the jumps are compared with: its derivative is 0, like a comparison's.
    if _is_diff(discont):
        discont = plain(discont)
    values = plain(p)
    corrected = np.unwrap(values, discont=discont, axis=axis, period=period)
    return p + (corrected - values)


# ------------------------------------------------------------------ piecewise ufuncs
def _modf_jvp(out, args, kwargs, tangents):
    t = tangents[0]
    return (t, 0.0 * t)  # the fractional part moves with x; the integer part is piecewise constant


def _modf_vjp(out, args, kwargs, ct):
    return [ct[0]]


TABLE[np.modf] = Custom(_modf_jvp, _modf_vjp)


def _frexp_jvp(out, args, kwargs, tangents):
    mantissa, exponent = out
    scale = np.ldexp(np.ones_like(plain(mantissa)), -exponent)
    return (tangents[0] * scale[..., None], None)


def _frexp_vjp(out, args, kwargs, ct):
    mantissa, exponent = out
    scale = np.ldexp(np.ones_like(plain(mantissa)), -exponent)
    return [ct[0] * scale[..., None]]


TABLE[np.frexp] = Custom(_frexp_jvp, _frexp_vjp)
def _exponent(e):
    e = plain(e)
    return np.asarray(e)[..., None] if np.ndim(e) else e


# ldexp(x, e) = x * 2**e is linear in x; its integer exponent has no derivative (a Linear rule, not an
# Elementwise one: the generic elementwise checks sample every argument from floats)
TABLE[np.ldexp] = Linear({0: lambda t, x, e: np.ldexp(t, _exponent(e))},
                         {0: lambda ct, x, e: unbroadcast(np.ldexp(ct, _exponent(e)), np.shape(plain(x)))})
TABLE[np.floor_divide] = ZeroDerivative()


def _divmod_jvp(out, args, kwargs, tangents):
    quotient, _ = out
    x, y = args
    tx, ty = tangents
    t = tx if tx is not None else 0.0
    if ty is not None:
        t = t - np.asarray(plain(quotient))[..., None] * ty
    shape = np.shape(plain(quotient))
    proto = tx if tx is not None else ty
    t = np.broadcast_to(t, shape + shape_of(proto)[-1:])
    return (0.0 * t, t)


def _divmod_vjp(out, args, kwargs, ct):
    quotient, _ = out
    x, y = args
    c = ct[1]
    return [unbroadcast(c, np.shape(plain(x))), unbroadcast(-np.asarray(plain(quotient))[..., None] * c, np.shape(plain(y)))]


TABLE[np.divmod] = Custom(_divmod_jvp, _divmod_vjp)


# ------------------------------------------------------------------ i0
def _numpy_i0_pieces():
    from numpy.lib import _function_base_impl as impl  # numpy's own Chebyshev pieces (pure arithmetic)
    return getattr(impl, "_i0_1", None), getattr(impl, "_i0_2", None)


@composite(np.i0)
def _i0(x):
    small, large = _numpy_i0_pieces()
    if small is None or large is None:
        raise UnsupportedFunctionError("np.i0 has no derivative rule with this numpy version; remedy: use "
                                       "scipy.special.i0 (it has one)")
    a = np.abs(x)  # i0 is even: numpy evaluates it at |x|
    values = plain(a)
    near = values <= 8.0
    if np.all(near):
        r = small(a)
    elif not np.any(near):
        r = large(a)
    else:
        r = np.where(near, small(np.where(near, a, 1.0)), large(np.where(near, 9.0, a)))
    zero = values == 0
    if np.any(zero):
        # at exactly 0, |x| has no second derivative: use the even Taylor polynomial of i0 there (its
        # value is 1 and its derivatives up to the 9th are i0's, as sinc does)
        y = x * x / 4.0
        series = 1.0 + y * (1.0 + y * (1.0 / 4.0 + y * (1.0 / 36.0 + y / 576.0)))
        r = np.where(zero, series, r)
    return r
