"""Rules that used to give wrong numbers (issue 12, section 2), checked against JAX and closed forms."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualad
from dualad import tape

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

_rng = np.random.default_rng(12)


@pytest.mark.parametrize("bshape", [(3, 3, 1), (2, 3, 4), (5, 3, 2), (2, 1, 3, 2)])
def test_vector_times_stacked_matrix(bshape):
    """x @ W with 1-D x and stacked W: batch axes first, then W's columns, then x's entries."""
    x, W = _rng.standard_normal(3), _rng.standard_normal(bshape)
    want = jax.jacfwd(lambda x: x @ W)(x)
    for engine in (dualad.jacobian, tape.jacobian):
        J = engine(lambda x: x @ W, x)
        assert J.shape == want.shape
        np.testing.assert_allclose(J, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dualad.jacobian(lambda x: np.matmul(x, np.ones(bshape)), x),
                               jax.jacfwd(lambda x: jnp.matmul(x, jnp.ones(bshape)))(x), atol=1e-12)


@pytest.mark.parametrize("ashape, bshape", [((3,), (4, 3, 2)), ((2, 3), (4, 3, 5)), ((4, 2, 3), (3,)), ((4, 2, 3), (3, 2))])
def test_matmul_both_variable_stacked(ashape, bshape):
    na = int(np.prod(ashape))
    z = _rng.standard_normal(na + int(np.prod(bshape)))
    f = lambda z: z[:na].reshape(ashape) @ z[na:].reshape(bshape)  # noqa: E731
    want = jax.jacfwd(f)(z)
    np.testing.assert_allclose(dualad.jacobian(f, z), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tape.jacobian(f, z), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"axisa": 0}, {"axisb": 0}, {"axisc": 0}, {"axis": 0},
                                {"axisa": 0, "axisb": 1, "axisc": 1}])
def test_cross_axes_against_jax(kw):
    a, b = _rng.standard_normal((3, 3)), _rng.standard_normal((3, 3))
    z = np.concatenate([a.ravel(), b.ravel()])
    f = lambda z, m=np: m.cross(z[:9].reshape(3, 3), z[9:].reshape(3, 3), **kw)  # noqa: E731
    want = jax.jacfwd(lambda z: f(z, jnp))(z)
    np.testing.assert_array_equal(f(dualad.Dual(z, np.zeros_like(z))).value, f(z))
    np.testing.assert_allclose(dualad.jacobian(f, z), want, atol=1e-12)
    np.testing.assert_allclose(tape.jacobian(f, z), want, atol=1e-12)


@pytest.mark.parametrize("na, nb", [(2, 3), (3, 2), (2, 2)])
def test_cross_with_2_vectors(na, nb):
    z = _rng.standard_normal(2 * na + 2 * nb)
    f = lambda z: np.cross(z[:2 * na].reshape(2, na), z[2 * na:].reshape(2, nb))  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy deprecates 2-vectors but computes them
        J = dualad.jacobian(f, z)
        from cases import central_jacobian
        np.testing.assert_allclose(J, central_jacobian(f, z), atol=1e-8)
        np.testing.assert_allclose(tape.jacobian(f, z), J, atol=1e-12)


def test_take_along_axis_broadcasting_indices():
    arr = _rng.standard_normal((1, 4))
    idx = np.array([[0, 3], [1, 2], [2, 2]])
    f = lambda a, m=np: m.take_along_axis(a, idx, axis=1)  # noqa: E731
    assert f(dualad.Dual(arr, np.zeros_like(arr))).shape == f(arr).shape == (3, 2)
    want = jax.jacfwd(lambda a: f(a, jnp))(arr)
    np.testing.assert_allclose(dualad.jacobian(f, arr), want)
    np.testing.assert_allclose(tape.jacobian(f, arr), want)


@pytest.mark.parametrize("x", [1e-12, 1e-8, -3e-5, 1e-3, 0.05, 0.3, -0.31, 0.9, 2.5, 0.0])
def test_sinc_derivative_near_zero(x):
    """d/dx sinc(x) = (cos(pi x) - sinc(x)) / x; near 0 it is -pi**2 x / 3 (series), never lost to cancellation."""
    y = np.pi * x
    if abs(y) < 1e-2:
        want = -(np.pi ** 2) * x / 3 * (1 - y * y / 10 + y ** 4 / 280)
        want2 = np.pi ** 2 * (-1 / 3 + y * y / 10 - y ** 4 / 168)
    else:
        want = (np.cos(y) - np.sinc(x)) / x
        want2 = None
    assert dualad.derivative(np.sinc, x) == pytest.approx(want, rel=1e-13, abs=1e-300)
    assert tape.grad(lambda v: np.sinc(v).sum(), np.array([x]))[0] == pytest.approx(want, rel=1e-13, abs=1e-300)
    assert dualad.Dual(np.array([x]), np.ones(1)).__array_function__ and \
        np.sinc(dualad.Dual(np.array([x]), np.ones(1))).value[0] == np.sinc(x)  # the value is numpy's own
    if want2 is not None:
        assert dualad.hessian(lambda v: np.sinc(v[0]), np.array([x]))[0, 0] == pytest.approx(want2, rel=1e-12)
    if abs(x) >= 0.05:  # JAX's own sinc loses digits nearer 0 (it gives 0 at 1e-12)
        assert float(jax.grad(jnp.sinc)(x)) == pytest.approx(want, rel=1e-9)
