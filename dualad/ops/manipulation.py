"""Array manipulation and indexing: pad, the split family, tril/triu, block, insert/delete, put, ...

All composites. Most of these only move entries, so each is written as ONE
gather (an index array computed by running numpy's own function on the
entries' numbers, ``np.arange(size)``), or a ``np.where`` between a gather
and constants: reverse mode then needs only getitem's transpose, and the
index arrays are numpy's, so the layout is exactly numpy's. In-place
functions (``put``, ``put_along_axis``, ``fill_diagonal``) write through
``a[key] = v``, which both modes record.

>>> import numpy as np, dualad
>>> dualad.jacobian(lambda x: np.pad(x, 1, mode="edge"), np.array([1.0, 2.0])).tolist()
[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..arraylike import ArrayLike
from ..errors import UnsupportedFunctionError
from .common import composite, plain, shape_of

__all__ = ["gather_like"]


def _numbers(shape):
    """Every entry's flat position, shaped like the array (numpy's functions move these as they move entries)."""
    return np.arange(math.prod(shape)).reshape(shape)


def gather_like(a, index):
    """``a``'s entries at the flat positions ``index`` (any shape): one getitem."""
    return np.ravel(a)[index]


def _is_diff(x) -> bool:
    return isinstance(x, ArrayLike) or (isinstance(x, (list, tuple)) and any(_is_diff(v) for v in x))


# ------------------------------------------------------------------ pad
def _pairs(value, ndim, name):
    if isinstance(value, ArrayLike):
        raise UnsupportedFunctionError(f"np.pad with a differentiable {name}= is not supported; "
                                       f"remedy: pass {name} as plain numbers")
    return np.broadcast_to(np.asarray(value, dtype=object if value is None else None), (ndim, 2))


@composite(np.pad)
def _pad(array, pad_width, mode="constant", **kwargs):
    if callable(mode):
        raise UnsupportedFunctionError("np.pad with a callable mode is not supported on differentiable values; "
                                       "remedy: pad with a named mode, or np.concatenate the pieces yourself")
    shape = shape_of(array)
    nd = len(shape)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (nd, 2))
    x = array
    for ax in range(nd):
        before, after = int(widths[ax, 0]), int(widths[ax, 1])
        if before == 0 and after == 0:
            continue
        x = _pad_axis(x, ax, before, after, mode, kwargs)
    return x


def _float_dtype(x):
    dtype = plain(x).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _concat_axis(x, ax, left, right):
    parts = [p for p in (left, x, right) if p is not None]
    return np.concatenate(parts, axis=ax)


def _block_of(x, ax, width, value):
    """A constant block of ``width`` along ``ax`` (other axes as x's), holding ``value``."""
    shape = list(shape_of(x))
    shape[ax] = width
    return np.full(tuple(shape), value, dtype=_float_dtype(x))


