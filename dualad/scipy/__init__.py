"""Differentiable mirrors of scipy functions, under scipy's own names (like ``jax.scipy``).

Many scipy functions call ``np.asarray`` on their input, which no array protocol can intercept,
so a Dual or tape value cannot pass through them. The submodules here offer the same names and
signatures, written so that dualad can differentiate them::

    from dualad.scipy import special
    special.logsumexp(x)

scipy is an optional extra (``pip install dualad[scipy]``): nothing here imports it until a
submodule is used.
"""
from __future__ import annotations

import importlib
from types import ModuleType

_SUBMODULES = ("special", "linalg", "stats", "integrate", "signal", "ndimage", "optimize", "fft")

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> ModuleType:
    # Submodules load on first use, so `import dualad` never imports scipy.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
