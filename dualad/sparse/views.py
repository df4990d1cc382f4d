"""Assignment into traced values, and numpy views of them.

numpy views share memory, so a write through one is seen by the others, and a
Dual's tangent (a view too) follows. Patterns are not views. So every traced
view remembers the entries of its root array it shows (``_rootmap``); a write
through a view also replaces the pattern rows of the root entries it wrote,
and stamps them with the root's write count. A view used after its root's
entries were stamped (written through the root or through another view) reads
its rows from the root again. So writes through views follow numpy's aliasing,
as in forward and reverse mode (``dydt = np.empty_like(y); dudt = dydt[::2];
dudt[0] = ...``, the Gray-Scott right-hand side of scipy's tutorial).
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedFunctionError
from ..rules import setitem_tangent
from . import pattern as P
from .probe import probe_index

__all__ = ["STALE", "link_view", "fresh", "wrote", "assign", "setitem"]

#: kept for callers that still name it; nothing raises it since views write through to their root

STALE = ("a traced array was modified through a view of it (e.g. v = x[1:]; v[0] = ...), or a view "
         "was used after its array was modified, and dependency patterns do not follow writes "
         "between views; remedy: assign through the array itself (x[1] = ..., x[1:] += ...), or "
         "take a copy of the slice first")


def link_view(view, base, smap) -> None:
    """Make ``view`` (whose value is a numpy view of ``base``'s) a traced view; ``smap``: view entry -> base entry."""
    if smap is None:
        return
    if base._root is None:
        view._root, view._rootmap = base, smap
    else:
        view._root, view._rootmap = base._root, base._rootmap[smap]
        view._part = view._part or base._part  # z.real[1:]: still one part of z's entries
    view._seen = view._root._writes


def fresh(t) -> None:
    """Bring a view's pattern up to date with its root's (written since the view last looked)."""
    root = t._root
    if root is None:
        return
    if root._writes != t._seen:
        if root._stamp is not None and (root._stamp[t._rootmap] > t._seen).any():
            t._layers = P.gather(root._layers, t._rootmap, root.size) if root._layers else ()
            t._owned = False
        t._seen = root._writes


def wrote(t, rows=None) -> None:
    """Record a write into entries ``rows`` (flat; None: all) of ``t``, after ``t``'s pattern rows changed.

    A write through a view replaces the root's pattern rows of the entries it wrote (the root's
    memory changed there too), so the root and every other view see it.
    """
    root = t._root if t._root is not None else t
    root._writes += 1
    if root._stamp is None:
        root._stamp = np.zeros(root.size, dtype=np.int64)
    if t._root is None:
        root._stamp[slice(None) if rows is None else rows] = root._writes
    else:
        rows = np.arange(t.size) if rows is None else np.asarray(rows)
        where = t._rootmap[rows]
        new = P.gather(t._layers, rows.astype(P.IDX), t.size) if t._layers else ()
        if t._part and root._layers:  # z.real[k] = ...: the entry's imaginary part keeps its dependencies
            new = P.union([P.gather(root._layers, where.astype(P.IDX), root.size), new], len(rows)) if new \
                else P.gather(root._layers, where.astype(P.IDX), root.size)
        _replace_rows(root, where, new)
        root._stamp[where] = root._writes
        t._seen = root._writes


def assign(target, result) -> None:
    """``target`` takes ``result``'s value (in place, as numpy's in-place operators do) and pattern."""
    v = target.value
    if isinstance(v, np.ndarray) and v.flags.writeable and np.shape(result.value) == v.shape:
        v[...] = result.value
    elif target._root is None:
        target.value = result.value
    else:
        raise UnsupportedFunctionError("an in-place operation on a read-only view of a traced array; "
                                       "remedy: use y = y + ... instead")
    target.layers = result.layers
    wrote(target)


def setitem(d, key, item) -> None:
    """``d[key] = item``: value in place; pattern rows of the written entries replaced.

    Which entries are written, and by which entry of ``item``, comes from the
    table's ``setitem_tangent`` applied to entry numbers. When ``d``'s pattern is
    a single layer of its own the rows are overwritten in place, so a loop of
    scalar assignments costs O(n) cheap numpy work per assignment, not a merge.
    """
    if not isinstance(d.value, np.ndarray) or not d.value.flags.writeable:
        if d._root is not None:
            raise UnsupportedFunctionError("assignment into a read-only view of a traced array; remedy: "
                                           "assign into a copy")
        d.value = np.array(d.value, copy=True)
    traced = hasattr(item, "_layers")
    d.value[key] = item.value if traced else item
    size = d.size
    dest = np.full(d.shape + (1,), -1.0)
    source = probe_index(item.size)[1:].reshape(item.shape + (1,)) if traced else \
        np.zeros(np.shape(item) + (1,))
    setitem_tangent(dest, key, source)
    dest = dest.reshape(size)
    rows = np.flatnonzero(dest >= 0)
    src = dest[rows].astype(P.IDX) - 1  # -1: written with a constant
    new = P.gather(item.layers, src, item.size) if traced and item.layers else ()
    _replace_rows(d, rows, new)
    wrote(d, rows)


def _replace_rows(d, rows: np.ndarray, new: tuple) -> None:
    """Pattern rows ``rows`` of ``d`` become ``new`` (one row of ``new`` per entry of ``rows``)."""
    size = d.size
    if not _write_rows(d, rows, new):
        keep = P.arange(size).copy()
        keep[rows] = -1
        placed = np.full(size, -1, dtype=P.IDX)
        placed[rows] = np.arange(len(rows))
        parts = [P.gather(d._layers, keep, size)] if d._layers else []
        if new:
            parts.append(P.gather(new, placed, len(rows)))
        d._layers = P.union(parts, size) if parts else ()
        d._owned = False


_OWNED_WIDTH = 64  # widest private ELL layer __setitem__ keeps writing into


def _write_rows(d, rows: np.ndarray, new: tuple) -> bool:
    """Overwrite pattern rows ``rows`` of ``d`` with ``new`` in a private ELL layer; False if that does not fit."""
    size = d.size
    if not new:
        block = np.zeros((len(rows), 0), dtype=P.IDX)
    elif all(isinstance(layer, np.ndarray) for layer in new):  # duplicates may stay: merged later
        block = new[0] if len(new) == 1 else np.hstack(new)
    else:
        block = P.merge(new, len(rows))[0]
        if not isinstance(block, np.ndarray):
            return False
    if not d._owned:
        if not d._layers:
            own = np.full((size, max(1, block.shape[1])), -1, dtype=P.IDX)
        else:
            merged = P.merge(d._layers, size)[0]
            if not isinstance(merged, np.ndarray) or merged.shape[1] > _OWNED_WIDTH:
                return False
            own = merged if merged is not d._layers[0] else merged.copy()
        d._layers, d._owned = (own,), True
    own = d._layers[0]
    if block.shape[1] > own.shape[1]:
        if block.shape[1] > _OWNED_WIDTH:
            d._owned = False
            return False
        wider = np.full((size, max(block.shape[1], 2 * own.shape[1])), -1, dtype=P.IDX)
        wider[:, :own.shape[1]] = own
        d._layers = (own := wider,)
    own[rows] = -1
    own[rows, :block.shape[1]] = block
    return True