def _pad_axis(x, ax, before, after, mode, kwargs):
    n = shape_of(x)[ax]
    nd = len(shape_of(x))
    if mode in ("edge", "wrap") or (mode in ("reflect", "symmetric") and kwargs.get("reflect_type", "even") == "even"):
        index = np.pad(np.arange(n), (before, after), mode=mode)  # numpy's own per-axis mapping
        return np.take(x, index, axis=ax)
    if mode in ("constant", "empty"):
        values = _pairs(kwargs.get("constant_values", 0), nd, "constant_values")[ax] if mode == "constant" else (0, 0)
        left = _block_of(x, ax, before, values[0]) if before else None
        right = _block_of(x, ax, after, values[1]) if after else None
        return _concat_axis(x, ax, left, right)
    if mode in ("maximum", "minimum", "mean", "median"):
        lengths = kwargs.get("stat_length", None)
        lengths = (None, None) if lengths is None else _pairs(lengths, nd, "stat_length")[ax]
        stat = {"maximum": np.max, "minimum": np.min, "mean": np.mean, "median": np.median}[mode]
        pieces = []
        for width, length, side in ((before, lengths[0], "left"), (after, lengths[1], "right")):
            if not width:
                pieces.append(None)
                continue
            length = n if length is None else max(1, min(int(length), n))
            window = [slice(None)] * nd
            window[ax] = slice(0, length) if side == "left" else slice(n - length, n)
            value = stat(x[tuple(window)], axis=ax, keepdims=True)
            shape = list(shape_of(x))
            shape[ax] = width
            pieces.append(np.broadcast_to(value, tuple(shape)))
        return _concat_axis(x, ax, pieces[0], pieces[1])
    if mode == "linear_ramp":
        ends = _pairs(kwargs.get("end_values", 0), nd, "end_values")[ax]
        pieces = []
        for width, end, side in ((before, ends[0], "left"), (after, ends[1], "right")):
            if not width:
                pieces.append(None)
                continue
            edge = np.take(x, [0 if side == "left" else n - 1], axis=ax)
            end = float(end)  # a Python float: a numpy int64 would promote a float32 array
            steps = np.reshape(np.arange(width, dtype=_float_dtype(x)), (-1,) + (1,) * (nd - ax - 1))
            ramp = end + steps * ((edge - end) / width)  # numpy's linspace(end, edge, width, endpoint=False)
            pieces.append(ramp if side == "left" else np.flip(ramp, ax))
        return _concat_axis(x, ax, pieces[0], pieces[1])
    if mode in ("reflect", "symmetric"):  # reflect_type='odd': an affine map of the axis, numpy's own
        eye = np.eye(n, dtype=_float_dtype(x))
        P = np.pad(eye, ((before, after), (0, 0)), mode=mode, reflect_type="odd")
        moved = np.moveaxis(x, ax, -1)
        return np.moveaxis(moved @ P.T, -1, ax)
    raise ValueError(f"mode '{mode}' is not supported")


# ------------------------------------------------------------------ split family, unstack
def _split_points(n, indices_or_sections, equal: bool):
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        if equal and n % sections:
            raise ValueError("array split does not result in an equal division")
        each, extra = divmod(n, sections)
        sizes = [0] + extra * [each + 1] + (sections - extra) * [each]
        return list(np.cumsum(sizes))
    return [0] + list(indices_or_sections) + [n]


def _split_along(ary, points, axis):
    nd = len(shape_of(ary))
    ax = operator.index(axis) % nd
    out = []
    for lo, hi in zip(points[:-1], points[1:]):
        key = [slice(None)] * nd
        key[ax] = slice(int(lo), int(hi))
        out.append(ary[tuple(key)])
    return out


@composite(np.array_split)
def _array_split(ary, indices_or_sections, axis=0):
    n = shape_of(ary)[operator.index(axis) % len(shape_of(ary))]
    return _split_along(ary, _split_points(n, indices_or_sections, False), axis)


@composite(np.split)
def _split(ary, indices_or_sections, axis=0):
    n = shape_of(ary)[operator.index(axis) % len(shape_of(ary))]
    return _split_along(ary, _split_points(n, indices_or_sections, True), axis)


@composite(np.hsplit)
def _hsplit(ary, indices_or_sections):
    if len(shape_of(ary)) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return np.split(ary, indices_or_sections, 1 if len(shape_of(ary)) > 1 else 0)


@composite(np.vsplit)
def _vsplit(ary, indices_or_sections):
    if len(shape_of(ary)) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return np.split(ary, indices_or_sections, 0)


@composite(np.dsplit)
def _dsplit(ary, indices_or_sections):
    if len(shape_of(ary)) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return np.split(ary, indices_or_sections, 2)


if hasattr(np, "unstack"):
    @composite(np.unstack)
    def _unstack(x, /, *, axis=0):
        nd = len(shape_of(x))
        ax = operator.index(axis) % nd
        return tuple(x[(slice(None),) * ax + (i,)] for i in range(shape_of(x)[ax]))


# ------------------------------------------------------------------ triangles, rotations, axes
def _triangle_mask(shape, k, lower):
    rows, cols = shape[-2:]
    keep = np.tri(rows, cols, k, dtype=bool)
    return keep if lower else ~np.tri(rows, cols, k - 1, dtype=bool)


@composite(np.tril)
def _tril(m, k=0):
    shape = shape_of(m)
    if len(shape) < 2:
        m = np.broadcast_to(m, (shape[-1] if shape else 1,) * 2) if shape else m
        shape = shape_of(m)
    return np.where(_triangle_mask(shape, k, True), m, np.zeros((), plain(m).dtype))


