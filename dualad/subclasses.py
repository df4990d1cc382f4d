"""ndarray subclasses whose semantics dualad does not keep: refused, never silently flattened.

``np.matrix`` turns ``*`` into a matrix product and keeps everything 2-D; a masked
array carries a mask that numpy's plain functions ignore. A Dual or tape value
holds a plain ndarray, so ``x * x.T`` on a matrix x would become elementwise and a
masked x would lose its mask: both would be a different function than the user
wrote. They raise :class:`~dualad.errors.InputError` with the remedy instead.
"""
from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["refuse_array_subclass"]


def refuse_array_subclass(x, name: str = "x") -> None:
    """Raise InputError if ``x`` is an np.matrix or a masked array (anything else passes)."""
    if not isinstance(x, np.ndarray) or type(x) is np.ndarray:
        return
    if isinstance(x, np.matrix):
        raise InputError(
            f"{name} is an np.matrix; dualad differentiates code written for plain ndarrays, and a matrix "
            "changes what *, ** and indexing mean (x * x.T would silently become elementwise); remedy: pass "
            "np.asarray(x) and write matrix products with @")
    if isinstance(x, np.ma.MaskedArray):
        raise InputError(
            f"{name} is a masked array; its mask would be dropped silently (dualad's values are plain "
            "ndarrays); remedy: pass the unmasked entries (x.compressed()) or x.filled(value), and apply "
            "the mask yourself with np.where inside f")
