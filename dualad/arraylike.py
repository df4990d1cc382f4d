"""The ndarray-like surface that every differentiable value type shares.

``Dual`` (forward mode), the tape's ``Var`` (reverse mode) and the sparsity
``Tracer`` differ in what they carry beside the value and in how they evaluate
numpy calls. Everything here is the same for all three: array methods that are
plain numpy calls on ``self`` (numpy hands them back to the subclass's
protocols), conversions that would drop the derivative refused, and
comparisons and ``bool()`` acting on the values.
"""
from __future__ import annotations

import math
import operator
import sys
from typing import Any, Callable

import numpy as np

from .decisions import note
from .errors import ConversionError, UnsupportedAttributeError, UnsupportedFunctionError, describe

__all__ = ["ArrayLike", "primal", "install_operators", "OPERANDS", "sequence_operand"]


#: plain operand types every value type combines with (each type adds itself and its inner types)
# complex scalars combine like floats (complex values are differentiated: dualad.wirtinger)
OPERANDS = (np.ndarray, np.generic, int, float, bool, complex, list, tuple)

#: the arithmetic operators and the ufunc each one is (reflected ``__r*__`` and in-place ``__i*__`` too)
BINARY_OPERATORS = (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("truediv", np.divide),
                    ("pow", np.power), ("matmul", np.matmul), ("mod", np.remainder),
                    ("floordiv", np.floor_divide), ("divmod", np.divmod))
UNARY_OPERATORS = (("neg", np.negative), ("pos", np.positive), ("abs", np.absolute))


def primal(x):
    """The plain value under any number of differentiable layers (Duals, tape values, tracers)."""
    while isinstance(x, ArrayLike):
        x = x.value
    return x


