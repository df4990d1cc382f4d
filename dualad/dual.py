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

from .errors import ConversionError, InputError, TangentShapeError, describe

__all__ = ["Dual", "new_tag"]

# Each differentiation call takes a fresh tag, so perturbations of nested calls
# never mix: an operation on Duals of several tags treats the highest tag as
# the variable and the others as constants. next() on itertools.count is atomic
# under the GIL, so tags stay unique across threads.
_tags = itertools.count(1)


def new_tag() -> int:
    """A tag no other Dual carries yet."""
    return next(_tags)


# Operand types a Dual knows how to combine with; anything else gets NotImplemented
# so that its own type (a tape value, say) has its turn.
_OPERANDS = (np.ndarray, np.generic, int, float, bool, list, tuple)


def _as_float_array(x, what: str) -> np.ndarray:
    try:
        arr = np.array(x)
    except (TypeError, ValueError) as err:  # ragged nested lists and the like
        raise InputError(f"{what} must be a real number or array of numbers; numpy could not read "
                         f"{type(x).__name__} ({err}); remedy: pass a float, a list of floats or an ndarray") from None
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.float64)
    if kind == "f":
        return arr
    if kind == "c":
        raise InputError(
            f"dualad does not differentiate complex values ({what} is {describe(arr)}); "
            "remedy: split into real and imaginary parts and differentiate each as a real array")
    raise InputError(f"{what} must be a real number or array of numbers, got {describe(arr)}; "
                     "remedy: pass floats, ints or a numeric ndarray")


class Dual:
    """A value with one or more tangent directions, for forward-mode differentiation.

    ``tangent`` has the value's shape (one direction) or the value's shape plus
    one trailing axis of ``k`` directions (``k`` Jacobian columns in one pass).

    >>> import numpy as np, dualad
    >>> x = dualad.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    >>> y = np.sin(x) * x
    >>> y.tangent                     # d/dx0 of sin(x) * x
    array([1.38177329, 0.        ])
    """

    __slots__ = ("value", "tangent", "tag")

    def __init__(self, value: Any, tangent: Any, tag: int = 0):
        value = _as_float_array(value, "the value")
        tangent = _as_float_array(tangent, "the tangent").astype(value.dtype, copy=False)
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

    @classmethod
    def _make(cls, value, tangent, tag):
        self = object.__new__(cls)
        self.value = value
        self.tangent = tangent
        self.tag = tag
        return self

    # ----------------------------------------------------------------- array-like
    @property
    def shape(self) -> tuple:
        return np.shape(self.value) if not isinstance(self.value, Dual) else self.value.shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dtype(self):
        return np.asarray(_primal(self)).dtype

    @property
    def batched(self) -> bool:
        """True when the tangent carries a trailing axis of directions."""
        return np.ndim(self.tangent) > self.ndim if not isinstance(self.tangent, Dual) else \
            self.tangent.ndim > self.ndim

    @property
    def T(self) -> "Dual":
        return np.transpose(self)

    @property
    def real(self) -> "Dual":
        return self

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Dual(value={self.value!r}, tangent={self.tangent!r})"

    # ----------------------------------------------------------------- conversions
    def _refuse(self, what: str, instead: str):
        raise ConversionError(
            f"{what} would turn a Dual ({describe(self)}) into a plain number or array and silently "
            f"drop its derivative; remedy: {instead}")

    def __float__(self):
        self._refuse("float(dual)", "keep computing with the Dual, or read dual.value if you really "
                     "want the value without its derivative")

    def __int__(self):
        self._refuse("int(dual)", "use np.floor / np.round on the Dual (zero derivative), or read dual.value")

    def __complex__(self):
        self._refuse("complex(dual)", "dualad differentiates real values only")

    def __index__(self):
        self._refuse("using a Dual as an index", "index with integers computed from dual.value")

    def __array__(self, dtype=None, copy=None):
        self._refuse("converting to a numpy array (np.asarray, np.array([...]), or assigning into a "
                     "float ndarray)",
                     "build arrays of Duals with np.stack / np.concatenate, or write into a Dual buffer "
                     "made by dualad.zeros_like(x) / np.zeros_like(dual)")

    def __bool__(self) -> bool:
        return bool(_primal(self))

    def tolist(self) -> list:
        """The entries as a (nested) list of scalar Duals."""
        if self.ndim == 0:
            return self
        return [item.tolist() if item.ndim else item for item in self]

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert a Dual of size 1 to a scalar Dual")
        return self.reshape(())

    def copy(self) -> "Dual":
        return np.copy(self)

    def astype(self, dtype, copy: bool = True) -> "Dual":
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise ConversionError(
                f"astype({dt}) would drop the derivative of a Dual; remedy: cast to a float dtype "
                "(float32/float64), or use np.floor / np.round first")
        return Dual._make(_astype(self.value, dt), _astype(self.tangent, dt), self.tag)

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
        return np.argmax(_primal(self), axis=axis)

    def argmin(self, axis=None):
        return np.argmin(_primal(self), axis=axis)

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
        for x in inputs + tuple(kwargs.get("out", ())) if kwargs else inputs:
            if not isinstance(x, _ACCEPTED):
                return NotImplemented
        return dispatch.apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if not (issubclass(t, Dual) or issubclass(t, np.ndarray)):
                return NotImplemented
        return dispatch.apply_function(func, args, kwargs)

    # ----------------------------------------------------------------- indexing
    def __getitem__(self, key):
        return dispatch.getitem(self, key)

    def __setitem__(self, key, item):
        dispatch.setitem(self, key, item)

    # ----------------------------------------------------------------- comparisons act on values
    def __lt__(self, other):
        return _primal(self) < _primal(other)

    def __le__(self, other):
        return _primal(self) <= _primal(other)

    def __gt__(self, other):
        return _primal(self) > _primal(other)

    def __ge__(self, other):
        return _primal(self) >= _primal(other)

    def __eq__(self, other):
        return _primal(self) == _primal(other)

    def __ne__(self, other):
        return _primal(self) != _primal(other)

    __hash__ = None  # mutable and compared elementwise, like ndarray


