"""numpy functions defined through other numpy functions.

Each implementation here calls numpy on its (possibly differentiable)
arguments, so it runs through the same dispatch as user code and needs no
derivative formula of its own: ``mean`` is ``sum / n``, ``flip`` is an index,
``tensordot`` is reshapes and a ``matmul``. Gather-like functions (``take``,
``repeat``, ``tile``, ``roll``...) all become one ``__getitem__`` with an
index array, so reverse mode needs only that one transpose.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from .arraylike import primal as _primal
from .common import ndim as _ndim, shape as _shape, size as _size
from .arraylike import ArrayLike
from .decisions import note
from .errors import ConversionError, UnsupportedFunctionError
from .rules import ACCUMULATE, TABLE, Composite, normalize_axes as _axes

__all__ = ["composite"]


def composite(*funcs):
    """Register an implementation for the numpy functions ``funcs``."""
    def register(impl):
        for f in funcs:
            TABLE[f] = Composite(impl)
        return impl
    return register


def _in_dtype(name, a, dtype):
    """``a`` cast to a float ``dtype=`` (numpy computes in it); a non-float dtype would drop the derivative."""
    if dtype is None:
        return a
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ConversionError(f"np.{name}(..., dtype={dt}) would drop the derivative; remedy: use a float "
                              "dtype or leave dtype out")
    if isinstance(a, ArrayLike):
        return a if a.dtype == dt else a.astype(dt)
    if isinstance(a, (list, tuple)):
        return [_in_dtype(name, x, dt) for x in a]
    return np.asarray(a, dtype=dt)


def _reject(name, **given):
    for key, value in given.items():
        if value is not None and value is not False:
            raise UnsupportedFunctionError(
                f"np.{name} with {key}= is not supported on differentiable values; remedy: leave {key}= out")


# ------------------------------------------------------------------ in-place writes
@composite(np.copyto)
def _copyto(dst, src, casting="same_kind", where=True):
    """``dst[...] = src`` (broadcast), through dualad's aliasing model when dst is a view."""
    src_dtype, dst_dtype = np.result_type(_primal(src)), np.result_type(_primal(dst))
    if not np.can_cast(src_dtype, dst_dtype, casting):  # numpy's own check, so casting= is never ignored
        raise TypeError(f"Cannot cast array data from {src_dtype} to {dst_dtype} according to the rule {casting!r}")
    if where is True:
        dst[...] = src
    else:
        dst[...] = np.where(where, src, dst)


# ------------------------------------------------------------------ reductions and statistics
@composite(np.mean)
def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _reject("mean", out=out, where=where)
    a = _in_dtype("mean", a, dtype)
    if axis is None:  # the common case: no zero array just to find the reduced size
        count = _size(a)
    else:
        count = _size(a) // max(1, _size(np.sum(np.zeros(_shape(a)), axis=axis, keepdims=keepdims)))
    return np.sum(a, axis=axis, keepdims=keepdims) / count


@composite(np.average)
def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    if returned:  # (average, sum of weights broadcast to its shape), as numpy returns them
        avg = np.average(a, axis=axis, weights=weights, keepdims=keepdims)
        ones = np.ones(_shape(a)) if weights is None else weights
        if weights is not None and _shape(weights) != _shape(a):
            ax = _axes(axis, _ndim(a))[0]
            ones = np.broadcast_to(np.reshape(weights, (-1,) + (1,) * (_ndim(a) - ax - 1)), _shape(a))
        total = np.sum(np.broadcast_to(ones, _shape(a)) if weights is None else ones, axis=axis, keepdims=keepdims)
        return avg, np.copy(np.broadcast_to(total, _shape(avg)))
    if weights is None:
        return np.mean(a, axis=axis, keepdims=keepdims)
    if _shape(weights) != _shape(a):
        if axis is None or _ndim(weights) != 1:
            raise UnsupportedFunctionError("np.average with weights of another shape needs axis=; "
                                           "remedy: broadcast the weights to a's shape")
        ax = _axes(axis, _ndim(a))[0]
        weights = np.reshape(weights, (-1,) + (1,) * (_ndim(a) - ax - 1))
    return np.sum(a * weights, axis=axis, keepdims=keepdims) / np.sum(
        np.broadcast_to(weights, _shape(a)), axis=axis, keepdims=keepdims)


