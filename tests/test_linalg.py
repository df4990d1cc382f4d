"""Linear algebra on Duals: solve, inv, det, slogdet and norm (every supported ord), on single
and stacked matrices, against finite differences and hand-derived formulas."""
from __future__ import annotations

import numpy as np
import pytest

import dualad

from cases import central_jacobian

rng = np.random.default_rng(7)
A3 = rng.uniform(-0.5, 0.5, (3, 3)) + 2.0 * np.eye(3)
AS = rng.uniform(-0.5, 0.5, (2, 3, 3)) + 2.0 * np.eye(3)      # a stack of two matrices
B3 = rng.standard_normal(3)
B32 = rng.standard_normal((3, 2))
BS = rng.standard_normal((2, 3, 2))


def _check(f, x, rtol=1e-5, atol=1e-6):
    J = dualad.jacobian(f, x)
    np.testing.assert_allclose(J, central_jacobian(f, x), rtol=rtol, atol=atol)
    return J


def _pack(*arrays):
    shapes = [a.shape for a in arrays]
    sizes = np.cumsum([0] + [a.size for a in arrays])
    unpack = lambda z: [z[sizes[i]:sizes[i + 1]].reshape(s) for i, s in enumerate(shapes)]  # noqa: E731
    return np.concatenate([a.ravel() for a in arrays]), unpack


# ----------------------------------------------------------------------------- solve
@pytest.mark.parametrize("A, b", [(A3, B3), (A3, B32), (AS, BS), (AS, B3), (A3, BS), (AS, BS[..., :1])],
                         ids=["vec", "mat", "stacked", "stackedA-vec", "broadcastA", "stacked-col"])
def test_solve(A, b):
    z, unpack = _pack(A, b)
    _check(lambda z: np.linalg.solve(*unpack(z)), z)       # both variable
    _check(lambda a: np.linalg.solve(a, b), A)             # b constant
    _check(lambda v: np.linalg.solve(A, v), b)             # A constant


