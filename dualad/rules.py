"""The derivative rule table: every derivative formula dualad knows, written once.

Both modes read this table: :class:`dualad.Dual` (forward mode) and
:mod:`dualad.tape` (reverse mode). Nothing else in the package writes a
derivative formula. Entries are keyed by the numpy function or ufunc object.

The kinds of entry (after JAX's split of primitives):

``Elementwise``
    A ufunc, described by its local partial derivatives, one function per
    input: ``partial(out, *inputs) -> d out / d input_i``. Forward mode
    multiplies each partial into the input's tangent and adds; reverse mode
    multiplies it into the cotangent and sums out broadcasting.
``Linear``
    An operation that is linear in some arguments. ``tangent[i](t, *args)``
    applies the operation to the tangent of argument ``i`` (the other
    arguments held at their values); ``transpose[i](ct, *args)`` is its
    adjoint, which is all reverse mode needs.
``Custom``
    An explicit ``jvp``, only where neither form fits (``solve``, ``inv``,
    ``det``, reductions with ties, ...). Reverse mode transposes it
    (linearise-and-transpose, :mod:`dualad.tape.linearize`) unless the entry
    also gives a hand-written ``vjp`` (where that is faster, or where the
    transposed jvp would recurse, as ``solve``'s would).
``ZeroDerivative``
    Piecewise-constant functions (``floor``, ``sign``, ``round``) and
    constant constructors (``zeros_like``): the result carries a zero tangent.
``NoDerivative``
    Predicates and integer-valued queries (``isnan``, ``argmax``, ``shape``):
    computed on the values, returned as plain arrays.
``Composite``
    A numpy function written in terms of other numpy functions (``mean`` is
    ``sum / n``). It holds no derivative formula of its own; its
    implementation lives in :mod:`dualad.composites`.

Tangent layout seen by ``Linear`` and ``Custom`` rules: the value's shape plus
exactly one trailing axis of directions (the engines add and remove that axis
when a value carries a single direction). Cotangents use the same layout.
"""
from __future__ import annotations

import importlib
import math
import operator
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .common import ndim as _ndim
from .errors import UnsupportedFunctionError

__all__ = [
    "TABLE", "Elementwise", "Linear", "Custom", "ZeroDerivative", "NoDerivative",
    "Composite", "ONE", "NEG_ONE", "unbroadcast", "batch_key", "setitem_tangent",
    "SETITEM", "REDUCE", "ACCUMULATE", "normalize_axes", "OPTIONAL_RULES", "late_rule", "HOLOMORPHIC", "TRANSPOSE_JVP",
]


class _Constant:
    """A partial derivative that is a fixed +1 or -1, so engines can skip the multiply."""

    __slots__ = ("sign",)

    def __init__(self, sign: int):
        self.sign = sign

    def __repr__(self) -> str:
        return "ONE" if self.sign > 0 else "NEG_ONE"


ONE = _Constant(1)
NEG_ONE = _Constant(-1)


@dataclass(frozen=True)
class Elementwise:
    partials: tuple            # per input: callable(out, *inputs), ONE, NEG_ONE or None
    domain: tuple = ((-2.0, 2.0),)  # per input, the interval the rule tests sample from
    nondifferentiable: str = ""    # documented convention at kinks, if any
    # complex values (dualad.wirtinger): None refuses them; HOLOMORPHIC: ``partials`` are the complex
    # derivatives f'(z) as written; or per input a pair (f_z, f_zbar) of Wirtinger partials (either
    # may be None for 0), so df = f_z dz + f_zbar conj(dz) (abs, conj)
    complex: Any = None


@dataclass(frozen=True)
class Linear:
    tangent: dict
    transpose: dict
    # optional, per input: ``f(buf, ct, *args, **kw)`` adds the transpose of ``ct`` into the adjoint
    # buffer ``buf`` in place and returns it; the reverse sweep uses it when a buffer of its own exists
    transpose_into: dict = field(default_factory=dict)
    # the map only moves entries or writes zeros (each output entry is a copy of at most one input
    # entry): the sparsity tracer needs one probe direction, not several
    selection: bool = False
    # position of a boolean argument that picks, entry by entry, the argument after it (True) or
    # the one after that (False), as np.where's condition does; the sparsity pattern keeps both
    # choices, since the condition may flip away from the point where it was traced
    selector: int | None = None
    # True: the map is complex-linear with these very formulas (its transpose is the plain, not the
    # conjugate, transpose: JAX's convention, see dualad.wirtinger); False refuses complex values
    complex: bool = False


@dataclass(frozen=True)
class Custom:
    jvp: Callable              # (out, args, kwargs, tangents) -> tangent of out
    # (out, args, kwargs, cotangent) -> list of cotangents per arg; None: reverse mode transposes
    # the jvp (dualad.tape.linearize), so the formula is stated once
    vjp: Callable | None = None
    # the jvp only moves entries (as Linear.selection): the sparsity tracer probes it exactly
    selection: bool = False
    # a Linear table function whose sparsity pattern (over the same axis=/keepdims=) is this
    # entry's: every entry a max reads, not only the one that wins at the traced point
    pattern_like: Callable | None = None
    # items of a tuple output that are piecewise constant (slogdet's sign): no tangent, no pattern
    constant_outputs: tuple = ()
    # True: jvp (and vjp) are right for complex values under dualad's convention; False refuses them
    complex: bool = False