class ArrayLike:
    """Base class of dualad's value types; subclasses set ``value``, ``shape`` and the numpy protocols."""

    __slots__ = ()
    #: how error messages name the type, what a conversion would lose, and the deliberate way out
    _noun = "a differentiable value"
    _short = "x"
    _loses = "silently drop its derivative"
    _escape = "read .value if you really want the value without its derivative"

    # ----------------------------------------------------------------- read off the shape and the plain value
    # (each subclass defines ``shape``, the one attribute it reads its own way)
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        getter = cls.__dict__.get("shape")
        if isinstance(getter, property) and getter.fset is None:
            cls.shape = property(getter.fget, _assign_shape, doc=getter.__doc__)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self):
        return np.asarray(primal(self)).dtype

    # ----------------------------------------------------------------- conversions refused
    def _refuse(self, what: str, instead: str):
        hint = ""
        if "scipy" in sys.modules:  # inside a scipy function? name it (error path only)
            from .scipy.equivalents import scipy_caller_hint
            hint = scipy_caller_hint()
        from .numpycallers import numpy_caller_hint  # error path only
        hint = numpy_caller_hint() + hint
        from .userline import hint_for  # error path only
        first = hint_for(self)
        first = f"{first}\n" if first else ""
        raise ConversionError(f"{first}{what} would turn {self._noun} ({describe(self)}) into a plain number or "
                              f"array and {self._loses}; remedy: {instead}.{hint}")

    def __float__(self):
        self._refuse(f"float({self._short})", f"keep computing with numpy functions on it, or {self._escape}")

    def __int__(self):
        self._refuse(f"int({self._short})", "a Python int carries no derivative: keep the value as it is (np.floor, "
                     "np.round and np.trunc keep it differentiable, with derivative 0), or, where you need a Python "
                     f"int (a count, an index), take int({self._short}.value) deliberately")

    def __trunc__(self):
        self._refuse(f"math.trunc({self._short})", f"use np.trunc({self._short}) (derivative 0), or take "
                     f"math.trunc({self._short}.value) deliberately")

    def __floor__(self):
        self._refuse(f"math.floor({self._short})", f"use np.floor({self._short}) (derivative 0), or take "
                     f"math.floor({self._short}.value) deliberately")

    def __ceil__(self):
        self._refuse(f"math.ceil({self._short})", f"use np.ceil({self._short}) (derivative 0), or take "
                     f"math.ceil({self._short}.value) deliberately")

    def __round__(self, ndigits=None):
        # round(x) gives a Python int, like int(x); round(x, n) gives a float, as np.round does
        if ndigits is None:
            self._refuse(f"round({self._short})", f"use np.round({self._short}) (derivative 0), or take "
                         f"round({self._short}.value) deliberately")
        return np.round(self, ndigits)

    def __reduce_ex__(self, protocol):
        # pickle reaches object internals that a value type may not be able to give away (a tape
        # value is a node of a running recording); each type says whether it pickles
        if type(self)._pickles:
            return object.__reduce_ex__(self, protocol)
        raise ConversionError(f"pickling {self._noun} ({describe(self)}) is not supported: it belongs to a running "
                              f"derivative call; remedy: pickle {self._short}.value (the value without its "
                              "derivative), or send plain arrays and differentiate where they arrive")

    _pickles = False

    def as_integer_ratio(self):
        self._refuse("as_integer_ratio() (what the statistics module and fractions call)",
                     "use numpy on it, e.g. np.mean(np.stack([...])) instead of statistics.mean([...])")

    def __buffer__(self, flags):  # Python >= 3.12: memoryview(x), bytes(x), struct
        self._refuse("memoryview / the buffer protocol", "keep computing with numpy functions on it")

    def __format__(self, spec: str) -> str:
        """Format specs format the value (``f"{x:.3f}"`` in a log line); the derivative is not shown."""
        if not spec:
            return str(self)
        value = primal(self)
        if np.ndim(value) == 0:
            return format(value, spec)
        return np.array2string(np.asarray(value), formatter={"float_kind": lambda v: format(v, spec)})

    def __complex__(self):
        self._refuse(f"complex({self._short})", f"keep computing with numpy functions on it (x * 1j, "
                     f"x.astype(complex) keep the derivative), or {self._escape}")

    def __index__(self):
        self._refuse("using it as an index", f"index with integers computed from the value ({self._escape})")

    def __array__(self, dtype=None, copy=None):
        self._refuse("converting to a numpy array (np.asarray, np.array([...]), or assigning into a "
                     "float ndarray)",
                     "build arrays with np.stack / np.concatenate, or write into a buffer made by "
                     "dualad.zeros_like(x) / np.zeros_like(...)")

    # ----------------------------------------------------------------- notebooks
    def _repr_html_(self) -> str:
        """One short line in Jupyter (kind, shape, dtype, directions or tape node, a clipped value)."""
        from .notebook import html_summary
        return html_summary(self)

    # ----------------------------------------------------------------- values only
    # Comparisons and bool() are value-dependent decisions: dualad.decisions records them while a
    # log is active (sparsity detection), so a later pass can tell when f takes another branch.
    def __bool__(self) -> bool:
        return note("bool", bool(primal(self)), (bool, (self,), {}))

    def __lt__(self, other):
        return note("compare", primal(self) < primal(other), (operator.lt, (self, other), {}))

    def __le__(self, other):
        return note("compare", primal(self) <= primal(other), (operator.le, (self, other), {}))

    def __gt__(self, other):
        return note("compare", primal(self) > primal(other), (operator.gt, (self, other), {}))

    def __ge__(self, other):
        return note("compare", primal(self) >= primal(other), (operator.ge, (self, other), {}))

    def __eq__(self, other):
        return note("compare", primal(self) == primal(other), (operator.eq, (self, other), {}))

    def __ne__(self, other):
        return note("compare", primal(self) != primal(other), (operator.ne, (self, other), {}))

    __hash__ = None  # mutable and compared elementwise, like ndarray

    # Methods that are the numpy function of the same name with the array first: defined from one
    # list below (``_numpy_method``), passing every argument through, so positional and keyword
    # arguments mean what they mean on ndarray and numpy's keyword policy (honour or refuse with a
    # remedy) applies to them too.

    def sort(self, axis=-1, kind=None, order=None, *, stable=None):
        """Sort in place, like ndarray.sort (the derivative moves with the values)."""
        self[...] = np.sort(self, axis=axis, kind=kind, order=order, stable=stable)

    def partition(self, kth, axis=-1, kind="introselect", order=None):
        """Partition in place, like ndarray.partition (the derivative moves with the values)."""
        self[...] = np.partition(self, kth, axis=axis, kind=kind, order=order)

    def put(self, indices, values, mode="raise") -> None:
        """Write ``values`` at flat ``indices`` in place, like ndarray.put."""
        np.put(self, indices, values, mode=mode)

    def fill(self, value) -> None:
        """Set every entry to ``value`` in place (a constant, or a differentiable scalar)."""
        self[...] = value

    def view(self, dtype=None, type=None):
        """``x.view()``: a view of the same entries (writes through it reach ``x``, as in numpy).

        Views with another dtype or array type reinterpret raw bytes, which has no derivative.
        """
        if dtype is None and type is None:
            return self[...]
        raise UnsupportedFunctionError(
            f"{self._short}.view(dtype=..., type=...) reinterprets the bytes of {self._noun} ({describe(self)}), "
            f"which has no derivative; remedy: {self._short}.view() for a plain view, "
            f"{self._short}.astype(...) to change the dtype, or {self._escape}")

    def resize(self, *new_shape, refcheck=True):
        raise UnsupportedFunctionError(
            f"{self._short}.resize(...) changes the size of {self._noun} ({describe(self)}) in place, which dualad "
            f"does not support; remedy: y = np.resize({self._short}, shape) (a new array, differentiable), or "
            "build the array you need with np.concatenate / np.pad")

    @property
    def mT(self):
        """The transpose of the last two axes (a stack of matrices), like ``ndarray.mT``."""
        if self.ndim < 2:
            raise ValueError("matrix transpose with ndim < 2 is undefined")
        return np.swapaxes(self, -1, -2)

    @property
    def itemsize(self) -> int:
        return np.asarray(primal(self)).itemsize

    @property
    def nbytes(self) -> int:
        """The bytes of the value alone (the derivative's storage is not counted)."""
        return np.asarray(primal(self)).nbytes

    @property
    def device(self) -> str:
        return "cpu"  # the array API's device: dualad's values are numpy arrays

    def to_device(self, device, /, *, stream=None):
        if device != "cpu":
            raise UnsupportedFunctionError(f"{self._noun} lives on the CPU (numpy); remedy: to_device('cpu') or "
                                           "leave it out")
        return self

    @property
    def flat(self):
        """``x.flat[key]`` reads and writes entries in C order, like ``ndarray.flat``."""
        from .ops.inplace import FlatIndexer  # the ops families load after this module
        return FlatIndexer(self)

    @flat.setter
    def flat(self, value) -> None:
        self.flat[...] = value

    # ----------------------------------------------------------------- sequence protocol
    def __len__(self) -> int:
        return len(primal(self))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def tolist(self):
        """The entries as a (nested) list of scalar values of this type."""
        if self.ndim == 0:
            return self
        return [item.tolist() if item.ndim else item for item in self]

    def item(self):
        if self.size != 1:
            raise ValueError(f"can only convert {self._noun} of size 1 to a scalar")
        return self.reshape(())

    # ----------------------------------------------------------------- array methods: numpy calls
    def astype_arguments(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        """Vet ``x.astype``'s arguments as numpy does; returns the target dtype and whether ``x`` itself
        is numpy's answer (``copy=False`` with the dtype unchanged: the same array, so writes into it
        reach ``x``).

        >>> import numpy as np, dualad
        >>> d = dualad.Dual(np.ones(2), np.ones(2))
        >>> d.astype(np.float64, copy=False) is d
        True
        """
        dt = np.dtype(dtype)
        if order not in ("K", "A"):
            plain = primal(self)
            if order not in ("C", "F") or not (type(plain) is np.ndarray and plain.flags[order + "_CONTIGUOUS"]):
                raise UnsupportedFunctionError(
                    f"{self._short}.astype(order={order!r}) on {describe(self)} would change its memory layout, "
                    "which dualad follows only as numpy's own operations make it; remedy: leave order= out")
        if not np.can_cast(self.dtype, dt, casting):
            raise TypeError(f"Cannot cast array data from {self.dtype!r} to {dt!r} according to the rule "
                            f"{casting!r}")
        return dt, not copy and dt == self.dtype

    @property
    def T(self):
        return np.transpose(self)

    @property
    def real(self):
        return np.real(self) if self.dtype.kind == "c" else self

    @property
    def imag(self):
        return np.imag(self)

    def conj(self):
        return np.conjugate(self) if self.dtype.kind == "c" else self

    conjugate = conj

    def ravel(self, order="C"):
        return np.ravel(self, order)

    def flatten(self, order="C"):
        return np.ravel(self, order).copy()

    def reshape(self, *shape, order="C"):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)

    def transpose(self, *axes):
        return np.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def copy(self, order="C"):
        """A copy, derivative included, as ``ndarray.copy`` (C order by default, where np.copy keeps the layout)."""
        return np.copy(self, order=order)  # C order unless asked: later views and copies decide by layout

    def compress(self, condition, axis=None, out=None):
        """The entries where ``condition`` holds, as ``ndarray.compress`` (np.compress takes the condition first)."""
        return np.compress(condition, self, axis=axis, out=out)