@composite(np.var)
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None, correction=None):
    _reject("var", out=out, where=where, mean=mean)
    a = _in_dtype("var", a, dtype)
    ddof = correction if correction is not None else ddof
    centred = a - np.mean(a, axis=axis, keepdims=True)
    n = _size(a) // max(1, _size(np.sum(np.zeros(_shape(a)), axis=axis, keepdims=keepdims)))
    return np.sum(centred * centred, axis=axis, keepdims=keepdims) / (n - ddof)


@composite(np.std)
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None, correction=None):
    _reject("std", out=out, where=where, mean=mean)
    return np.sqrt(np.var(_in_dtype("std", a, dtype), axis=axis, ddof=ddof if correction is None else correction,
                          keepdims=keepdims))


@composite(np.ptp)
def _ptp(a, axis=None, out=None, keepdims=False):
    _reject("ptp", out=out)
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


# ------------------------------------------------------------------ shape
def _memory_order(a) -> list:
    """The axes of ``a``'s value by decreasing |stride|: numpy's ``ravel(order='K')`` reads them so (each
    axis in its own direction). A layout, fixed by the code that made ``a``, not a decision on values."""
    strides = np.asarray(_primal(a)).strides
    return sorted(range(len(strides)), key=lambda i: -abs(strides[i]))


@composite(np.ravel)
def _ravel(a, order="C"):
    if order == "K":
        a, order = np.transpose(a, _memory_order(a)), "C"
    return np.reshape(a, (-1,), order=order)


@composite(np.squeeze)
def _squeeze(a, axis=None):
    shape = _shape(a)
    drop = [i for i, n in enumerate(shape) if n == 1] if axis is None else list(_axes(axis, len(shape)))
    for i in drop:
        if shape[i] != 1:
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return np.reshape(a, tuple(n for i, n in enumerate(shape) if i not in drop))


@composite(np.expand_dims)
def _expand_dims(a, axis):
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = _ndim(a) + len(axes)
    axes = sorted(operator.index(x) % ndim for x in axes)
    shape = list(_shape(a))
    for ax in axes:
        shape.insert(ax, 1)
    return np.reshape(a, tuple(shape))