@dataclass(frozen=True)
class ZeroDerivative:
    # False: refused on complex values (np.sign(z) = z/|z| is not piecewise constant there)
    complex: bool = True


@dataclass(frozen=True)
class NoDerivative:
    # True: the result depends on shapes and dtypes only (np.shape, np.ndim, np.result_type), which
    # the inputs' shapes and dtypes fix: not a value-dependent decision, so never logged as one
    structural: bool = False


@dataclass
class Composite:
    impl: Callable | None = None
    # True: ``impl`` gives numpy's values and derivatives for complex arguments too
    complex: bool = False


#: ``Elementwise.complex`` for a rule whose partials are the complex derivative as written
HOLOMORPHIC = "holomorphic"


class _TransposeJvp:
    """What a ``Custom.vjp`` returns for a call it has no formula for (complex matrices): reverse mode
    then transposes the entry's jvp (:mod:`dualad.tape.linearize`), as for an entry without a vjp."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TRANSPOSE_JVP"


TRANSPOSE_JVP = _TransposeJvp()


TABLE: dict[Any, Any] = {}

#: Rule modules for optional libraries, keyed by the library whose functions they cover. Such a
#: module registers its entries into TABLE when imported; it is imported on the first table miss
#: after the user has imported the library (a user who calls scipy.special.erf has imported it),
#: so ``import dualad`` never imports scipy and a table hit never pays for this.
OPTIONAL_RULES: dict[str, str] = {"scipy.special": "dualad.ops.special"}
_LOADED: set = set()


def late_rule(func):
    """``func``'s table entry after loading the rule modules of optional libraries already imported.

    Engines call this only where ``TABLE.get(func)`` missed, just before they would refuse ``func``.
    """
    for library, module in OPTIONAL_RULES.items():
        if module not in _LOADED and library in sys.modules:
            _LOADED.add(module)
            importlib.import_module(module)
    return TABLE.get(func)


#: ``ufunc.reduce`` / ``ufunc.accumulate`` on differentiable values: the numpy function each one
#: calls (with ``axis=`` and, for reduce, the remaining keywords), which dispatches as usual.
#: :mod:`dualad.composites` adds the accumulations numpy has no function for (``np.maximum``'s).
REDUCE: dict[Any, Callable] = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}
ACCUMULATE: dict[Any, Callable] = {np.add: np.cumsum, np.multiply: np.cumprod}

# Functional form of ``a[key] = v`` (returns the updated copy), keyed in the table.
def SETITEM(a, key, v):  # noqa: N802 - used as a table key, named like a constant
    out = np.copy(a)  # np.copy keeps a Dual a Dual (the tape's forward-over-reverse)
    out[key] = v
    return out


# --------------------------------------------------------------------------- helpers
def unbroadcast(ct, shape: tuple):
    """Sum a batched cotangent (``S + (k,)``) down to ``shape + (k,)``, undoing broadcasting."""
    target = tuple(shape)
    if ct.shape[:-1] == target:  # nothing was broadcast
        return ct
    lead = ct.ndim - 1 - len(target)
    if lead > 0:
        ct = ct.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(target) if n == 1 and ct.shape[i] != 1)
    if axes:
        ct = ct.sum(axis=axes, keepdims=True)
    return ct


def normalize_axes(axis, ndim: int) -> tuple:
    """Normalise an ``axis`` argument to a tuple of non-negative ints (over the value's dims)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(operator.index(a) % ndim for a in axis) if ndim else ()
    return (operator.index(axis) % ndim,) if ndim else ()


def batch_key(key):
    """The index that applies ``key`` to a batched tangent (trailing direction axis kept)."""
    if not isinstance(key, tuple):  # x[i] in scalar-style loops: the common case, kept cheap
        return (key, slice(None)) if key is Ellipsis else (key,)
    if any(k is Ellipsis for k in key):
        return key + (slice(None),)
    return key


def _has_advanced(key) -> bool:
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if isinstance(k, (list, np.ndarray)) and np.asarray(k).dtype != bool:
            return True
    return False


def _zeros_batched(shape, ct):
    if type(ct) is np.ndarray:  # the common case: np.zeros is twice as fast as zeros_like
        return np.zeros(tuple(shape) + ct.shape[-1:], ct.dtype)
    # zeros_like, not zeros: a Dual cotangent (forward over reverse) gets a Dual buffer
    return np.zeros_like(ct, shape=tuple(shape) + ct.shape[-1:])


def _expand_reduced(ct, shape, axis, keepdims):
    """Put back the axes a reduction removed, so ``ct`` broadcasts against the input."""
    if not keepdims:
        dims = list(ct.shape)
        for ax in sorted(normalize_axes(axis, len(shape))):
            dims.insert(ax, 1)
        ct = ct.reshape(tuple(dims))  # one reshape, not one np.expand_dims per axis
    return ct


def _safe_div(num, den):
    """``num / den`` with 0 where ``den == 0``: the convention at norm-like kinks."""
    zero = den == 0
    if not np.any(zero):
        return num / den
    return np.where(zero, 0.0, num / np.where(zero, 1.0, den))


def _back(t):
    return np.moveaxis(t, 0, -1)


# --------------------------------------------------------------------------- elementwise
def _ew(ufunc, *partials, domain=((-2.0, 2.0),), note=""):
    TABLE[ufunc] = Elementwise(tuple(partials), domain, note)


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_POS = ((0.2, 3.0),)
_UNIT = ((-0.9, 0.9),)


def _tie_split(a, b, greater):
    """Partial of max/min-like ops: 1 where this argument wins, 1/2 at a tie."""
    win = (a > b) if greater else (a < b)
    return win + 0.5 * (a == b)


def _power_base(out, x, y):
    # y * x**(y-1); at x == 0 this gives 0 for y > 1, 1 for y == 1, inf for 0 < y < 1.
    d = y * x ** (y - 1)
    constant = y == 0
    if np.any(constant):  # x**0 is constant; 0 * 0**-1 would give nan at x == 0
        d = np.where(constant, 0.0, d)
    return d


def _power_exponent(out, x, y):
    # d/dy x**y = x**y log x; at x == 0 the limit (y > 0) is 0, not 0 * -inf = nan.
    at_zero = x == 0
    if np.any(at_zero):
        return np.where(at_zero, 0.0, out * np.log(np.where(at_zero, 1.0, x)))
    return out * np.log(x)


_ew(np.add, ONE, ONE)
_ew(np.subtract, ONE, NEG_ONE)
_ew(np.multiply, lambda o, x, y: y, lambda o, x, y: x)
def _divide_numerator(o, x, y):
    """d(x / y)/dx = 1 / y, with numpy's inf (not Python's ZeroDivisionError) for a plain zero ``y``."""
    try:
        return 1.0 / y
    except ZeroDivisionError:  # y a Python number 0 (x / 0.0): numpy's division, as the value had
        return np.divide(1.0, y)


_ew(np.divide, _divide_numerator, lambda o, x, y: -o / y, domain=((-2.0, 2.0), (0.5, 2.0)))
_ew(np.negative, NEG_ONE)
_ew(np.positive, ONE)
_ew(np.power, _power_base, _power_exponent, domain=((0.2, 2.0), (-2.0, 2.0)),
    note="x**p at x == 0: p * 0**(p-1) (0 for p > 1 or p == 0, 1 for p == 1, inf for p < 1); d/dp is 0 there")
_ew(np.float_power, _power_base, _power_exponent, domain=((0.2, 2.0), (-2.0, 2.0)))
_ew(np.exp, lambda o, x: o)
_ew(np.exp2, lambda o, x: o * _LN2)
_ew(np.expm1, lambda o, x: o + 1.0)
_ew(np.log, lambda o, x: 1.0 / x, domain=_POS)
_ew(np.log2, lambda o, x: 1.0 / (x * _LN2), domain=_POS)
_ew(np.log10, lambda o, x: 1.0 / (x * _LN10), domain=_POS)
_ew(np.log1p, lambda o, x: 1.0 / (1.0 + x), domain=((-0.8, 2.0),))
_ew(np.logaddexp, lambda o, x, y: np.exp(x - o), lambda o, x, y: np.exp(y - o))
_ew(np.logaddexp2, lambda o, x, y: np.exp2(x - o), lambda o, x, y: np.exp2(y - o))
_ew(np.sin, lambda o, x: np.cos(x))
_ew(np.cos, lambda o, x: -np.sin(x))
_ew(np.tan, lambda o, x: 1.0 + o * o, domain=((-1.2, 1.2),))
_ew(np.arcsin, lambda o, x: 1.0 / np.sqrt(1.0 - x * x), domain=_UNIT)
_ew(np.arccos, lambda o, x: -1.0 / np.sqrt(1.0 - x * x), domain=_UNIT)
_ew(np.arctan, lambda o, x: 1.0 / (1.0 + x * x))
_ew(np.sinh, lambda o, x: np.cosh(x))
_ew(np.cosh, lambda o, x: np.sinh(x))
_ew(np.tanh, lambda o, x: 1.0 - o * o)
_ew(np.arcsinh, lambda o, x: 1.0 / np.sqrt(x * x + 1.0))
_ew(np.arccosh, lambda o, x: 1.0 / np.sqrt(x * x - 1.0), domain=((1.2, 3.0),))
_ew(np.arctanh, lambda o, x: 1.0 / (1.0 - x * x), domain=_UNIT)
_ew(np.sqrt, lambda o, x: 0.5 / o, domain=_POS, note="sqrt at 0: derivative +inf")
_ew(np.cbrt, lambda o, x: 1.0 / (3.0 * o * o), domain=_POS, note="cbrt at 0: derivative +inf")
_ew(np.square, lambda o, x: 2.0 * x)
_ew(np.reciprocal, lambda o, x: -o * o, domain=_POS)
_ew(np.hypot, lambda o, x, y: _safe_div(x, o), lambda o, x, y: _safe_div(y, o),
    note="hypot(0, 0): partials 0, like norm at 0")
_ew(np.arctan2, lambda o, y, x: _safe_div(x, x * x + y * y), lambda o, y, x: _safe_div(-1.0 * y, x * x + y * y),
    domain=((0.2, 2.0), (0.2, 2.0)), note="arctan2(0, 0): partials 0")
_ew(np.maximum, lambda o, x, y: _tie_split(x, y, True), lambda o, x, y: _tie_split(y, x, True),
    note="maximum at a tie: each argument gets 1/2")
_ew(np.minimum, lambda o, x, y: _tie_split(x, y, False), lambda o, x, y: _tie_split(y, x, False),
    note="minimum at a tie: each argument gets 1/2")


def _fmax_partial(x, y, greater):
    # fmax/fmin ignore a NaN argument: the other one then wins outright.
    return np.where(np.isnan(y), 1.0, np.where(np.isnan(x), 0.0, _tie_split(x, y, greater)))


_ew(np.fmax, lambda o, x, y: _fmax_partial(x, y, True), lambda o, x, y: _fmax_partial(y, x, True))
_ew(np.fmin, lambda o, x, y: _fmax_partial(x, y, False), lambda o, x, y: _fmax_partial(y, x, False))
_ew(np.deg2rad, lambda o, x: math.pi / 180.0)
_ew(np.radians, lambda o, x: math.pi / 180.0)
_ew(np.rad2deg, lambda o, x: 180.0 / math.pi)
_ew(np.degrees, lambda o, x: 180.0 / math.pi)
_ew(np.absolute, lambda o, x: np.sign(x), note="abs at 0: derivative 0 (a subgradient)")
_ew(np.fabs, lambda o, x: np.sign(x))
_ew(np.conjugate, ONE)  # real inputs only: conj is the identity
_ew(np.copysign, lambda o, x, y: np.sign(x) * np.where(np.signbit(y), -1.0, 1.0), lambda o, x, y: 0.0 * x)
_ew(np.remainder, ONE, lambda o, x, y: -np.floor(x / y), domain=((0.1, 5.0), (0.7, 1.3)))
_ew(np.fmod, ONE, lambda o, x, y: -np.trunc(x / y), domain=((0.1, 5.0), (0.7, 1.3)))

# heaviside(x1, x2) is x2 itself where x1 == 0, so x2's derivative shows there.
_ew(np.heaviside, lambda o, x, h: 0.0, lambda o, x, h: np.where(x == 0, 1.0, 0.0),
    note="heaviside: derivative 0 in x1 (the jump is not a derivative); 1 in x2 where x1 == 0")

TABLE[np.sign] = ZeroDerivative(complex=False)
for _f in (np.floor, np.ceil, np.trunc, np.rint, np.round, np.around, np.fix,
           np.zeros_like, np.ones_like, np.empty_like):
    TABLE[_f] = ZeroDerivative()

for _f in (np.isnan, np.isinf, np.isfinite, np.signbit, np.greater, np.greater_equal, np.less,
           np.less_equal, np.equal, np.not_equal, np.logical_and, np.logical_or, np.logical_xor,
           np.logical_not, np.argmax, np.argmin, np.argsort, np.nonzero, np.flatnonzero, np.argwhere,
           np.count_nonzero, np.searchsorted, np.isclose, np.allclose,
           np.array_equal, np.array_equiv, np.any, np.all, np.isreal,
           np.iscomplex, np.isneginf, np.isposinf, np.argpartition, np.lexsort, np.digitize):
    TABLE[_f] = NoDerivative()
# queries of shapes, dtypes and memory: the same answer at every x of the same shape and dtype
for _f in (np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj, np.result_type, np.min_scalar_type,
           np.may_share_memory, np.shares_memory):
    TABLE[_f] = NoDerivative(structural=True)


# --------------------------------------------------------------------------- linear
def _linear(func, tangent: dict, transpose: dict, transpose_into: dict | None = None, **properties):
    TABLE[func] = Linear(tangent, transpose, transpose_into or {}, **properties)


def _sum_tangent(t, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.sum(t, axis=normalize_axes(axis, t.ndim - 1), keepdims=keepdims)


def _sum_transpose(ct, a, axis=None, dtype=None, out=None, keepdims=False):
    shape = np.shape(a)
    if axis is None and not keepdims:  # ct is (k,): it broadcasts as it is
        return np.broadcast_to(ct, shape + ct.shape[-1:])
    return np.broadcast_to(_expand_reduced(ct, shape, axis, keepdims), shape + ct.shape[-1:])


_linear(np.sum, {0: _sum_tangent}, {0: _sum_transpose})
_linear(np.copy, {0: lambda t, a, *args, **kwargs: t.copy()}, {0: lambda ct, a, *args, **kwargs: ct},
        selection=True)


def _cumsum_tangent(t, a, axis=None, dtype=None, out=None):
    if axis is None:
        return np.cumsum(t.reshape(-1, t.shape[-1]), axis=0)
    return np.cumsum(t, axis=normalize_axes(axis, t.ndim - 1)[0])


def _cumsum_transpose(ct, a, axis=None, dtype=None, out=None):
    ax = 0 if axis is None else normalize_axes(axis, np.ndim(a))[0]
    rev = np.flip(np.cumsum(np.flip(ct, ax), axis=ax), ax)
    return rev.reshape(np.shape(a) + ct.shape[-1:])


_linear(np.cumsum, {0: _cumsum_tangent}, {0: _cumsum_transpose})


def _new_shape(a, shape):
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (operator.index(shape),)
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        shape = tuple(np.size(a) // known if s == -1 else s for s in shape)
    return shape


def _index_order(order, a) -> str:
    """numpy's index order of ``reshape(..., order)``: 'A' reads Fortran order from a Fortran-contiguous
    (and not C-contiguous) array, as numpy does."""
    if order in ("C", None):
        return "C"
    if order == "F":
        return "F"
    if order == "A":
        plain = a
        while hasattr(plain, "value"):
            plain = plain.value
        flags = getattr(plain, "flags", None)
        return "F" if flags is not None and flags.f_contiguous and not flags.c_contiguous else "C"
    raise ValueError("order must be one of 'C', 'F', 'A'")


def _batched_reshape(t, shape, order):
    """``t`` (an array's shape plus a trailing axis of directions) reshaped as numpy reshapes the array
    in ``order``: Fortran order is C order between reversed axes (``A.T.reshape(s[::-1]).T``)."""
    if order == "C":
        return t.reshape(tuple(shape) + t.shape[-1:])
    n, m = t.ndim - 1, len(shape)
    reversed_in = t.transpose(tuple(range(n))[::-1] + (n,))
    out = reversed_in.reshape(tuple(shape)[::-1] + t.shape[-1:])
    return out.transpose(tuple(range(m))[::-1] + (m,))


def _reshape_tangent(t, a, shape=None, order="C", *, newshape=None, copy=None):
    return _batched_reshape(t, _new_shape(a, shape if shape is not None else newshape), _index_order(order, a))


def _reshape_transpose(ct, a, shape=None, order="C", *, newshape=None, copy=None):
    return _batched_reshape(ct, np.shape(a), _index_order(order, a))


_linear(np.reshape, {0: _reshape_tangent}, {0: _reshape_transpose}, selection=True)


def _perm(a, axes):
    n = np.ndim(a)
    return tuple(range(n))[::-1] if axes is None else tuple(operator.index(x) % n for x in axes)


def _transpose_tangent(t, a, axes=None):
    return t.transpose(_perm(a, axes) + (t.ndim - 1,))


def _transpose_transpose(ct, a, axes=None):
    return ct.transpose(tuple(np.argsort(_perm(a, axes))) + (ct.ndim - 1,))


_linear(np.transpose, {0: _transpose_tangent}, {0: _transpose_transpose}, selection=True)


def _broadcast_tangent(t, a, shape, subok=False):
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    return np.broadcast_to(t, shape + t.shape[-1:])


_linear(np.broadcast_to, {0: _broadcast_tangent}, {0: lambda ct, a, *rest, **kw: unbroadcast(ct, np.shape(a))},
        selection=True)


def _getitem_tangent(t, a, key):
    if type(key) is int:
        return t[key]  # x[i] in scalar-style loops: the same as the batch key (key,), one call fewer
    return t[batch_key(key)]


def _scatter_add(grad, key, ct):
    """``grad[key] += ct`` on a batched buffer, repeated indices accumulating like ``np.add.at``."""
    if isinstance(grad, np.ndarray):
        np.add.at(grad, batch_key(key), ct)
        return grad
    # A Dual buffer (forward over reverse) has no add.at: add in rounds, each with distinct indices.
    k = ct.shape[-1]
    target = np.arange(math.prod(grad.shape[:-1])).reshape(grad.shape[:-1])[key].ravel()
    order = np.argsort(target, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - np.searchsorted(target[order], target[order])
    src, flat = ct.reshape((-1, k)), grad.reshape((-1, k))
    for r in range(int(rank.max()) + 1 if rank.size else 0):
        pick = rank == r
        flat[target[pick]] = flat[target[pick]] + src[pick]
    return flat.reshape(grad.shape)


def _getitem_transpose_into(grad, ct, a, key):
    if _has_advanced(key):
        return _scatter_add(grad, key, ct)  # repeated indices must accumulate
    grad[batch_key(key)] += ct
    return grad


def _getitem_transpose(ct, a, key):
    return _getitem_transpose_into(_zeros_batched(np.shape(a), ct), ct, a, key)


# x[a:b] of a long x: the sweep adds into x's adjoint in place, not via a zero buffer the size of x
_linear(operator.getitem, {0: _getitem_tangent}, {0: _getitem_transpose}, {0: _getitem_transpose_into}, selection=True)


def setitem_tangent(t, key, value_tangent):
    """Write ``value_tangent`` (or zeros, for a constant value) into the batched tangent ``t`` at ``key``."""
    t[batch_key(key)] = 0.0 if value_tangent is None else value_tangent


def _setitem_tangent_a(t, a, key, v):
    out = t.copy()
    setitem_tangent(out, key, None)
    return out


def _setitem_tangent_v(t, a, key, v):
    out = _zeros_batched(np.shape(a), t)
    setitem_tangent(out, key, t)
    return out


def _setitem_transpose_a(ct, a, key, v):
    out = np.copy(ct)
    setitem_tangent(out, key, None)
    return out


def _last_writes(shape, key):
    """Mask over ``key``'s broadcast positions: True where a write to a repeated index is numpy's last."""
    target = np.arange(math.prod(shape)).reshape(shape)[key]
    flat = np.ravel(target)
    _, first_from_end = np.unique(flat[::-1], return_index=True)
    if first_from_end.size == flat.size:
        return None  # no repeats: every write counts
    last = np.zeros(flat.size, dtype=bool)
    last[flat.size - 1 - first_from_end] = True
    return last.reshape(np.shape(target))


def _setitem_transpose_v(ct, a, key, v):
    picked = ct[batch_key(key)]
    if _has_advanced(key):
        last = _last_writes(np.shape(a), key)
        if last is not None:  # z[[0, 0]] = (p, q) keeps q: p gets no cotangent
            picked = picked * last[..., None]
    return unbroadcast(picked, np.shape(v))


_linear(SETITEM, {0: _setitem_tangent_a, 2: _setitem_tangent_v}, {0: _setitem_transpose_a, 2: _setitem_transpose_v},
        selection=True)


def _where_tangent(branch):
    def tangent(t, cond, x, y):
        out_shape = np.broadcast_shapes(np.shape(cond), np.shape(x), np.shape(y))
        c = np.asarray(cond)[..., None] if branch == 1 else ~np.asarray(cond)[..., None]
        return np.where(c, np.broadcast_to(t, out_shape + t.shape[-1:]), 0.0)
    return tangent


def _where_transpose(branch):
    def transpose(ct, cond, x, y):
        c = np.asarray(cond)[..., None] if branch == 1 else ~np.asarray(cond)[..., None]
        return unbroadcast(np.where(c, ct, 0.0), np.shape(x if branch == 1 else y))
    return transpose


# np.where selects rather than multiplies, so NaN or inf in the unselected branch's
# tangent never leaks into the result.
_linear(np.where, {1: _where_tangent(1), 2: _where_tangent(2)}, {1: _where_transpose(1), 2: _where_transpose(2)},
        selection=True, selector=0)


def _roll_tangent(t, a, shift, axis=None):
    if axis is None:
        return np.roll(t.reshape(-1, t.shape[-1]), shift, axis=0).reshape(t.shape)
    return np.roll(t, shift, axis=normalize_axes(axis, t.ndim - 1))


def _roll_transpose(ct, a, shift, axis=None):
    back = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    return _roll_tangent(ct, a, back, axis)


_linear(np.roll, {0: _roll_tangent}, {0: _roll_transpose}, selection=True)


# matmul is bilinear: linear in each argument with the other held fixed. The
# trailing direction axis is folded into a matrix dimension so each product is
# one BLAS call, whatever the number of directions.
def _mT(x):
    """``x`` with its last two axes swapped."""
    return x.swapaxes(-1, -2) if type(x) is np.ndarray else np.swapaxes(x, -1, -2)


def _matmul_left(t, b):
    """``t @ b`` where ``t`` carries a trailing direction axis (t: a.shape + (k,))."""
    k = t.shape[-1]
    if k == 1:  # one direction (a gradient): the product itself, nothing to fold
        return (t[..., 0] @ b)[..., None]
    if t.ndim == 2:  # a is a vector: rows of the (k, n) matrix are the directions
        if np.ndim(b) == 1:
            return t.T @ b
        # (k, n) @ (..., n, p) is (..., k, p): put the directions last, after b's batch axes
        return np.swapaxes(t.T @ b, -1, -2)
    if np.ndim(b) >= 2:
        # each row's (n, k) block times b is bᵀ @ block: one batched product, no transposed copies
        # (2-7x faster than folding the directions into the rows, measured for (4, 4) to (1000, 10) a)
        return _mT(b)[..., None, :, :] @ t
    ts = np.swapaxes(t, -1, -2)  # (..., m, k, n)
    m = ts.shape[-3]
    r = ts.reshape(ts.shape[:-3] + (m * k, ts.shape[-1])) @ b
    if np.ndim(b) == 1:
        return r.reshape(r.shape[:-1] + (m, k))
    return np.swapaxes(r.reshape(r.shape[:-2] + (m, k, r.shape[-1])), -1, -2)


def _matmul_right(a, t):
    """``a @ t`` where ``t`` carries a trailing direction axis (t: b.shape + (k,))."""
    if t.shape[-1] == 1:  # one direction: the product itself
        return (a @ t[..., 0])[..., None]
    if t.ndim == 2:  # b is a vector: t is an (n, k) matrix already
        return a @ t
    k = t.shape[-1]
    p = t.shape[-2]
    r = a @ t.reshape(t.shape[:-2] + (p * k,))
    return r.reshape(r.shape[:-1] + (p, k))


def _as_matrix_ct(ct, na: int, nb: int):
    """View an output cotangent as (..., m, p, k) whatever the operands' ranks ``na``, ``nb``."""
    if na == 1:
        ct = ct[..., None, :, :] if nb > 1 else ct[..., None, :]
    if nb == 1:
        ct = ct[..., None, :]
    return ct


def _matmul_transpose_a(ct, a, b):
    na, nb = _ndim(a), _ndim(b)
    bm = b[:, None] if nb == 1 else b
    g = _matmul_left(_as_matrix_ct(ct, na, nb), _mT(bm))  # (..., m, n, k)
    if na == 1:
        g = g[..., 0, :, :]
    return unbroadcast(g, np.shape(a))


def _matmul_transpose_b(ct, a, b):
    na, nb = _ndim(a), _ndim(b)
    am = a[None, :] if na == 1 else a
    g = _matmul_right(_mT(am), _as_matrix_ct(ct, na, nb))  # (..., n, p, k)
    if nb == 1:
        g = g[..., 0, :]
    return unbroadcast(g, np.shape(b))


_linear(np.matmul, {0: lambda t, a, b: _matmul_left(t, b), 1: lambda t, a, b: _matmul_right(a, t)},
        {0: _matmul_transpose_a, 1: _matmul_transpose_b})


# --------------------------------------------------------------------------- custom
def _custom(*funcs):
    def register(pair):
        for f in funcs:
            TABLE[f] = pair
        return pair
    return register


def _concat_axis(arrays, axis):
    return None if axis is None else normalize_axes(axis, np.ndim(arrays[0]))[0]


def _concat_jvp(out, args, kwargs, tangents):
    arrays, axis = args[0], (args[1] if len(args) > 1 else kwargs.get("axis", 0))
    ts = tangents[0]
    k = next(t.shape[-1] for t in ts if t is not None)
    dtype = np.result_type(*[t for t in ts if t is not None])
    pieces = [t if t is not None else np.zeros(np.shape(a) + (k,), dtype) for a, t in zip(arrays, ts)]
    ax = _concat_axis(arrays, axis)
    if ax is None:
        return np.concatenate([p.reshape(-1, k) for p in pieces], axis=0)
    return np.concatenate(pieces, axis=ax)


def _concat_vjp(out, args, kwargs, ct):
    arrays, axis = args[0], (args[1] if len(args) > 1 else kwargs.get("axis", 0))
    ax = _concat_axis(arrays, axis)
    sizes = [np.size(a) if ax is None else np.shape(a)[ax] for a in arrays]
    bounds = np.cumsum([0] + sizes)  # slices, not np.split: they also run on Dual cotangents
    lead = (slice(None),) * (0 if ax is None else ax)
    parts = [ct[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]
    if ax is None:
        parts = [p.reshape(np.shape(a) + ct.shape[-1:]) for p, a in zip(parts, arrays)]
    return [parts] + [None] * (len(args) - 1)


TABLE[np.concatenate] = Custom(_concat_jvp, _concat_vjp, selection=True)


def _extreme_weights(a, out, axis, keepdims):
    """Weights that share a max/min's derivative equally between tied entries."""
    hit = a == _expand_reduced(out, np.shape(a), axis, keepdims)
    return hit / np.sum(hit, axis=normalize_axes(axis, np.ndim(a)), keepdims=True)


def _extreme_jvp(out, args, kwargs, tangents):
    a, axis, keepdims = args[0], _arg(args, kwargs, 1, "axis"), _arg(args, kwargs, 3, "keepdims", False)
    w = _extreme_weights(a, out, axis, keepdims)
    return np.sum(tangents[0] * w[..., None], axis=normalize_axes(axis, np.ndim(a)), keepdims=bool(keepdims))


def _extreme_vjp(out, args, kwargs, ct):
    a, axis, keepdims = args[0], _arg(args, kwargs, 1, "axis"), _arg(args, kwargs, 3, "keepdims", False)
    w = _extreme_weights(a, out, axis, keepdims)
    return [_expand_reduced(ct, np.shape(a), axis, keepdims) * w[..., None]] + [None] * (len(args) - 1)


def _arg(args, kwargs, pos, name, default=None):
    if len(args) > pos:
        return args[pos]
    return kwargs.get(name, default)


_custom(np.max, np.amax, np.min, np.amin)(Custom(_extreme_jvp, _extreme_vjp, pattern_like=np.sum))


def _prod_except_self(a, axis):
    """Product of all other entries along ``axis``, without dividing (exact at zeros)."""
    a = np.moveaxis(a, axis, -1)
    ones = np.ones(a.shape[:-1] + (1,), dtype=a.dtype)
    left = np.concatenate([ones, np.cumprod(a[..., :-1], axis=-1)], axis=-1)
    right = np.flip(np.concatenate([ones, np.cumprod(np.flip(a, -1)[..., :-1], axis=-1)], axis=-1), -1)
    return np.moveaxis(left * right, -1, axis)


def _prod_parts(args, kwargs):
    a, axis = args[0], _arg(args, kwargs, 1, "axis")
    keepdims = _arg(args, kwargs, 3, "keepdims", False)
    if axis is None:
        return np.reshape(a, -1), 0, np.shape(a), keepdims, None
    axes = normalize_axes(axis, np.ndim(a))
    if len(axes) != 1:
        raise UnsupportedFunctionError(
            "np.prod over several axes at once is not supported on differentiable values; "
            "remedy: reduce one axis at a time")
    return a, axes[0], np.shape(a), keepdims, axis


def _prod_jvp(out, args, kwargs, tangents):
    flat, ax, shape, keepdims, axis = _prod_parts(args, kwargs)
    t = tangents[0].reshape(np.shape(flat) + tangents[0].shape[-1:])
    r = np.sum(t * _prod_except_self(flat, ax)[..., None], axis=ax, keepdims=bool(keepdims) and axis is not None)
    if keepdims and axis is None:
        r = r.reshape((1,) * len(shape) + r.shape[-1:])
    return r


def _prod_vjp(out, args, kwargs, ct):
    flat, ax, shape, keepdims, axis = _prod_parts(args, kwargs)
    if axis is None:
        ct = ct.reshape(ct.shape[-1:])
    elif not keepdims:
        ct = np.expand_dims(ct, ax)
    g = ct * _prod_except_self(flat, ax)[..., None]
    return [g.reshape(shape + ct.shape[-1:])] + [None] * (len(args) - 1)


_custom(np.prod)(Custom(_prod_jvp, _prod_vjp, pattern_like=np.sum))


def _cumprod_parts(args, kwargs):
    a, axis = args[0], _arg(args, kwargs, 1, "axis")
    if axis is None:
        return np.reshape(a, -1), 0
    return a, normalize_axes(axis, np.ndim(a))[0]


def _cumprod_jvp(out, args, kwargs, tangents):
    a, ax = _cumprod_parts(args, kwargs)
    t = tangents[0].reshape(np.shape(a) + tangents[0].shape[-1:])
    out = np.reshape(out, np.shape(a))
    if not np.any(a == 0):
        return out[..., None] * np.cumsum(t / a[..., None], axis=ax)
    # With zeros, run the recurrence d out_j = d out_{j-1} * a_j + out_{j-1} * t_j (exact).
    t, a_, o = np.moveaxis(t, ax, 0), np.moveaxis(a, ax, 0), np.moveaxis(out, ax, 0)
    d = [t[0]]
    for j in range(1, a_.shape[0]):
        d.append(d[-1] * a_[j][..., None] + o[j - 1][..., None] * t[j])
    return np.moveaxis(np.stack(d), 0, ax)


_custom(np.cumprod)(Custom(_cumprod_jvp, pattern_like=np.cumsum))  # reverse mode transposes the jvp (dualad.tape.linearize)


# linear algebra; batched (stacked) matrices follow numpy's broadcasting.
def _solve_rhs(b, t):
    """Give a batched right-hand side the matrix layout np.linalg.solve expects."""
    if np.ndim(b) == 1:
        return t, None  # (n, k): k right-hand sides
    shape = t.shape
    return t.reshape(shape[:-2] + (shape[-2] * shape[-1],)), shape


def _solve_jvp(out, args, kwargs, tangents):
    A, b = args
    tA, tb = tangents
    rhs = tb if tb is not None else 0.0
    if tA is not None:
        if np.ndim(b) == 1:  # out holds one vector per matrix of a (possibly stacked) A
            rhs = rhs - _matmul_left(tA, out[..., None])[..., 0, :]
        else:
            rhs = rhs - _matmul_left(tA, out)
    rhs = np.broadcast_to(rhs, np.shape(out) + rhs.shape[-1:])
    flat, shape = _solve_rhs(b, rhs)
    x = np.linalg.solve(A, flat)
    return x if shape is None else x.reshape(shape)


def _solve_vjp(out, args, kwargs, ct):
    A, b = args
    flat, shape = _solve_rhs(b, ct)
    gb = np.linalg.solve(np.swapaxes(A, -1, -2), flat)
    gb = gb if shape is None else gb.reshape(shape)
    # products, not '...' einsums, so Dual cotangents (forward over reverse) work too
    if np.ndim(b) == 1:
        gA = -(gb[..., :, None, :] * out[..., None, :, None])
    else:
        gA = -_matmul_left(gb, np.swapaxes(out, -1, -2))
    return [unbroadcast(gA, np.shape(A)), unbroadcast(gb, np.shape(b))]


TABLE[np.linalg.solve] = Custom(_solve_jvp, _solve_vjp)


def _inv_jvp(out, args, kwargs, tangents):
    # -A^-1 dA A^-1, as matmuls (not a '...' einsum) so nested (Dual) values work too
    return -_matmul_right(out, _matmul_left(tangents[0], out))


TABLE[np.linalg.inv] = Custom(_inv_jvp)


def _trace_product(inv, t):
    """tr(inv @ t_k) for each direction k; written without '...' einsum so it runs on Duals."""
    return np.sum(np.swapaxes(inv, -1, -2)[..., None] * t, axis=(-3, -2))


def _inverse_or_none(A):
    """``inv(A)``, or None where a matrix of the stack is exactly singular (numpy's inv raises there)."""
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return None


def _adjugate(A):
    """adj(A) of a plain (stack of) matrices, exact at singular ones: from the SVD A = U S Vh,
    adj(A) = det(U) det(Vh) Vh^T diag(prod_{j != i} s_j) U^T."""
    from .arraylike import ArrayLike
    if isinstance(A, ArrayLike):
        raise UnsupportedFunctionError(
            "a derivative of np.linalg.det/slogdet of second or higher order at a singular matrix is not "
            "supported; remedy: differentiate once at a singular matrix, or move off the singular point")
    u, s, vh = np.linalg.svd(A)
    n = s.shape[-1]
    others = np.ones_like(s)
    for i in range(n):  # products of all other singular values, exact when some are 0
        others[..., i] = np.prod(np.delete(s, i, axis=-1), axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    adj = np.swapaxes(vh, -1, -2) @ (others[..., :, None] * np.swapaxes(u, -1, -2))
    return sign[..., None, None] * adj


def _det_jvp(out, args, kwargs, tangents):
    # d det = tr(adj(A) dA) (Jacobi's formula); adj(A) = det(A) inv(A) unless A is singular
    inv = _inverse_or_none(args[0])
    if inv is None:
        return _trace_product(_adjugate(args[0]), tangents[0])
    return np.expand_dims(out, -1) * _trace_product(inv, tangents[0])


TABLE[np.linalg.det] = Custom(_det_jvp)


def _slogdet_jvp(out, args, kwargs, tangents):
    inv = _inverse_or_none(args[0])
    if inv is None:  # log|det| -> -inf at a singular A: its slope tr(adj dA) / det is infinite (0/0 = nan)
        det = np.linalg.det(args[0])
        with np.errstate(all="ignore"):
            return (None, _trace_product(_adjugate(args[0]), tangents[0]) / np.expand_dims(det, -1))
    return (None, _trace_product(inv, tangents[0]))  # the sign is piecewise constant


TABLE[np.linalg.slogdet] = Custom(_slogdet_jvp, constant_outputs=(0,))


# Composite entries (mean, stack, tensordot, ...) are numpy implementations in terms of the
# entries above; importing them here means the table is complete whoever imports it first.
from . import composites  # noqa: E402,F401