def _assign_shape(self, new_shape) -> None:
    # numpy reshapes in place here; views of the value taken before would keep the old shape's
    # layout, which dualad's aliasing model does not follow, so the in-place form is refused
    raise UnsupportedAttributeError(
        f"{self._short}.shape = {new_shape!r} reshapes {self._noun} ({describe(self)}) in place, which dualad does "
        f"not support; remedy: {self._short} = {self._short}.reshape({new_shape!r}) (or np.reshape)")


def _numpy_method(name: str, func: Callable) -> Callable:
    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``np.{func.__name__}(x, ...)``, as ``ndarray.{name}``."
    return method


#: ndarray methods that are ``np.<name>(x, *args, **kwargs)``; numpy's function takes the
#: method's parameters in the same order (checked in tests/test_arraylike_methods.py)
NUMPY_METHODS = ("all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "clip",
                 "cumprod", "cumsum", "diagonal", "dot", "max", "mean", "min", "nonzero", "prod", "repeat",
                 "round", "searchsorted", "squeeze", "std", "sum", "swapaxes", "take", "trace", "var")
for _name in NUMPY_METHODS:
    setattr(ArrayLike, _name, _numpy_method(_name, getattr(np, _name)))

#: ndarray attributes that read or write raw memory: a differentiable value has no single buffer
#: (value and derivative are stored apart), so each one is refused by name with the way out
MEMORY_ATTRIBUTES = ("base", "byteswap", "ctypes", "data", "dump", "dumps", "flags", "getfield", "setfield",
                     "setflags", "strides", "tobytes", "tofile")


