"""Dependency tracing: run ``f`` once on values that record which inputs each entry depends on.

A :class:`Tracer` is to sparsity what a ``Dual`` is to derivatives: numpy hands
it every ufunc and array function (NEP 13/18), and it looks the call up in the
SAME rule table, :data:`dualad.rules.TABLE`. Its "tangent" is a dependency
pattern (see :mod:`dualad.sparse.pattern`): a union plays the part of the sum.

How each kind of rule moves a pattern
-------------------------------------
``Elementwise``
    The union of the (broadcast) input patterns. A partial that is identically
    zero (checked once per ufunc on sample points of the rule's domain, e.g.
    ``copysign``'s sign argument) contributes nothing. Partials are *not*
    evaluated at ``x``: ``x * y`` depends on ``y`` even where ``x == 0``.
``Linear``
    The rule's tangent map is applied to probe tangents that number the input
    entries, with every other operand replaced by its absolute value
    normalised to 0/1 (1 wherever it is nonzero or depends on the input), so
    coefficients such as matmul's matrix cannot cancel. Maps that only move
    entries (indexing, reshape, transpose, broadcast_to, roll, assignment,
    concatenate, np.where) need one probe direction: the entry's number.
    Others get four -- ``1``, ``w``, ``w**2`` and a random permutation of
    ``w`` -- which identify every output entry that copies one input entry
    and flag those that combine several (reductions, products). Those are
    resolved exactly by colouring the inputs (``j mod G``, then random
    colours, four directions per colour) until no colour holds two of an
    entry's sources, and one-hot probes (through the rule's transpose when it
    has one) for whatever is left. This is the dense "apply the map to the 0/1
    pattern, threshold > 0" recipe without an ``(entries, n)`` array per
    value. ``np.where`` keeps *both* branches, whatever the condition is at
    ``x``.
``Custom``
    ``concatenate`` is probed like a linear map (its jvp only copies).
    ``max``/``min``/``prod`` take the pattern of ``sum`` over the same axes
    (every reduced entry, not just the winner at ``x``) and ``cumprod`` that
    of ``cumsum``. Any other custom rule (``solve``, ``inv``, ``det``,
    ``slogdet``...) is treated as coupling everything: each output entry
    depends on every input of every traced operand.
``ZeroDerivative`` / ``NoDerivative``
    An empty pattern / a plain array.
``Composite``
    The implementation is called on the tracers, as for Duals.

The pattern is exact for the operations above at the given ``x`` and
conservative where noted; Python-level branches on values (``if x[0] > 0``),
indices computed from values and ``np.sort`` follow the values at ``x`` and can
change elsewhere.

Assignment (``out[i] = ...``, ``r[1:] += ...``) replaces the pattern rows of the
written entries. numpy views share memory and patterns do not, so writing
through a view and then using the array it views (or another view of the
written entries) raises instead of returning a pattern with missing entries.
"""
from __future__ import annotations

import inspect
import math
import operator
from functools import lru_cache

import numpy as np

from .. import composites, dispatch
from .. import dual as _dual
from ..dual import Dual
from ..errors import ConversionError, OutputError, UnsupportedFunctionError, describe
from ..rules import (NEG_ONE, ONE, SETITEM, TABLE, Composite, Custom, Elementwise, Linear, NoDerivative,
                     ZeroDerivative, setitem_tangent)
from . import pattern as P

__all__ = ["Tracer", "trace"]

_OPERANDS = (np.ndarray, np.generic, int, float, bool, list, tuple)


