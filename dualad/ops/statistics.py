"""Statistics and sorting: quantiles, covariance, the nan-functions, partition, unique, ...

All composites: each is written with numpy calls that dispatch as usual, so no
new derivative formula lives here. The order statistics (``median``,
``quantile``, ``percentile`` and their nan-versions) are a fixed linear
combination of the sorted values, ``(1 - g) * s[j] + g * s[j + 1]``: the
positions ``j`` and weight ``g`` come from numpy itself (the quantile of
``0, 1, ..., n-1`` under the same ``method`` is exactly ``j + g``), so every
``method`` numpy has is covered and the weights are numpy's.

Ties (documented convention): entries with equal values share the weight of
the tied order statistics equally, as ``np.max`` shares a tie, so
``median([1, 2, 2])`` has derivative ``[0, 1/2, 1/2]``. ``unique`` gives each
distinct value the mean derivative of the entries equal to it.

>>> import numpy as np, dualad
>>> dualad.gradient(np.median, np.array([3.0, 1.0, 2.0, 5.0])).tolist()
[0.5, 0.0, 0.5, 0.0]
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..arraylike import ArrayLike
from ..errors import UnsupportedFunctionError
from ..rules import REDUCE, TABLE, NoDerivative
from .common import composite, norm_axes, plain, shape_of

__all__ = ["quantile_weights"]


def _refuse(name, **given):
    for key, value in given.items():
        if value is not None and value is not False and value is not np._NoValue:
            raise UnsupportedFunctionError(
                f"np.{name} with {key}= is not supported on differentiable values; remedy: leave {key}= out")


def _keepdims(value) -> bool:
    return False if value is np._NoValue else bool(value)


def _to_last(a, axis):
    """``a`` with the reduced axes merged into one last axis; the reduced axes as a tuple."""
    shape = shape_of(a)
    axes = norm_axes(axis, len(shape))
    kept = [i for i in range(len(shape)) if i not in axes]
    moved = np.transpose(a, kept + list(axes)) if list(axes) != list(range(len(shape)))[len(kept):] else a
    return np.reshape(moved, tuple(shape[i] for i in kept) + (-1,)), axes


def _restore(r, shape, axes, keepdims, qdims: int):
    """Reduced results ``(q..., kept...)`` given ``keepdims`` (the reduced axes back as size 1)."""
    if keepdims:
        r = np.reshape(r, shape_of(r)[:qdims] + tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return r


def quantile_weights(values, q, method: str, skip_nan: bool):
    """Weights ``W`` (shape ``rows + q.shape + (n,)``) with ``quantile = sum(W * sorted, -1)``.

    ``values`` holds the rows (last axis reduced), plain. Rows holding a NaN get NaN weights
    (numpy's quantile is NaN there) unless ``skip_nan``, which uses each row's non-NaN count.
    """
    rows, n = values.shape[:-1], values.shape[-1]
    q = np.asarray(q, dtype=np.float64)
    nan = np.isnan(values)
    counts = n - np.sum(nan, axis=-1) if skip_nan else np.full(rows, n)
    W = np.zeros(rows + q.shape + (n,))
    flatW = W.reshape((-1,) + q.shape + (n,))
    flat_counts = np.reshape(counts, -1)
    for count in np.unique(flat_counts):
        pick = flat_counts == count
        if count == 0:
            flatW[pick] = np.nan
            continue
        # numpy's own positions: the quantile of 0, 1, ..., count-1 is j + g under every method
        pos = np.quantile(np.arange(count, dtype=np.float64), q, method=method)
        lo = np.floor(pos).astype(int)
        g = pos - lo
        hi = np.minimum(lo + 1, count - 1)
        w = np.zeros(q.shape + (n,))
        np.put_along_axis(w, lo[..., None], (1.0 - g)[..., None], axis=-1)
        w_hi = np.zeros(q.shape + (n,))
        np.put_along_axis(w_hi, hi[..., None], g[..., None], axis=-1)
        flatW[pick] = w + w_hi
    if not skip_nan and nan.any():
        flatW[np.reshape(nan.any(axis=-1), -1)] = np.nan
    return W


def _share_ties(W, sorted_values):
    """Weights averaged over runs of equal sorted values (ties share equally)."""
    s = sorted_values
    if s.shape[-1] < 2 or not np.any(s[..., 1:] == s[..., :-1]):
        return W
    W = W.copy()
    rows = s.reshape(-1, s.shape[-1])
    Wr = W.reshape((rows.shape[0], -1, s.shape[-1]))
    for r, row in enumerate(rows):
        starts = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]]))
        ends = np.concatenate([starts[1:], [len(row)]])
        for lo, hi in zip(starts, ends):
            if hi - lo > 1:
                Wr[r, :, lo:hi] = Wr[r, :, lo:hi].mean(axis=-1, keepdims=True)
    return W


def _order_statistic(a, q, axis, method, keepdims, skip_nan, name):
    if isinstance(q, ArrayLike) or (isinstance(q, (list, tuple)) and any(isinstance(v, ArrayLike) for v in q)):
        raise UnsupportedFunctionError(
            f"np.{name} with a differentiable q (the quantile level) is not supported; remedy: pass q as "
            "plain numbers (the derivative in the data is given)")
    shape = shape_of(a)
    rows, axes = _to_last(a, axis)
    values = plain(rows)
    order = np.argsort(values, axis=-1, kind="stable")  # NaNs last, as numpy sorts
    ordered = np.take_along_axis(rows, order, axis=-1)
    ordered_values = np.take_along_axis(values, order, axis=-1)
    W = _share_ties(quantile_weights(values, q, method, skip_nan), ordered_values)
    nan_rows = np.isnan(W).any(axis=-1)
    if values.dtype.kind == "f":
        W = W.astype(values.dtype)  # float64 weights must not promote a float32 quantile
    if np.isnan(ordered_values).any():  # NaN entries get weight 0 (skipped) or make the row NaN below
        ordered = np.where(np.isnan(ordered_values), 0.0, ordered)
        W = np.where(np.isnan(W), 0.0, W)
    qdims = np.ndim(q)
    lead = len(shape_of(ordered)) - 1
    expanded = np.reshape(ordered, shape_of(ordered)[:-1] + (1,) * qdims + shape_of(ordered)[-1:])
    terms = expanded * W
    infinite = np.isinf(values).any()
    if infinite:  # an infinite entry the quantile does not read (weight 0) must not make it nan (inf * 0)
        terms = np.where(W != 0, terms, 0.0)
    r = np.sum(terms, axis=-1)
    if nan_rows.any():  # numpy's result is NaN there
        r = np.where(nan_rows, np.nan, r)
    if qdims:  # numpy puts the q axes first
        r = np.moveaxis(r, tuple(range(lead, lead + qdims)), tuple(range(qdims)))
    if infinite:
        r = _numpy_where_infinite(r, values, q, method, name)
    return _restore(r, shape, axes, keepdims, qdims)


_PLAIN_ORDER_STATISTICS = {"quantile": np.quantile, "percentile": np.quantile, "nanquantile": np.nanquantile,
                           "nanpercentile": np.nanquantile, "median": np.median, "nanmedian": np.nanmedian}


def _numpy_where_infinite(r, values, q, method, name):
    """numpy's own value where it or ours is not finite: numpy interpolates next to an infinite entry
    with its own formula (``b - (b - a) * (1 - g)``: nan beside +inf at g = 1 where the weighted sum
    gives inf; the median's mean of the middle two: inf). The derivative there means nothing."""
    func = _PLAIN_ORDER_STATISTICS[name]
    with np.errstate(invalid="ignore"):
        reference = func(values, axis=-1) if name in ("median", "nanmedian") else \
            func(values, q, axis=-1, method=method)
    ours = plain(r)
    differs = ~(np.isfinite(reference) & np.isfinite(ours)) & ~(reference == ours)
    return np.where(differs, reference, r) if np.any(differs) else r


@composite(np.quantile)
def _quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
              weights=None, interpolation=None):
    _refuse("quantile", out=out, weights=weights)
    return _order_statistic(a, q, axis, interpolation or method, _keepdims(keepdims), False, "quantile")


@composite(np.nanquantile)
def _nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                 weights=None, interpolation=None):
    _refuse("nanquantile", out=out, weights=weights)
    return _order_statistic(a, q, axis, interpolation or method, _keepdims(keepdims), True, "nanquantile")


