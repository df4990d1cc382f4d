"""The identity seed of ``jacobian`` kept as its diagonal while operations keep it diagonal.

``jacobian`` of a function of a 1-D ``x`` seeds the n x n identity as the tangent.
Elementwise operations only scale its rows, so the tangent stays diagonal until
an operation couples entries (indexing, a sum over part of it, a broadcast...).
:class:`DiagonalTangent` stores the n diagonal entries and stands in for the
dense (n, n) array: a handful of operations (scaling by a row vector or a
scalar, sums and differences of diagonals, negation, matmul with a matrix)
return a new diagonal in O(n); anything else sees the dense array.

The dense array is built at most once per object, writable, and every view of
it is shared, exactly as if the tangent had been dense from the start. Once it
exists the object stops taking shortcuts, so an in-place write through a view
is seen by every later use. The shortcuts give bit-for-bit the dense results
(products with the zero off-diagonal entries are exact zeros); where a factor
is not finite (inf * 0 would be NaN in the dense array) they defer to it.

No derivative formula lives here: this is only a storage format for tangents.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .common import all_finite as _finite

__all__ = ["DiagonalTangent", "dense", "scale_rows"]


# ------------------------------------------------------------------ the storage-format protocol
# A tangent storage format stands for a dense ndarray it can build (``dense()``) and may offer
# O(n) shortcuts (``scale_rows``); the engines reach them only through this protocol, never by
# the format's type, so a new format (a banded or block tangent, say) needs no engine edit.
def dense(t) -> Any:
    """The dense ndarray a storage format stands for (built once, shared); None for anything else."""
    to_dense = getattr(type(t), "dense", None)
    return to_dense(t) if to_dense is not None else None


def scale_rows(t, factor) -> Any:
    """``factor[:, None] * t`` in the format's own storage, or None (then multiply as usual)."""
    method = getattr(type(t), "scale_rows", None)
    return method(t, factor) if method is not None else None


