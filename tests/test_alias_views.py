"""Writes through views and into buffers (issue classes 1 and 2): numpy's value, exact derivatives,
forward = reverse = central differences, SparseJacobian and hvp too."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape

from alias_check import check_both_modes, check_hvp


def gray_scott(y):  # SciPy's integrate tutorial, as written there (2 species interleaved)
    u, v = y[::2], y[1::2]
    dydt = np.empty_like(y)
    dudt, dvdt = dydt[::2], dydt[1::2]
    dudt[0] = 0.1 * (-2.0 * u[0] + 2.0 * u[1]) - u[0] * v[0] ** 2 + 0.02 * (1 - u[0])
    dudt[1:-1] = 0.1 * np.diff(u, 2) - u[1:-1] * v[1:-1] ** 2 + 0.02 * (1 - u[1:-1])
    dudt[-1] = 0.1 * (-2.0 * u[-1] + 2.0 * u[-2]) - u[-1] * v[-1] ** 2 + 0.02 * (1 - u[-1])
    dvdt[0] = 0.05 * (-2.0 * v[0] + 2.0 * v[1]) + u[0] * v[0] ** 2 - 0.08 * v[0]
    dvdt[1:-1] = 0.05 * np.diff(v, 2) + u[1:-1] * v[1:-1] ** 2 - 0.08 * v[1:-1]
    dvdt[-1] = 0.05 * (-2.0 * v[-1] + 2.0 * v[-2]) + u[-1] * v[-1] ** 2 - 0.08 * v[-1]
    return dydt


def rosenbrock_residual(x):  # extended Rosenbrock, odd/even views of one output
    f = np.zeros_like(x)
    f_odd, f_even = f[0::2], f[1::2]
    f_odd[:] = 10.0 * (x[1::2] - x[0::2] ** 2)
    f_even[:] = 1.0 - x[0::2]
    return f


def sum_after_view_write(x):  # the issue's example: numpy gives 14 and [0, 1, 7] at [1, 2, 3]
    y = x * 1.0
    v = y[0:2]
    v[0] = x[2] ** 2
    return np.sum(y)


def reshape_column_write(x):
    f = x ** 2
    f.reshape(2, 2)[:, 0] = x[:2] * 3.0
    return f


def transpose_write(x):
    y = (x * 1.0).reshape(2, 2)
    y.T[0] = x[:2] ** 3
    return y.ravel()


def ravel_view_write(x):
    y = np.outer(x[:2], x[2:])
    r = y.ravel()
    r[1:3] = np.sin(x[:2])
    return y


def out_into_view(x):
    f = x * 1.0
    np.sin(x[:2], out=f[::2])
    np.multiply(x[2:], x[:2], out=f[1::2])
    return f


def write_through_input_view(x):
    v = x[1:3]
    v[0] = x[0] * x[3]
    return x * 2.0


def inplace_operator_on_slice(x):
    y = x ** 2
    y[1:] += x[:-1]
    y[::2] *= 3.0
    y[:2] -= y[2:]
    return y


def inplace_on_view_object(x):  # the issue's c / v example
    c = x[0] + np.zeros(3)
    v = c[0:2]
    v[0] = 3 * x[1]
    v += x[1]
    return c


def zeros_like_rows(x):
    out = dualad.zeros_like(x, shape=(2, 2))
    out[0][1] = x[0] ** 2
    out[1][0] = x[1] * x[2]
    return out


def enumerate_rows(x):
    out = dualad.zeros_like(x, shape=(3, 2))
    for i, row in enumerate(out):
        row[:] = 2 * x[i] + x[3] * i
    return out


def view_of_view(x):
    y = x * 1.0
    a = y[1:]
    b = a.reshape(3, 1)[1:]
    b[:, 0] = np.exp(x[:2])
    a[0] = a[2] * 2
    return y


def overlapping_copy(x):
    y = x ** 2
    y[1:] = y[:-1]  # numpy reads the source before writing
    return y


def swapaxes_squeeze_write(x):
    y = (x * 1.0).reshape(1, 2, 2)
    z = np.squeeze(np.swapaxes(y, 1, 2))
    z[0, 1] = x[3] ** 2
    return y.ravel()


def repeated_fancy_index(x):  # numpy keeps the last write
    z = np.zeros(3) * x[0]
    z[np.array([0, 0])] = x[1:3]
    z[[2, 1, 2]] = x[:3] ** 2
    return z


def scalar_into_repeated(x):
    z = x * 1.0
    z[[0, 0, 1]] = x[3] * 2
    return z


def boolean_mask_write(x):
    y = x * 1.0
    y[y > 2.5] = x[0] ** 3
    return y


def root_write_seen_by_view(x):
    y = x * 1.0
    v = y[1:3]
    y[:] = x[::-1] * 2
    return v * x[:2]


def read_base_after_write(x):
    y = np.zeros_like(x)
    v = y[:2]
    v[:] = x[2:]
    return np.sum(y * x) + y


IDIOMS = [gray_scott, rosenbrock_residual, reshape_column_write, transpose_write, ravel_view_write,
          out_into_view, write_through_input_view, inplace_operator_on_slice, inplace_on_view_object,
          zeros_like_rows, enumerate_rows, view_of_view, overlapping_copy, swapaxes_squeeze_write,
          repeated_fancy_index, scalar_into_repeated, boolean_mask_write, root_write_seen_by_view,
          read_base_after_write]


@pytest.mark.parametrize("f", IDIOMS, ids=lambda f: f.__name__)
def test_view_idiom_matches_numpy_and_differences(f):
    x = np.array([1.0, 2.0, 3.0, 4.0]) if f is not gray_scott else np.linspace(0.5, 1.5, 10)
    check_both_modes(f, x)


def test_issue_example_value_and_gradient():
    x = np.array([1.0, 2.0, 3.0])
    assert sum_after_view_write(x) == 14.0
    for grad in (dualad.gradient, tape.grad):
        np.testing.assert_array_equal(grad(sum_after_view_write, x), [0.0, 1.0, 7.0])
    value, g = tape.value_and_grad(sum_after_view_write, x)
    assert value == 14.0


def test_gray_scott_value_and_grad_is_numpy_value():
    y = np.linspace(0.5, 1.5, 10)
    value, g = tape.value_and_grad(lambda y: np.sum(gray_scott(y) ** 2), y)
    assert value == np.sum(gray_scott(y) ** 2)
    np.testing.assert_allclose(g, dualad.gradient(lambda y: np.sum(gray_scott(y) ** 2), y), rtol=1e-12)


@pytest.mark.parametrize("f", [rosenbrock_residual, reshape_column_write, inplace_operator_on_slice,
                               repeated_fancy_index, out_into_view], ids=lambda f: f.__name__)
def test_hvp_through_views(f):
    x = np.array([-1.2, 1.0, 0.7, 2.0])
    check_hvp(lambda x: np.sum(f(x) ** 2), x, np.array([1.0, -2.0, 0.5, 3.0]))


def test_rosenbrock_minimize_takes_steps():
    optimize = pytest.importorskip("scipy.optimize")
    fun = lambda x: np.sum(rosenbrock_residual(x) ** 2)  # noqa: E731
    res = optimize.minimize(fun, np.array([-1.2, 1.0, -1.2, 1.0]), jac=lambda x: tape.grad(fun, x), method="BFGS")
    assert res.nit > 5 and res.fun < 1e-8


def test_read_only_views_refuse_writes_like_numpy():
    def f(x):
        b = np.broadcast_to(x[0], (3,))
        b[0] = x[1]
        return b
    with pytest.raises(ValueError, match="read-only"):
        f(np.array([1.0, 2.0]))  # numpy itself
    for jac in (dualad.jacobian, tape.jacobian):
        with pytest.raises(ValueError, match="read-only"):
            jac(f, np.array([1.0, 2.0]))


def test_copies_are_not_views():
    def f(x):
        y = x * 1.0
        c = y[[0, 1]]      # fancy indexing copies in numpy
        c[0] = 100.0 * x[1]
        t = y.T.copy()
        t[0] = 5.0
        return y + c.sum()
    check_both_modes(f, np.array([1.0, 2.0, 3.0]))


def test_views_leave_no_reference_cycles():
    # roots and views refer to each other only weakly one way: a finished call is freed by
    # reference counting at once (as the tape API's release promises), not by the cycle collector
    import gc
    y = np.linspace(0.5, 1.5, 40)
    dualad.jacobian(gray_scott, y), tape.jacobian(gray_scott, y)  # warm up (rule tables, caches)
    gc.collect()
    gc.disable()
    try:
        dualad.jacobian(gray_scott, y)
        tape.jacobian(gray_scott, y)
        tape.grad(lambda v: np.sum(view_of_view(v[:4]) ** 2), y)
        assert gc.collect() == 0
    finally:
        gc.enable()


def many_views_then_writes(x):
    # more views than a tape keeps waiting for registration (tape.var.PENDING_VIEWS_MAX), made
    # before any write: writes through the first and last of them reach the buffer and every view
    buf = np.zeros((1500, 4)) + x
    rows = [buf[i] for i in range(1500)]
    columns = buf.T
    rows[0][1:3] = x[:2] ** 2
    rows[-1][0] = x[3] * rows[0][1]
    columns[2, 7] = 7.0 * x[1]
    return buf.sum(axis=0) + rows[7] + 2.0 * rows[-1] + columns[:, 0]


def views_between_writes(x):
    # views made after a write are registered at the next write, views before it at the first
    y = x * 1.0
    a = y[1:]
    a[0] = x[0] ** 3
    b = a.reshape(3, 1)[::2]
    c = y[::-1]
    b[1, 0] = np.sin(x[1])
    c[0] += x[2]
    return np.concatenate([y, a * c[1:], b.ravel()])


@pytest.mark.parametrize("f", [many_views_then_writes, views_between_writes], ids=lambda f: f.__name__)
def test_views_made_before_a_write_are_all_seen(f):
    check_both_modes(f, np.array([1.0, 2.0, 3.0, 4.0]))


def test_copyto_and_fill_through_views():
    def f(x):
        y = x * 1.0
        np.copyto(y[::2], x[1::2] ** 2)
        z = np.zeros_like(x).reshape(2, 2)
        z[1].fill(3.0)
        np.copyto(z.T[0], x[:2], where=np.array([True, False]))
        return y + z.ravel()
    check_both_modes(f, np.array([1.0, 2.0, 3.0, 4.0]))