def _percent(q):
    return np.true_divide(q, 100) if not isinstance(q, (list, tuple)) else np.true_divide(np.asarray(q), 100)


@composite(np.percentile)
def _percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                weights=None, interpolation=None):
    _refuse("percentile", out=out, weights=weights)
    return _order_statistic(a, _percent(q), axis, interpolation or method, _keepdims(keepdims), False, "percentile")


@composite(np.nanpercentile)
def _nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                   weights=None, interpolation=None):
    _refuse("nanpercentile", out=out, weights=weights)
    return _order_statistic(a, _percent(q), axis, interpolation or method, _keepdims(keepdims), True,
                            "nanpercentile")


@composite(np.median)
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    _refuse("median", out=out)
    return _order_statistic(a, 0.5, axis, "linear", _keepdims(keepdims), False, "median")


@composite(np.nanmedian)
def _nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    _refuse("nanmedian", out=out)
    return _order_statistic(a, 0.5, axis, "linear", _keepdims(keepdims), True, "nanmedian")


# ------------------------------------------------------------------ average, cov, corrcoef
def _as_array(x):
    """Plain sequences as float arrays (differentiable values pass unchanged)."""
    return x if x is None or isinstance(x, (ArrayLike, np.ndarray)) else np.asarray(x, dtype=np.float64)