class Tracer:
    """A value together with the set of inputs each of its entries depends on.

    >>> import numpy as np
    >>> from dualad.sparse.tracer import trace
    >>> value, (indptr, indices) = trace(lambda x: x[1:] * x[:-1], np.ones(3))
    >>> indptr.tolist(), indices.tolist()
    ([0, 2, 4], [0, 1, 1, 2])
    """

    # _layers: the pattern (see dualad.sparse.pattern). _owned: it is one ELL layer no other
    # value has seen, so __setitem__ may write rows in place. For a value that is a numpy view
    # of another traced value: _root (that value's root), _rootmap (root entry of each entry)
    # and _seen (the root's write count last checked). On a root: _writes (write count),
    # _stamp (last write of each entry) and _dirty (entries changed through a view). See _fresh.
    __slots__ = ("value", "_layers", "_owned", "_root", "_rootmap", "_seen", "_writes", "_stamp", "_dirty")

    def __init__(self, value, layers: tuple = ()):
        self.value = value
        self._layers = layers
        self._owned = False
        self._root = self._rootmap = self._stamp = self._dirty = None
        self._seen = self._writes = 0

    @property
    def layers(self) -> tuple:
        """The dependency pattern (read access shares it, so it is no longer written in place)."""
        self._owned = False
        return self._layers

    @layers.setter
    def layers(self, layers: tuple):
        self._layers = layers
        self._owned = False

    # ----------------------------------------------------------------- array-like
    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    @property
    def dtype(self):
        return np.asarray(self.value).dtype

    @property
    def T(self) -> "Tracer":
        return np.transpose(self)

    @property
    def real(self) -> "Tracer":
        return self

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Tracer(shape={self.shape}, layers={len(self.layers)})"

    def _refuse(self, what: str):
        raise ConversionError(
            f"{what} would turn a traced value ({describe(self.value)}) into a plain number or array "
            "and lose track of which inputs it depends on (dualad.jacobian would refuse it on a Dual "
            "too); remedy: keep computing with numpy functions on it")

    def __float__(self):
        self._refuse("float(x)")

    def __int__(self):
        self._refuse("int(x)")

    def __complex__(self):
        self._refuse("complex(x)")

    def __index__(self):
        self._refuse("using a traced value as an index")

    def __array__(self, dtype=None, copy=None):
        self._refuse("converting to a numpy array (np.asarray, np.array([...]), or assigning into a "
                     "float ndarray)")

    def __bool__(self) -> bool:
        return bool(self.value)

    def tolist(self):
        if self.ndim == 0:
            return self
        return [item.tolist() if item.ndim else item for item in self]

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert a value of size 1 to a scalar")
        return self.reshape(())

    def copy(self) -> "Tracer":
        return np.copy(self)

    def astype(self, dtype, copy: bool = True) -> "Tracer":
        dt = np.dtype(dtype)
        if dt.kind != "f":
            self._refuse(f"astype({dt})")
        return Tracer(np.asarray(self.value).astype(dt), self.layers)

    # ----------------------------------------------------------------- methods
    def reshape(self, *shape, order="C"):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)

    def ravel(self):
        return np.ravel(self)

    def flatten(self):
        return np.ravel(self).copy()

    def transpose(self, *axes):
        return np.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def swapaxes(self, a, b):
        return np.swapaxes(self, a, b)

    def squeeze(self, axis=None):
        return np.squeeze(self, axis=axis)

    def sum(self, axis=None, keepdims=False):
        return np.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return np.mean(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return np.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return np.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        return np.prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return np.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return np.min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None):
        return np.argmax(self.value, axis=axis)

    def argmin(self, axis=None):
        return np.argmin(self.value, axis=axis)

    def cumsum(self, axis=None):
        return np.cumsum(self, axis=axis)

    def cumprod(self, axis=None):
        return np.cumprod(self, axis=axis)

    def dot(self, other):
        return np.dot(self, other)

    def repeat(self, repeats, axis=None):
        return np.repeat(self, repeats, axis=axis)

    def clip(self, min=None, max=None):
        return np.clip(self, min, max)

    def round(self, decimals=0):
        return np.round(self, decimals)

    def trace(self, offset=0, axis1=0, axis2=1):
        return np.trace(self, offset, axis1, axis2)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return np.diagonal(self, offset, axis1, axis2)

    def conj(self):
        return self

    # ----------------------------------------------------------------- numpy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())):
            if not isinstance(x, (Tracer,) + _OPERANDS):
                return NotImplemented
        return apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if not (issubclass(t, Tracer) or issubclass(t, np.ndarray)):
                return NotImplemented
        return apply_function(func, args, kwargs)

    def __getitem__(self, key):
        _check_key(key)
        return _apply_rule(operator.getitem, TABLE[operator.getitem], (self, key), {})

    def __setitem__(self, key, item):
        _check_key(key)
        if self._root is not None:
            _fresh(self)
        if isinstance(item, Tracer):
            _fresh(item)
        _setitem(self, key, item)

    # ----------------------------------------------------------------- comparisons act on values
    def __lt__(self, other):
        return self.value < _value(other)

    def __le__(self, other):
        return self.value <= _value(other)

    def __gt__(self, other):
        return self.value > _value(other)

    def __ge__(self, other):
        return self.value >= _value(other)

    def __eq__(self, other):
        return self.value == _value(other)

    def __ne__(self, other):
        return self.value != _value(other)

    __hash__ = None


def _value(x):
    return x.value if isinstance(x, Tracer) else x


def _binary(ufunc):
    def op(self, other):
        if not isinstance(other, (Tracer,) + _OPERANDS):
            return NotImplemented
        return apply_ufunc(ufunc, "__call__", (self, other), {})

    def rop(self, other):
        if not isinstance(other, (Tracer,) + _OPERANDS):
            return NotImplemented
        return apply_ufunc(ufunc, "__call__", (other, self), {})

    def iop(self, other):
        if not isinstance(other, (Tracer,) + _OPERANDS):
            return NotImplemented
        result = apply_ufunc(ufunc, "__call__", (self, other), {})
        _assign(self, result)
        return self

    return op, rop, iop


