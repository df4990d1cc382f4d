"""Differentiable versions of scipy.signal's convolutions, ``lfilter`` and ``detrend``.

Written with numpy calls dualad differentiates, in every array argument (signal, kernel, filter
coefficients). ``fftconvolve`` computes the same result by direct convolution (dualad has no FFT
rules yet), so it costs O(N·M) rather than O(N log N). Values equal scipy's to rounding.

>>> import numpy as np, dualad
>>> from dualad.scipy import signal
>>> signal.convolve(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
array([1., 3., 2.])
"""
from __future__ import annotations

import numpy as np

from ..arraylike import ArrayLike, primal
from ..errors import UnsupportedFunctionError
from .passthrough import scipy_on_plain

__all__ = ["convolve", "correlate", "fftconvolve", "convolve2d", "correlate2d", "lfilter", "detrend"]


def _plain(x) -> np.ndarray:
    return np.asarray(primal(x)) if isinstance(x, ArrayLike) else np.asarray(x)


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _refuse(function: str, what: str, remedy: str):
    return UnsupportedFunctionError(f"dualad.scipy.signal.{function}: {what} is not supported on differentiable "
                                    f"values; remedy: {remedy}")


def _full_convolution(a, b):
    """The full N-d convolution: one shifted, scaled copy of ``a`` per entry of the smaller ``b``."""
    if np.size(_plain(b)) > np.size(_plain(a)):
        a, b = b, a
    sa, sb = _shape(a), _shape(b)
    full = tuple(m + n - 1 for m, n in zip(sa, sb))
    total = None
    for k in np.ndindex(*sb):
        pad = [(ki, fi - ki - ai) for ki, fi, ai in zip(k, full, sa)]
        term = np.pad(a * b[k], pad)
        total = term if total is None else total + term
    return total


def _centered(arr, newshape):
    shape = _shape(arr)
    start = [(c - n) // 2 for c, n in zip(shape, newshape)]
    return arr[tuple(slice(s, s + n) for s, n in zip(start, newshape))]


def _check_mode(mode: str, s1: tuple, s2: tuple) -> None:
    if mode not in ("full", "same", "valid"):
        raise ValueError("acceptable mode flags are 'valid', 'same', or 'full'")
    if len(s1) != len(s2):
        raise ValueError("in1 and in2 should have the same dimensionality")
    if mode == "valid" and not (all(m >= n for m, n in zip(s1, s2)) or all(n >= m for m, n in zip(s1, s2))):
        raise ValueError("For 'valid' mode, one must be at least as large as the other in every dimension")


@scipy_on_plain("scipy.signal")
def convolve(in1, in2, mode: str = "full", method: str = "auto"):
    """N-d convolution, like :func:`scipy.signal.convolve` (every method gives the direct result).

    >>> convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]), mode="same")
    array([1. , 2.5, 4. ])
    """
    s1, s2 = _shape(in1), _shape(in2)
    _check_mode(mode, s1, s2)
    if len(s1) == 0:
        return in1 * in2
    out = _full_convolution(in1, in2)
    if mode == "full":
        return out
    if mode == "same":
        return _centered(out, s1)
    return _centered(out, tuple(abs(m - n) + 1 for m, n in zip(s1, s2)))


@scipy_on_plain("scipy.signal")
def correlate(in1, in2, mode: str = "full", method: str = "auto"):
    """N-d cross-correlation, like :func:`scipy.signal.correlate` (real input).

    >>> correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]), mode="same")
    array([2. , 3.5, 3. ])
    """
    s1, s2 = _shape(in1), _shape(in2)
    _check_mode(mode, s1, s2)
    if len(s1) == 0:
        return in1 * in2
    flipped = np.flip(in2)
    if mode == "valid" and not all(m >= n for m, n in zip(s1, s2)):
        # scipy swaps the inputs when in2 is the larger one, and reverses the result
        return np.flip(convolve(in2, np.flip(in1), mode="valid"))
    return convolve(in1, flipped, mode=mode)


@scipy_on_plain("scipy.signal")
def fftconvolve(in1, in2, mode: str = "full", axes=None):
    """Like :func:`scipy.signal.fftconvolve`, computed by direct convolution (``axes=None`` only).

    >>> fftconvolve(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([1., 3., 2.])
    """
    if axes is not None:
        raise _refuse("fftconvolve", "axes=", "convolve over all axes, or loop over the other axes")
    return convolve(in1, in2, mode=mode)


def _boundary(function: str, boundary: str, fillvalue) -> None:
    if boundary not in ("fill", "pad") or np.any(_plain(fillvalue) != 0):
        raise _refuse(function, f"boundary={boundary!r} with fillvalue={fillvalue!r}",
                      "pad the input with np.pad (mode 'wrap' or 'symmetric') and use mode='valid'")


@scipy_on_plain("scipy.signal")
def convolve2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue=0):
    """2-d convolution, like :func:`scipy.signal.convolve2d` (zero fill at the boundary).

    >>> convolve2d(np.eye(2), np.ones((1, 2)))
    array([[1., 1., 0.],
           [0., 1., 1.]])
    """
    if len(_shape(in1)) != 2 or len(_shape(in2)) != 2:
        raise ValueError("convolve2d inputs must both be 2-D arrays")
    _boundary("convolve2d", boundary, fillvalue)
    return convolve(in1, in2, mode=mode)