@composite(np.triu)
def _triu(m, k=0):
    shape = shape_of(m)
    if len(shape) < 2:
        m = np.broadcast_to(m, (shape[-1],) * 2)
        shape = shape_of(m)
    return np.where(_triangle_mask(shape, k, False), m, np.zeros((), plain(m).dtype))


@composite(np.rot90)
def _rot90(m, k=1, axes=(0, 1)):
    index = np.rot90(_numbers(shape_of(m)), k, axes)
    return gather_like(m, index)


@composite(np.rollaxis)
def _rollaxis(a, axis, start=0):
    return gather_like(a, np.rollaxis(_numbers(shape_of(a)), axis, start))


@composite(np.block)
def _block(arrays):
    def depth(obj):
        return 1 + depth(obj[0]) if isinstance(obj, list) and obj else (1 if isinstance(obj, list) else 0)

    def leaves(obj):
        if isinstance(obj, list):
            for o in obj:
                yield from leaves(o)
        else:
            yield obj

    if isinstance(arrays, tuple):
        raise TypeError("arrays is a tuple. Only lists are supported as arrays")
    list_depth = depth(arrays)
    result_ndim = max([list_depth] + [len(shape_of(x)) for x in leaves(arrays)])

    def build(obj, level):
        if isinstance(obj, list):
            parts = [build(o, level + 1) for o in obj]
            return np.concatenate(parts, axis=-(list_depth - level))
        nd = len(shape_of(obj))
        return np.reshape(obj, (1,) * (result_ndim - nd) + shape_of(obj)) if nd < result_ndim else obj

    return build(arrays, 0)


@composite(np.broadcast_arrays)
def _broadcast_arrays(*args, subok=False):
    shape = np.broadcast_shapes(*[shape_of(a) for a in args])
    return tuple(np.broadcast_to(a, shape) for a in args)


# ------------------------------------------------------------------ insert, delete, resize, gathers
@composite(np.insert)
def _insert(arr, obj, values, axis=None):
    if _is_diff(obj):
        raise UnsupportedFunctionError("np.insert with a differentiable obj (positions); remedy: pass integer positions")
    shape = shape_of(arr)
    vshape = shape_of(values) if _is_diff(values) else np.shape(values)
    vnum = np.arange(math.prod(vshape)).reshape(vshape)
    src = np.insert(_numbers(shape), obj, np.full(vshape, -1), axis=axis)  # same values shape: same layout
    slot = np.insert(np.full(shape, -1), obj, vnum, axis=axis)
    inserted = src < 0
    kept = gather_like(arr, np.where(inserted, 0, src))
    if not inserted.any():
        return kept
    if _is_diff(values):
        new = gather_like(values, np.where(inserted, slot, 0))
    else:
        new = np.insert(np.zeros(shape, plain(arr).dtype), obj, values, axis=axis)
    return np.where(inserted, new, kept)


@composite(np.delete)
def _delete(arr, obj, axis=None):
    if _is_diff(obj):
        raise UnsupportedFunctionError("np.delete with a differentiable obj; remedy: pass integer positions")
    return gather_like(arr, np.delete(_numbers(shape_of(arr)), obj, axis=axis))


@composite(np.resize)
def _resize(a, new_shape):
    return gather_like(a, np.resize(np.arange(math.prod(shape_of(a))), new_shape))


@composite(np.compress)
def _compress(condition, a, axis=None, out=None):
    if out is not None:
        raise UnsupportedFunctionError("np.compress with out= on differentiable values; remedy: leave out= out")
    return gather_like(a, np.compress(plain(condition), _numbers(shape_of(a)), axis=axis))


@composite(np.extract)
def _extract(condition, arr):
    return gather_like(arr, np.extract(plain(condition), _numbers(shape_of(arr))))


@composite(np.diagflat)
def _diagflat(v, k=0):
    return np.diag(np.ravel(v), k)


try:  # numpy >= 1.20
    from numpy.lib.stride_tricks import sliding_window_view as _swv
except ImportError:  # pragma: no cover
    _swv = None

if _swv is not None:
    @composite(_swv)
    def _sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
        if writeable:
            raise UnsupportedFunctionError("sliding_window_view(writeable=True) on differentiable values; "
                                           "remedy: use the read-only view")
        return gather_like(x, _swv(_numbers(shape_of(x)), window_shape, axis))


