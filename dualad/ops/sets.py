"""Functions JAX differentiates that numpy spells with decisions on values: set differences,
``trim_zeros``, histogram bin edges, ``np.poly`` of roots, ``np.ix_``.

All composites: which entries survive is decided on the plain values (numpy's own functions),
the surviving values keep their derivatives (a gather, or ``np.unique``'s rule with ties sharing
the derivative), and edges come from ``min``/``max``/``linspace`` of the data.

>>> import numpy as np, dualad
>>> dualad.jacobian(lambda x: np.poly(x), np.array([1.0, 2.0])).tolist()   # x**2 - (a+b) x + a b
[[0.0, 0.0], [-1.0, -1.0], [2.0, 1.0]]
"""
from __future__ import annotations

import numpy as np

from ..arraylike import ArrayLike
from ..decisions import note
from ..errors import UnsupportedFunctionError
from .common import composite, plain, shape_of

__all__: list[str] = []


def _is_diff(x) -> bool:
    return isinstance(x, ArrayLike)


@composite(np.setdiff1d)
def _setdiff1d(ar1, ar2, assume_unique=False):
    first = np.ravel(ar1) if assume_unique else np.unique(ar1)
    keep = note("compare", ~np.isin(plain(first), plain(ar2)))  # ar2 only decides: no derivative in it
    return first[np.flatnonzero(keep)]


@composite(np.setxor1d)
def _setxor1d(ar1, ar2, assume_unique=False):
    if not assume_unique:
        ar1, ar2 = np.unique(ar1), np.unique(ar2)
    joined = np.concatenate([np.ravel(ar1), np.ravel(ar2)])
    ordered = np.sort(joined)
    values = plain(ordered)
    if values.size == 0:
        return ordered
    flag = np.concatenate(([True], values[1:] != values[:-1], [True]))
    keep = note("compare", flag[1:] & flag[:-1])
    return ordered[np.flatnonzero(keep)]


@composite(np.trim_zeros)
def _trim_zeros(filt, trim="fb", axis=None):
    if len(shape_of(filt)) != 1 or axis not in (None, 0, -1):
        raise UnsupportedFunctionError("np.trim_zeros of a differentiable array with more than one dimension "
                                       "(axis=) has no rule in dualad; remedy: trim a 1-D array")
    trim = trim.lower()
    if any(c not in "fb" for c in trim):
        raise ValueError(f"unexpected character(s) in `trim`: {trim!r}")
    nonzero = np.flatnonzero(note("compare", plain(filt) != 0))
    if nonzero.size == 0:
        return filt[:0]
    start = int(nonzero[0]) if "f" in trim else 0
    stop = int(nonzero[-1]) + 1 if "b" in trim else shape_of(filt)[0]
    return filt[start:stop]


@composite(np.histogram_bin_edges)
def _histogram_bin_edges(a, bins=10, range=None, weights=None):
    if _is_diff(weights) or (isinstance(bins, (list, tuple)) and any(_is_diff(b) for b in bins)):
        raise UnsupportedFunctionError("np.histogram_bin_edges with differentiable weights or bin edges has no "
                                       "rule in dualad; remedy: pass them as constants")
    if _is_diff(bins):  # explicit edges from x: numpy returns them as they are (after its checks)
        np.histogram_bin_edges(plain(a), plain(bins), None, None)
        return bins * 1.0
    if not isinstance(bins, (str, int, np.integer)):
        return np.histogram_bin_edges(plain(a), bins, None, None)  # explicit edges: numpy's own constant
    plain_range = None if range is None else tuple(plain(r) for r in range)
    edges = np.histogram_bin_edges(plain(a), bins, plain_range, plain(weights) if weights is not None else None)
    count = len(edges) - 1  # a string rule picks the number of bins from the data: a decision
    note("compare", count)
    if range is not None:
        first, last = range
    else:
        data = np.ravel(a)
        first, last = (np.min(data), np.max(data)) if shape_of(data)[0] else (0.0, 1.0)
    if plain(first) == plain(last):  # numpy widens an empty range by 0.5 on each side
        first, last = first - 0.5, last + 0.5
    return np.linspace(first, last, count + 1, endpoint=True, dtype=edges.dtype)


@composite(np.poly)
def _poly(seq_of_zeros):
    shape = shape_of(seq_of_zeros)
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] != 0:
        raise UnsupportedFunctionError("np.poly of a differentiable matrix needs its eigenvalues (complex in "
                                       "general); remedy: pass the roots, or use np.linalg.eigvalsh for a "
                                       "symmetric matrix and np.poly of those")
    if len(shape) == 0:
        seq_of_zeros = np.reshape(seq_of_zeros, (1,))
    elif len(shape) != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    if shape_of(seq_of_zeros)[0] == 0:
        return 1.0
    dtype = plain(seq_of_zeros).dtype if plain(seq_of_zeros).dtype.kind == "f" else np.float64
    coefficients = np.ones(1, dtype=dtype)  # numpy's own steps, in the input's float type
    for k in builtins_range(shape_of(seq_of_zeros)[0]):
        factor = np.concatenate([np.ones(1, dtype=dtype), -np.reshape(seq_of_zeros[k], (1,))])
        coefficients = np.convolve(coefficients, factor, mode="full")
    return coefficients


builtins_range = range  # _histogram_bin_edges names a parameter ``range``, as numpy does


@composite(np.ix_)
def _ix(*args):
    out = []
    nd = len(args)
    for k, new in enumerate(args):
        if not _is_diff(new):
            out.append(np.ix_(*([np.zeros(1, dtype=np.intp)] * k + [new] + [np.zeros(1, dtype=np.intp)] *
                                (nd - k - 1)))[k])
            continue
        if len(shape_of(new)) != 1:
            raise ValueError("Cross index must be 1 dimensional")
        out.append(np.reshape(new, (1,) * k + (shape_of(new)[0],) + (1,) * (nd - k - 1)))
    return tuple(out)



