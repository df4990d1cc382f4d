"""Dependency patterns: for each entry of a value, the set of input indices it depends on.

A pattern is a tuple of *layers*; the entry's dependency set is the union of
its rows in every layer. Keeping a union lazily as a list of layers makes
the commonest operation (an elementwise op between two traced values) cost
nothing: the result's pattern is the two tuples joined. Layers are merged
(and duplicates removed) only when there get to be many of them, and once
at the end.

A layer is either

* an ``ELL`` array: ``int64`` of shape ``(rows, w)``, each row's input
  indices padded with ``-1`` -- compact and fast when rows have similar
  lengths (stencils, elementwise maps), or
* a :class:`Csr` -- ``indptr``/``indices`` -- when row lengths vary a lot
  (a reduction next to elementwise entries, an arrow).

Layers are never written in place once built, so they can be shared freely
between values (``2 * x`` keeps ``x``'s layers).

Everything here is numpy only; no derivative formula lives here.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

__all__ = ["Csr", "identity", "gather", "grouped_gather", "stitch", "union", "merge", "to_csr", "row_has_deps",
           "MAX_LAYERS"]

IDX = np.int64
#: A value's pattern is merged into one layer once it has more layers than this.
MAX_LAYERS = 8
#: Total ELL width up to which a merge sorts rows with a compare-exchange network.
_NETWORK_WIDTH = 8


class Csr:
    """One layer in compressed-row form (rows may hold duplicates until merged)."""

    __slots__ = ("indptr", "indices")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray):
        self.indptr = indptr
        self.indices = indices

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def __repr__(self) -> str:
        return f"Csr(rows={self.rows}, nnz={len(self.indices)})"


def entry_dtype(n: int):
    """The integer type of input indices in layers: int32 while the input has fewer than 2**31 entries
    (half the memory traffic of int64 in every gather and merge); row pointers stay int64."""
    return np.int32 if n < 2 ** 31 else IDX


def identity(n: int) -> tuple:
    """The pattern of the input itself: entry j depends on input j."""
    return (np.arange(n, dtype=entry_dtype(n)).reshape(n, 1),)


def _dtype_of(layers):
    """The index type of a union of layers (the widest of theirs)."""
    return np.result_type(*(layer.dtype if isinstance(layer, np.ndarray) else layer.indices.dtype
                            for layer in layers))


@lru_cache(maxsize=64)
def arange(n: int) -> np.ndarray:
    a = np.arange(n, dtype=IDX)
    a.flags.writeable = False
    return a


def _rows(layer) -> int:
    return layer.shape[0] if isinstance(layer, np.ndarray) else layer.rows


# ----------------------------------------------------------------------------- gathers
def _csr_gather(layer: Csr, rowmap: np.ndarray, missing) -> Csr:
    start = layer.indptr[:-1].take(rowmap)
    lens = layer.indptr[1:].take(rowmap) - start
    if missing is not None:
        lens[missing] = 0
    indptr = np.zeros(len(rowmap) + 1, dtype=IDX)
    np.cumsum(lens, out=indptr[1:])
    total = int(indptr[-1])
    if total == 0:
        return Csr(indptr, np.zeros(0, dtype=layer.indices.dtype))
    pos = np.arange(total, dtype=IDX)
    pos += np.repeat(start - indptr[:-1], lens)
    return Csr(indptr, layer.indices.take(pos))


class _Memo(threading.local):
    """Results kept while one function is traced (see :func:`tracing`), per thread."""

    def __init__(self):
        self.depth = 0
        self.gathers = {}
        self.buffers = {}


_MEMO = _Memo()


@contextmanager
def tracing():
    """While a function is traced, the same broadcast of the same layer gives the very same layer object
    again, so unions see (by identity) that they repeat it (``cos(t) * x + sin(t) * y`` broadcasts
    ``t``'s pattern once, and the union holds it once). Cleared at the end: big layers are not kept
    alive after the trace."""
    _MEMO.depth += 1
    try:
        yield
    finally:
        _MEMO.depth -= 1
        if not _MEMO.depth:
            _MEMO.gathers.clear()
            _MEMO.buffers.clear()


def gather(layers: tuple, rowmap: np.ndarray, in_rows: int) -> tuple:
    """Rows ``rowmap`` of every layer (``-1`` gives an empty row)."""
    if not layers or len(rowmap) == 0:
        return ()
    if len(rowmap) == in_rows and np.array_equal(rowmap, arange(in_rows)):
        return layers
    missing = None
    if rowmap.min() < 0:
        missing = rowmap < 0
        if missing.all():
            return ()
    if _MEMO.depth and not rowmap.flags.writeable:  # a cached map (broadcasting): keep the result's identity
        return tuple(_gather_once(layer, rowmap, missing) for layer in layers)
    return tuple(_gather_layer(layer, rowmap, missing) for layer in layers)


def _gather_once(layer, rowmap: np.ndarray, missing):
    """``_gather_layer``, remembered for the same layer and (cached, read-only) row map while tracing."""
    key = (id(layer), id(rowmap))
    hit = _MEMO.gathers.get(key)
    if hit is None or hit[0] is not layer or hit[1] is not rowmap:
        hit = _remember(_MEMO.gathers, key, (layer, rowmap, _gather_layer(layer, rowmap, missing)))
    return hit[2]


def _gather_layer(layer, rowmap: np.ndarray, missing):
    if isinstance(layer, np.ndarray):
        g = layer.take(rowmap, axis=0)
        if missing is not None:
            g[missing] = -1
        return g
    return _csr_gather(layer, rowmap, missing)


def grouped_gather(layers: tuple, src: np.ndarray, grp_ptr: np.ndarray) -> tuple:
    """Output row ``r`` gets the union of input rows ``src[grp_ptr[r]:grp_ptr[r+1]]``."""
    if not layers or len(src) == 0:
        return ()
    rows = len(grp_ptr) - 1
    counts = np.diff(grp_ptr)
    # every output row reads the same number of inputs (a sum over an axis): an ELL layer stays ELL,
    # its row holding the group's rows side by side (duplicates stay until a merge)
    uniform = rows > 0 and counts[0] > 0 and bool((counts == counts[0]).all())
    group = int(counts[0]) if uniform else 0
    out = []
    for layer in layers:
        if isinstance(layer, np.ndarray) and uniform:
            out.append(layer.take(src, axis=0).reshape(rows, group * layer.shape[1]))
        elif isinstance(layer, np.ndarray):
            w = layer.shape[1]
            flat = layer.take(src, axis=0).reshape(-1)
            keep = flat >= 0
            kept = np.zeros(len(flat) + 1, dtype=IDX)
            np.cumsum(keep, out=kept[1:])
            out.append(Csr(kept[grp_ptr * w], flat[keep]))
        else:
            g = _csr_gather(layer, src, None)
            out.append(Csr(g.indptr[grp_ptr], g.indices))
    return tuple(out)


def _as_csr(layer) -> Csr:
    if not isinstance(layer, np.ndarray):
        return layer
    keep = layer >= 0
    indptr = np.zeros(layer.shape[0] + 1, dtype=IDX)
    np.cumsum(_row_counts(layer), out=indptr[1:])
    return Csr(indptr, layer[keep])


def _as_slice(where: np.ndarray):
    """``where`` as a slice when its rows are evenly spaced (a stack's component: every k-th row),
    which numpy copies far faster than it scatters by an index array."""
    if len(where) < 2:
        return where
    step = int(where[1] - where[0])
    if step > 0 and int(where[-1]) == int(where[0]) + step * (len(where) - 1) and \
            bool((np.diff(where) == step).all()):
        return slice(int(where[0]), int(where[-1]) + 1, step)
    return where


def stitch(pieces, rows: int) -> tuple:
    """One pattern of ``rows`` entries from pieces that fill disjoint rows.

    ``pieces`` holds ``(where, layers)``: the piece's layers have ``len(where)`` rows, which go to rows
    ``where`` (the other rows of the piece are empty). Layer ``i`` of the result holds layer ``i`` of
    every piece, so stacking k values of L layers each gives L layers, not k L mostly empty ones.
    """
    pieces = [(where, layers) for where, layers in pieces if layers and len(where)]
    if not pieces:
        return ()
    out = []
    for i in range(max(len(layers) for _, layers in pieces)):
        parts = [(where, layers[i]) for where, layers in pieces if i < len(layers)]
        if all(isinstance(layer, np.ndarray) for _, layer in parts):
            block = np.full((rows, max(layer.shape[1] for _, layer in parts)), -1,
                            dtype=_dtype_of([layer for _, layer in parts]))
            for where, layer in parts:
                block[_as_slice(where), :layer.shape[1]] = layer
            out.append(block)
            continue
        parts = [(where, _as_csr(layer)) for where, layer in parts]
        lens = np.zeros(rows, dtype=IDX)
        for where, layer in parts:
            lens[where] = np.diff(layer.indptr)
        indptr = np.zeros(rows + 1, dtype=IDX)
        np.cumsum(lens, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=_dtype_of([layer for _, layer in parts]))
        for where, layer in parts:
            if len(layer.indices):
                pos = np.arange(len(layer.indices), dtype=IDX)
                pos += np.repeat(indptr[where] - layer.indptr[:-1], np.diff(layer.indptr))
                indices[pos] = layer.indices
        out.append(Csr(indptr, indices))
    return tuple(out)


def union(patterns, rows: int) -> tuple:
    """The union of several patterns of ``rows`` entries each (shared layers counted once)."""
    if len(patterns) == 1:
        return patterns[0]
    layers = []
    seen = set()
    for p in patterns:
        for layer in p:
            if id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
    if len(layers) > MAX_LAYERS:
        return merge(tuple(layers), rows)
    return tuple(layers)


#: results remembered per kind while tracing (the oldest go first: they hold big arrays alive)
_MEMO_SIZE = 16


def _remember(table: dict, key, entry):
    table[key] = entry
    while len(table) > _MEMO_SIZE:
        del table[next(iter(table))]
    return entry


def _row_counts(ell: np.ndarray) -> np.ndarray:
    """Valid entries per ELL row (column by column: numpy's axis=1 reductions are slow on narrow arrays)."""
    if ell.shape[1] > 16:
        return np.count_nonzero(ell >= 0, axis=1)
    counts = np.zeros(ell.shape[0], dtype=IDX)
    for col in ell.T:
        counts += col >= 0
    return counts


def row_has_deps(layers: tuple, rows: int) -> np.ndarray:
    """Boolean per row: does the entry depend on any input?"""
    has = np.zeros(rows, dtype=bool)
    for layer in layers:
        if isinstance(layer, np.ndarray):
            has |= _row_counts(layer) > 0
        else:
            has |= np.diff(layer.indptr) > 0
    return has


# ----------------------------------------------------------------------------- merging
_SCRATCH = threading.local()


def scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """A per-thread reusable buffer viewed as ``shape``.

    Fresh temporaries of a few hundred kB on every operation are returned to
    the OS and faulted back in each time; reusing buffers avoids that cost.
    Callers copy out whatever must outlive the next call with the same name.
    """
    size = math.prod(shape)
    buf = getattr(_SCRATCH, name, None)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = np.empty(max(size, 1024), dtype=dtype)
        setattr(_SCRATCH, name, buf)
    return buf[:size].reshape(shape)


@lru_cache(maxsize=None)
def network(w: int) -> tuple:
    """Comparators of Batcher's odd-even merge sort on ``w`` wires (padded to a power of two)."""
    n = 1 << max(0, (w - 1).bit_length())
    pairs = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p) and i + j + k < w:
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple(pairs)


def _merged_columns(layers, rows: int) -> list:
    """The union of narrow ELL layers as sorted, duplicate-free columns (holes are -1).

    The columns are views of a scratch block: use them before the next merge.
    """
    w = sum(layer.shape[1] for layer in layers)
    dtype = _dtype_of(layers)
    block = scratch("merge-" + dtype.char, (w + 1, rows), dtype)
    j = 0
    for layer in layers:
        block[j:j + layer.shape[1]] = layer.T
        j += layer.shape[1]
    cols = list(block[:w])
    spare = block[w]
    for a, b in network(w):  # compare-exchange in place: min to wire a, max to wire b
        np.minimum(cols[a], cols[b], out=spare)
        np.maximum(cols[a], cols[b], out=cols[b])
        cols[a], spare = spare, cols[a]
    same = scratch("merge-same", (rows,), bool)
    for i in range(w - 1, 0, -1):  # sorted rows: duplicates are adjacent
        np.equal(cols[i], cols[i - 1], out=same)
        np.copyto(cols[i], -1, where=same)
    return [c for c in cols if rows and c.max() >= 0]


def _merge_ell(layers) -> np.ndarray:
    rows = _rows(layers[0])
    cols = _merged_columns(layers, rows)
    if not cols:
        return np.zeros((rows, 0), dtype=_dtype_of(layers))
    return np.stack(cols, axis=1)


def _coo(layer):
    if isinstance(layer, np.ndarray):
        r, c = np.nonzero(layer >= 0)
        return r.astype(IDX, copy=False), layer[r, c]
    return np.repeat(arange(layer.rows), np.diff(layer.indptr)), layer.indices


def _width(layer) -> int:
    """Columns the layer needs as ELL (a CSR layer: its longest row)."""
    if isinstance(layer, np.ndarray):
        return layer.shape[1]
    return int(np.diff(layer.indptr).max()) if layer.rows and len(layer.indices) else 0


def _entries(layer) -> int:
    return layer.size if isinstance(layer, np.ndarray) else len(layer.indices)


def _merge_general(layers, rows: int):
    widths = [_width(layer) for layer in layers]
    total = sum(widths)
    if rows and total and rows * total <= 2 * sum(_entries(layer) for layer in layers) + 4 * rows:
        return _merge_rows(layers, widths, rows)
    return _merge_sorted_keys(layers, rows)


_BAND = 16384  # rows of a merge block written at a time (a band of a few hundred kB stays in cache)


def _work_block(shape: tuple, dtype) -> np.ndarray:
    """A scratch array for one merge: while tracing, one buffer serves every merge (its pages are
    touched once, not faulted in again for each ~100 MB block); freed when the trace ends."""
    if not _MEMO.depth:
        return np.empty(shape, dtype=dtype)
    size = math.prod(shape)
    key = np.dtype(dtype).char
    buf = _MEMO.buffers.get(key)
    if buf is None or buf.size < size:
        buf = _MEMO.buffers[key] = np.empty(max(size, 1024), dtype=dtype)
    return buf[:size].reshape(shape)


def _merge_rows(layers, widths, rows: int) -> np.ndarray:
    """The union as one ELL layer, row by row: the layers side by side, each row sorted, duplicates dropped.

    For layers whose rows are about equally long (the common case: elementwise maps, stencils, gathers)
    this costs two sorts of short rows, against a sort of every (row, column) key of them all.
    """
    total = sum(widths)
    block = _work_block((rows, total), _dtype_of(layers))
    j = 0
    for layer, w in zip(layers, widths):  # CSR layers first: scattered into their columns
        if not isinstance(layer, np.ndarray) and w:
            part = block[:, j:j + w]
            part.fill(-1)
            lens = np.diff(layer.indptr)
            pos = np.arange(len(layer.indices), dtype=IDX) - np.repeat(layer.indptr[:-1], lens)
            part[np.repeat(arange(rows), lens), pos] = layer.indices
        j += w
    # Then a band of rows at a time, while it is in cache: the ELL layers written in, each row sorted
    # (holes, -1, first), duplicates (side by side) made holes, sorted again so the holes lead. Written
    # column by column over all rows instead, every write lands on another cache line (2x slower).
    filled = np.zeros(total, dtype=bool)
    for start in range(0, rows, _BAND):
        band = block[start:start + _BAND]
        j = 0
        for layer, w in zip(layers, widths):
            if isinstance(layer, np.ndarray):
                band[:, j:j + w] = layer[start:start + _BAND]
            j += w
        band.sort(axis=1)
        np.copyto(band[:, 1:], -1, where=band[:, 1:] == band[:, :-1])
        band.sort(axis=1)
        filled |= band.max(axis=0) >= 0  # columns with an entry in some row: the last ones
    width = total - int(np.argmax(filled)) if filled.any() else 0
    return block[:, total - width:].copy()


def _merge_sorted_keys(layers, rows: int):
    """The union as one layer by sorting (row, column) keys: for rows of very different lengths."""
    dtype = _dtype_of(layers)
    parts = [_coo(layer) for layer in layers]
    r = np.concatenate([p[0] for p in parts])
    c = np.concatenate([p[1] for p in parts])
    if len(c) == 0:
        return Csr(np.zeros(rows + 1, dtype=IDX), np.zeros(0, dtype=dtype))
    width = int(c.max()) + 1
    key = r * width + c.astype(IDX, copy=False)
    key.sort()
    if len(key) > 1:
        key = key[np.concatenate(([True], key[1:] != key[:-1]))]
    r, c = np.divmod(key, width)
    indptr = np.zeros(rows + 1, dtype=IDX)
    np.cumsum(np.bincount(r, minlength=rows), out=indptr[1:])
    return _compact(Csr(indptr, c.astype(dtype)))


def _compact(layer: Csr):
    """A sorted, duplicate-free CSR layer as ELL when its rows are of similar length."""
    lens = np.diff(layer.indptr)
    rows = len(lens)
    width = int(lens.max()) if rows and len(layer.indices) else 0
    if rows == 0 or width * rows > 2 * len(layer.indices) + rows:
        return layer
    ell = np.full((rows, width), -1, dtype=layer.indices.dtype)
    pos = np.arange(len(layer.indices), dtype=IDX) - np.repeat(layer.indptr[:-1], lens)
    ell[np.repeat(arange(rows), lens), pos] = layer.indices
    return ell


def merge(layers: tuple, rows: int) -> tuple:
    """One duplicate-free layer holding the union of ``layers``."""
    if not layers:
        return ()
    if all(isinstance(layer, np.ndarray) for layer in layers) and \
            sum(layer.shape[1] for layer in layers) <= _NETWORK_WIDTH:
        return (_merge_ell(layers),)
    return (_merge_general(_distinct(layers), rows),)


def _distinct(layers) -> list:
    """The layers without repeats of equal content (``u[..., 0] / u[..., 2]`` gathers a merged layer
    twice, and where u's entries share their dependencies the two gathers are equal arrays): a
    comparison costs a read of both, far less than merging the copy."""
    kept = []
    for layer in layers:
        if not (isinstance(layer, np.ndarray) and any(
                isinstance(k, np.ndarray) and k.shape == layer.shape and np.array_equal(k, layer) for k in kept)):
            kept.append(layer)
    return kept


def to_csr(layers: tuple, rows: int, dtype=IDX) -> tuple:
    """``(indptr, indices)`` of the pattern, sorted within rows and without duplicates.

    ``dtype`` is the index type of the result (int32 when the caller knows it fits).
    """
    indptr, indices = _to_csr(layers, rows, dtype)
    return indptr.astype(dtype, copy=False), indices.astype(dtype, copy=False)


def _to_csr(layers: tuple, rows: int, dtype) -> tuple:
    indptr = np.zeros(rows + 1, dtype=IDX)
    if not layers:
        return indptr, np.zeros(0, dtype=IDX)
    if all(isinstance(layer, np.ndarray) for layer in layers) and \
            sum(layer.shape[1] for layer in layers) <= _NETWORK_WIDTH:
        cols = _merged_columns(layers, rows)  # ascending within rows once the -1 holes are dropped
        if not cols:
            return indptr, np.zeros(0, dtype=IDX)
        counts = np.zeros(rows, dtype=IDX)
        valid = scratch("merge-same", (rows,), bool)
        for c in cols:
            np.greater_equal(c, 0, out=valid)
            counts += valid
        ell = np.stack(cols, axis=1, out=scratch("to-csr", (rows, len(cols)), dtype), casting="same_kind")
    else:
        (ell,) = merge(layers, rows)
        if not isinstance(ell, np.ndarray):
            return ell.indptr, ell.indices
        counts = _row_counts(ell)
    np.cumsum(counts, out=indptr[1:])
    keep = np.greater_equal(ell, 0, out=scratch("to-csr-keep", ell.shape, bool))
    return indptr, ell[keep]