@composite(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    perm = list(range(_ndim(a)))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return np.transpose(a, perm)


@composite(np.moveaxis)
def _moveaxis(a, source, destination):
    n = _ndim(a)
    src = [operator.index(s) % n for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [operator.index(d) % n for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return np.transpose(a, order)


def _make_atleast(n):
    def atleast(*arys):
        out = []
        for a in arys:
            shape = _shape(a)
            if len(shape) < n:
                if n == 3 and len(shape) == 2:
                    shape = shape + (1,)
                elif n == 3 and len(shape) == 1:
                    shape = (1,) + shape + (1,)
                else:
                    shape = (1,) * (n - len(shape)) + shape
                a = np.reshape(a, shape)
            out.append(a)
        return out[0] if len(out) == 1 else out
    return atleast


for _n, _f in ((1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)):
    TABLE[_f] = Composite(_make_atleast(_n))


# ------------------------------------------------------------------ joining
@composite(np.stack)
def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _reject("stack", out=out, casting=casting != "same_kind")
    arrays = _in_dtype("stack", list(arrays), dtype)
    if not arrays:
        raise ValueError("need at least one array to stack")
    shape = _shape(arrays[0])
    ax = operator.index(axis) % (len(shape) + 1)
    return np.concatenate([np.expand_dims(a, ax) for a in arrays], axis=ax)


@composite(np.hstack)
def _hstack(tup, *, dtype=None, casting="same_kind"):
    _reject("hstack", casting=casting != "same_kind")
    arrs = [np.atleast_1d(a) for a in _in_dtype("hstack", list(tup), dtype)]
    return np.concatenate(arrs, axis=0 if _ndim(arrs[0]) == 1 else 1)


@composite(np.vstack)
def _vstack(tup, *, dtype=None, casting="same_kind"):
    _reject("vstack", casting=casting != "same_kind")
    return np.concatenate([np.atleast_2d(a) for a in _in_dtype("vstack", list(tup), dtype)], axis=0)


@composite(np.column_stack)
def _column_stack(tup):
    cols = [np.reshape(a, (-1, 1)) if _ndim(a) < 2 else a for a in tup]
    return np.concatenate(cols, axis=1)


@composite(np.dstack)
def _dstack(tup):
    return np.concatenate([np.atleast_3d(a) for a in tup], axis=2)


@composite(np.append)
def _append(arr, values, axis=None):
    if axis is None:
        return np.concatenate([np.ravel(arr), np.ravel(values)])
    return np.concatenate([arr, values], axis=axis)


# ------------------------------------------------------------------ gathers: all become one index
def _gather(a, index, axis):
    """``a`` indexed along ``axis`` by the integer array ``index``."""
    if axis is None:
        return np.ravel(a)[index]
    ax = _axes(axis, _ndim(a))[0]
    return a[(slice(None),) * ax + (index,)]


@composite(np.take)
def _take(a, indices, axis=None, out=None, mode="raise"):
    _reject("take", out=out)
    if mode != "raise":
        n = _size(a) if axis is None else _shape(a)[_axes(axis, _ndim(a))[0]]
        indices = np.clip(indices, 0, n - 1) if mode == "clip" else np.mod(indices, n)
    return _gather(a, np.asarray(indices), axis)


@composite(np.take_along_axis)
def _take_along_axis(arr, indices, axis=-1):
    if axis is None:
        return np.ravel(arr)[indices]
    indices = np.asarray(indices)
    shape = _shape(arr)
    if indices.ndim != len(shape):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    ax = operator.index(axis) % len(shape)
    # numpy broadcasts indices and arr against each other on every other axis: a grid over
    # arr's own extent (0 where arr has length 1) broadcasts the same way
    grids = [indices if d == ax else np.arange(n).reshape((1,) * d + (n,) + (1,) * (len(shape) - d - 1))
             for d, n in enumerate(shape)]
    return arr[tuple(np.broadcast_arrays(*grids))]


@composite(np.repeat)
def _repeat(a, repeats, axis=None):
    n = _size(a) if axis is None else _shape(a)[_axes(axis, _ndim(a))[0]]
    return _gather(a, np.repeat(np.arange(n), repeats), axis)


@composite(np.flip)
def _flip(m, axis=None):
    axes = _axes(axis, _ndim(m))
    return m[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(_ndim(m)))]


@composite(np.fliplr)
def _fliplr(m):
    return np.flip(m, 1)


@composite(np.flipud)
def _flipud(m):
    return np.flip(m, 0)


@composite(np.tile)
def _tile(A, reps):
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)
    shape = _shape(A)
    nd = max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    index = np.arange(math.prod(shape)).reshape(shape)
    return np.reshape(A, shape)[np.unravel_index(np.tile(index, reps), shape)]


@composite(np.diagonal)
def _diagonal(a, offset=0, axis1=0, axis2=1):
    a = np.moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = _shape(a)[-2:]
    start_r, start_c = max(0, -offset), max(0, offset)
    n = max(0, min(rows - start_r, cols - start_c))
    i = np.arange(n)
    return a[..., start_r + i, start_c + i]


@composite(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _reject("trace", out=out)
    return np.sum(np.diagonal(_in_dtype("trace", a, dtype), offset, axis1, axis2), axis=-1)


@composite(np.diag)
def _diag(v, k=0):
    if _ndim(v) == 2:
        return np.diagonal(v, k)
    if _ndim(v) != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = _shape(v)[0] + abs(k)
    out = np.zeros_like(np.broadcast_to(v[:1], (n * n,)))  # a zero buffer of v's kind
    i = np.arange(_shape(v)[0])
    flat = (i + max(0, -k)) * n + (i + max(0, k))
    out[flat] = v
    return np.reshape(out, (n, n))


@composite(np.diff)
def _diff(a, n=1, axis=-1, prepend=None, append=None):
    if prepend is not None or append is not None:
        raise UnsupportedFunctionError("np.diff with prepend=/append= on differentiable values; "
                                       "remedy: np.concatenate first, then np.diff")
    ax = _axes(axis, _ndim(a))[0]
    for _ in range(n):
        hi = tuple(slice(1, None) if i == ax else slice(None) for i in range(_ndim(a)))
        lo = tuple(slice(None, -1) if i == ax else slice(None) for i in range(_ndim(a)))
        a = a[hi] - a[lo]
    return a


@composite(np.sort)
def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    _reject("sort", order=order)  # field names: structured arrays, never differentiable values
    if axis is None:
        a, axis = np.ravel(a), -1
    # np.argsort on the differentiable value: the order is a decision the engines record
    return np.take_along_axis(a, np.argsort(a, axis=axis, kind=kind, stable=stable), axis)


# ------------------------------------------------------------------ products
@composite(np.dot)
def _dot(a, b, out=None):
    _reject("dot", out=out)
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    if _ndim(b) <= 2:
        return np.matmul(a, b)
    return np.tensordot(a, b, axes=([-1], [-2]))


@composite(np.vdot)
def _vdot(a, b):
    return np.sum(np.ravel(a) * np.ravel(b))


@composite(np.inner)
def _inner(a, b):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    return np.tensordot(a, b, axes=([-1], [-1]))


@composite(np.outer)
def _outer(a, b, out=None):
    _reject("outer", out=out)
    return np.reshape(np.ravel(a), (-1, 1)) * np.reshape(np.ravel(b), (1, -1))


@composite(np.tensordot)
def _tensordot(a, b, axes=2):
    if isinstance(axes, int):
        axes_a, axes_b = list(range(_ndim(a) - axes, _ndim(a))), list(range(axes))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, int) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, int) else list(axes_b)
    axes_a = [x % _ndim(a) for x in axes_a]
    axes_b = [x % _ndim(b) for x in axes_b]
    free_a = [i for i in range(_ndim(a)) if i not in axes_a]
    free_b = [i for i in range(_ndim(b)) if i not in axes_b]
    sa, sb = _shape(a), _shape(b)
    k = math.prod(sa[i] for i in axes_a)
    a2 = np.reshape(np.transpose(a, free_a + axes_a), (-1, k))
    b2 = np.reshape(np.transpose(b, axes_b + free_b), (k, -1))
    return np.reshape(a2 @ b2, tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b))


