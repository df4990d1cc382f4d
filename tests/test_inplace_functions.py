"""In-place writes spelled as functions or attributes: np.put, np.place, np.putmask, np.fill_diagonal,
ufunc.at, x.flat[...], x.sort(). Each must give numpy's value and the derivative of numpy's result
(central differences of the same code on floats) in forward mode, reverse mode and the sparsity
tracer, or refuse with a remedy (a plain target array would drop the derivative).
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import ConversionError, DualadError

from cases import central_jacobian

X = np.array([0.3, -1.2, 2.0, 0.7, 1.5, -0.4])


def _copy(x):
    return x * 1.0


def put_clip(x):
    z = _copy(x); np.put(z, [0, 3, 9], x[1:4] ** 2, mode="clip"); return z  # noqa: E702


def place(x):
    z = _copy(x); np.place(z, X > 0.5, x[:2] * 3); return z  # noqa: E702  (2 values cycle over 3 places)


def place_2d(x):
    z = _copy(x).reshape(2, 3); np.place(z, X.reshape(2, 3) < 0.5, np.sin(x[4:])); return z  # noqa: E702


def putmask(x):
    z = _copy(x); np.putmask(z, X > 0.5, x ** 2); return z  # noqa: E702


def putmask_short(x):
    z = _copy(x); np.putmask(z, X < 1.0, x[:4] * x[5]); return z  # noqa: E702  (values.flat[n % 4])


def putmask_constant(x):
    z = _copy(x); np.putmask(z, X > 0, 7.0); return z  # noqa: E702


def fill_diagonal(x):
    z = _copy(x[:4]).reshape(2, 2); np.fill_diagonal(z, x[5]); return z  # noqa: E702


def add_at(x):
    z = _copy(x); np.add.at(z, [0, 0, 2, 0], x[:4]); return z  # noqa: E702


def subtract_at_scalar(x):
    z = _copy(x); np.subtract.at(z, [1, 1, 4], 0.5); return z  # noqa: E702


def multiply_at(x):
    z = _copy(x); np.multiply.at(z, [5, 1, 5], x[2:5]); return z  # noqa: E702


def maximum_at(x):
    z = _copy(x); np.maximum.at(z, [0, 2, 0], x[3:6] * 2); return z  # noqa: E702


def negative_at(x):
    z = _copy(x); np.negative.at(z, [3, 3, 3, 1]); return z  # noqa: E702  (unary, applied three times)


def add_at_2d(x):
    z = _copy(x).reshape(2, 3); np.add.at(z, ([0, 1, 0], [2, 2, 2]), x[:3] ** 2); return z  # noqa: E702


def add_at_slice(x):
    z = _copy(x).reshape(2, 3); np.add.at(z, (slice(None), 1), x[4:]); return z  # noqa: E702


def flat_fancy(x):
    z = _copy(x); z.flat[[1, 2, 1]] = x[4:] ** 2; return z  # noqa: E702  (x[5]**2 cycles)


def flat_slice_transposed(x):
    z = _copy(x).reshape(2, 3).T; z.flat[1:4] = x[:3] * 2; return z  # noqa: E702  (C order of the view)


def flat_scalar(x):
    z = _copy(x); z.flat[3] = x[0] * 5; return z  # noqa: E702


def flat_assign_all(x):
    z = _copy(x).reshape(3, 2); z.flat = x[:2]; return z  # noqa: E702


def flat_read(x):
    return x.reshape(2, 3).T.flat[[1, 4]] * 2 + x.flat[0]


def flat_iterate(x):
    return np.stack([v * i for i, v in enumerate(x.reshape(3, 2).flat)])


def sort_in_place(x):
    z = _copy(x).reshape(2, 3); z.sort(axis=0); return z  # noqa: E702


CASES = [put_clip, place, place_2d, putmask, putmask_short, putmask_constant, fill_diagonal, add_at,
         subtract_at_scalar, multiply_at, maximum_at, negative_at, add_at_2d, add_at_slice, flat_fancy,
         flat_slice_transposed, flat_scalar, flat_assign_all, flat_read, flat_iterate, sort_in_place]


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_value_and_derivative_in_every_mode(f):
    want = central_jacobian(f, X)
    value = f(dualad.Dual(X, np.zeros_like(X)))
    np.testing.assert_array_equal(value.value, f(X.copy()))
    np.testing.assert_allclose(dualad.jacobian(f, X), want, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(tape.jacobian(f, X), want, rtol=1e-7, atol=1e-8)
    pytest.importorskip("scipy")
    pattern = dualad.jacobian_sparsity(f, X).toarray().reshape(want.shape)
    assert np.all(pattern | (want == 0)), "sparsity pattern misses a nonzero"


def test_hvp_through_ufunc_at_and_flat():
    def loss(x):
        z = x * 1.0
        np.multiply.at(z, [0, 0, 3], x[1:4])
        z.flat[[2, 5]] = x[:2] ** 3
        return np.sum(z ** 2)
    v = np.linspace(-1.0, 1.0, X.size)
    want = central_jacobian(lambda x: tape.grad(loss, x), X) @ v
    np.testing.assert_allclose(dualad.hvp(loss, X, v), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
@pytest.mark.parametrize("write", [
    lambda buf, x: np.putmask(buf, buf == 0, x),
    lambda buf, x: np.place(buf, buf == 0, x),
    lambda buf, x: np.add.at(buf, [0, 1], x[:2]),
    lambda buf, x: np.put(buf, [0], x[0]),
    lambda buf, x: np.fill_diagonal(buf.reshape(2, 3), x[0]),
], ids=["putmask", "place", "add.at", "put", "fill_diagonal"])
def test_a_plain_target_is_refused_with_a_remedy(engine, write):
    def f(x):
        buf = np.zeros(6)
        write(buf, x)
        return buf
    with pytest.raises(DualadError, match="remedy.*zeros_like"):
        engine(f, X)


def test_numpy_errors_stay_numpys():
    d = dualad.Dual(X, np.ones_like(X))
    with pytest.raises(ValueError, match="empty"):
        np.place(d * 1.0, X > 0, np.zeros(0))
    with pytest.raises(IndexError):
        np.add.at(d * 1.0, [7], 1.0)
    with pytest.raises(IndexError):
        (d * 1.0).flat[np.array([True, False])] = 1.0   # numpy refuses boolean keys on .flat too
    assert not isinstance(ConversionError("x"), IndexError)