#: Differentiable wrapper types whose ``.value`` is one layer down (see :func:`register_layer`).
LAYERS: tuple = (Dual,)


def register_layer(cls: type) -> None:
    """Let ``_primal`` see through ``cls`` values too (the tape's Var, the sparsity tracer).

    Called once, when the defining module is imported; registering twice is harmless.
    """
    global LAYERS
    if cls not in LAYERS:
        LAYERS = LAYERS + (cls,)


_ACCEPTED = (Dual,) + _OPERANDS


def _primal(x):
    """The plain value under any number of differentiable layers (Duals, tape values)."""
    while isinstance(x, LAYERS):
        x = x.value
    return x


def _astype(x, dt):
    return x.astype(dt) if isinstance(x, Dual) else np.asarray(x).astype(dt)[()]


def _binary(ufunc):
    def op(self, other):
        if not isinstance(other, _ACCEPTED):
            return NotImplemented
        return dispatch.ufunc_call(ufunc, (self, other))

    def rop(self, other):
        if not isinstance(other, _ACCEPTED):
            return NotImplemented
        return dispatch.ufunc_call(ufunc, (other, self))

    def iop(self, other):
        if not isinstance(other, _ACCEPTED):
            return NotImplemented
        dispatch.assign(self, dispatch.ufunc_call(ufunc, (self, other)))
        return self

    return op, rop, iop


for _name, _ufunc in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                      ("truediv", np.divide), ("pow", np.power), ("matmul", np.matmul),
                      ("mod", np.remainder)):
    _op, _rop, _iop = _binary(_ufunc)
    setattr(Dual, f"__{_name}__", _op)
    setattr(Dual, f"__r{_name}__", _rop)
    setattr(Dual, f"__i{_name}__", _iop)

Dual.__neg__ = lambda self: dispatch.ufunc_call(np.negative, (self,))
Dual.__pos__ = lambda self: dispatch.ufunc_call(np.positive, (self,))
Dual.__abs__ = lambda self: dispatch.ufunc_call(np.absolute, (self,))
Dual.__round__ = lambda self, ndigits=None: np.round(self, ndigits or 0)

from . import dispatch  # noqa: E402  (dispatch needs the Dual class defined above)
