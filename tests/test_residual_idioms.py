"""Real residual idioms (issue 12, section 4): Moré–Garbow–Hillstrom residuals and stiff ODE right-hand
sides written the natural way. The two idioms numpy cannot hold derivatives in raise an error whose first
line names the remedy and the user's line; the remedied forms and the MINPACK concatenate idiom work."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape

from cases import central_jacobian


# ---------------------------------------------------------------- Moré–Garbow–Hillstrom, natural np.array form
def rosenbrock(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def powell_singular(x):
    return np.array([x[0] + 10 * x[1], np.sqrt(5) * (x[2] - x[3]), (x[1] - 2 * x[2]) ** 2,
                     np.sqrt(10) * (x[0] - x[3]) ** 2])


def helical_valley(x):
    theta = np.arctan(x[1] / x[0]) / (2 * np.pi)
    if x[0] < 0:  # the documented branch on a value
        theta = theta + 0.5
    return np.array([10 * (x[2] - 10 * theta), 10 * (np.sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]])


def beale(x):
    y = np.array([1.5, 2.25, 2.625])
    return np.array([y[i] - x[0] * (1 - x[1] ** (i + 1)) for i in range(3)])


def freudenstein_roth(x):
    return np.array([-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1], -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]])


MGH = [(rosenbrock, [-1.2, 1.0]), (powell_singular, [3.0, -1.0, 0.0, 1.0]), (helical_valley, [-1.0, 0.5, 0.2]),
       (beale, [1.0, 1.0]), (freudenstein_roth, [0.5, -2.0])]


def _stacked(f):
    """The same residual with the remedy applied, written out: np.stack where f wrote np.array."""
    return {rosenbrock: lambda x: np.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]]),
            powell_singular: lambda x: np.stack([x[0] + 10 * x[1], np.sqrt(5) * (x[2] - x[3]), (x[1] - 2 * x[2]) ** 2,
                                                 np.sqrt(10) * (x[0] - x[3]) ** 2]),
            helical_valley: lambda x: np.stack([10 * (x[2] - 10 * (np.arctan(x[1] / x[0]) / (2 * np.pi)
                                                                   + (0.5 if x[0] < 0 else 0.0))),
                                                10 * (np.sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]]),
            beale: lambda x: np.stack([y - x[0] * (1 - x[1] ** (i + 1)) for i, y in enumerate([1.5, 2.25, 2.625])]),
            freudenstein_roth: lambda x: np.stack([-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1],
                                                   -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]])}[f]


@pytest.mark.parametrize("f, x", MGH, ids=[f.__name__ for f, _ in MGH])
def test_np_array_residual_says_use_np_stack_with_the_line(f, x):
    for engine in (dualad.jacobian, tape.jacobian, dualad.sparse_jacobian):
        with pytest.raises(dualad.ConversionError) as info:
            engine(f, np.array(x))
        first = str(info.value).splitlines()[0]
        assert first.startswith("use np.stack([...]) instead of np.array([...])")
        assert "test_residual_idioms.py:" in first and "np.array([" in first


@pytest.mark.parametrize("f, x", MGH, ids=[f.__name__ for f, _ in MGH])
def test_np_stack_residual_is_exact(f, x):
    g, x = _stacked(f), np.array(x)
    J = dualad.jacobian(g, x)
    np.testing.assert_allclose(J, central_jacobian(f, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(tape.jacobian(g, x), J, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dualad.sparse_jacobian(g, x).toarray(), J, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- stiff ODE right-hand sides, dy = np.zeros(n)
def robertson(t, y):
    dy = np.zeros(3)
    dy[0] = -0.04 * y[0] + 1e4 * y[1] * y[2]
    dy[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2
    dy[2] = 3e7 * y[1] ** 2
    return dy


def van_der_pol(t, y, mu=1000.0):
    dy = np.zeros(2)
    dy[0] = y[1]
    dy[1] = mu * ((1 - y[0] ** 2) * y[1] - y[0])
    return dy


def brusselator(t, y, n=8, alpha=0.02):
    u, v = y[:n], y[n:]
    du = np.zeros(n)
    dv = np.zeros(n)
    lap = lambda w: np.concatenate([[w[1] - 2 * w[0]], w[2:] - 2 * w[1:-1] + w[:-2], [w[-2] - 2 * w[-1]]])  # noqa: E731
    du[:] = 1 + u ** 2 * v - 4 * u + alpha * (n + 1) ** 2 * lap(u)
    dv[:] = 3 * u - u ** 2 * v + alpha * (n + 1) ** 2 * lap(v)
    return np.concatenate([du, dv])


ODES = [(robertson, [1.0, 1e-4, 1e-2]), (van_der_pol, [2.0, 0.0]), (brusselator, list(np.linspace(1, 2, 16)))]


@pytest.mark.parametrize("rhs, y", ODES, ids=[f.__name__ for f, _ in ODES])
def test_zeros_buffer_names_the_remedy_and_the_shape(rhs, y):
    y = np.array(y)
    for engine in (dualad.jacobian, tape.jacobian):
        with pytest.raises((ValueError, TypeError)) as info:
            engine(lambda v: rhs(0.0, v), y)
        err = info.value if isinstance(info.value, dualad.ConversionError) else info.value.__cause__
        assert isinstance(err, dualad.ConversionError)
        first = str(err).splitlines()[0]
        assert "= np.zeros_like(" in first and "shape (" in first and "test_residual_idioms.py:" in first


def _one_line_buffer(y):
    dy = np.zeros(2); dy[0] = y[0] ** 2; return dy  # noqa: E702  (the idiom on one line)


def _longer_buffer(y):
    out = np.empty(3)
    out[:2] = y ** 2
    return out


def _fromiter(y):
    return np.fromiter((v * 2 for v in y), float)


@pytest.mark.parametrize("f, expected", [
    (_one_line_buffer, "dy = np.zeros_like(y)`"),
    (_longer_buffer, "out = np.zeros_like(y, shape=(3,))`"),
    (_fromiter, "use np.stack(list(...)) instead of np.fromiter(...)"),
], ids=["statements sharing a line", "buffer of another shape", "np.fromiter"])
def test_buffer_hints_name_the_remedy_that_fits(f, expected):
    y = np.array([0.5, 1.5])
    for engine in (dualad.jacobian, tape.jacobian):
        with pytest.raises((ValueError, TypeError)) as info:
            engine(f, y)
        err = info.value if isinstance(info.value, dualad.ConversionError) else info.value.__cause__
        assert isinstance(err, dualad.ConversionError)
        first = str(err).splitlines()[0]
        assert expected in first and "test_residual_idioms.py:" in first


def robertson_fixed(t, y):
    dy = np.zeros_like(y)
    dy[0] = -0.04 * y[0] + 1e4 * y[1] * y[2]
    dy[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2
    dy[2] = 3e7 * y[1] ** 2
    return dy


def van_der_pol_fixed(t, y, mu=1000.0):
    dy = np.zeros_like(y)
    dy[0] = y[1]
    dy[1] = mu * ((1 - y[0] ** 2) * y[1] - y[0])
    return dy


def brusselator_fixed(t, y, n=8, alpha=0.02):
    u, v = y[:n], y[n:]
    du, dv = np.zeros_like(u), np.zeros_like(v)
    lap = lambda w: np.concatenate([[w[1] - 2 * w[0]], w[2:] - 2 * w[1:-1] + w[:-2], [w[-2] - 2 * w[-1]]])  # noqa: E731
    du[:] = 1 + u ** 2 * v - 4 * u + alpha * (n + 1) ** 2 * lap(u)
    dv[:] = 3 * u - u ** 2 * v + alpha * (n + 1) ** 2 * lap(v)
    return np.concatenate([du, dv])


def _zeros_like_version(rhs):
    return {robertson: robertson_fixed, van_der_pol: van_der_pol_fixed, brusselator: brusselator_fixed}[rhs]


@pytest.mark.parametrize("rhs, y", ODES, ids=[f.__name__ for f, _ in ODES])
def test_zeros_like_rhs_is_exact_in_every_engine(rhs, y):
    g, y = _zeros_like_version(rhs), np.array(y)
    J = dualad.jacobian(lambda v: g(0.0, v), y)
    np.testing.assert_allclose(J, central_jacobian(lambda v: rhs(0.0, v), y, rel_step=1e-7), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(tape.jacobian(lambda v: g(0.0, v), y), J, rtol=1e-12)
    jac = dualad.SparseJacobian(g, y, args=(0.0,), argnum=1)
    np.testing.assert_allclose(jac(0.3, y).toarray(), J, rtol=1e-12)
