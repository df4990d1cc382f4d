"""Complex values: which entries of the table hold for them, and the non-holomorphic functions.

The convention is :mod:`dualad.wirtinger`'s (JAX's). Here:

* the elementwise rules whose partials are the complex derivative as written
  (``exp``, ``sin``, ``*``, ``/``, ``**``, ...) are marked ``HOLOMORPHIC``; ``arccosh``
  gets ``1/(sqrt(z-1) sqrt(z+1))`` (``1/sqrt(z*z-1)`` has the wrong sign in the left
  half-plane); ``abs`` and ``conj`` get their Wirtinger pairs
  (``d|z| = Re(conj(z) dz)/|z|``, ``d conj(z) = conj(dz)``);
* ``np.real``, ``np.imag`` (real-linear maps) and ``np.angle`` (``arctan2(imag, real)``);
* structural linear maps (reshape, indexing, sums, ``@``, ``einsum``, ...), whose plain
  transpose is their adjoint under the convention, are marked ``complex=True``, as are
  ``solve``, ``inv``, ``det``, ``prod``, ``cumprod`` and composites built only from such
  entries. ``vecdot``/``vdot``/``matvec``/``vecmat`` (which conjugate an argument),
  ``max``/``min``/``sort`` (complex order), ``var``/``std`` (``abs`` inside numpy's
  formula) and the rest stay refused on complex values until they have a rule.

>>> import numpy as np, dualad
>>> z0 = np.array([1.0 + 2.0j])
>>> dualad.tape.grad(lambda z: np.sum(np.abs(z) ** 2), z0)      # JAX's convention: dL/dx - i dL/dy
array([2.-4.j])
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..rules import HOLOMORPHIC, ONE, TABLE, Linear
from ..wirtinger import check_holomorphic, is_complex

__all__ = ["COMPLEX_LINEAR", "COMPLEX_CUSTOM", "COMPLEX_COMPOSITES"]


def _mark(func, **changes) -> None:
    TABLE[func] = dataclasses.replace(TABLE[func], **changes)


# ----------------------------------------------------------------------------- elementwise
for _u in (np.add, np.subtract, np.multiply, np.divide, np.negative, np.positive, np.power, np.float_power,
           np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sin, np.cos, np.tan,
           np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arctanh,
           np.sqrt, np.square, np.reciprocal):
    _mark(_u, complex=HOLOMORPHIC)

# d arccosh(z) = dz / (sqrt(z - 1) sqrt(z + 1)) on numpy's principal branch
_mark(np.arccosh, complex=((lambda o, z: 1.0 / (np.sqrt(z - 1.0) * np.sqrt(z + 1.0)), None),))


def _abs_dz(o, z):
    """d|z|/dz = conj(z) / (2|z|); 0 at z == 0 (the real rule's convention: a subgradient)."""
    zero = o == 0
    if np.any(zero):
        return np.where(zero, 0.0, np.conjugate(z) / np.where(zero, 1.0, 2.0 * o))
    return np.conjugate(z) / (2.0 * o)


def _abs_dzbar(o, z):
    zero = o == 0
    if np.any(zero):
        return np.where(zero, 0.0, z / np.where(zero, 1.0, 2.0 * o))
    return z / (2.0 * o)


_mark(np.absolute, complex=((_abs_dz, _abs_dzbar),))
_mark(np.conjugate, complex=((None, ONE),))  # d conj(z) = conj(dz): no dz term


# ----------------------------------------------------------------------------- real, imag, angle
def _real_tangent(t, z):
    if is_complex(z):
        check_holomorphic(np.real)
    return np.real(t)


def _imag_tangent(t, z):
    if is_complex(z):
        check_holomorphic(np.imag)
    return np.imag(t)


def _real_transpose(ct, z):
    if is_complex(z):
        check_holomorphic(np.real)
    return ct


def _imag_transpose(ct, z):
    # Im z = (z - conj z) / 2i, so the cotangent of z is -i ct (JAX's convention); a real z has none
    if is_complex(z):
        check_holomorphic(np.imag)
        return -1j * ct
    return 0.0 * ct


TABLE[np.real] = Linear({0: _real_tangent}, {0: _real_transpose}, complex=True)
TABLE[np.imag] = Linear({0: _imag_tangent}, {0: _imag_transpose}, complex=True)


def _angle(z, deg=False):
    """numpy's angle: arctan2(imag, real) (also for real input: 0 or pi, derivative 0)."""
    a = np.arctan2(np.imag(z), np.real(z))
    return a * (180.0 / math.pi) if deg else a


# ----------------------------------------------------------------------------- opted-in entries
#: Linear entries whose formulas are complex-linear with their plain transpose as adjoint
COMPLEX_LINEAR = (np.sum, np.copy, np.cumsum, np.reshape, np.transpose, np.broadcast_to, "getitem", "SETITEM",
                  np.where, np.roll, np.matmul, np.einsum)
#: Custom entries whose jvp/vjp formulas hold for complex values
COMPLEX_CUSTOM = (np.concatenate, np.linalg.solve, np.linalg.inv, np.linalg.det, np.prod, np.cumprod)
#: Composite entries whose implementations only call complex-ready entries (and numpy's values)
COMPLEX_COMPOSITES = ("mean", "stack", "hstack", "vstack", "dstack", "column_stack", "atleast_1d", "atleast_2d",
                      "atleast_3d", "broadcast_arrays", "squeeze", "expand_dims", "ravel", "moveaxis", "swapaxes",
                      "rollaxis", "flip", "fliplr", "flipud", "rot90", "tile", "repeat", "split", "array_split",
                      "hsplit", "vsplit", "dsplit", "unstack", "diagonal", "trace", "diag", "diagflat", "tril",
                      "triu", "dot", "tensordot", "outer", "inner", "kron", "take", "take_along_axis",
                      "multi_dot", "matmul", "matrix_power", "cumulative_sum", "diff", "polyval", "append", "block",
                      "matrix_transpose")


def _opt_in() -> None:
    import operator

    from .. import rules
    named = {"getitem": operator.getitem, "SETITEM": rules.SETITEM}
    for f in COMPLEX_LINEAR + COMPLEX_CUSTOM:
        _mark(named.get(f, f), complex=True)
    for f, entry in list(TABLE.items()):
        if type(entry).__name__ == "Composite" and getattr(f, "__name__", None) in COMPLEX_COMPOSITES:
            TABLE[f] = dataclasses.replace(entry, complex=True)


_opt_in()
TABLE[np.angle] = type(TABLE[np.mean])(_angle, complex=True)