class DiagonalTangent:
    """An (n, n) diagonal tangent block stored as its diagonal.

    >>> import numpy as np
    >>> t = DiagonalTangent(np.array([1.0, 2.0]))
    >>> np.cos(np.array([0.0, 0.0]))[:, None] * t    # row scaling keeps it diagonal
    DiagonalTangent(array([1., 2.]))
    >>> np.asarray(t + np.ones((2, 2)))                 # anything else sees the dense array
    array([[2., 1.],
           [1., 3.]])
    """

    __slots__ = ("diag", "_dense", "ones")

    def __init__(self, diag: np.ndarray):
        self.diag = diag
        self._dense = None
        self.ones = False  # True only for an identity made by eye(): a matrix times it is the matrix itself

    @classmethod
    def eye(cls, n: int, dtype) -> "DiagonalTangent":
        """The n x n identity (``jacobian``'s seed of a vector), known to be one: ``W @ eye`` is W's copy.

        >>> DiagonalTangent.eye(2, np.float64).ones
        True
        """
        diag = np.empty(n, dtype=dtype)  # (np.ones is a Python function around these two C calls)
        diag.fill(1.0)
        self = cls(diag)
        self.ones = True
        return self

    # ------------------------------------------------------------ the dense view
    def dense(self) -> np.ndarray:
        """The (n, n) array this stands for: built once, then shared by every use."""
        if self._dense is None:
            n = len(self.diag)
            dense = np.zeros((n, n), dtype=self.diag.dtype)
            dense.reshape(-1)[::n + 1] = self.diag
            self._dense = dense
        return self._dense

    @property
    def shape(self) -> tuple:
        return (len(self.diag), len(self.diag))

    ndim = 2  # always a square block; a plain attribute is cheaper than a property on the hot path

    @property
    def dtype(self):
        return self.diag.dtype

    @property
    def size(self) -> int:
        return len(self.diag) ** 2

    def scale_rows(self, factor: np.ndarray):
        """``factor[:, None] * self`` as a diagonal, for a finite float (n,) ``factor``; None if
        that is not the shape, or once the dense array exists (writes through views must be seen).

        The engine's entry for the commonest use (a one-argument ufunc's partial times the
        seed), the same product as numpy's ``multiply`` shortcut below without its checks.
        """
        if self._dense is not None or factor.shape != self.diag.shape:
            return None
        return DiagonalTangent(factor * self.diag)

    def __len__(self) -> int:
        return len(self.diag)

    def __array__(self, dtype=None, copy=None):
        dense = self.dense()
        if dtype is not None and np.dtype(dtype) != dense.dtype:
            return dense.astype(dtype)
        return dense.copy() if copy else dense

    def __getattr__(self, name):
        # reshape, T, sum, copy, astype, flags, ...: whatever the dense array offers
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dense(), name)

    def __getitem__(self, key):
        return self.dense()[key]

    def __setitem__(self, key, value):
        self.dense()[key] = value

    def __repr__(self) -> str:
        return f"DiagonalTangent({self.diag!r})"

    # ------------------------------------------------------------ numpy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs:
            shortcut = _SHORTCUTS.get(ufunc)
            if shortcut is not None and not _any_dense(inputs):
                result = shortcut(*inputs)
                if result is not None:
                    return result
        if any(type(x) is DiagonalTangent for x in kwargs.get("out", ())):
            return NotImplemented
        return getattr(ufunc, method)(*_densify(inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func is np.sum and self._dense is None and len(args) == 1 and args[0] is self and set(kwargs) <= {
                "axis", "keepdims"} and kwargs.get("axis") in (0, (0,), -2, (-2,)):
            # column sums of a diagonal: the diagonal itself (each column has one entry)
            return self.diag[None, :].copy() if kwargs.get("keepdims") else self.diag.copy()
        return func(*_densify(args), **_densify(kwargs))


def _any_dense(inputs) -> bool:
    for x in inputs:
        if type(x) is DiagonalTangent and x._dense is not None:
            return True
    return False


def _densify(obj):
    if type(obj) is DiagonalTangent:
        return obj.dense()
    if isinstance(obj, (list, tuple)):
        return type(obj)(_densify(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _densify(v) for k, v in obj.items()}
    return obj


def _row_factor(s, n: int):
    """``s`` as a length-n (or scalar) factor when ``s * D`` keeps D diagonal, else None.

    A scalar or an (n, 1) column scales rows; an (n,) or (1, n) row scales columns;
    either way entry (i, i) is multiplied by s's i-th (or only) entry.
    """
    if isinstance(s, (float, int)) and not isinstance(s, bool):
        return s if np.isfinite(s) else None
    if not isinstance(s, (np.ndarray, np.generic)) or s.dtype.kind not in "fiu":
        return None
    if s.ndim == 0 or s.shape in ((1,), (1, 1)):
        factor = s.reshape(())[()] if s.ndim else s
    elif s.shape in ((n, 1), (1, n)):
        factor = s.reshape(n)
    elif s.shape == (n,):
        factor = s
    else:
        return None
    return factor if _finite(factor) else None


def _multiply(a, b):
    if type(a) is DiagonalTangent and type(b) is DiagonalTangent:
        return DiagonalTangent(a.diag * b.diag)
    d, s = (a, b) if type(a) is DiagonalTangent else (b, a)
    factor = _row_factor(s, len(d.diag))
    if factor is None:
        return None
    return DiagonalTangent(d.diag * factor if d is a else factor * d.diag)


def _add(a, b):
    if type(a) is DiagonalTangent and type(b) is DiagonalTangent:
        return DiagonalTangent(a.diag + b.diag)
    return None


def _subtract(a, b):
    if type(a) is DiagonalTangent and type(b) is DiagonalTangent:
        return DiagonalTangent(a.diag - b.diag)
    return None


def _matmul(a, b):
    if type(a) is DiagonalTangent and type(b) is DiagonalTangent:
        return DiagonalTangent(a.diag * b.diag)
    if type(b) is DiagonalTangent:  # a @ diag(d): column j of a times d[j]
        if isinstance(a, np.ndarray) and a.ndim in (1, 2) and a.shape[-1] == len(b.diag) \
                and a.dtype.kind in "fiu" and _finite(a):
            # (times ones: a's own entries, a copy in the product's dtype, without a broadcast multiply)
            return a.astype(np.promote_types(a.dtype, b.diag.dtype)) if b.ones else a * b.diag
        return None
    if isinstance(b, np.ndarray) and b.ndim in (1, 2) and b.shape[0] == len(a.diag) \
            and b.dtype.kind in "fiu" and _finite(b):  # diag(d) @ b: row i of b times d[i]
        if a.ones:
            return b.astype(np.promote_types(b.dtype, a.diag.dtype))
        return a.diag[:, None] * b if b.ndim == 2 else a.diag * b
    return None


_SHORTCUTS = {
    np.multiply: _multiply,
    np.add: _add,
    np.subtract: _subtract,
    np.negative: lambda a: DiagonalTangent(-a.diag),
    np.positive: lambda a: DiagonalTangent(+a.diag),
    np.matmul: _matmul,
}


def _operator(ufunc, reflected=False):
    if reflected:
        return lambda self, other: ufunc(other, self)
    return lambda self, other: ufunc(self, other)


for _name, _ufunc in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("truediv", np.divide),
                      ("matmul", np.matmul), ("pow", np.power), ("mod", np.remainder),
                      ("floordiv", np.floor_divide)):
    setattr(DiagonalTangent, f"__{_name}__", _operator(_ufunc))
    setattr(DiagonalTangent, f"__r{_name}__", _operator(_ufunc, reflected=True))
for _name, _ufunc in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                      ("gt", np.greater), ("ge", np.greater_equal)):
    setattr(DiagonalTangent, f"__{_name}__", _operator(_ufunc))
DiagonalTangent.__neg__ = lambda self: np.negative(self)
DiagonalTangent.__pos__ = lambda self: np.positive(self)
DiagonalTangent.__abs__ = lambda self: np.absolute(self)
DiagonalTangent.__bool__ = lambda self: bool(self.dense())
DiagonalTangent.__iter__ = lambda self: iter(self.dense())
DiagonalTangent.__hash__ = None