@composite(np.meshgrid)
def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    nd = len(xi)
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    shapes = [(1,) * i + (-1,) + (1,) * (nd - i - 1) for i in range(nd)]
    if indexing == "xy" and nd > 1:
        shapes[0] = (1, -1) + (1,) * (nd - 2)
        shapes[1] = (-1, 1) + (1,) * (nd - 2)
    grids = [np.reshape(np.ravel(x), s) for x, s in zip(xi, shapes)]
    if sparse:
        return tuple(grids)
    full = np.broadcast_shapes(*[shape_of(g) for g in grids])
    return tuple(np.broadcast_to(g, full) for g in grids)


if hasattr(np, "astype"):
    @composite(np.astype)
    def _astype(x, dtype, /, *, copy=True, device=None):
        return x.astype(dtype, copy=copy)


# ------------------------------------------------------------------ in place: put, put_along_axis, fill_diagonal
@composite(np.put)
def _put(a, ind, v, mode="raise"):
    if not isinstance(a, ArrayLike):
        raise UnsupportedFunctionError("np.put of a differentiable value into a plain array would drop its derivative; "
                                       "remedy: make the target with dualad.zeros_like(x) or np.zeros_like(x)")
    size = math.prod(shape_of(a))
    ind = np.asarray(ind).ravel()
    if mode == "clip":
        ind = np.clip(ind, 0, size - 1)
    elif mode == "wrap":
        ind = np.mod(ind, size)
    elif np.any((ind < -size) | (ind >= size)):
        raise IndexError(f"index out of range for array of size {size}")
    values = np.ravel(v) if _is_diff(v) else np.ravel(np.asarray(v))
    picks = np.resize(np.arange(math.prod(shape_of(values))), len(ind))
    a[np.unravel_index(np.mod(ind, size), shape_of(a))] = values[picks]


@composite(np.put_along_axis)
def _put_along_axis(arr, indices, values, axis):
    if not isinstance(arr, ArrayLike):
        raise UnsupportedFunctionError("np.put_along_axis of a differentiable value into a plain array; remedy: "
                                       "make the target with dualad.zeros_like(x) or np.zeros_like(x)")
    indices = np.asarray(indices)
    if axis is None:
        flat_index = np.mod(indices.ravel(), math.prod(shape_of(arr)))
        arr[np.unravel_index(flat_index, shape_of(arr))] = np.broadcast_to(values, indices.shape).ravel() \
            if _is_diff(values) else np.broadcast_to(np.asarray(values), indices.shape).ravel()
        return
    nd = len(shape_of(arr))
    ax = operator.index(axis) % nd
    grids = list(np.ix_(*[np.arange(n) for n in indices.shape]))
    grids[ax] = indices
    key = tuple(np.broadcast_arrays(*grids))
    arr[key] = np.broadcast_to(values, key[0].shape)


@composite(np.fill_diagonal)
def _fill_diagonal(a, val, wrap=False):
    if not isinstance(a, ArrayLike):
        raise UnsupportedFunctionError("np.fill_diagonal of a differentiable value into a plain array; remedy: "
                                       "make the target with dualad.zeros_like(x) or np.zeros_like(x)")
    mask = np.zeros(shape_of(a), dtype=bool)
    np.fill_diagonal(mask, True, wrap=wrap)
    count = int(mask.sum())
    if _is_diff(val):
        flat = np.ravel(val)
        a[mask] = flat[np.resize(np.arange(math.prod(shape_of(flat))), count)]
    else:
        a[mask] = np.resize(np.ravel(np.asarray(val, dtype=plain(a).dtype)), count)