@composite(np.average)
def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    keepdims = _keepdims(keepdims)
    shape = shape_of(a)
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        total = np.full(shape_of(avg), math.prod(shape) / max(1, math.prod(shape_of(avg))), plain(avg).dtype)
    else:
        weights = _as_array(weights)
        if shape_of(weights) != shape:
            if axis is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            if len(shape_of(weights)) != 1:
                raise TypeError("1D weights expected when shapes of a and weights differ.")
            ax = norm_axes(axis, len(shape))[0]
            weights = np.reshape(weights, (-1,) + (1,) * (len(shape) - ax - 1))
        total = np.sum(np.broadcast_to(weights, shape), axis=axis, keepdims=keepdims)
        avg = np.sum(a * weights, axis=axis, keepdims=keepdims) / total
    if returned:
        return avg, (total if len(shape_of(total)) else total[()])
    return avg


@composite(np.cov)
def _cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    X = np.atleast_2d(m)
    if not rowvar and shape_of(X)[0] != 1:
        X = np.transpose(X)
    if shape_of(X)[0] == 0:
        return np.array([]).reshape(0, 0)
    if y is not None:
        Y = np.atleast_2d(y)
        if not rowvar and shape_of(Y)[0] != 1:
            Y = np.transpose(Y)
        X = np.concatenate([X, Y], axis=0)
    if ddof is None:
        ddof = 1 if not bias else 0
    fweights, aweights = _as_array(fweights), _as_array(aweights)
    w = None
    if fweights is not None:
        w = fweights
    if aweights is not None:
        w = aweights if w is None else w * aweights
    n = shape_of(X)[1]
    if w is None:
        avg = np.mean(X, axis=1)
        fact = n - ddof
    else:
        w_sum = np.sum(w)
        avg = np.sum(X * w, axis=1) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * np.sum(w * aweights) / w_sum
    X = X - avg[:, None]
    c = X @ np.transpose(X if w is None else X * w)
    c = c * (1.0 / fact)
    return np.squeeze(c)


@composite(np.corrcoef)
def _corrcoef(x, y=None, rowvar=True, *, dtype=None):
    c = np.cov(x, y, rowvar)
    if len(shape_of(c)) == 0:
        return c / c
    stddev = np.sqrt(np.diagonal(c))
    c = c / stddev[:, None]
    c = c / stddev[None, :]
    return np.clip(c, -1, 1)


# ------------------------------------------------------------------ the nan-functions
def _zero_nans(a, fill):
    return np.where(np.isnan(plain(a)), fill, a)


@composite(np.nansum)
def _nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _refuse("nansum", out=out, initial=initial, where=where)
    return np.sum(_zero_nans(a, 0.0), axis=axis, keepdims=_keepdims(keepdims))


@composite(np.nanprod)
def _nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _refuse("nanprod", out=out, initial=initial, where=where)
    return np.prod(_zero_nans(a, 1.0), axis=axis, keepdims=_keepdims(keepdims))


@composite(np.nancumsum)
def _nancumsum(a, axis=None, dtype=None, out=None):
    _refuse("nancumsum", out=out)
    return np.cumsum(_zero_nans(a, 0.0), axis=axis)