@composite(np.kron)
def _kron(a, b):
    if _ndim(a) != _ndim(b):
        raise UnsupportedFunctionError("np.kron of arrays of different ranks; remedy: reshape them to one rank")
    nd = _ndim(a)
    prod = np.reshape(a, tuple(x for s in _shape(a) for x in (s, 1))) * \
        np.reshape(b, tuple(x for s in _shape(b) for x in (1, s)))
    return np.reshape(prod, tuple(_shape(a)[i] * _shape(b)[i] for i in range(nd)))


@composite(np.cross)
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:  # numpy: axis= overrides axisa, axisb and axisc
        axisa = axisb = axisc = axis
    # numpy's own checks and warnings (vector lengths 2 or 3, axes in range) on the values
    np.cross(np.zeros(_shape(a)), np.zeros(_shape(b)), axisa=axisa, axisb=axisb, axisc=axisc)
    a = np.moveaxis(a, axisa, -1)
    b = np.moveaxis(b, axisb, -1)
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    z = a0 * b1 - a1 * b0
    if _shape(a)[-1] == 2 and _shape(b)[-1] == 2:
        return z  # two 2-vectors: the z component alone, as numpy returns it
    if _shape(a)[-1] == 2:
        b2 = b[..., 2]
        x, y = a1 * b2, -(a0 * b2)
    elif _shape(b)[-1] == 2:
        a2 = a[..., 2]
        x, y = -(a2 * b1), a2 * b0
    else:
        a2, b2 = a[..., 2], b[..., 2]
        x, y = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2
    c = np.stack([x, y, z], axis=-1)
    return np.moveaxis(c, -1, axisc)