@scipy_on_plain("scipy.signal")
def correlate2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue=0):
    """2-d cross-correlation, like :func:`scipy.signal.correlate2d` (zero fill at the boundary).

    >>> correlate2d(np.eye(2), np.ones((1, 2)))
    array([[1., 1., 0.],
           [0., 1., 1.]])
    """
    if len(_shape(in1)) != 2 or len(_shape(in2)) != 2:
        raise ValueError("correlate2d inputs must both be 2-D arrays")
    _boundary("correlate2d", boundary, fillvalue)
    if mode == "same":  # correlate2d centres 'same' differently from correlate for even kernel sizes
        full = correlate(in1, in2, mode="full")
        s1, s2 = _shape(in1), _shape(in2)
        return full[tuple(slice(n // 2, n // 2 + m) for m, n in zip(s1, s2))]
    return correlate(in1, in2, mode=mode)


def _coefficients(c):
    if isinstance(c, (list, tuple)):  # a list may mix numbers and differentiable values
        return np.stack([e if isinstance(e, ArrayLike) else np.asarray(e, dtype=float) for e in c])
    return c


@scipy_on_plain("scipy.signal")
def lfilter(b, a, x, axis: int = -1, zi=None):
    """The IIR/FIR filter ``a[0] y[n] = sum b[k] x[n-k] - sum_{k>=1} a[k] y[n-k]``, like
    :func:`scipy.signal.lfilter`; differentiable in b, a and x (``zi`` not supported).

    A FIR filter (``a`` of length 1) is one convolution; an IIR filter runs the recurrence sample
    by sample (O(len(x)) numpy calls).

    >>> lfilter(np.array([1.0]), np.array([1.0, -0.5]), np.array([1.0, 0.0, 0.0]))
    array([1.  , 0.5 , 0.25])
    """
    if zi is not None:
        raise _refuse("lfilter", "zi= (initial conditions)", "prepend the history to x, or use a zero state")
    b, a = _coefficients(b), _coefficients(a)
    if len(_shape(b)) != 1 or len(_shape(a)) != 1:
        raise ValueError("object of too small depth for desired array")
    moved = np.moveaxis(x, axis, -1)
    n = _shape(moved)[-1]
    b = b / a[0]
    a = a / a[0]
    nb, na = _shape(b)[0], _shape(a)[0]
    if na == 1:  # FIR: y = b * x, truncated to x's length
        out = sum(np.pad(moved[..., :n - k] * b[k], [(0, 0)] * (len(_shape(moved)) - 1) + [(k, 0)])
                  for k in range(min(nb, n)))
        return np.moveaxis(out + 0.0 * moved, -1, axis)
    ys = []
    for i in range(n):
        acc = b[0] * moved[..., i]
        for k in range(1, min(nb, i + 1)):
            acc = acc + b[k] * moved[..., i - k]
        for k in range(1, min(na, i + 1)):
            acc = acc - a[k] * ys[i - k]
        ys.append(acc)
    return np.moveaxis(np.stack(ys, axis=-1), -1, axis)


@scipy_on_plain("scipy.signal")
def detrend(data, axis: int = -1, type: str = "linear", bp=0, overwrite_data: bool = False):
    """Remove the mean (``type='constant'``) or the least-squares line (``'linear'``) along ``axis``,
    like :func:`scipy.signal.detrend` (no breakpoints: ``bp=0``).

    >>> np.abs(detrend(np.array([1.0, 2.0, 4.0]))).round(6)  # the residual of the least-squares line
    array([0.166667, 0.333333, 0.166667])
    """
    if type in ("constant", "c"):
        return data - np.mean(data, axis=axis, keepdims=True)
    if type not in ("linear", "l"):
        raise ValueError("Trend type must be 'linear' or 'constant'.")
    if np.ndim(bp) or bp != 0:
        raise _refuse("detrend", "breakpoints (bp)", "detrend each segment separately")
    moved = np.moveaxis(data, axis, -1)
    n = _shape(moved)[-1]
    t = np.arange(1, n + 1, dtype=float) / n
    design = np.stack([t, np.ones(n)], axis=1)
    projection = np.eye(n) - design @ np.linalg.pinv(design)  # a constant: the residual is linear in data
    return np.moveaxis(moved @ projection.T, -1, axis)
