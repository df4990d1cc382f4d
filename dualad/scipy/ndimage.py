"""Differentiable versions of scipy.ndimage's ``gaussian_filter1d`` and ``map_coordinates``.

``gaussian_filter1d`` (order 0) is differentiable in the input and in ``sigma`` (the kernel is built
with numpy); ``map_coordinates`` with ``order=1`` (linear interpolation) in the input and in the
coordinates, with ``order=0`` in the input (nearest neighbour: the coordinates' derivative is 0,
the function being piecewise constant). Higher spline orders are refused.

>>> import numpy as np, dualad
>>> from dualad.scipy import ndimage
>>> ndimage.map_coordinates(np.array([0.0, 10.0]), np.array([[0.25]]), order=1)
array([2.5])
"""
from __future__ import annotations

import numpy as np

from ..arraylike import ArrayLike, primal
from ..errors import UnsupportedFunctionError
from .passthrough import scipy_on_plain

__all__ = ["gaussian_filter1d", "correlate1d", "map_coordinates"]

# scipy.ndimage's boundary modes and numpy.pad's names for the same extension
_PAD_MODES = {"reflect": "symmetric", "grid-mirror": "symmetric", "mirror": "reflect", "nearest": "edge",
              "wrap": "wrap", "grid-wrap": "wrap", "constant": "constant", "grid-constant": "constant"}


def _plain(x) -> np.ndarray:
    return np.asarray(primal(x)) if isinstance(x, ArrayLike) else np.asarray(x)


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _refuse(function: str, what: str, remedy: str):
    return UnsupportedFunctionError(f"dualad.scipy.ndimage.{function}: {what} is not supported on differentiable "
                                    f"values; remedy: {remedy}")


@scipy_on_plain("scipy.ndimage")
def correlate1d(input, weights, axis: int = -1, output=None, mode: str = "reflect", cval: float = 0.0,
                origin: int = 0):
    """One-dimensional correlation along ``axis``, like :func:`scipy.ndimage.correlate1d`.

    >>> correlate1d(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), mode="constant")
    array([3., 6., 5.])
    """
    if output is not None:
        raise _refuse("correlate1d", "output=", "use the returned array")
    if mode not in _PAD_MODES:
        raise ValueError(f"boundary mode not supported: {mode!r}")
    moved = np.moveaxis(input, axis, -1)
    n_w = _shape(weights)[0]
    left = n_w // 2 + origin
    right = n_w - 1 - left
    if left < 0 or right < 0:
        raise ValueError("invalid origin")
    pad_kw = {"constant_values": cval} if _PAD_MODES[mode] == "constant" else {}
    padded = np.pad(moved, [(0, 0)] * (len(_shape(moved)) - 1) + [(left, right)], mode=_PAD_MODES[mode], **pad_kw)
    n = _shape(moved)[-1]
    out = None
    for j in range(n_w):
        term = weights[j] * padded[..., j:j + n]
        out = term if out is None else out + term
    return np.moveaxis(out, -1, axis)


@scipy_on_plain("scipy.ndimage")
def gaussian_filter1d(input, sigma, axis: int = -1, order: int = 0, output=None, mode: str = "reflect",
                      cval: float = 0.0, truncate: float = 4.0, *, radius=None):
    """A 1-d Gaussian filter, like :func:`scipy.ndimage.gaussian_filter1d` (``order=0``).

    >>> np.round(gaussian_filter1d(np.array([0.0, 1.0, 0.0]), 1.0, mode="constant"), 4)
    array([0.242 , 0.3989, 0.242 ])
    """
    if order != 0:
        raise _refuse("gaussian_filter1d", f"order={order}", "differentiate the filtered signal with dualad instead")
    sd = float(_plain(sigma))
    lw = int(truncate * sd + 0.5) if radius is None else int(radius)
    x = np.arange(-lw, lw + 1, dtype=float)
    phi = np.exp(-0.5 * (x * x) / (sigma * sigma))  # differentiable in sigma too
    weights = phi / np.sum(phi)
    return correlate1d(input, weights[::-1], axis, output, mode, cval, 0)


@scipy_on_plain("scipy.ndimage")
def map_coordinates(input, coordinates, output=None, order: int = 3, mode: str = "constant", cval: float = 0.0,
                    prefilter: bool = True):
    """Interpolate ``input`` at ``coordinates`` (one row per axis), like :func:`scipy.ndimage.map_coordinates`.

    ``order`` 0 or 1; ``mode`` 'constant' (``cval`` outside the input, no interpolation beyond the
    edges) or 'nearest'.

    >>> map_coordinates(np.arange(4.0).reshape(2, 2), np.array([[0.5], [0.5]]), order=1)
    array([1.5])
    """
    if order not in (0, 1):
        raise _refuse("map_coordinates", f"order={order} (spline prefiltering)", "use order=1 (linear) or 0")
    if mode not in ("constant", "nearest"):
        raise _refuse("map_coordinates", f"mode={mode!r}", "use mode='constant' or 'nearest'")
    if output is not None:
        raise _refuse("map_coordinates", "output=", "use the returned array")
    shape = _shape(input)
    coords_plain = _plain(coordinates)
    if coords_plain.shape[0] != len(shape):
        raise RuntimeError("invalid shape for coordinate array")
    rank = len(shape)
    inside = np.ones(coords_plain.shape[1:], dtype=bool)
    coords = []
    for d in range(rank):
        c = coordinates[d]
        limit = shape[d] - 1
        if mode == "constant":
            inside &= (coords_plain[d] >= 0) & (coords_plain[d] <= limit)  # scipy: cval beyond the edges
        c = np.clip(c, 0.0, float(limit))
        coords.append(c)
    if order == 0:
        index = tuple(np.clip(np.floor(_plain(c) + 0.5).astype(int), 0, n - 1) for c, n in zip(coords, shape))
        value = input[index]
    else:
        lower = [np.clip(np.floor(_plain(c)).astype(int), 0, max(n - 2, 0)) for c, n in zip(coords, shape)]
        frac = [c - lo for c, lo in zip(coords, lower)]
        value = None
        for corner in np.ndindex(*(2,) * rank):
            weight = None
            index = []
            for d in range(rank):
                step = corner[d] if shape[d] > 1 else 0
                w = frac[d] if corner[d] else 1.0 - frac[d]
                if shape[d] == 1 and corner[d]:
                    w = 0.0 * frac[d]
                weight = w if weight is None else weight * w
                index.append(np.minimum(lower[d] + step, shape[d] - 1))
            term = weight * input[tuple(index)]
            value = term if value is None else value + term
    if mode == "constant" and not np.all(inside):
        value = np.where(inside, value, cval)
    return value