@composite(np.polyval)
def _polyval(p, x):
    result = 0.0 * x
    for coefficient in p:
        result = result * x + coefficient
    return result


@composite(np.clip)
def _clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kwargs):
    _reject("clip", out=out, **{k: v for k, v in kwargs.items() if not (k == "casting" and v == "same_kind")})
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if lo is not None:
        a = np.maximum(a, lo)
    if hi is not None:
        a = np.minimum(a, hi)
    return a


@composite(np.full_like)
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    _reject("full_like", order=order not in ("K", "C"), subok=not subok,
            **{k: v for k, v in kwargs.items() if not (k == "device" and v in (None, "cpu"))})
    # no derivative through a; fill_value's derivative reaches every entry
    if dtype is not None and np.dtype(dtype).kind != "f":  # integer-valued: piecewise constant
        return np.full_like(_primal(a), _primal(fill_value), dtype=dtype, shape=shape)
    base = np.zeros_like(a, dtype=dtype) if shape is None else np.zeros_like(a, dtype=dtype, shape=shape)
    result = base + fill_value
    return result if dtype is None else _in_dtype("full_like", result, dtype)


@composite(np.real)
def _real(val):
    return val


@composite(np.real_if_close)
def _real_if_close(a, tol=100):
    return a


@composite(np.nan_to_num)
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    if not copy:
        raise UnsupportedFunctionError("np.nan_to_num(..., copy=False) would replace values in place, which "
                                       "dualad does not do on differentiable values; remedy: leave copy= out "
                                       "and use the returned array (x = np.nan_to_num(x))")
    v = np.asarray(_primal(x))
    bad = ~np.isfinite(x)  # on the differentiable value: a recorded decision
    if not bad.any():
        return x
    return np.where(bad, np.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf), x)


def _sinc_series(y):
    """sin(y)/y as its Taylor polynomial in y**2 (terms to y**20): for |y| <= 1 the remainder is
    below 1e-21 and the polynomial's derivatives are as accurate, while the quotient's derivative
    (cos(y)/y - sin(y)/y**2) loses every digit to cancellation as y -> 0."""
    y2 = y * y
    result = 1.0 / math.factorial(21) + 0.0 * y2
    for k in range(9, -1, -1):
        result = result * y2 + (-1.0) ** k / math.factorial(2 * k + 1)
    return result


@composite(np.sinc)
def _sinc(x):
    v = np.asarray(_primal(x))
    y = np.pi * x
    small = np.abs(np.pi * v) <= 1.0
    if not small.any():
        return np.sin(y) / y
    safe = np.where(small, 1.0, y)
    result = np.where(small, _sinc_series(y), np.sin(safe) / safe)
    # the value numpy itself computes (they differ by an ulp or so near 0), the derivative of the
    # series: r - value(r) is exactly 0 with r's derivative
    return (result - _primal(result)) + np.sinc(v)


@composite(np.i0)
def _i0(x):
    raise UnsupportedFunctionError("np.i0 has no derivative rule in dualad; remedy: use scipy.special on values")


