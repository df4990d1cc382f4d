"""Writes into complex values (session 6): numpy's value, and forward = reverse = sparse = central
differences of the same plain code.

- A complex value may carry a real tangent (``z = x + 0j``: the directions are real); a complex item
  written into it (``z[0] = x[0] * 1j``) needs complex tangent storage, or its imaginary part is lost.
- ``z.real`` and ``z.imag`` are numpy views of one part of each entry: a write through them changes
  that part and keeps the other.
- ``x.astype(x.dtype, copy=False)`` is ``x`` itself in numpy: writes into it reach ``x``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualad

from alias_check import check_both_modes, check_hvp

X = np.array([0.5, -1.0, 2.0, 3.0, -0.7, 1.3])

# complex values with a real tangent (or partly real), as user code makes them
MAKERS = {
    "x+0j": lambda x: x[3:] + 0j,
    "np.add(x, 0j)": lambda x: np.add(x[3:], 0j),
    "1j-x": lambda x: 1j - x[3:],
    "2x+1j": lambda x: 2 * x[3:] + 1j,
    "exp(x)+0j": lambda x: np.exp(x[3:]) + 0j,
    "where(complex const)": lambda x: np.where(x[3:] > 0, x[3:], 1j),
    "concatenate(complex const)": lambda x: np.concatenate([x[3:5], [1j]]),
    "reversed view": lambda x: (x[3:] + 0j)[::-1],
}


def _add_at(z, x):
    np.add.at(z, [0, 0], x[:2] * 1j)


def _flat(z, x):
    z.flat[1] = x[0] * 2j


def _view(z, x):
    z[1:][0] = x[1] * x[0] * 1j


WRITES = {
    "int": lambda z, x: z.__setitem__(0, x[0] * 1j),
    "slice": lambda z, x: z.__setitem__(slice(0, 2), x[:2] * (1 - 2j)),
    "fancy": lambda z, x: z.__setitem__([2, 0], x[1:3] * 1j),
    "mask": lambda z, x: z.__setitem__(np.array([True, False, True]), x[:2] * 1j),
    "add.at": _add_at,
    "flat": _flat,
    "through a view": _view,
}


@pytest.mark.parametrize("write", WRITES, ids=str)
@pytest.mark.parametrize("make", MAKERS, ids=str)
def test_complex_item_written_into_a_value_with_real_tangent(make, write):
    def f(x):
        z = MAKERS[make](x)
        WRITES[write](z, x)
        return np.concatenate([np.real(z), np.imag(z), np.abs(z)])
    check_both_modes(f, X)


def _real_k(z, x):
    z.real[0] = x[1] ** 2


def _imag_all(z, x):
    z.imag[:] = x[:3] * x[4]


def _np_real_fancy(z, x):
    np.real(z)[[2, 0]] = x[:2]


def _np_imag_mask(z, x):
    np.imag(z)[np.array([False, True, True])] = 3 * x[2:4]


def _imag_of_slice(z, x):
    z[1:].imag[0] = x[0] * x[5]


def _slice_of_real(z, x):
    z.real[1:][1] = np.sin(x[0])


def _reshaped_imag(z, x):
    z.imag.reshape(3, 1)[2, 0] = x[1]


def _real_iadd(z, x):
    r = z.real
    r += x[:3] ** 2


def _complex_item_into_real(z, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        z.real[0] = x[1] * (2 + 5j)  # numpy keeps the real part of a complex item written into a real view


PARTS = {"z.real[k]": _real_k, "z.imag[:]": _imag_all, "np.real(z)[fancy]": _np_real_fancy,
         "np.imag(z)[mask]": _np_imag_mask, "z[1:].imag[k]": _imag_of_slice, "z.real[1:][k]": _slice_of_real,
         "z.imag.reshape[k]": _reshaped_imag, "z.real +=": _real_iadd, "complex item into z.real": _complex_item_into_real}


@pytest.mark.parametrize("write", PARTS, ids=str)
def test_write_through_real_or_imaginary_part(write):
    def f(x):
        z = x[:3] + 1j * x[3:]
        PARTS[write](z, x)
        return np.concatenate([np.abs(z), np.angle(z)])
    check_both_modes(f, X)


@pytest.mark.parametrize("write", ["z.real[k]", "z.imag[:]", "z[1:].imag[k]"])
def test_part_writes_second_order(write):
    def f(x):
        z = x[:3] + 1j * x[3:]
        PARTS[write](z, x)
        return np.sum(np.abs(z) ** 3)
    check_hvp(f, X, np.linspace(-1.0, 1.0, 6))


def test_complex_item_into_real_tangent_second_order():
    def f(x):
        z = x[3:] + 0j
        z[0] = x[0] * x[1] * 1j
        return np.sum(np.abs(z) ** 3)
    check_hvp(f, X, np.linspace(-1.0, 1.0, 6))


def test_real_part_of_a_real_value_is_the_value_itself():
    def f(x):
        y = x * 1.0
        np.real(y)[0] = x[1] ** 2  # numpy: np.real(y) is y
        return y
    check_both_modes(f, X)


ASTYPE = {
    "method": lambda x: x.astype(np.float64, copy=False),
    "np.astype": lambda x: np.astype(x, np.float64, copy=False),
    "float": lambda x: x.astype(float, copy=False),
}


@pytest.mark.parametrize("cast", ASTYPE, ids=str)
def test_astype_without_copy_is_the_array_itself(cast):
    def f(x):
        y = x * 1.0
        ASTYPE[cast](y)[0] = 9 * x[1] ** 2  # numpy writes into y
        return y
    check_both_modes(f, X)


def test_astype_with_copy_or_a_new_dtype_is_a_copy():
    def f(x):
        y = x * 1.0
        y.astype(np.float64)[0] = 9 * x[1]
        z = y.astype(np.complex128, copy=False)  # another dtype: a copy
        z[1] = 5.0 * x[2]
        return y * np.abs(z)
    check_both_modes(f, X)
    d = dualad.Dual(X, np.ones_like(X))
    assert d.astype(np.float64, copy=False) is d
    assert d.astype(np.float64) is not d
    assert d.astype(np.float32, copy=False) is not d


def test_astype_arguments_follow_numpy():
    d = dualad.Dual(X, np.ones_like(X))
    with pytest.raises(TypeError):
        d.astype(np.float32, casting="safe")  # as numpy: float64 -> float32 is not a safe cast
    assert d.astype(np.float64, casting="safe", order="C").dtype == np.float64  # C-contiguous already
    with pytest.raises(dualad.UnsupportedFunctionError, match="order="):
        d.reshape(2, 3).T.astype(np.float64, order="C")