for _name, _ufunc in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                      ("truediv", np.divide), ("pow", np.power), ("matmul", np.matmul),
                      ("mod", np.remainder)):
    _op, _rop, _iop = _binary(_ufunc)
    setattr(Tracer, f"__{_name}__", _op)
    setattr(Tracer, f"__r{_name}__", _rop)
    setattr(Tracer, f"__i{_name}__", _iop)

Tracer.__neg__ = lambda self: apply_ufunc(np.negative, "__call__", (self,), {})
Tracer.__pos__ = lambda self: apply_ufunc(np.positive, "__call__", (self,), {})
Tracer.__abs__ = lambda self: apply_ufunc(np.absolute, "__call__", (self,), {})
Tracer.__round__ = lambda self, ndigits=None: np.round(self, ndigits or 0)


# ----------------------------------------------------------------------------- helpers
def _unsupported(func, why: str = "") -> UnsupportedFunctionError:
    return dispatch.unsupported(func, why)


def _check_key(key):
    parts = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, Tracer) for k in parts):
        raise ConversionError("indexing with a traced value would lose its dependencies; remedy: index "
                              "with integers that do not depend on the input")


def _strip(x):
    if isinstance(x, Tracer):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_strip(y) for y in x)
    return x


def _has_tracer(x) -> bool:
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_tracer(y) for y in x)
    if isinstance(x, dict):
        return any(_has_tracer(y) for y in x.values())
    return False


def _size(shape) -> int:
    return math.prod(shape)


@lru_cache(maxsize=256)
def _broadcast_map(in_shape: tuple, out_shape: tuple) -> np.ndarray:
    """For each entry of ``out_shape``, the entry of ``in_shape`` broadcasting reads."""
    idx = np.arange(_size(in_shape), dtype=P.IDX).reshape(in_shape)
    m = np.ascontiguousarray(np.broadcast_to(idx, out_shape)).reshape(-1)
    m.flags.writeable = False
    return m


@lru_cache(maxsize=None)
def _identically_zero(ufunc, i: int) -> bool:
    """Is the rule's partial for input ``i`` zero everywhere (judged on sample points of its domain)?"""
    rule = TABLE[ufunc]
    partial = rule.partials[i]
    if partial is ONE or partial is NEG_ONE or partial is None:
        return False
    rng = np.random.default_rng(12345)
    domain = rule.domain or ((-2.0, 2.0),)
    samples = [rng.uniform(*domain[min(j, len(domain) - 1)], size=32) for j in range(ufunc.nin)]
    try:
        with np.errstate(all="ignore"):
            p = partial(ufunc(*samples), *samples)
        return bool(np.all(np.asarray(p) == 0))
    except Exception:  # a partial that cannot run on samples is not known to vanish
        return False


# ----------------------------------------------------------------------------- writes and views
# numpy views share memory, so a write through one is seen by the others, and a Dual's tangent
# (a view too) follows. Patterns are not views. So every traced view remembers the entries of
# its root array it shows (_rootmap); writes stamp the root's entries with a write count, and
# entries written through a view are "dirty" in the root until written through the root
# itself. Using a view that shows entries stamped after it was made, or a root with dirty
# entries, raises rather than give a pattern that misses dependencies. The usual idioms --
# r[1:] += x[:-1], a scalar loop out[i] = ... -- stay legal.
_STALE = ("a traced array was modified through a view of it (e.g. v = x[1:]; v[0] = ...), or a view "
          "was used after its array was modified, and dependency patterns do not follow writes "
          "between views; remedy: assign through the array itself (x[1] = ..., x[1:] += ...), or "
          "take a copy of the slice first")


def _link_view(view: "Tracer", base: "Tracer", smap) -> None:
    """Make ``view`` (whose value is a numpy view of ``base``'s) a traced view; ``smap``: view entry -> base entry."""
    if smap is None:
        return
    if base._root is None:
        view._root, view._rootmap = base, smap
    else:
        view._root, view._rootmap = base._root, base._rootmap[smap]
    view._seen = view._root._writes


def _fresh(t: "Tracer") -> None:
    root = t._root
    if root is None:
        if t._dirty is not None and t._dirty.any():
            raise UnsupportedFunctionError(_STALE)
        return
    if root._writes != t._seen:
        if root._stamp is not None and (root._stamp[t._rootmap] > t._seen).any():
            raise UnsupportedFunctionError(_STALE)
        t._seen = root._writes