# ------------------------------------------------------------------ select, choose, piecewise
@composite(np.select)
def _select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(choicelist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    result = default
    for cond, choice in zip(reversed(list(condlist)), reversed(list(choicelist))):
        result = np.where(plain(cond), choice, result)
    return result


@composite(np.choose)
def _choose(a, choices, out=None, mode="raise"):
    if out is not None:
        raise UnsupportedFunctionError("np.choose with out= on differentiable values; remedy: leave out= out")
    # an index array of floats (a differentiable value's) raises numpy's own TypeError, as numpy does
    index = np.asarray(plain(a)).astype(np.intp, casting="safe")
    n = len(choices)
    if mode == "clip":
        index = np.clip(index, 0, n - 1)
    elif mode == "wrap":
        index = np.mod(index, n)
    elif np.any((index < 0) | (index >= n)):
        raise ValueError("invalid entry in choice array")
    return np.select([index == i for i in range(n)], list(choices))


@composite(np.piecewise)
def _piecewise(x, condlist, funclist, *args, **kw):
    if _is_diff(condlist):
        condlist = [plain(c) for c in condlist] if isinstance(condlist, (list, tuple)) else plain(condlist)
    shape = shape_of(x)
    if isinstance(condlist, np.ndarray) and condlist.dtype == bool and condlist.shape == shape or \
            not isinstance(condlist, (list, tuple, np.ndarray)) or (isinstance(condlist, (list, tuple)) and
                                                                    condlist and np.ndim(condlist[0]) == 0 and
                                                                    len(shape) != 0):
        condlist = [condlist]
    conditions = [np.asarray(c, dtype=bool) for c in condlist]
    if len(funclist) == len(conditions) + 1:
        otherwise = ~np.any(conditions, axis=0) if conditions else np.ones(shape, bool)
        conditions.append(otherwise)
    elif len(funclist) != len(conditions):
        raise ValueError(f"with {len(conditions)} condition(s), either {len(conditions)} or {len(conditions) + 1} "
                         f"functions are expected")
    y = np.zeros_like(x)
    for cond, func in zip(conditions, funclist):
        cond = np.broadcast_to(cond, shape)
        if not callable(func):
            y[cond] = func
        elif cond.any():
            y[cond] = func(x[cond], *args, **kw)
    return y


# ------------------------------------------------------------------ linspace, logspace, apply_along_axis
@composite(np.linspace)
def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = (num - 1) if endpoint else num
    delta = stop - start
    steps = np.reshape(np.arange(0, num, dtype=np.result_type(plain(delta), 1.0)),
                       (-1,) + (1,) * len(shape_of(delta)))
    if div > 0:
        step = delta / div
        y = steps * step + start
    else:
        step = np.nan * delta
        y = steps * delta + start
    if endpoint and num > 1:
        last = np.broadcast_to(stop, shape_of(y)[1:])
        y = np.concatenate([y[:-1], np.reshape(last, (1,) + shape_of(last))], axis=0)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if dtype is not None:
        y = y.astype(dtype)
    return (y, step) if retstep else y


@composite(np.logspace)
def _logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    y = np.linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    if isinstance(base, ArrayLike) or np.ndim(base):
        base = np.expand_dims(base, axis=axis)
    r = np.power(base, y)
    return r.astype(dtype) if dtype is not None else r


@composite(np.geomspace)
def _geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    if np.any(plain(start) == 0) or np.any(plain(stop) == 0):
        raise ValueError("Geometric sequence cannot include zero")
    sign = np.sign(plain(start))
    log_start, log_stop = np.log10(np.abs(start)), np.log10(np.abs(stop))
    y = np.logspace(log_start, log_stop, num=num, endpoint=endpoint, base=10.0, axis=0)
    y = y * np.reshape(sign, (1,) + np.shape(sign)) if np.ndim(sign) else y * sign
    # numpy makes the endpoints exact
    if num > 0:
        y = np.concatenate([np.reshape(start * np.ones_like(plain(y[0])), (1,) + shape_of(y)[1:]), y[1:]], axis=0)
        if endpoint and num > 1:
            y = np.concatenate([y[:-1], np.reshape(stop * np.ones_like(plain(y[-1])), (1,) + shape_of(y)[1:])], axis=0)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    return y.astype(dtype) if dtype is not None else y


@composite(np.apply_along_axis)
def _apply_along_axis(func1d, axis, arr, *args, **kwargs):
    nd = len(shape_of(arr))
    ax = operator.index(axis) % nd
    moved = np.moveaxis(arr, ax, -1)
    outer = shape_of(moved)[:-1]
    results = [func1d(moved[index], *args, **kwargs) for index in np.ndindex(*outer)]
    if not results:
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    stacked = np.stack([r if _is_diff(r) else np.asarray(r) for r in results])
    res_shape = shape_of(stacked)[1:]
    out = np.reshape(stacked, outer + res_shape)
    # numpy puts the function's output axes where the input axis was
    order = list(range(ax)) + list(range(len(outer), len(outer) + len(res_shape))) + list(range(ax, len(outer)))
    return np.transpose(out, order)