def _memory_attribute(name: str) -> property:
    def refuse(self):
        raise UnsupportedAttributeError(
            f"{self._short}.{name} reads or writes the raw memory of an array; {self._noun} ({describe(self)}) has "
            f"no single numpy buffer (its value and its derivative are stored apart), so this would drop the "
            f"derivative; remedy: keep computing with numpy functions on it, or use {self._short}.value.{name} "
            "for the plain value deliberately")
    return property(refuse, doc=f"Refused: ``ndarray.{name}`` reads raw memory.")


for _name in MEMORY_ATTRIBUTES:
    setattr(ArrayLike, _name, _memory_attribute(_name))
del _name


def install_operators(cls: type, *, call: Callable, assign: Callable, operands: tuple,
                      kernels: dict | None = None) -> None:
    """Give the value type ``cls`` its arithmetic operators, defined here once for every engine.

    The engine supplies the hooks: ``call(ufunc, inputs)`` evaluates a ufunc on a tuple of
    inputs (a tuple, not ``*inputs``: a fixed-arity call stays on CPython's fast path), and
    ``assign(target, result)`` makes ``target`` hold ``result`` (for ``x += y``). An operand
    that is not an instance of ``operands`` gets ``NotImplemented``, so its own type has its
    turn. The hooks are bound into closures (not looked up per call): operators run once per
    element in scalar-style loops. ``kernels`` (optional) maps a ufunc to the engine's own
    ``kernel(a, b)`` for it, which its operators then call instead of ``call``.

    >>> class Plain(ArrayLike): ...
    >>> install_operators(Plain, call=lambda u, xs: u.__name__, assign=lambda t, r: None,
    ...                   operands=(Plain, int))
    >>> Plain() + 1, 2 * Plain(), -Plain()
    ('add', 'multiply', 'negative')
    """
    for name, ufunc in BINARY_OPERATORS:
        kernel = kernels.get(ufunc) if kernels else None
        if kernel is not None:
            op, rop, iop = _kernel_operators(ufunc, kernel, assign, operands)
        else:
            op, rop, iop = _binary_operators(ufunc, call, assign, operands)
        setattr(cls, f"__{name}__", op)
        setattr(cls, f"__r{name}__", rop)
        setattr(cls, f"__i{name}__", iop)
    for name, ufunc in UNARY_OPERATORS:
        setattr(cls, f"__{name}__", _unary_operator(ufunc, call))