@composite(np.nancumprod)
def _nancumprod(a, axis=None, dtype=None, out=None):
    _refuse("nancumprod", out=out)
    return np.cumprod(_zero_nans(a, 1.0), axis=axis)


def _nan_count(a, axis, keepdims):
    """The non-NaN entries per slice, in a's float dtype (an int64 count would promote float32)."""
    values = plain(a)
    dtype = values.dtype if values.dtype.kind == "f" else np.float64
    return np.asarray(np.sum(~np.isnan(values), axis=axis, keepdims=keepdims), dtype=dtype)


@composite(np.nanmean)
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _refuse("nanmean", out=out, where=where)
    keepdims = _keepdims(keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(_zero_nans(a, 0.0), axis=axis, keepdims=keepdims) / _nan_count(a, axis, keepdims)


@composite(np.nanvar)
def _nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
            correction=None):
    _refuse("nanvar", out=out, where=where, mean=mean)
    keepdims = _keepdims(keepdims)
    if correction is not None and correction is not np._NoValue:
        ddof = correction
    clean = _zero_nans(a, 0.0)
    count = _nan_count(a, axis, True)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = _zero_nans(a, 0.0) - np.sum(clean, axis=axis, keepdims=True) / count
        centred = np.where(np.isnan(plain(a)), 0.0, centred)
        total = np.sum(centred * centred, axis=axis, keepdims=keepdims)
        dof = _nan_count(a, axis, keepdims) - ddof
        return total / np.where(dof > 0, dof, np.nan)


@composite(np.nanstd)
def _nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
            correction=None):
    _refuse("nanstd", out=out, where=where, mean=mean)
    return np.sqrt(np.nanvar(a, axis=axis, ddof=ddof if correction in (None, np._NoValue) else correction,
                             keepdims=_keepdims(keepdims)))


def _nan_extreme(pick, fill):
    def impl(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        _refuse(pick.__name__, out=out, initial=initial, where=where)
        keepdims = _keepdims(keepdims)
        r = pick(_zero_nans(a, fill), axis=axis, keepdims=keepdims)
        all_nan = np.all(np.isnan(plain(a)), axis=axis, keepdims=keepdims)
        if np.any(all_nan):  # numpy returns NaN (with a warning) for an all-NaN slice
            r = np.where(all_nan, np.nan, r)
        return r
    return impl


composite(np.nanmax)(_nan_extreme(np.max, -np.inf))
composite(np.nanmin)(_nan_extreme(np.min, np.inf))
for _f in (np.nanargmax, np.nanargmin):
    TABLE[_f] = NoDerivative()


# ------------------------------------------------------------------ partition, unique, cumulative_*
@composite(np.partition)
def _partition(a, kth, axis=-1, kind="introselect", order=None):
    if order is not None:
        raise UnsupportedFunctionError("np.partition with order= (field names) is for structured arrays, never "
                                       "differentiable values; remedy: leave order= out")
    values = plain(a)
    if axis is None:
        a, values, axis = np.ravel(a), values.ravel(), -1
    parted = np.partition(values, kth, axis=axis, kind=kind)
    # which entry of a each output position holds: match ranks of the two permutations
    by_value = np.argsort(values, axis=axis, kind="stable")
    rank_of_output = np.argsort(np.argsort(parted, axis=axis, kind="stable"), axis=axis, kind="stable")
    source = np.take_along_axis(by_value, rank_of_output, axis=axis)
    return np.take_along_axis(a, source, axis=axis)


def _distinct(a):
    """The sorted distinct values of ``a``; each gets the mean derivative of the entries equal to it."""
    flat = np.ravel(a)
    values = plain(flat)
    order = np.argsort(values, kind="stable")
    s = flat[order]
    sv = values[order]
    if sv.size == 0:
        return s, order
    new = np.concatenate([[True], ~((sv[1:] == sv[:-1]) | (np.isnan(sv[1:]) & np.isnan(sv[:-1])))])
    starts = np.flatnonzero(new)
    counts = np.diff(np.concatenate([starts, [sv.size]]))
    first = s[starts]
    if len(starts) == sv.size:
        return first, order
    # exact zeros in value (tied entries minus their group's first) carry the other tangents
    group = np.cumsum(new) - 1
    spread = s - first[group]
    spread = np.where(np.isnan(sv), 0.0, spread)
    totals = np.cumsum(spread)
    ends = starts + counts - 1
    group_sum = totals[ends] - np.concatenate([totals[:1] * 0.0, totals[ends[:-1]]])
    return first + group_sum / counts.astype(sv.dtype if sv.dtype.kind == "f" else np.float64), order


@composite(np.unique)
def _unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *, equal_nan=True,
            sorted=True):
    if axis is not None:
        raise UnsupportedFunctionError("np.unique with axis= on differentiable values is not supported; "
                                       "remedy: use axis=None (distinct values)")
    extras = np.unique(plain(ar), return_index=return_index, return_inverse=return_inverse,
                       return_counts=return_counts, equal_nan=equal_nan)
    if not equal_nan and np.isnan(plain(ar)).any():
        raise UnsupportedFunctionError("np.unique(equal_nan=False) with NaNs on differentiable values; "
                                       "remedy: drop the NaNs first")
    values, _ = _distinct(ar)
    if not (return_index or return_inverse or return_counts):
        return values
    return (values,) + tuple(extras[1:])


