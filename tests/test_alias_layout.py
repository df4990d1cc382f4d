"""Memory layout decides whether numpy's ravel/reshape is a view or a copy, so a differentiable value's
copies must have numpy's layout (``x.copy()`` is C-ordered, ``np.copy`` keeps the layout); and the
Fortran index order of ``reshape``/``ravel``/``flatten`` (``order='F'``/``'A'``) is followed in every
engine. numpy's values, forward = reverse = sparse = central differences."""
from __future__ import annotations

import numpy as np
import pytest

from alias_check import check_both_modes

M = np.array([[0.5, -1.2, 2.0, 0.3], [1.1, -0.4, 0.8, -2.2], [0.25, 1.7, -0.9, 0.6]])


def _write_first(view, value):
    view[0] = value


LAYOUT_WRITES = {
    # x.T.copy() is C-contiguous, so its ravel is a view and the write reaches it
    "T.copy().ravel()": lambda x: (lambda y: (_write_first(y.ravel(), 9.0 * x[0, 1]), y)[1])((x * 1.0).T.copy()),
    # np.copy keeps the transposed (F) layout: ravel copies, the write is lost
    "np.copy(T).ravel()": lambda x: (lambda y: (_write_first(y.ravel(), 9.0 * x[0, 1]), y)[1])(np.copy((x * 1.0).T)),
    "copy(order='F').T.ravel()": lambda x: (lambda y: (_write_first(y.T.ravel(), 9.0 * x[0, 1]), y)[1])(
        (x * 1.0).copy(order="F")),
    "copy().T.reshape(-1)": lambda x: (lambda y: (_write_first(y.T.reshape(-1), 9.0 * x[0, 1]), y)[1])((x * 1.0).copy()),
    "reshape F of a C array (copy)": lambda x: (lambda y: (_write_first(y.reshape(-1, order="F"), 9.0 * x[0, 1]), y)[1])(
        x * 1.0),
    "reshape F of an F array (view)": lambda x: (lambda y: (_write_first(y.reshape(-1, order="F"), 9.0 * x[0, 1]),
                                                            y)[1])((x * 1.0).T),
    "ravel A of an F array (view)": lambda x: (lambda y: (_write_first(y.ravel(order="A")[2:], 9.0 * x[0, 1]), y)[1])(
        (x * 1.0).T),
    "ravel K of an F array (view)": lambda x: (lambda y: (_write_first(y.ravel(order="K")[3:], 9.0 * x[0, 1]), y)[1])(
        (x * 1.0).T),
    "+= through an F reshape": lambda x: (lambda y: (y.reshape(4, 3, order="F").__iadd__(x.reshape(4, 3)), y)[1])(
        (x * 1.0).T.copy().T),
}


@pytest.mark.parametrize("name", LAYOUT_WRITES, ids=str)
def test_writes_follow_numpys_layout(name):
    check_both_modes(lambda v: np.ravel(LAYOUT_WRITES[name](v.reshape(M.shape))), M.ravel())


FORTRAN_ORDER = {
    "np.reshape F": lambda x: np.reshape(x, (4, 3), order="F"),
    "reshape F, -1": lambda x: x.reshape(-1, 2, order="F"),
    "ravel F": lambda x: x.ravel(order="F"),
    "np.ravel F": lambda x: np.ravel(x, "F"),
    "flatten F": lambda x: x.flatten("F"),
    "reshape A of C": lambda x: x.reshape((2, 6), order="A"),
    "reshape A of F": lambda x: x.T.reshape((2, 6), order="A"),
    "vec(A B)": lambda x: (x @ x.T).reshape(-1, order="F"),
    "3-D F": lambda x: np.sin(x.reshape(2, 3, 2, order="F")).reshape(6, 2, order="F"),
    "ravel K of F": lambda x: x.T.ravel("K"),
    "ravel K of a strided view": lambda x: np.ravel(x.T[::2], order="K"),
    "ravel K, negative strides": lambda x: x[::-1, ::2].T.ravel(order="K"),
}


@pytest.mark.parametrize("name", FORTRAN_ORDER, ids=str)
def test_fortran_index_order(name):
    check_both_modes(lambda v: np.ravel(FORTRAN_ORDER[name](v.reshape(M.shape))), M.ravel())