_SEQUENCES = (list, tuple)


def _split_sequences(operands: tuple) -> tuple:
    """``(operand types, sequence types)``: lists and tuples of numbers are operands too, as for numpy
    (``[0.2, 0.3] * x``), but are converted to arrays first; checked only after the common types failed,
    so the hot path's ``isinstance`` is unchanged."""
    sequences = tuple(t for t in operands if t in _SEQUENCES)
    return tuple(t for t in operands if t not in _SEQUENCES), sequences


def sequence_operand(other: Any, sequences: tuple = (list, tuple)) -> Any:
    """``other`` as an array when it is a list or tuple of plain numbers (a rule's partial or transpose
    must be an array: ``[1.0, 2.0] * x`` raised "list indices must be integers" deep in the engines),
    stacked when it holds scalars and differentiable values, else NotImplemented."""
    if not sequences or not isinstance(other, sequences):
        return NotImplemented
    try:
        array = np.asarray(other)
    except Exception:  # noqa: BLE001 - it holds differentiable values (a Dual's conversion refused)
        if all(isinstance(item, (ArrayLike, int, float, np.number)) for item in other):
            return np.stack(other)  # [y[0], y[1]] * y: stacked, as numpy would convert the list
        return other
    return other if array.dtype.kind not in "biuf" else array


def _no_modulo(ufunc, modulo) -> None:
    if modulo and modulo[0] is not None:
        raise UnsupportedFunctionError(
            "pow(x, y, mod) (three-argument pow) is defined for integers only and has no derivative; "
            "remedy: write (x ** y) % mod")


def _binary_operators(ufunc, call, assign, operands):
    operands, sequences = _split_sequences(operands)
    if ufunc is np.power:
        op, rop = _power_operators(ufunc, call, operands + sequences)
    else:  # no modulo test: these run once per element in scalar-style loops
        def op(self, other):
            if not isinstance(other, operands):
                other = sequence_operand(other, sequences)
                if other is NotImplemented:
                    return NotImplemented
            return call(ufunc, (self, other))

        def rop(self, other):
            if not isinstance(other, operands):
                other = sequence_operand(other, sequences)
                if other is NotImplemented:
                    return NotImplemented
            return call(ufunc, (other, self))

    def iop(self, other):
        if not isinstance(other, operands):
            other = sequence_operand(other, sequences)
            if other is NotImplemented:
                return NotImplemented
        assign(self, call(ufunc, (self, other)))
        return self

    return op, rop, iop


def _kernel_operators(ufunc, kernel, assign, operands):
    operands, sequences = _split_sequences(operands)
    # the engine's per-ufunc kernel, called with the operands themselves (no tuple, no lookup)
    if ufunc is np.power:
        op, rop = _power_operators(ufunc, lambda u, xs: kernel(*xs), operands + sequences)
    else:
        def op(self, other):
            if not isinstance(other, operands):
                other = sequence_operand(other, sequences)
                if other is NotImplemented:
                    return NotImplemented
            return kernel(self, other)

        def rop(self, other):
            if not isinstance(other, operands):
                other = sequence_operand(other, sequences)
                if other is NotImplemented:
                    return NotImplemented
            return kernel(other, self)

    def iop(self, other):
        if not isinstance(other, operands):
            other = sequence_operand(other, sequences)
            if other is NotImplemented:
                return NotImplemented
        assign(self, kernel(self, other))
        return self

    return op, rop, iop


def _power_operators(ufunc, call, operands):
    operands, sequences = _split_sequences(operands)
    # modulo: pow(x, y, mod) passes it; a default, not *args, keeps the call on CPython's fast path
    def op(self, other, modulo=None):
        if modulo is not None:
            _no_modulo(ufunc, (modulo,))
        if not isinstance(other, operands):
            other = sequence_operand(other, sequences)
            if other is NotImplemented:
                return NotImplemented
        return call(ufunc, (self, other))

    def rop(self, other, modulo=None):
        if modulo is not None:
            _no_modulo(ufunc, (modulo,))
        if not isinstance(other, operands):
            other = sequence_operand(other, sequences)
            if other is NotImplemented:
                return NotImplemented
        return call(ufunc, (other, self))

    return op, rop


def _unary_operator(ufunc, call):
    def op(self):
        return call(ufunc, (self,))
    return op
