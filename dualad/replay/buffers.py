"""Work arrays a replay program writes its large tangents into (``out=``), reused line after line and call after call.

A tangent with a direction axis can be large (ADBench BA ba3: 182 072 x 3 x 15
floats, 65 MB per intermediate). numpy asks the C allocator for a fresh block for
every intermediate, and glibc serves blocks above its mmap threshold (32 MB at
most) with fresh pages that are faulted in and zeroed on first touch, then
returned to the system when freed: that costs about as much as the arithmetic
and makes single calls vary several-fold. A program that writes those
intermediates into arrays taken from :class:`Buffers` touches the same memory
again instead. dualad sets nothing in the process (no ``mallopt``, no
environment): the reuse is the program's own.

An array is handed out again only when nothing but the pool refers to it (no
local of the program, no view of it, no array the caller holds): CPython's
reference count says so exactly, so a view that outlives its base's name keeps
the base out of reuse.

>>> import numpy as np
>>> pool = Buffers()
>>> a = pool.take((1000, 3), np.dtype(np.float64))
>>> view = a[:, 0]
>>> del a
>>> pool.take((1000, 3), np.dtype(np.float64)) is view.base   # the view keeps it busy
False
>>> del view
>>> len(pool), pool.take((1000, 3), np.dtype(np.float64)).shape   # reused now (2 arrays held)
(2, (1000, 3))
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["Buffers", "BIG"]

#: entries (of a tangent with its direction axis) from which a program writes into reused buffers: 2**17
#: float64 entries = 1 MiB; below it numpy's own small-block reuse is cheaper than a pool lookup
BIG = 2 ** 17

# references to a pooled array while take() inspects it: the pool's list, the loop variable, getrefcount's
# argument; one more means someone else holds it (a local, a view's base, a returned array)
_IDLE = 3


class Buffers:
    """Arrays by (shape, dtype), handed out when idle; :meth:`take` allocates when none is."""

    __slots__ = ("_free",)

    def __init__(self) -> None:
        self._free: dict = {}

    def take(self, shape: tuple, dtype) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` that nothing else refers to (its contents are garbage)."""
        arrays = self._free.get((shape, dtype))
        if arrays is None:
            arrays = self._free[(shape, dtype)] = []
        for a in arrays:
            if sys.getrefcount(a) == _IDLE:
                return a
        a = np.empty(shape, dtype)
        arrays.append(a)
        return a

    def __len__(self) -> int:
        return sum(len(arrays) for arrays in self._free.values())

    def nbytes(self) -> int:
        """Bytes held."""
        return sum(a.nbytes for arrays in self._free.values() for a in arrays)