def test_solve_hand_formula():
    # x = A^-1 b: dx/db = A^-1, and dx/dA[i, j] = -A^-1[:, i] x[j]
    x = np.linalg.solve(A3, B3)
    inv = np.linalg.inv(A3)
    np.testing.assert_allclose(dualad.jacobian(lambda v: np.linalg.solve(A3, v), B3), inv, rtol=1e-12)
    JA = dualad.jacobian(lambda a: np.linalg.solve(a, B3), A3)
    np.testing.assert_allclose(JA, -np.einsum("ki,j->kij", inv, x), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- inv
@pytest.mark.parametrize("A", [A3, AS, np.array([[0.0, 2.0], [-1.0, 0.5]])], ids=["3x3", "stacked", "2x2"])
def test_inv(A):
    J = _check(np.linalg.inv, A)
    inv = np.linalg.inv(A)
    if A.ndim == 2:   # d inv[k, l] / d A[i, j] = -inv[k, i] inv[j, l]
        np.testing.assert_allclose(J, -np.einsum("ki,jl->klij", inv, inv), rtol=1e-12, atol=1e-14)


def test_inv_of_inv_is_identity_map():
    J = dualad.jacobian(lambda a: np.linalg.inv(np.linalg.inv(a)), A3)
    np.testing.assert_allclose(J.reshape(9, 9), np.eye(9), atol=1e-12)


# ----------------------------------------------------------------------------- det, slogdet
@pytest.mark.parametrize("A", [A3, AS, -A3, np.array([[1.0, 2.0], [3.0, 4.0]])], ids=["3x3", "stacked", "neg", "2x2"])
def test_det(A):
    J = _check(np.linalg.det, A)
    # Jacobi: d det / d A = det(A) A^-T
    want = np.linalg.det(A)[..., None, None] * np.swapaxes(np.linalg.inv(A), -1, -2)
    if A.ndim == 2:
        np.testing.assert_allclose(J, want, rtol=1e-12)
    else:
        for i in range(A.shape[0]):
            np.testing.assert_allclose(J[i, i], want[i], rtol=1e-12)
            np.testing.assert_array_equal(J[i, 1 - i], 0.0)


def test_det_2x2_by_hand():
    a, b, c, d = 1.5, -2.0, 0.5, 3.0
    g = dualad.gradient(np.linalg.det, np.array([[a, b], [c, d]]))
    np.testing.assert_allclose(g, [[d, -c], [-b, a]], rtol=1e-14)


@pytest.mark.parametrize("A", [A3, AS, -A3], ids=["3x3", "stacked", "negative-det"])
def test_slogdet(A):
    _check(lambda a: np.linalg.slogdet(a)[1], A)
    _check(lambda a: np.linalg.slogdet(a).logabsdet * np.linalg.slogdet(a).sign, A)
    sign, logabs = np.linalg.slogdet(dualad.Dual(A, np.ones_like(A)))
    assert not isinstance(sign, dualad.Dual)          # piecewise constant: returned plain
    np.testing.assert_array_equal(sign, np.linalg.slogdet(A)[0])
    assert isinstance(logabs, dualad.Dual)


def test_slogdet_gradient_is_inverse_transpose():
    g = dualad.gradient(lambda a: np.linalg.slogdet(a)[1], -A3)
    np.testing.assert_allclose(g, np.linalg.inv(-A3).T, rtol=1e-12)


def test_logdet_hessian_hand_formula():
    # d2 log|det A| [E_ij, E_kl] = -inv[j, k] inv[l, i]
    H = dualad.hessian(lambda a: np.linalg.slogdet(a)[1], A3)
    inv = np.linalg.inv(A3)
    np.testing.assert_allclose(H, -np.einsum("jk,li->ijkl", inv, inv), rtol=1e-11, atol=1e-13)


def test_second_derivatives_through_linalg():
    def f(a):
        return np.linalg.det(a) * np.sum(np.linalg.solve(a, B3)) + np.sum(np.linalg.inv(a) ** 2)

    H = dualad.hessian(f, A3)
    np.testing.assert_allclose(H, central_jacobian(lambda a: dualad.gradient(f, a), A3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H.reshape(9, 9), H.reshape(9, 9).T, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- norm
V = np.array([0.7, -1.3, 2.2, -0.4])
MAT = np.array([[0.7, -1.3, 2.2], [1.1, 0.5, -0.9], [-0.2, 1.6, 0.4]])


@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1, -2, 4.5])
def test_vector_norm_ords(ord):
    J = _check(lambda v: np.linalg.norm(v, ord), V)
    np.testing.assert_allclose(np.linalg.norm(dualad.Dual(V, np.ones(4)), ord).value, np.linalg.norm(V, ord))
    if ord in (None, 2):
        np.testing.assert_allclose(J, V / np.linalg.norm(V), rtol=1e-14)
    if ord == 1:
        np.testing.assert_array_equal(J, np.sign(V))
    if ord == 0:
        np.testing.assert_array_equal(J, 0.0)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
def test_matrix_norm_ords(ord):
    J = _check(lambda m: np.linalg.norm(m, ord), MAT)
    np.testing.assert_allclose(np.linalg.norm(dualad.Dual(MAT, np.ones((3, 3))), ord).value,
                               np.linalg.norm(MAT, ord))
    if ord == 1:   # max column sum: the derivative is the signs of the winning column
        col = np.argmax(np.abs(MAT).sum(axis=0))
        want = np.zeros_like(MAT)
        want[:, col] = np.sign(MAT[:, col])
        np.testing.assert_array_equal(J, want)


@pytest.mark.parametrize("ord", [None, 1, np.inf, 3])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norm_along_axis(ord, axis, keepdims):
    _check(lambda m: np.linalg.norm(m, ord, axis=axis, keepdims=keepdims), MAT)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [(1, 2), (2, 1), (0, 2), (-1, -2)])
def test_stacked_matrix_norms(ord, axis):
    x = np.stack([MAT, MAT[::-1] * 0.5 - 0.1])
    _check(lambda m: np.linalg.norm(m, ord, axis=axis), x)
    _check(lambda m: np.linalg.norm(m, ord, axis=axis, keepdims=True), x)


def test_norm_at_zero_is_zero_and_finite():
    with np.errstate(divide="ignore"):
        g = dualad.gradient(np.linalg.norm, np.zeros(3))
        np.testing.assert_array_equal(g, np.zeros(3))
        J = dualad.jacobian(lambda m: np.linalg.norm(m, axis=1), np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(J, [[[0, 0], [0, 0]], [[0, 0], [0.6, 0.8]]])


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
def test_singular_value_norms_hand_formula(ord):
    # d s_i / dA = u_i v_iᵀ: ord=2 the first pair, -2 the last, 'nuc' their sum U Vᵀ
    U, s, Vh = np.linalg.svd(MAT)
    want = {2: np.outer(U[:, 0], Vh[0]), -2: np.outer(U[:, -1], Vh[-1]), "nuc": U @ Vh}[ord]
    np.testing.assert_allclose(dualad.gradient(lambda m: np.linalg.norm(m, ord), MAT), want, atol=1e-12)
    np.testing.assert_allclose(dualad.tape.grad(lambda m: np.linalg.norm(m, ord), MAT), want, atol=1e-12)


def test_norm_hessian_hand_formula():
    # H of |v| is (I - u u^T) / |v| with u = v / |v|
    n = np.linalg.norm(V)
    u = V / n
    np.testing.assert_allclose(dualad.hessian(np.linalg.norm, V), (np.eye(4) - np.outer(u, u)) / n, rtol=1e-13)
