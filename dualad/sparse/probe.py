"""Probing a map that is linear in one traced operand: which input entries each output entry reads.

The map is applied to probe tangents that number the input entries (see
:func:`_structure`). Copies are recognised in one pass; entries that combine
several inputs are split by colouring the inputs, then by one-hot probes.
Nothing here knows a derivative formula: the maps come from the rule table.
"""
from __future__ import annotations

import math

import numpy as np

from ..wirtinger import is_complex
from . import pattern as P

__all__ = ["structure", "probe_index", "classify", "probe_base"]


def _complex_value(v) -> bool:
    return v.dtype.kind == "c" if type(v) is np.ndarray else is_complex(v)


def _size(shape) -> int:
    return math.prod(shape)


_PROBE = {"base": np.zeros((0, 4))}


def hashed_uniform(w: np.ndarray, salt: int) -> np.ndarray:
    """Floats in [1, 2) that look random but depend only on the integers ``w`` and ``salt`` (splitmix64).

    A fixed function of the index, not a draw: the probe an input entry gets does not depend on
    which sizes were probed before.
    """
    z = w.astype(np.uint64) + np.uint64(salt * 0x9E3779B97F4A7C15 % 2 ** 64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return 1.0 + (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def probe_base(n: int) -> np.ndarray:
    """Row 0 zeros, then rows ``[1, w, h1(w), h2(w)]`` for ``w = 1, 2, ...``; read-only, cached, grown on demand.

    ``h1``, ``h2`` are :func:`hashed_uniform` values. The probe for input entry ``g`` is row ``g + 1``.
    (``w**2`` as the third probe, as before, cannot tell consecutive sources from one source once
    ``w`` is large: ``(w-1)**2 + w**2 + (w+1)**2`` is ``3 w**2`` to within 1e-9 at ``w`` = 30 000.)
    """
    base = _PROBE["base"]
    if len(base) <= n:
        size = max(n, 2 * len(base), 1024)
        w = np.arange(1, size + 1, dtype=np.int64)
        base = np.concatenate([np.zeros((1, 4)), np.stack([np.ones(size), w.astype(np.float64),
                                                           hashed_uniform(w, 1), hashed_uniform(w, 2)], axis=1)])
        base.flags.writeable = False
        _PROBE["base"] = base
    return base


def probe_index(n: int) -> np.ndarray:
    """``[0, 1, ..., n]`` as floats (entry ``g`` of an input is probed with ``g + 1``), cached."""
    w = _PROBE.get("index")
    if w is None or len(w) <= n:
        w = np.arange(max(n + 1, 2 * (0 if w is None else len(w)), 1024), dtype=np.float64)
        w.flags.writeable = False
        _PROBE["index"] = w
    return w[:n + 1]


def classify(r: np.ndarray, total: int, base: np.ndarray):
    """Per output entry: its single source (global input index) or -1, and a mask of multi-source entries."""
    # Fast exact check: every entry copies one input or nothing (gathers, reshapes, concatenation).
    # Row w of ``base`` is what a copy of input w-1 gives, row 0 what an empty entry gives.
    with np.errstate(invalid="ignore"):
        w = r[:, 1].astype(P.IDX)
    if len(w) and w.max() <= total and r.shape[1] == 4:
        # preallocated buffers: fresh ~(n, 4) temporaries on every operation cost page faults
        expected = P.scratch("expected", r.shape, np.float64)
        same = P.scratch("same", r.shape, bool)
        np.equal(r, base.take(w, axis=0, mode="clip", out=expected), out=same)
        if same.all():
            return w - 1, None
    base = base[1:]
    r1, r2, r3, r4 = r[:, 0], r[:, 1], r[:, 2], r[:, 3]
    with np.errstate(all="ignore"):
        zero = (r1 == 0) & (r2 == 0) & (r3 == 0) & (r4 == 0)
        w = np.rint(r2 / r1)
        valid = np.isfinite(w) & (w >= 1) & (w <= total) & ~zero
        s = np.where(valid, w - 1, 0).astype(P.IDX)
        w = s + 1.0

        def close(a, b):
            return np.abs(a - b) <= 1e-9 * np.abs(b)

        # a mix of sources matches one source's two random probes only by a coincidence of about 1e-18
        single = valid & close(r2, r1 * w) & close(r3, r1 * base[s, 2]) & close(r4, r1 * base[s, 3])
    s[~single] = -1
    multi = ~(zero | single)
    return s, (multi if multi.any() else None)


_BUDGET = 1 << 22  # float entries per probe block beyond the first


def _one_hot_pairs(rows, k, tr, out_shape, fwd, bwd, complex_out: bool = False):
    """Exact (row, source) pairs of output entries ``rows``, one input or output at a time.

    Complex values move along 1 and i: a complex output is probed with real and imaginary
    cotangents, a complex operand with real and imaginary tangents (np.imag sees only i).
    """
    out_size, size = _size(out_shape), tr.size
    pair_rows, pair_src = [], []
    if bwd is not None and bwd(k, None) and len(rows) <= size:
        chunk = max(1, min(len(rows), _BUDGET // max(out_size, size)))
        for start in range(0, len(rows), chunk):
            sel = rows[start:start + chunk]
            ct = np.zeros((out_size, len(sel)))
            ct[sel, np.arange(len(sel))] = 1.0
            g = np.asarray(bwd(k, ct.reshape(out_shape + (len(sel),)))).reshape(size, len(sel))
            if complex_out:
                g = np.abs(g) + np.abs(np.asarray(bwd(k, 1j * ct.reshape(out_shape + (len(sel),))))
                                    ).reshape(size, len(sel))
            src, col = np.nonzero(g)
            pair_rows.append(sel[col])
            pair_src.append(src)
    else:
        chunk = max(1, min(size, _BUDGET // max(out_size, size)))
        for start in range(0, size, chunk):
            cols = np.arange(start, min(size, start + chunk))
            t = np.zeros((size, len(cols)))
            t[cols, np.arange(len(cols))] = 1.0
            r = np.asarray(fwd({k: t.reshape(tr.shape + (len(cols),))})).reshape(out_size, len(cols))
            if _complex_value(tr.value):  # a complex entry moves along i too (np.imag reads only that part)
                r = np.abs(r) + np.abs(np.asarray(fwd({k: 1j * t.reshape(tr.shape + (len(cols),))}))
                                    ).reshape(out_size, len(cols))
            row, col = np.nonzero(r[rows])
            pair_rows.append(rows[row])
            pair_src.append(cols[col])
    return pair_rows, pair_src


def _one_hot_directions(n_rows: int, size: int, bwd, k) -> int:
    """Probe directions :func:`_one_hot_pairs` needs for ``n_rows`` output entries."""
    return n_rows if (bwd is not None and bwd(k, None) and n_rows <= size) else size


def _colour_round(pending, colour, G, k, tr, out_shape, fwd, base):
    """One hashing round: (rows, sources) resolved, and the rows still ambiguous.

    The inputs are split into ``G`` colours; each colour gets the four probe columns
    of its own entries. The colours are probed in blocks that fit ``_BUDGET`` (a block
    of B colours is one forward call with 4 B directions), so a round costs 4 G
    directions whatever the size: linear in the size, never one-hot.
    """
    out_size, size = _size(out_shape), tr.size
    block = max(1, min(G, _BUDGET // (4 * max(size, out_size, 1))))
    probe_rows = base[1:size + 1]
    rows_done, src_done, bad = [], [], []
    for first in range(0, G, block):
        width = min(block, G - first)
        members = np.flatnonzero((colour >= first) & (colour < first + width))
        probe = np.zeros((size, width, 4))
        probe[members, colour[members] - first] = probe_rows[members]
        r = np.asarray(fwd({k: probe.reshape(tr.shape + (4 * width,))}), dtype=np.float64)
        r = r.reshape(out_size, width, 4)[pending].reshape(-1, 4)
        s, multi = classify(r, size, base)
        row_of = np.repeat(pending, width)
        if multi is not None:
            bad.append(np.unique(row_of[multi]))
        found = s >= 0
        rows_done.append(row_of[found])
        src_done.append(s[found])
    rows_done, src_done = np.concatenate(rows_done), np.concatenate(src_done)
    if bad:
        bad = np.unique(np.concatenate(bad))
        keep = ~np.isin(rows_done, bad)
        return rows_done[keep], src_done[keep], bad
    return rows_done, src_done, pending[:0]


def _resolve_multi(rows, counts, k, tr, out_shape, fwd, bwd):
    """Exact (row, source) pairs of the multi-source output entries ``rows``.

    Entries are split by colouring the inputs (``j mod G`` first, then random
    colours): with the four probe directions per colour, an entry is resolved
    once no colour holds two of its sources. Each entry starts at the G its
    estimated number of sources asks for (``counts``, the all-ones probe), and
    an entry still ambiguous waits for the next, doubled, G. A round costs 4 G
    probe directions, so colouring goes on while that is cheaper than one-hot
    probing of what is left (one direction per entry through the rule's
    transpose, or one per input): the total work stays linear in the size.
    """
    size = tr.size
    base = probe_base(size)
    pair_rows, pair_src = [], []
    with np.errstate(invalid="ignore"):
        estimate = np.nan_to_num(np.abs(counts), nan=float(size), posinf=float(size))
    need = np.minimum(np.maximum(estimate, 1.0), float(size))
    # a power of two >= the sources: enough for the first round's j mod G when the sources are neighbours
    # (a sum over the last axis); entries it does not separate wait for the doubled G of a random round
    wanted = (1 << np.ceil(np.log2(need)).astype(np.int64)).clip(2, None)
    pending = np.asarray(rows)
    G = int(wanted.min()) if len(wanted) else 2
    rng = np.random.default_rng(7)
    rnd = 0
    while len(pending) and G <= 2 * size:
        G_round = min(G, size)
        if G_round < 2 or 4 * G_round >= _one_hot_directions(len(pending), size, bwd, k):
            break
        active = wanted <= G
        if active.any():
            colour = np.arange(size) % G_round if rnd == 0 else rng.integers(0, G_round, size)
            done_rows, done_src, bad = _colour_round(pending[active], colour, G_round, k, tr, out_shape, fwd, base)
            pair_rows.append(done_rows)
            pair_src.append(done_src)
            still = ~active | np.isin(pending, bad)
            pending, wanted = pending[still], wanted[still]
            wanted[np.isin(pending, bad)] = 2 * G
            rnd += 1
        if G >= size:
            break
        G *= 2
    if len(pending):
        more_rows, more_src = _one_hot_pairs(np.sort(pending), k, tr, out_shape, fwd, bwd)
        pair_rows += more_rows
        pair_src += more_src
    if not pair_rows:
        return np.zeros(0, P.IDX), np.zeros(0, P.IDX)
    return np.concatenate(pair_rows).astype(P.IDX), np.concatenate(pair_src).astype(P.IDX)


def _slot_structure(k: int, tr, out_shape: tuple, fwd, bwd, selection: bool) -> tuple:
    """The part of the output pattern that comes from traced operand ``k`` (the map is linear in it)."""
    out_size, size = _size(out_shape), tr.size
    value = tr.value
    complex_operand = value.dtype.kind == "c" if type(value) is np.ndarray else is_complex(value)
    if selection:  # the map only moves entries around (of a complex value too): one probe names the source
        smap = _selection_map(k, tr, out_shape, fwd)
        if smap is None:
            return tr.layers, P.arange(size)  # handed back untouched: a reshape
        return P.gather(tr.layers, smap, size), smap
    base = probe_base(size)
    probe = base[1:size + 1].reshape(tr.shape + (4,))
    r = fwd({k: probe})
    if type(r) is not np.ndarray:
        r = np.asarray(r)
    if r.dtype.kind == "c" or complex_operand:
        # complex coefficients (an FFT) scramble the decoding of sources from the probe values: every
        # output entry is resolved one-hot instead (exact: the map's own nonzero coefficients)
        rows, src = _one_hot_pairs(np.arange(out_size), k, tr, out_shape, fwd, bwd, r.dtype.kind == "c")
        return _gathered(tr, np.concatenate(rows), np.concatenate(src), out_size), None
    if r.dtype != np.float64:
        r = np.asarray(r, dtype=np.float64)
    if _same_buffer(r, probe):
        return tr.layers, P.arange(size)
    r = r.reshape(out_size, 4)
    s, multi = classify(r, size, base)
    if multi is None:
        return P.gather(tr.layers, s, size), s
    m = np.nonzero(multi)[0]
    m_rows, m_src = _resolve_multi(m, r[m, 0], k, tr, out_shape, fwd, bwd)
    single = np.nonzero(s >= 0)[0]
    rows = np.concatenate([single, m_rows])
    src = np.concatenate([s[single], m_src])
    return _gathered(tr, rows, src, out_size), None


def _selection_map(k: int, tr, out_shape: tuple, fwd):
    """Which entry of operand ``k`` each output entry copies (-1: none), or None for a reshape of it."""
    probe = probe_index(tr.size)[1:].reshape(tr.shape + (1,))
    r = fwd({k: probe})
    if type(r) is not np.ndarray or r.dtype.kind != "f":
        r = np.asarray(r)
        r = r.real if r.dtype.kind == "c" else np.asarray(r, dtype=np.float64)  # moved entries of a complex value
    if _same_buffer(r, probe):
        return None
    return r.reshape(_size(out_shape)).astype(P.IDX) - 1


def _stitched_selection(out_size: int, slots, fwd, out_shape: tuple):
    """The pattern of a selection from several operands that fill disjoint output entries (concatenate,
    stack), as layers holding every operand's rows: the union of one full-size, mostly empty gather per
    operand would make as many layers as operands times their layers, all to be merged. None when the
    operands' entries overlap (``np.where`` keeps both branches) or one is complex."""
    maps = []
    for k, (_, _, tr) in enumerate(slots):
        value = tr.value
        if not tr.size or not tr.layers:
            continue
        if (value.dtype.kind == "c" if type(value) is np.ndarray else is_complex(value)):
            return None
        smap = _selection_map(k, tr, out_shape, fwd)
        maps.append((tr, P.arange(tr.size) if smap is None else smap))
    hits = np.zeros(out_size, dtype=np.int64)
    for _, smap in maps:
        hits += smap >= 0
    if len(maps) < 2 or hits.max() > 1:
        return None
    pieces = []
    for tr, smap in maps:
        where = np.flatnonzero(smap >= 0)
        pieces.append((where, P.gather(tr.layers, smap[where], tr.size)))
    return P.stitch(pieces, out_size)


def _gathered(tr, rows, src, out_size: int):
    """The layers of output entries ``rows`` reading input entries ``src`` (pairs, any order)."""
    rows = np.asarray(rows, dtype=P.IDX)
    src = np.asarray(src, dtype=P.IDX)
    order = np.argsort(rows, kind="stable")
    grp_ptr = np.zeros(out_size + 1, dtype=P.IDX)
    np.cumsum(np.bincount(rows, minlength=out_size), out=grp_ptr[1:])
    return P.grouped_gather(tr.layers, src[order], grp_ptr)


def _same_buffer(r: np.ndarray, probe: np.ndarray) -> bool:
    return r.size == probe.size and r.flags.c_contiguous and \
        r.__array_interface__["data"][0] == probe.__array_interface__["data"][0]


def structure(out_shape: tuple, slots, fwd, bwd, selection: bool = False) -> tuple:
    """The output pattern of a map linear in the traced slots, probing one slot at a time.

    Also returns, for a single slot, which input entry each output entry copies
    (-1: none), when the map is a copy (None otherwise).
    """
    out_size = _size(out_shape)
    if out_size == 0:
        return (), None
    if selection and len(slots) > 1:
        stitched = _stitched_selection(out_size, slots, fwd, out_shape)
        if stitched is not None:
            return stitched, None
    parts, smap = [], None
    for k, (_, _, tr) in enumerate(slots):
        if tr.size:
            if not tr.layers and not (len(slots) == 1 and selection):
                continue
            layers, smap = _slot_structure(k, tr, out_shape, fwd, bwd, selection)
            if layers:
                parts.append(layers)
    layers = P.union(parts, out_size) if parts else ()
    if not selection and len(layers) > 1:
        # a map that combines entries (a sum over an axis) repeats its inputs' layers once per source;
        # merged here, once, its result is one duplicate-free layer however often it is used
        layers = P.merge(layers, out_size)
    return layers, (smap if len(slots) == 1 else None)
