"""Outputs whose value depends on a convention of LAPACK's (a "gauge"): signs of eigen- and singular
vectors, the complement columns of a complete QR / full SVD of a non-square matrix.

dualad must either reproduce the derivative of numpy's OWN output (checked against central
differences of numpy on plain floats, and JAX where JAX has the same gauge) or refuse with a
remedy. Functions of raw vectors (no sign fixing) are used on purpose: a sign that is locally
constant gives a derivative; a basis that is LAPACK's arbitrary choice must not.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import DegeneracyError, DualadError, UnsupportedFunctionError

from cases import central_jacobian

ENGINES = [pytest.param(dualad.gradient, id="forward"), pytest.param(tape.grad, id="reverse")]
RNG = np.random.default_rng(20261127)
WEIGHTS = RNG.standard_normal((7, 7))


def _weighted(y):
    """A generic scalar function of every entry (no sign or basis invariance)."""
    return np.sum(np.sin(y) * WEIGHTS[: y.shape[-2], : y.shape[-1]]) + np.sum(y ** 3)


def _check(engine, f, a, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(engine(f, a), central_jacobian(f, a), rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- complete QR
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shape", [(4, 3), (5, 2), (6, 5), (7, 1), (3, 3), (3, 5), (2, 5, 3)])
def test_complete_qr_is_the_derivative_of_numpys_own_q(engine, shape):
    a = RNG.standard_normal(shape)
    _check(engine, lambda x: _weighted(np.linalg.qr(x, mode="complete")[0]), a)
    _check(engine, lambda x: _weighted(np.linalg.qr(x, mode="complete")[1]), a)


def test_complete_qr_second_order_and_forward_equals_reverse():
    a = RNG.standard_normal(8)
    f = lambda v: np.sum(np.linalg.qr(v.reshape(4, 2), mode="complete")[0] ** 3)  # noqa: E731
    H = dualad.hessian(f, a)
    H_fd = np.array([central_jacobian(lambda v: tape.grad(f, v)[i], a) for i in range(a.size)])
    np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-6)
    J = lambda x: np.linalg.qr(x, mode="complete")[0]  # noqa: E731
    np.testing.assert_allclose(dualad.jacobian(J, a.reshape(4, 2)), tape.jacobian(J, a.reshape(4, 2)), atol=1e-12)


def test_complete_qr_agrees_with_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    a = RNG.standard_normal((5, 3))
    want = jax.grad(lambda x: jnp.sum(jnp.linalg.qr(x, mode="complete")[0] ** 3))(a)
    got = tape.grad(lambda x: np.sum(np.linalg.qr(x, mode="complete")[0] ** 3), a)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("a", [np.eye(4, 3), np.triu(np.ones((5, 2))) + np.eye(5, 2)], ids=["eye", "triangular"])
def test_complete_qr_where_lapack_skips_a_reflection_raises(engine, a):
    # numpy's complete Q jumps at such inputs (a reflection is skipped exactly there): no derivative
    with pytest.raises(DegeneracyError, match="Householder.*remedy: use mode='reduced'"):
        engine(lambda x: np.sum(np.linalg.qr(x, mode="complete")[0]), a)


# ----------------------------------------------------------------------------- full SVD of a non-square matrix
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 2)])
def test_full_svd_with_a_one_column_complement_is_exact(engine, shape):
    a = RNG.standard_normal(shape)  # the complement is a unit vector, fixed up to a locally constant sign
    _check(engine, lambda x: _weighted(np.linalg.svd(x)[0]), a)
    _check(engine, lambda x: _weighted(np.linalg.svd(x)[2]), a)


WIDE_COMPLEMENT = [(5, 3), (3, 5), (6, 2), (2, 5, 3)]


@pytest.mark.parametrize("shape", WIDE_COMPLEMENT)
@pytest.mark.parametrize("which", [0, 1, 2])
def test_full_svd_with_a_wider_complement_is_refused_in_forward_mode(shape, which):
    a = RNG.standard_normal(shape)
    with pytest.raises(UnsupportedFunctionError, match="full_matrices=False"):
        dualad.gradient(lambda x: np.sum(np.linalg.svd(x)[which]), a)
    # the same call with a constant (zero tangent) input is fine, and so is full_matrices=False
    dualad.gradient(lambda x: np.sum(np.linalg.svd(a)[which]) + np.sum(x), a)
    _check(dualad.gradient, lambda x: np.sum(np.linalg.svd(x, full_matrices=False)[1]), a)


@pytest.mark.parametrize("shape", WIDE_COMPLEMENT)
def test_full_svd_reverse_mode_refuses_a_basis_dependent_use_of_the_complement(shape):
    a = RNG.standard_normal(shape)
    with pytest.raises(UnsupportedFunctionError, match="basis itself.*remedy"):
        tape.grad(lambda x: _weighted(np.linalg.svd(x)[0]) + _weighted(np.linalg.svd(x)[2]), a)


def _complement_projectors(x):
    U, s, Vh = np.linalg.svd(x)
    r = min(x.shape[-2:])
    PU = U[..., :, r:] @ np.swapaxes(U[..., :, r:], -1, -2)
    PV = np.swapaxes(Vh[..., r:, :], -1, -2) @ Vh[..., r:, :]
    return np.sum(np.sin(PU)) + np.sum(np.cos(PV)) + np.sum(s ** 2) + np.sum(U[..., :, :r] * U[..., :1, :r])


@pytest.mark.parametrize("shape", WIDE_COMPLEMENT)
def test_full_svd_reverse_mode_differentiates_functions_of_the_complement_span(shape):
    a = RNG.standard_normal(shape)
    _check(tape.grad, _complement_projectors, a)


# ----------------------------------------------------------------------------- vector signs
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name,f,kind", [
    ("eigh", lambda x: np.linalg.eigh(x)[1], "symmetric"),
    ("eigh-U", lambda x: np.linalg.eigh(x, UPLO="U")[1], "general"),
    ("svd-U", lambda x: np.linalg.svd(x)[0], "general"),
    ("svd-Vh", lambda x: np.linalg.svd(x)[2], "general"),
    ("svd-hermitian-U", lambda x: np.linalg.svd(x, hermitian=True)[0], "symmetric"),
    ("svd-hermitian-Vh", lambda x: np.linalg.svd(x, hermitian=True)[2], "symmetric"),
    ("qr-Q", lambda x: np.linalg.qr(x)[0], "general"),
])
def test_raw_vectors_follow_numpys_sign_choice(engine, name, f, kind):
    a = RNG.standard_normal((4, 4))
    if kind == "symmetric":
        a = a + a.T   # indefinite: hermitian SVD moves the eigenvalues' signs into Vh
    _check(engine, lambda x: _weighted(f(x)), a)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("hermitian", [False, True])
def test_singular_vectors_at_a_zero_singular_value_raise(engine, hermitian):
    # the (u, v) pair flips sign where a singular value touches 0: numpy's vectors jump there
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))
    a = Q @ np.diag([2.0, -1.0, 0.0]) @ Q.T
    with pytest.raises(DegeneracyError, match="zero.*remedy"):
        engine(lambda x: np.sum(np.linalg.svd(x, hermitian=hermitian)[2] * WEIGHTS[:3, :3]), a)
    assert issubclass(DegeneracyError, DualadError)
    g = dualad.gradient(lambda x: np.sum(np.linalg.svdvals(x)[:2]), a)  # the nonzero values are fine
    np.testing.assert_allclose(g, central_jacobian(lambda x: np.sum(np.linalg.svdvals(x)[:2]), a), atol=1e-7)
