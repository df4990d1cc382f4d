"""Constant arrays whose zeros shaped a detected sparsity pattern, and the check that they still hold.

The tracer reads a constant operand of a linear map by its values: ``W @ x`` with a
constant ``W`` depends on ``x[j]`` only where ``W[:, j]`` has a nonzero, so a
diagonal ``W`` gives a diagonal pattern. That pattern is right only while those
entries of ``W`` stay zero. If the caller later writes a nonzero there
(``W[0, 2] = 4.0`` between two calls of a :class:`~dualad.SparseJacobian`), the
compressed passes would add the new entry into another column's, silently. So
detection keeps, for each such array, a weak reference and the mask of its
nonzeros; each call checks that no zero of the mask became nonzero, and detects
the pattern again where one did. The check reads each array once, less than the
linear map itself costs.

A constant made afresh at every call (``(A + A.T) @ x``) dies with its call: its
weak reference is dead and nothing is checked for it (a later call makes, and is
traced with, its own). A global rebound to another array between calls is not seen
here; :class:`~dualad.SparseJacobian` detects again when it compiles and where the
compiled call's value check fails.

>>> import numpy as np
>>> W = np.diag([1.0, 2.0])
>>> with collecting() as found:
...     note(W)
>>> moved(found)
False
>>> W[0, 1] = 3.0
>>> moved(found)
True
"""
from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

__all__ = ["collecting", "note", "moved"]


class _State(threading.local):
    found: Any = None  # the list being filled while a detection runs in this thread, else None


_STATE = _State()


@contextmanager
def collecting() -> Iterator[list]:
    """Collect, while the block runs, the constants :func:`note` is given: ``(weak reference, nonzero mask)``."""
    outer, found = _STATE.found, []
    _STATE.found = found
    try:
        yield found
    finally:
        _STATE.found = outer


def note(value: Any) -> None:
    """``value`` is a constant whose zeros the pattern being traced relies on (kept if it has any)."""
    found = _STATE.found
    if found is None or type(value) is not np.ndarray:
        return
    mask = value != 0
    if mask.all() or any(ref() is value for ref, _ in found):
        return  # nothing to rely on / already kept
    try:
        ref = weakref.ref(value)
    except TypeError:  # pragma: no cover - every ndarray takes weak references
        return
    found.append((ref, mask))


def moved(found: list) -> bool:
    """Has an entry that was zero at detection become nonzero in one of ``found``'s live arrays?"""
    for ref, mask in found:
        value = ref()
        if value is None:
            continue
        if value.shape != mask.shape or np.any((value != 0) > mask):
            return True
    return False
