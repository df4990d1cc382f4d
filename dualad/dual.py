"""The ``Dual`` number: a value and its tangent(s), usable wherever numpy expects an array.

numpy hands every ufunc and array function called on a Dual to
:mod:`dualad.dispatch` (NEP 13 and NEP 18), which applies the rule table.
This module holds only the type itself: construction, the array-like
attributes, operators and indexing.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .arraylike import OPERANDS as _OPERANDS, ArrayLike, install_operators
from .common import as_real_array
from .errors import ConversionError, InputError, TangentShapeError, describe

__all__ = ["Dual", "new_tag"]

# Each differentiation call takes a fresh tag, so perturbations of nested calls
# never mix: an operation on Duals of several tags treats the highest tag as
# the variable and the others as constants. next() on itertools.count is atomic
# under the GIL, so tags stay unique across threads.
_tags = itertools.count(1)


_new_object = object.__new__


def new_tag() -> int:
    """A tag no other Dual carries yet."""
    return next(_tags)


class Dual(ArrayLike):
    """A value with one or more tangent directions, for forward-mode differentiation.

    ``tangent`` has the value's shape (one direction) or the value's shape plus
    one trailing axis of ``k`` directions (``k`` Jacobian columns in one pass).

    >>> import numpy as np, dualad
    >>> x = dualad.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    >>> y = np.sin(x) * x
    >>> y.tangent                     # d/dx0 of sin(x) * x
    array([1.38177329, 0.        ])
    """

    # alias: set only for roots and views (dualad.aliasing); __weakref__: a root's group finds its views
    __slots__ = ("value", "tangent", "tag", "alias", "__weakref__")
    _noun = "a Dual"
    _short = "dual"
    _escape = "read dual.value if you really want the value without its derivative"
    _pickles = True  # a Dual is its value and tangent: it pickles with them (executors send Duals)

    def __init__(self, value: Any, tangent: Any, tag: int = 0):
        value = as_real_array(value, "the value", complex_ok=True)
        tangent = as_real_array(tangent, "the tangent", complex_ok=True)
        if tangent.dtype.kind == "c" and value.dtype.kind != "c":
            raise InputError(f"a complex tangent ({describe(tangent)}) does not fit a real value: a real value "
                             "moves along real directions only; remedy: give a real tangent, or make the value "
                             "complex (value.astype(complex)) if it is a complex variable")
        tangent = tangent.astype(value.dtype, copy=False)
        if not (tangent.shape == value.shape
                or (tangent.ndim == value.ndim + 1 and tangent.shape[:-1] == value.shape)):
            raise TangentShapeError(
                f"a tangent of shape {tangent.shape} does not fit a value of shape {value.shape}; "
                f"remedy: give shape {value.shape} (one direction) or {value.shape + ('k',)} (k directions)")
        if isinstance(tag, bool) or not isinstance(tag, (int, np.integer)) or tag < 0:
            raise InputError(f"tag must be a non-negative int, got {tag!r}; remedy: leave it out (0), or take "
                             "a fresh one from dualad.dual.new_tag() for a nested derivative")
        self.value = value[()] if value.ndim == 0 else value
        self.tangent = tangent[()] if tangent.ndim == 0 else tangent
        self.tag = int(tag)

    @staticmethod
    def _make(value, tangent, tag):
        # no checks: the engine's constructor, one call per operation (a staticmethod and a
        # prebound object.__new__ are a third cheaper than a classmethod in scalar-style loops)
        self = _new_object(Dual)
        self.value = value
        self.tangent = tangent
        self.tag = tag
        return self

    # ----------------------------------------------------------------- array-like
    @property
    def shape(self) -> tuple:
        try:
            return self.value.shape  # ndarrays, numpy scalars and nested Duals: no np.shape dispatch
        except AttributeError:
            return np.shape(self.value)  # anything without a shape (a plain Python number)

    @property
    def batched(self) -> bool:
        """True when the tangent carries a trailing axis of directions."""
        return np.ndim(self.tangent) > self.ndim if not isinstance(self.tangent, Dual) else \
            self.tangent.ndim > self.ndim

    def __repr__(self) -> str:
        return f"Dual(value={self.value!r}, tangent={self.tangent!r})"

    def astype(self, dtype, order: str = "K", casting: str = "unsafe", subok: bool = True,
               copy: bool = True) -> "Dual":
        dt, itself = self.astype_arguments(dtype, order, casting, subok, copy)
        if itself:
            return self
        if dt.kind not in "fc" or (dt.kind == "f" and self.dtype.kind == "c"):
            raise ConversionError(
                f"astype({dt}) would drop the derivative of a Dual of dtype {self.dtype}; remedy: cast to a "
                "float dtype (float32/float64; or complex; np.real(z) for the real part of a complex value), "
                "or use np.floor / np.round first")
        return Dual._make(_astype(self.value, dt), _astype(self.tangent, dt), self.tag)

    # ----------------------------------------------------------------- numpy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if len(inputs) == 1 and method == "__call__" and not kwargs:
            return dispatch.unary_call(ufunc, self)  # np.sin(x): the only input is this Dual, nothing to vet
        for x in inputs + tuple(kwargs.get("out", ())) if kwargs else inputs:
            if not isinstance(x, _ACCEPTED):
                return NotImplemented
        return dispatch.apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func is _STACK and not kwargs and len(args) == 1:  # np.stack([scalar Duals]): two np.array calls
            stacked = dispatch.stack_scalars(args[0])
            if stacked is not None:
                return stacked
        for t in types:
            if not (issubclass(t, Dual) or issubclass(t, np.ndarray)):
                return NotImplemented
        return dispatch.apply_function(func, args, kwargs)

    # ----------------------------------------------------------------- indexing
    # __getitem__ is dispatch.getitem itself (set below, once dispatch is imported): no
    # wrapper frame, since x[i] runs once per element in scalar-style loops

    def __setitem__(self, key, item):
        dispatch.setitem(self, key, item)

    # ----------------------------------------------------------------- aliasing (dualad.aliasing)
    def _release(self) -> None:
        """Drop this view's arrays before its root is written (they are derived again afterwards)."""
        self.value = self.tangent = None

    def _become(self, other: "Dual") -> None:
        """Take ``other``'s value, tangent and tag (a view derived again from its root)."""
        self.value, self.tangent, self.tag = other.value, other.tangent, other.tag

    def __copy__(self) -> "Dual":
        # a new Dual, not a view: the arrays are shared until either side writes, and a write
        # copies whatever arrays someone else still holds (dispatch.setitem), so neither sees the other's
        return Dual._make(self.value, self.tangent, self.tag)

    def __deepcopy__(self, memo) -> "Dual":
        import copy
        return Dual._make(copy.deepcopy(self.value, memo), copy.deepcopy(self.tangent, memo), self.tag)


# Operand types a Dual knows how to combine with; anything else gets NotImplemented
# so that its own type (a tape value, say) has its turn.
_ACCEPTED = (Dual,) + _OPERANDS
_STACK = np.stack


def _astype(x, dt):
    return x.astype(dt) if isinstance(x, Dual) else np.asarray(x).astype(dt)[()]


from . import dispatch  # noqa: E402  (dispatch needs the Dual class defined above)

Dual.__getitem__ = dispatch.getitem
install_operators(Dual, call=dispatch.ufunc_call, assign=dispatch.assign, operands=_ACCEPTED,
                  kernels=dispatch.BINARY_KERNELS)
