"""Plain calls of a ``dualad.scipy`` mirror go to scipy itself.

A mirror is written for differentiable values, and refuses some of scipy's options there
(``lfilter(..., zi=...)``, ``convolve2d(boundary='wrap')``, a non-symmetric ``schur``). Called
without any differentiable argument it has nothing to differentiate: scipy's own function
then gives scipy's values and every option scipy has, so code switched to the mirror keeps
working on its plain calls.

>>> import numpy as np
>>> from dualad.scipy import signal
>>> signal.lfilter([1.0], [1.0, -0.5], np.ones(3), zi=[1.0])[0]  # zi= goes to scipy on plain input
array([2., 2., 2.])
"""
from __future__ import annotations

import functools
import importlib
from typing import Any, Callable

from ..arraylike import ArrayLike

__all__ = ["differentiable", "scipy_on_plain"]


def differentiable(value: Any) -> bool:
    """Is ``value`` (or anything inside a list, tuple or dict of it) a differentiable value?"""
    if isinstance(value, ArrayLike):
        return True
    if isinstance(value, (list, tuple)):
        return any(differentiable(item) for item in value)
    if isinstance(value, dict):
        return any(differentiable(item) for item in value.values())
    return False


def scipy_on_plain(module: str) -> Callable[[Callable], Callable]:
    """Decorate the mirror of ``module.<its name>``: plain calls run scipy's function."""
    def decorate(mirror: Callable) -> Callable:
        @functools.wraps(mirror)
        def call(*args: Any, **kwargs: Any) -> Any:
            if differentiable(args) or differentiable(kwargs):
                return mirror(*args, **kwargs)
            return getattr(importlib.import_module(module), mirror.__name__)(*args, **kwargs)
        return call
    return decorate
