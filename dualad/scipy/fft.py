"""Differentiable versions of scipy.fft's transforms, under scipy's names and signatures.

``scipy.fft`` dispatches through its own backend system (uarray), not numpy's array protocols, so
it converts a Dual or tape value with ``np.asarray`` and dualad has to refuse it. These functions
take scipy.fft's arguments and compute the same transforms with ``numpy.fft``, whose rules dualad
has (linear maps with their transposes, in both modes). On plain arrays they call scipy.fft itself.

- ``workers`` only splits independent 1-D transforms over threads: it cannot change a value, so it
  is accepted and ignored on differentiable input.
- ``overwrite_x=True`` allows (never requires) scipy to destroy x: dualad never does.
- ``plan`` is refused, as scipy.fft itself refuses it.

>>> import numpy as np, dualad
>>> from dualad.scipy import fft
>>> x = np.array([0.0, 1.0, 0.5, 0.25])
>>> J = dualad.jacobian(lambda v: np.abs(fft.rfft(v)), x)
>>> J.shape
(3, 4)
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from ..arraylike import ArrayLike
from ..errors import UnsupportedFunctionError

# Transforms whose first argument is the array; the rest of scipy's keywords follow numpy's meaning.
_TRANSFORMS = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft",
               "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn")

__all__ = list(_TRANSFORMS) + ["fftshift", "ifftshift", "fftfreq", "rfftfreq", "next_fast_len"]


def _is_differentiable(x: Any) -> bool:
    if isinstance(x, ArrayLike):
        return True
    if isinstance(x, (list, tuple)):
        return any(_is_differentiable(item) for item in x)
    return False


def _scipy_fft():
    import scipy.fft  # optional extra, imported on first use
    return scipy.fft


def _mirror(name: str) -> Callable:
    numpy_transform = getattr(np.fft, name)
    two_d = name.endswith("2")
    n_d = name.endswith("n") and name not in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
    size_keyword = "s" if (two_d or n_d) else "n"
    axis_keyword = "axes" if (two_d or n_d) else "axis"

    def transform(x, *args: Any, overwrite_x: bool = False, workers: Any = None, plan: Any = None,
                  **kwargs: Any):
        if not _is_differentiable(x):
            return getattr(_scipy_fft(), name)(x, *args, overwrite_x=overwrite_x, workers=workers, plan=plan,
                                               **kwargs)
        if plan is not None:
            raise UnsupportedFunctionError(
                f"dualad.scipy.fft.{name}: plan= is not supported (scipy.fft itself refuses a precomputed "
                "plan); remedy: leave plan out")
        # scipy's positional order is (x, n|s, axis|axes, norm, overwrite_x, workers), numpy's is
        # (a, n|s, axis|axes, norm): map the extra positionals by name so both forms are honoured.
        names = (size_keyword, axis_keyword, "norm", "overwrite_x", "workers")
        if len(args) > len(names):
            raise TypeError(f"{name}() takes at most {len(names) + 1} positional arguments")
        for key, value in zip(names, args):
            if key in kwargs:
                raise TypeError(f"{name}() got multiple values for argument '{key}'")
            kwargs[key] = value
        kwargs.pop("overwrite_x", None)
        kwargs.pop("workers", None)
        return numpy_transform(x, **kwargs)

    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = (f"scipy.fft.{name} for differentiable input (computed by numpy.fft.{name}, which "
                         "dualad differentiates); plain input goes to scipy.fft itself.")
    return transform


for _name in _TRANSFORMS:
    globals()[_name] = _mirror(_name)
del _name


@functools.wraps(np.fft.fftshift)
def fftshift(x, axes=None):
    """scipy.fft.fftshift: a roll, differentiable like numpy's."""
    return np.fft.fftshift(x, axes=axes) if _is_differentiable(x) else _scipy_fft().fftshift(x, axes=axes)


@functools.wraps(np.fft.ifftshift)
def ifftshift(x, axes=None):
    """scipy.fft.ifftshift: a roll, differentiable like numpy's."""
    return np.fft.ifftshift(x, axes=axes) if _is_differentiable(x) else _scipy_fft().ifftshift(x, axes=axes)


def fftfreq(n, d=1.0, *, xp=None, device=None):
    """scipy.fft.fftfreq: sample frequencies (no derivative: they depend only on n and d)."""
    return _scipy_fft().fftfreq(n, d, xp=xp, device=device)


def rfftfreq(n, d=1.0, *, xp=None, device=None):
    """scipy.fft.rfftfreq: sample frequencies of rfft (no derivative)."""
    return _scipy_fft().rfftfreq(n, d, xp=xp, device=device)


def next_fast_len(target, real=False):
    """scipy.fft.next_fast_len (integers only)."""
    return _scipy_fft().next_fast_len(target, real)