def _wrote(t: "Tracer", rows=None) -> None:
    """Record a write into entries ``rows`` (flat; None: all) of ``t``."""
    root = t._root if t._root is not None else t
    root._writes += 1
    if root._stamp is None:
        root._stamp = np.zeros(root.size, dtype=np.int64)
    if t._root is None:
        root._stamp[slice(None) if rows is None else rows] = root._writes
        if root._dirty is not None:
            root._dirty[slice(None) if rows is None else rows] = False
    else:
        where = t._rootmap if rows is None else t._rootmap[rows]
        root._stamp[where] = root._writes
        if root._dirty is None:
            root._dirty = np.zeros(root.size, dtype=bool)
        root._dirty[where] = True  # changed in the root's memory, not in its pattern
        t._seen = root._writes


def _assign(target: "Tracer", result: "Tracer") -> None:
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
    _wrote(target)


def _setitem(d: "Tracer", key, item) -> None:
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
    traced = isinstance(item, Tracer)
    d.value[key] = item.value if traced else item
    size = d.size
    dest = np.full(d.shape + (1,), -1.0)
    source = _probe_index(item.size)[1:].reshape(item.shape + (1,)) if traced else \
        np.zeros(np.shape(item) + (1,))
    setitem_tangent(dest, key, source)
    dest = dest.reshape(size)
    rows = np.flatnonzero(dest >= 0)
    src = dest[rows].astype(P.IDX) - 1  # -1: written with a constant
    new = P.gather(item.layers, src, item.size) if traced and item.layers else ()
    _wrote(d, rows)
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


def _write_rows(d: "Tracer", rows: np.ndarray, new: tuple) -> bool:
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


# ----------------------------------------------------------------------------- elementwise
def _elementwise(ufunc, rule: Elementwise, inputs):
    values = [x.value if isinstance(x, Tracer) else x for x in inputs]
    out = ufunc(*values)
    shape = np.shape(out)
    patterns = []
    for i, x in enumerate(inputs):
        if not isinstance(x, Tracer):
            continue
        _fresh(x)
        if rule.partials[i] is None:
            raise _unsupported(ufunc, f" with respect to argument {i}")
        if not x.layers or _identically_zero(ufunc, i):
            continue
        layers = x.layers
        if x.shape != shape:
            layers = P.gather(layers, _broadcast_map(x.shape, shape), x.size)
        patterns.append(layers)
    return Tracer(out, P.union(patterns, _size(shape)) if patterns else ())


# ----------------------------------------------------------------------------- probes
_PROBE = {"base": np.zeros((0, 4))}


def _probe_base(n: int) -> np.ndarray:
    """Row 0 zeros, then rows ``[1, w, w**2, perm(w)]`` for ``w = 1, 2, ...``; read-only, cached, grown on demand.

    The probe for input entry ``g`` is row ``g + 1``.
    """
    base = _PROBE["base"]
    if len(base) <= n:
        size = max(n, 2 * len(base), 1024)
        w = np.arange(1, size + 1, dtype=np.float64)
        perm = np.random.default_rng(2024).permutation(size).astype(np.float64) + 1.0
        base = np.concatenate([np.zeros((1, 4)), np.stack([np.ones(size), w, w * w, perm], axis=1)])
        base.flags.writeable = False
        _PROBE["base"] = base
    return base


def _probe_index(n: int) -> np.ndarray:
    """``[0, 1, ..., n]`` as floats (entry ``g`` of an input is probed with ``g + 1``), cached."""
    w = _PROBE.get("index")
    if w is None or len(w) <= n:
        w = np.arange(max(n + 1, 2 * (0 if w is None else len(w)), 1024), dtype=np.float64)
        w.flags.writeable = False
        _PROBE["index"] = w
    return w[:n + 1]


def _classify(r: np.ndarray, total: int, base: np.ndarray):
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
    perm = base[:, 3]
    r1, r2, r3, r4 = r[:, 0], r[:, 1], r[:, 2], r[:, 3]
    with np.errstate(all="ignore"):
        zero = (r1 == 0) & (r2 == 0) & (r3 == 0) & (r4 == 0)
        w = np.rint(r2 / r1)
        valid = np.isfinite(w) & (w >= 1) & (w <= total) & ~zero
        s = np.where(valid, w - 1, 0).astype(P.IDX)
        w = s + 1.0

        def close(a, b):
            return np.abs(a - b) <= 1e-9 * np.abs(b)

        single = valid & close(r2, r1 * w) & close(r3, r1 * w * w) & close(r4, r1 * perm[s])
    s[~single] = -1
    multi = ~(zero | single)
    return s, (multi if multi.any() else None)


_BUDGET = 1 << 22  # float entries per probe block beyond the first
_HASH_ROUNDS = 3
_HASH_MAX_SOURCES = 32