# ------------------------------------------------------------------ linear algebra
@composite(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    nd = _ndim(x)
    if axis is None and ord is not None and nd > 2:
        raise ValueError("Improper number of dimensions to norm.")
    matrix = (axis is None and nd == 2 and ord is not None) or (isinstance(axis, tuple) and len(axis) == 2)
    if axis is None and ord is None:
        return np.sqrt(np.sum(x * x, keepdims=keepdims))
    if not matrix:
        ax = axis if axis is not None else 0
        if ord is None or ord == 2:
            return np.sqrt(np.sum(x * x, axis=ax, keepdims=keepdims))
        if ord == np.inf:
            return np.max(np.abs(x), axis=ax, keepdims=keepdims)
        if ord == -np.inf:
            return np.min(np.abs(x), axis=ax, keepdims=keepdims)
        if ord == 1:
            return np.sum(np.abs(x), axis=ax, keepdims=keepdims)
        if ord == 0:
            return np.sum(np.abs(np.sign(x)), axis=ax, keepdims=keepdims)
        return np.sum(np.abs(x) ** ord, axis=ax, keepdims=keepdims) ** (1.0 / ord)
    rows, cols = axis if axis is not None else (0, 1)
    if ord in (None, "fro"):
        return np.sqrt(np.sum(x * x, axis=(rows, cols), keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        sum_axis, pick_axis = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = np.sum(np.abs(x), axis=sum_axis, keepdims=True)
        pick = np.max if ord in (1, np.inf) else np.min
        r = pick(sums, axis=pick_axis, keepdims=True)
        return r if keepdims else np.reshape(r, tuple(n for i, n in enumerate(_shape(x))
                                                      if i not in _axes((rows, cols), nd)))
    raise UnsupportedFunctionError(f"np.linalg.norm with ord={ord!r} (a singular-value norm) has no derivative "
                                   "rule in dualad; remedy: use ord='fro', 1 or inf")


@composite(np.linalg.matrix_power)
def _matrix_power(a, n):
    if n < 0:
        a, n = np.linalg.inv(a), -n
    result = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    if result is None:
        return 0.0 * a + np.eye(_shape(a)[-1], dtype=np.result_type(0.0 * a))  # keeps float32
    return result


@composite(np.linalg.multi_dot)
def _multi_dot(arrays, *, out=None):
    _reject("linalg.multi_dot", out=out)
    result = arrays[0]
    for m in arrays[1:]:
        result = np.dot(result, m)
    return result


@composite(np.linalg.matmul)
def _linalg_matmul(x1, x2):
    return np.matmul(x1, x2)


# ------------------------------------------------------------------ ufunc.accumulate of maximum / minimum
def _extreme_accumulate(ufunc):
    def accumulate(a, axis=0):
        a = np.moveaxis(a, axis, -1)
        v = np.asarray(_primal(a))
        run = ufunc.accumulate(v, axis=-1)
        changed = np.ones(v.shape, dtype=bool)
        changed[..., 1:] = run[..., 1:] != run[..., :-1]
        if np.isnan(run).any():  # numpy's extreme stays nan from the first nan on (nan != nan: not a change)
            changed[..., 1:] &= ~(np.isnan(run[..., 1:]) & np.isnan(run[..., :-1]))
        # where the running extreme was last set; its entry gives the exact value
        start = np.maximum.accumulate(np.where(changed, np.arange(v.shape[-1]), 0), axis=-1)
        first = np.take_along_axis(a, start, axis=-1)
        # Entries tied with the running extreme share its derivative equally, as np.max of the
        # prefix does: add terms whose values are exactly 0 but whose tangents do the sharing.
        tied = v == run
        note("accumulate", (start, tied))  # positions chosen on values: a recorded decision
        zero = np.cumsum(np.where(tied, a - first, 0.0), axis=-1)
        count = np.cumsum(tied, axis=-1)
        prev = np.maximum(start - 1, 0)
        has_prev = start > 0
        zero = zero - np.where(has_prev, np.take_along_axis(zero, prev, axis=-1), 0.0)
        count = count - np.where(has_prev, np.take_along_axis(count, prev, axis=-1), 0)
        return np.moveaxis(first + zero / np.maximum(count, 1), -1, axis)
    return accumulate


# numpy has no cumulative function for these ufuncs: their accumulate is this numpy implementation
ACCUMULATE[np.maximum] = _extreme_accumulate(np.maximum)
ACCUMULATE[np.minimum] = _extreme_accumulate(np.minimum)


# The rule families in dualad.ops register after the core composites above (some extend them).
from . import ops  # noqa: E402,F401