@composite(np.unique_values)
def _unique_values(x):
    return np.unique(x)


@composite(np.unique_counts)
def _unique_counts(x):
    values, counts = np.unique(plain(x), return_counts=True)
    return type(np.unique_counts(plain(x)))(np.unique(x), counts)


@composite(np.unique_inverse)
def _unique_inverse(x):
    result = np.unique_inverse(plain(x))
    return type(result)(np.unique(x), result.inverse_indices)


@composite(np.unique_all)
def _unique_all(x):
    result = np.unique_all(plain(x))
    return type(result)(np.unique(x), result.indices, result.inverse_indices, result.counts)


def _with_initial(r, axis, initial):
    shape = list(shape_of(r))
    ax = 0 if axis is None else operator.index(axis) % len(shape)
    shape[ax] = 1
    return np.concatenate([np.zeros_like(r, shape=tuple(shape)) + initial, r], axis=ax)


if hasattr(np, "cumulative_sum"):
    @composite(np.cumulative_sum)
    def _cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        _refuse("cumulative_sum", out=out)
        if len(shape_of(x)) == 0:  # numpy treats a scalar as a 1-element vector
            x = np.reshape(x, (1,))
        if axis is None and len(shape_of(x)) > 1:
            raise ValueError("For arrays which have more than one dimension ``axis`` argument is required.")
        r = np.cumsum(x, axis=0 if axis is None else axis)
        return _with_initial(r, axis, 0.0) if include_initial else r

    @composite(np.cumulative_prod)
    def _cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        _refuse("cumulative_prod", out=out)
        if len(shape_of(x)) == 0:  # numpy treats a scalar as a 1-element vector
            x = np.reshape(x, (1,))
        if axis is None and len(shape_of(x)) > 1:
            raise ValueError("For arrays which have more than one dimension ``axis`` argument is required.")
        r = np.cumprod(x, axis=0 if axis is None else axis)
        return _with_initial(r, axis, 1.0) if include_initial else r


# ------------------------------------------------------------------ logaddexp.reduce
def _log_add_exp_reduce(base_exp, base_log):
    def reduce(a, axis=0, dtype=None, keepdims=False, **kwargs):
        _refuse("logaddexp.reduce", **{k: v for k, v in kwargs.items() if k in ("where", "initial")})
        values = plain(a)
        if values.ndim == 0:  # reducing a scalar gives it back, as numpy does
            return a
        peak = np.max(values, axis=axis, keepdims=True) if values.size else np.zeros(())
        peak = np.where(np.isfinite(peak), peak, 0.0)  # -inf rows: shift by 0 (the sum is 0, log -inf)
        with np.errstate(divide="ignore"):
            r = base_log(np.sum(base_exp(a - peak), axis=axis, keepdims=True)) + peak
        if not keepdims:
            r = np.squeeze(r, axis=norm_axes(axis, len(shape_of(a))))
        return r
    return reduce


REDUCE[np.logaddexp] = _log_add_exp_reduce(np.exp, np.log)
REDUCE[np.logaddexp2] = _log_add_exp_reduce(np.exp2, np.log2)