def _one_hot_pairs(rows, k, tr, out_shape, fwd, bwd):
    """Exact (row, source) pairs of output entries ``rows``, one input or output at a time."""
    out_size, size = _size(out_shape), tr.size
    pair_rows, pair_src = [], []
    if bwd is not None and bwd(k, None) and len(rows) <= size:
        chunk = max(1, min(len(rows), _BUDGET // max(out_size, size)))
        for start in range(0, len(rows), chunk):
            sel = rows[start:start + chunk]
            ct = np.zeros((out_size, len(sel)))
            ct[sel, np.arange(len(sel))] = 1.0
            g = np.asarray(bwd(k, ct.reshape(out_shape + (len(sel),)))).reshape(size, len(sel))
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
            row, col = np.nonzero(r[rows])
            pair_rows.append(rows[row])
            pair_src.append(cols[col])
    return pair_rows, pair_src


def _resolve_multi(rows, counts, k, tr, out_shape, fwd, bwd):
    """Exact (row, source) pairs of the multi-source output entries ``rows``.

    Entries with few sources are split by colouring the inputs (``j mod G``,
    then random colours): with the four probe directions per colour, an
    entry is resolved once no colour holds two of its sources. What is left
    is resolved one-hot, through the rule's transpose when it has one.
    """
    out_size, size = _size(out_shape), tr.size
    base = _probe_base(size)
    pair_rows, pair_src = [], []
    few = counts <= _HASH_MAX_SOURCES
    pending, rest = rows[few], rows[~few]
    G = 1 << int(max(1, 2 * counts[few].max() if few.any() else 1) - 1).bit_length()
    rng = np.random.default_rng(7)
    for rnd in range(_HASH_ROUNDS):
        G = min(G, size)
        if not len(pending) or G < 2 or 4 * G * max(size, out_size) > _BUDGET:
            break
        colour = np.arange(size) % G if rnd == 0 else rng.integers(0, G, size)
        probe = np.zeros((size, G, 4))
        probe[np.arange(size), colour] = base[1:size + 1]
        r = np.asarray(fwd({k: probe.reshape(tr.shape + (4 * G,))}), dtype=np.float64)
        r = r.reshape(out_size, G, 4)[pending].reshape(-1, 4)
        s, multi = _classify(r, size, base)
        row_of = np.repeat(pending, G)
        if multi is None:
            done = s >= 0
            pending = pending[:0]
        else:
            bad = np.unique(row_of[multi])
            done = (s >= 0) & ~np.isin(row_of, bad)
            pending = bad
        pair_rows.append(row_of[done])
        pair_src.append(s[done])
        G *= 2
    left = np.concatenate([pending, rest])
    if len(left):
        more_rows, more_src = _one_hot_pairs(np.sort(left), k, tr, out_shape, fwd, bwd)
        pair_rows += more_rows
        pair_src += more_src
    if not pair_rows:
        return np.zeros(0, P.IDX), np.zeros(0, P.IDX)
    return np.concatenate(pair_rows).astype(P.IDX), np.concatenate(pair_src).astype(P.IDX)


def _slot_structure(k: int, tr: "Tracer", out_shape: tuple, fwd, bwd, selection: bool) -> tuple:
    """The part of the output pattern that comes from traced operand ``k`` (the map is linear in it)."""
    out_size, size = _size(out_shape), tr.size
    if selection:  # the map only moves entries around: one probe direction names the source
        probe = _probe_index(size)[1:].reshape(tr.shape + (1,))
        r = np.asarray(fwd({k: probe}), dtype=np.float64)
        if _same_buffer(r, probe):
            return tr.layers, P.arange(size)  # handed back untouched: a reshape
        smap = r.reshape(out_size).astype(P.IDX) - 1
        return P.gather(tr.layers, smap, size), smap
    base = _probe_base(size)
    probe = base[1:size + 1].reshape(tr.shape + (4,))
    r = np.asarray(fwd({k: probe}), dtype=np.float64)
    if _same_buffer(r, probe):
        return tr.layers, P.arange(size)
    r = r.reshape(out_size, 4)
    s, multi = _classify(r, size, base)
    if multi is None:
        return P.gather(tr.layers, s, size), s
    m = np.nonzero(multi)[0]
    m_rows, m_src = _resolve_multi(m, r[m, 0], k, tr, out_shape, fwd, bwd)
    single = np.nonzero(s >= 0)[0]
    rows = np.concatenate([single, m_rows])
    src = np.concatenate([s[single], m_src])
    order = np.argsort(rows, kind="stable")
    grp_ptr = np.zeros(out_size + 1, dtype=P.IDX)
    np.cumsum(np.bincount(rows, minlength=out_size), out=grp_ptr[1:])
    return P.grouped_gather(tr.layers, src[order], grp_ptr), None


def _same_buffer(r: np.ndarray, probe: np.ndarray) -> bool:
    return r.size == probe.size and r.flags.c_contiguous and \
        r.__array_interface__["data"][0] == probe.__array_interface__["data"][0]


def _structure(out_shape: tuple, slots, fwd, bwd, selection: bool = False) -> tuple:
    """The output pattern of a map linear in the traced slots, probing one slot at a time.

    Also returns, for a single slot, which input entry each output entry copies
    (-1: none), when the map is a copy (None otherwise).
    """
    out_size = _size(out_shape)
    if out_size == 0:
        return (), None
    parts, smap = [], None
    for k, (_, _, tr) in enumerate(slots):
        if tr.size:
            if not tr.layers and not (len(slots) == 1 and selection):
                continue
            layers, smap = _slot_structure(k, tr, out_shape, fwd, bwd, selection)
            if layers:
                parts.append(layers)
    return (P.union(parts, out_size) if parts else ()), (smap if len(slots) == 1 else None)


# ----------------------------------------------------------------------------- Linear and Custom rules
def _slots(args):
    """The traced operands: (argument position, index in a list argument or None, tracer)."""
    slots = []
    for i, a in enumerate(args):
        if isinstance(a, Tracer):
            slots.append((i, None, a))
        elif isinstance(a, (list, tuple)):
            for j, b in enumerate(a):
                if isinstance(b, Tracer):
                    slots.append((i, j, b))
    return slots


def _stack_nested(a):
    """A list argument whose items are lists holding tracers gets those items stacked, as numpy would."""
    if isinstance(a, (list, tuple)) and any(isinstance(b, (list, tuple)) and _has_tracer(b) for b in a):
        return type(a)(_stack_output(b) if isinstance(b, (list, tuple)) and _has_tracer(b) else b for b in a)
    return a


def _unit(v, tracer=None):
    """A 0/1 stand-in for an operand: 1 wherever it is nonzero or depends on the input."""
    if tracer is not None:
        nz = np.asarray(tracer.value) != 0
        if tracer.layers:
            nz = nz | P.row_has_deps(tracer.layers, tracer.size).reshape(nz.shape)
        return nz.astype(np.float64)
    if isinstance(v, (np.ndarray, np.generic, float, int)) and not isinstance(v, bool) \
            and np.asarray(v).dtype.kind in "iuf":
        return (np.abs(np.asarray(v)) > 0).astype(np.float64)
    return v


def _tangent_struct(args, slots, tangents):
    """Tangents laid out like the arguments (None for constants), as rules' jvp/maps expect."""
    struct = [None] * len(args)
    for k, (i, j, _) in enumerate(slots):
        t = tangents.get(k)
        if j is None:
            struct[i] = t
        else:
            if struct[i] is None:
                struct[i] = [None] * len(args[i])
            struct[i][j] = t
    return struct


def _linear_maps(func, rule: Linear, args, values, kwargs, slots):
    for i, j, _ in slots:
        if j is not None or rule.tangent.get(i) is None:
            raise _unsupported(func, f" with respect to argument {i}")
    units = {}

    def args_for(i):
        """Arguments for the map of position ``i``: the other operands as 0/1 stand-ins."""
        if i not in units:
            a = list(values)
            for j, arg in enumerate(args):
                if j != i and j in rule.tangent:
                    a[j] = _unit(values[j], arg if isinstance(arg, Tracer) else None)
            if func is np.where:  # keep both branches: the condition may flip away from x
                a[0] = np.full(np.shape(values[0]), i == 1)
            units[i] = a
        return units[i]

    def fwd(tangents):
        total = None
        for k, t in tangents.items():
            i = slots[k][0]
            c = rule.tangent[i](t, *args_for(i), **kwargs)
            total = c if total is None else total + c
        return total

    def bwd(k, ct):
        i = slots[k][0]
        transpose = rule.transpose.get(i) if hasattr(rule.transpose, "get") else None
        if ct is None:
            return transpose is not None
        return transpose(ct, *args_for(i), **kwargs)

    return fwd, bwd


def _bound(func, args, kwargs):
    try:
        b = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {}
    return b.arguments


# Custom rules whose pattern is that of a linear reduction over the same axes: every
# entry the reduction reads, not only the one that wins at x.
_AS_LINEAR = {np.max: np.sum, np.amax: np.sum, np.min: np.sum, np.amin: np.sum, np.prod: np.sum,
              np.cumprod: np.cumsum}
# Custom rules whose jvp only copies tangents around, so probing it is exact.
_PROBE_JVP = {np.concatenate}
# Rules whose tangent map (per operand) only moves entries or writes zeros -- each output entry
# is a copy of at most one input entry -- so one probe direction, the entry's number, suffices.
# (np.where counts as one: its condition is replaced by all-True / all-False, see _linear_maps.)
_SELECTIONS = {operator.getitem, SETITEM, np.reshape, np.transpose, np.broadcast_to, np.roll, np.copy,
               np.where, np.concatenate}


def _as_linear(func, args, kwargs, out):
    bound = _bound(func, args, kwargs)
    proxy = _AS_LINEAR[func]
    kw = {"axis": bound.get("axis")}
    if proxy is np.sum and bound.get("keepdims") is not None:
        kw["keepdims"] = bool(bound.get("keepdims"))
    traced = _apply_rule(proxy, TABLE[proxy], (args[0],), kw)
    return Tracer(out, traced.layers)


def _coupled(out, slots):
    """Every output entry depends on everything the traced operands depend on."""
    rows = [P.to_csr(tr.layers, tr.size)[1] for _, _, tr in slots if tr.layers]
    deps = np.unique(np.concatenate(rows)) if rows else np.zeros(0, P.IDX)

    def wrap(o):
        size = int(np.size(o))
        if len(deps) == 0 or size == 0:
            return Tracer(o, ())
        return Tracer(o, (np.broadcast_to(deps, (size, len(deps))),))

    if isinstance(out, tuple):
        items = [wrap(o) for o in out]
        if len(items) == 2 and np.shape(out[0]) == np.shape(out[1]) and hasattr(out, "_fields") \
                and out._fields[0] == "sign":
            items[0] = out[0]  # slogdet's sign is piecewise constant
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    return wrap(out)


def _apply_rule(func, rule, args, kwargs):
    if _has_tracer(kwargs):
        raise UnsupportedFunctionError(
            f"{dispatch._name(func)} got a traced value as a keyword argument; remedy: pass "
            "differentiable arrays positionally")
    args = tuple(_stack_nested(a) for a in args)
    slots = _slots(args)
    selection = func in _SELECTIONS
    for _, _, tr in slots:
        if not (selection and len(slots) == 1 and tr._root is None):
            _fresh(tr)  # a copy from an array with entries changed through a view is checked below
    values = [_strip(a) for a in args]
    out = func(*values, **kwargs)
    if type(rule) is Custom:
        if func in _AS_LINEAR:
            return _as_linear(func, args, kwargs, out)
        if func not in _PROBE_JVP:
            return _coupled(out, slots)

        def fwd(tangents):
            return rule.jvp(out, values, kwargs, _tangent_struct(args, slots, tangents))
        bwd = None
    else:
        fwd, bwd = _linear_maps(func, rule, args, values, kwargs, slots)
    layers, smap = _structure(np.shape(out), slots, fwd, bwd, selection)
    if selection and len(slots) == 1 and slots[0][2]._dirty is not None:
        dirty = slots[0][2]._dirty
        if smap is None or dirty[smap[smap >= 0]].any():
            raise UnsupportedFunctionError(_STALE)
    result = Tracer(out, layers)
    if len(slots) == 1 and isinstance(out, np.ndarray) and out.base is not None \
            and np.may_share_memory(out, slots[0][2].value):
        _link_view(result, slots[0][2], smap)
    return result


def _zero(func, args, kwargs):
    return Tracer(func(*_strip(args), **_strip(kwargs)), ())


_ACCUMULATE = {np.add: np.cumsum, np.multiply: np.cumprod}
_REDUCE = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}


# ----------------------------------------------------------------------------- dispatch
def _pop_out(func, kwargs):
    out = kwargs.pop("out", None)
    if isinstance(out, tuple):
        out = out[0] if len(out) == 1 else out
    dtype = kwargs.pop("dtype", None)
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise ConversionError(f"{dispatch._name(func)}(..., dtype={np.dtype(dtype)}) would drop the "
                              "dependencies; remedy: use a float dtype or leave dtype out")
    for bad in ("where", "initial", "casting", "subok", "signature", "axes", "order"):
        if bad in kwargs and not (bad == "order" and kwargs[bad] in ("K", "C")):
            raise UnsupportedFunctionError(
                f"{dispatch._name(func)} with the {bad}= argument is not supported on traced values; "
                f"remedy: leave {bad}= out")
    return out


def _finish_out(func, result, out):
    if out is None:
        return result
    if isinstance(out, Tracer):
        _assign(out, result if isinstance(result, Tracer) else Tracer(result, ()))
        return out
    if isinstance(result, Tracer):
        raise ConversionError(f"{dispatch._name(func)}(..., out=<{describe(out)}>) would write a traced "
                              "value into a plain array; remedy: leave out= away")
    out[...] = result
    return out


def apply_ufunc(ufunc, method, inputs, kwargs):
    kwargs = dict(kwargs)
    out = _pop_out(ufunc, kwargs)
    if method == "__call__":
        if kwargs:
            raise _unsupported(ufunc, f" with keyword arguments {sorted(kwargs)}")
        rule = TABLE.get(ufunc)
        kind = type(rule)
        if kind is Elementwise:
            result = _elementwise(ufunc, rule, inputs)
        elif kind is Linear or kind is Custom:
            result = _apply_rule(ufunc, rule, inputs, {})
        elif kind is ZeroDerivative:
            result = _zero(ufunc, inputs, {})
        elif kind is NoDerivative:
            result = ufunc(*_strip(inputs))
        else:
            raise _unsupported(ufunc)
    elif method == "reduce" and ufunc in _REDUCE:
        axis = kwargs.pop("axis", 0)
        result = apply_function(_REDUCE[ufunc], (inputs[0],), {"axis": axis, **kwargs})
    elif method == "accumulate" and ufunc in _ACCUMULATE:
        result = apply_function(_ACCUMULATE[ufunc], (inputs[0],), {"axis": kwargs.pop("axis", 0)})
    elif method == "accumulate" and ufunc in composites.ACCUMULATE:
        result = composites.ACCUMULATE[ufunc](inputs[0], axis=kwargs.pop("axis", 0))
    elif method == "outer" and type(TABLE.get(ufunc)) is Elementwise:
        a, b = inputs
        a = np.reshape(a, np.shape(_value(a)) + (1,) * np.ndim(_value(b)))
        result = apply_ufunc(ufunc, "__call__", (a, b), {})
    else:
        raise _unsupported(ufunc, f".{method}")
    return _finish_out(ufunc, result, out)


def apply_function(func, args, kwargs):
    entry = TABLE.get(func)
    kind = type(entry)
    if kind is Composite:
        return entry.impl(*args, **kwargs)
    if kind is NoDerivative:
        return func(*_strip(args), **_strip(kwargs))
    kwargs = dict(kwargs)
    out = _pop_out(func, kwargs)
    if kind is Linear or kind is Custom:
        result = _apply_rule(func, entry, args, kwargs)
    elif kind is ZeroDerivative:
        result = _zero(func, args, kwargs)
    else:
        raise _unsupported(func)
    return _finish_out(func, result, out)


# ----------------------------------------------------------------------------- entry point
def _stack_output(y):
    items = [_stack_output(v) if isinstance(v, (list, tuple)) else v for v in y]
    for v in items:  # a string or None in the list would otherwise be traced as a constant
        if not isinstance(v, Tracer) and not (isinstance(v, (np.ndarray, np.generic, int, float, bool))
                                              and np.asarray(v).dtype.kind in "biuf"):
            raise OutputError(f"the function returned a list holding {describe(v)}, which is not numeric; "
                              "remedy: return numbers or arrays only")
    if len({np.shape(v.value) if isinstance(v, Tracer) else np.shape(v) for v in items}) > 1:
        raise OutputError("the function returned a list of arrays of different shapes; "
                          "remedy: return one array, or a list of equally shaped arrays")
    if not any(isinstance(v, Tracer) for v in items):
        return np.array(items) if items else np.zeros(0)
    return np.stack(items)


def trace(f, x: np.ndarray):
    """Run ``f`` on a tracer of ``x``: ``(output value, (indptr, indices))`` of the output's pattern.

    Row ``i`` of the pattern lists the flat input indices output entry ``i``
    (flattened, C order) depends on, sorted and without duplicates.
    """
    if Tracer not in _dual.LAYERS:  # so _primal, used by composites and buffers, sees values
        _dual.LAYERS = _dual.LAYERS + (Tracer,)
    n = int(np.size(x))
    y = f(Tracer(np.array(x, dtype=np.result_type(x, np.float64), copy=True), P.identity(n) if n else ()))
    if isinstance(y, (list, tuple)):
        y = _stack_output(y)
    if isinstance(y, Tracer):
        _fresh(y)
        value, layers = y.value, y.layers
        if np.asarray(value).dtype.kind not in "biuf":  # complex: refused like the other engines
            raise OutputError(f"the function returned {describe(np.asarray(value))}, which is not real; "
                              "remedy: keep the computation real")
    elif isinstance(y, Dual):
        raise OutputError("the function returned a Dual while its sparsity was being traced; remedy: "
                          "return arrays computed from the input")
    elif isinstance(y, (np.ndarray, np.generic, int, float, bool)):
        value, layers = np.asarray(y), ()
        if value.dtype.kind not in "biuf":
            raise OutputError(f"the function returned {describe(value)}, which is not numeric; "
                              "remedy: return a float, an array, or a list/tuple of those")
    else:
        raise OutputError(f"the function returned a {type(y).__name__}, which dualad cannot "
                          "differentiate; remedy: return a float, an array, or a list/tuple of those")
    m = int(np.size(value))
    bound = sum(layer.size if isinstance(layer, np.ndarray) else len(layer.indices) for layer in layers)
    small = max(n, m, bound) < 2 ** 31  # int32 indices, as scipy.sparse would pick, when they surely fit
    return value, P.to_csr(layers, m, np.int32 if small else P.IDX)
