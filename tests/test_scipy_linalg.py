"""dualad.scipy.linalg: values equal scipy.linalg's, derivatives equal central differences of
scipy's own function, forward = reverse; second order and JAX where it matters."""
from __future__ import annotations

import numpy as np
import pytest

sl = pytest.importorskip("scipy.linalg")

import dualad  # noqa: E402
from dualad import tape  # noqa: E402
from dualad.scipy import linalg  # noqa: E402

from cases import central_jacobian  # noqa: E402
from scipy_checks import check_mirror  # noqa: E402

rng = np.random.default_rng(7)
N = 3
A = rng.standard_normal((N, N)) * 0.5
SPD = A @ A.T + N * np.eye(N)
SYM = A + A.T
B = rng.standard_normal((N, 2))
b = rng.standard_normal(N)
UPPER = np.triu(A) + 2.0 * np.eye(N)


def _mat(x):
    return x.reshape(N, N)


# ----------------------------------------------------------------------------- matrix functions
@pytest.mark.parametrize("name, point", [("expm", A), ("logm", SPD[:2, :2]), ("sqrtm", SPD)])
def test_matrix_functions(name, point):  # logm on 2 x 2: scipy's logm is slow
    ours, theirs = getattr(linalg, name), getattr(sl, name)
    n = point.shape[0]
    check_mirror(lambda x: ours(x.reshape(n, n)), lambda x: np.real(theirs(x.reshape(n, n))), point.ravel(),
                 rtol=1e-5, value_rtol=1e-9, second=name == "expm")


def test_expm_stacked_and_against_scipy_expm_frechet():
    E = rng.standard_normal((N, N))
    _, want = sl.expm_frechet(A, E)
    y, t = dualad.jvp(linalg.expm, A, E)
    np.testing.assert_allclose(t, want, rtol=1e-12, atol=1e-13)
    stack = np.stack([A, 0.5 * A.T])
    check_mirror(lambda x: linalg.expm(x.reshape(2, N, N)), lambda x: sl.expm(x.reshape(2, N, N)), stack.ravel())
    # <v, J^T u> = <J v, u> through the hand vjp (L(A^T, .))
    u = rng.standard_normal((N, N))
    _, vjp = tape.vjp(linalg.expm, A, u)
    np.testing.assert_allclose(np.sum(vjp * E), np.sum(u * want), rtol=1e-12)


def test_expm_frechet_in_both_arguments():
    E = rng.standard_normal((N, N))
    check_mirror(lambda x: np.stack(linalg.expm_frechet(_mat(x), E)), lambda x: np.stack(sl.expm_frechet(_mat(x), E)),
                 A.ravel(), rtol=1e-5)
    check_mirror(lambda x: linalg.expm_frechet(A, _mat(x), compute_expm=False),
                 lambda x: sl.expm_frechet(A, _mat(x), compute_expm=False), E.ravel())


def test_sylvester_and_lyapunov():
    Bm = rng.standard_normal((N, N)) + 3 * np.eye(N)
    Q = rng.standard_normal((N, N))
    Am = A + 3 * np.eye(N)
    for which in range(3):
        def call(f, x, which=which):
            args = [Am, Bm, Q]
            args[which] = _mat(x)
            return f(*args)
        check_mirror(lambda x: call(linalg.solve_sylvester, x), lambda x: call(sl.solve_sylvester, x),
                     [Am, Bm, Q][which].ravel(), value_rtol=1e-10, second=which == 0)
    check_mirror(lambda x: linalg.solve_continuous_lyapunov(_mat(x), Q),
                 lambda x: sl.solve_continuous_lyapunov(_mat(x), Q), Am.ravel(), value_rtol=1e-10)


def test_funm_symmetric_and_refusal():
    check_mirror(lambda x: linalg.funm(_mat(x), np.exp), lambda x: sl.funm(_mat(x), np.exp), SYM.ravel(),
                 value_rtol=1e-9, rtol=1e-5)
    with pytest.raises(dualad.UnsupportedFunctionError, match="non-symmetric"):
        dualad.jacobian(lambda x: linalg.funm(_mat(x), np.exp), A.ravel())


# ----------------------------------------------------------------------------- solves and factorisations
@pytest.mark.parametrize("kw", [{}, {"lower": True}, {"trans": 1}, {"trans": "T", "lower": True},
                                {"unit_diagonal": True}])
def test_solve_triangular(kw):
    T = UPPER.T if kw.get("lower") else UPPER
    check_mirror(lambda x: linalg.solve_triangular(_mat(x), B, **kw), lambda x: sl.solve_triangular(_mat(x), B, **kw),
                 T.ravel(), value_rtol=1e-10)
    check_mirror(lambda y: linalg.solve_triangular(T, y, **kw), lambda y: sl.solve_triangular(T, y, **kw), b,
                 value_rtol=1e-10)


@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_cho_factor_cho_solve(lower):
    check_mirror(lambda x: linalg.cholesky(_mat(x), lower=lower), lambda x: sl.cholesky(_mat(x), lower=lower),
                 SPD.ravel(), value_rtol=1e-10)
    check_mirror(lambda x: linalg.cho_factor(_mat(x), lower=lower)[0],
                 lambda x: sl.cho_factor(_mat(x), lower=lower)[0], SPD.ravel(), value_rtol=1e-10)
    check_mirror(lambda x: linalg.cho_solve(linalg.cho_factor(_mat(x), lower=lower), B),
                 lambda x: sl.cho_solve(sl.cho_factor(_mat(x), lower=lower), B), SPD.ravel(), value_rtol=1e-10)
    c = sl.cho_factor(SPD, lower=lower)
    check_mirror(lambda y: linalg.cho_solve(c, y), lambda y: sl.cho_solve(c, y), b, value_rtol=1e-10)


def test_lu_factor_lu_solve_lu():
    M = A + np.array([[0.0, 0.0, 3.0], [0.0, 2.0, 0.0], [1.5, 0.0, 0.0]])  # pivoting happens
    assert list(sl.lu_factor(M)[1]) != [0, 1, 2]
    check_mirror(lambda x: linalg.lu_factor(_mat(x))[0], lambda x: sl.lu_factor(_mat(x))[0], M.ravel(),
                 value_rtol=1e-12, second=True)
    assert np.array_equal(linalg.lu_factor(M)[1], sl.lu_factor(M)[1])
    for trans in (0, 1):
        check_mirror(lambda x: linalg.lu_solve(linalg.lu_factor(_mat(x)), B, trans=trans),
                     lambda x: sl.lu_solve(sl.lu_factor(_mat(x)), B, trans=trans), M.ravel(), value_rtol=1e-10)
        f = sl.lu_factor(M)
        check_mirror(lambda y: linalg.lu_solve(f, y, trans=trans), lambda y: sl.lu_solve(f, y, trans=trans), b,
                     value_rtol=1e-10)
    for kw in ({}, {"permute_l": True}):
        check_mirror(lambda x: np.stack(linalg.lu(_mat(x), **kw)), lambda x: np.stack(sl.lu(_mat(x), **kw)),
                     M.ravel(), value_rtol=1e-12)
    with pytest.raises(dualad.UnsupportedFunctionError, match="non-square"):
        dualad.jacobian(lambda x: linalg.lu_factor(x.reshape(2, 3)), np.arange(6.0))


@pytest.mark.parametrize("assume_a, lower", [(None, False), ("sym", False), ("sym", True), ("pos", False),
                                             ("diagonal", False), ("tridiagonal", False),
                                             ("upper triangular", False), ("lower triangular", False)])
def test_solve_assume_a(assume_a, lower):
    M = SPD + 0.3 * np.triu(A, 1)  # not symmetric: which triangle is read matters
    check_mirror(lambda x: linalg.solve(_mat(x), B, assume_a=assume_a, lower=lower),
                 lambda x: sl.solve(_mat(x), B, assume_a=assume_a, lower=lower), M.ravel(), value_rtol=1e-10)
    check_mirror(lambda y: linalg.solve(M, y, assume_a=assume_a, lower=lower, transposed=True),
                 lambda y: sl.solve(M, y, assume_a=assume_a, lower=lower, transposed=True), b, value_rtol=1e-10)


def test_det_inv_norm_pinv_lstsq():
    check_mirror(lambda x: linalg.det(_mat(x)), lambda x: sl.det(_mat(x)), A.ravel(), value_rtol=1e-12)
    check_mirror(lambda x: linalg.inv(_mat(x)), lambda x: sl.inv(_mat(x)), SPD.ravel(), value_rtol=1e-12)
    for kw in ({}, {"ord": 1}, {"ord": 2}, {"ord": "fro"}, {"axis": 0}):
        check_mirror(lambda x: linalg.norm(_mat(x), **kw), lambda x: sl.norm(_mat(x), **kw), A.ravel())
    tall = rng.standard_normal((4, 2))
    check_mirror(lambda x: linalg.pinv(x.reshape(4, 2)), lambda x: sl.pinv(x.reshape(4, 2)), tall.ravel(),
                 value_rtol=1e-10)
    assert linalg.pinv(tall, return_rank=True)[1] == 2
    y = rng.standard_normal(4)
    for k in (0, 1):
        check_mirror(lambda x: linalg.lstsq(x.reshape(4, 2), y)[k], lambda x: sl.lstsq(x.reshape(4, 2), y)[k],
                     tall.ravel(), value_rtol=1e-10)
    check_mirror(lambda z: linalg.lstsq(tall, z)[0], lambda z: sl.lstsq(tall, z)[0], y, value_rtol=1e-10)


@pytest.mark.parametrize("kw", [{}, {"lower": False}, {"eigvals_only": True}, {"subset_by_index": (1, 2)},
                                {"b": "spd"}, {"b": "spd", "eigvals_only": True}])
def test_eigh(kw):
    kw = dict(kw)
    if kw.get("b") == "spd":
        kw["b"] = SPD
    if kw.get("eigvals_only"):
        check_mirror(lambda x: linalg.eigh(_mat(x), **kw), lambda x: sl.eigh(_mat(x), **kw), SYM.ravel(),
                     value_rtol=1e-10)
        return
    check_mirror(lambda x: linalg.eigh(_mat(x), **kw)[0], lambda x: sl.eigh(_mat(x), **kw)[0], SYM.ravel(),
                 value_rtol=1e-9, rtol=1e-5)
    V0 = sl.eigh(SYM, **kw)[1]

    def theirs(x):  # scipy's sign choice may flip under the difference step: hold it to the one at SYM
        V = sl.eigh(_mat(x), **kw)[1]
        return V * np.where(np.sum(V * V0, axis=0) < 0, -1.0, 1.0)
    check_mirror(lambda x: linalg.eigh(_mat(x), **kw)[1], theirs, SYM.ravel(), value_rtol=1e-9, rtol=1e-5)


def test_svd_qr_schur_polar():
    W = rng.standard_normal((4, 3))
    for k in range(3):
        check_mirror(lambda x: linalg.svd(x.reshape(4, 3), full_matrices=False)[k],
                     lambda x: sl.svd(x.reshape(4, 3), full_matrices=False)[k], W.ravel(), value_rtol=1e-10)
    check_mirror(lambda x: linalg.svdvals(x.reshape(4, 3)), lambda x: sl.svdvals(x.reshape(4, 3)), W.ravel())
    for mode in ("full", "economic"):
        for k in range(2):
            check_mirror(lambda x: linalg.qr(x.reshape(4, 3), mode=mode)[k],
                         lambda x: sl.qr(x.reshape(4, 3), mode=mode)[k], W.ravel(), value_rtol=1e-10)
    check_mirror(lambda x: linalg.qr(x.reshape(4, 3), mode="r")[0], lambda x: sl.qr(x.reshape(4, 3), mode="r")[0],
                 W.ravel(), value_rtol=1e-10)
    check_mirror(lambda x: linalg.qr(x.reshape(4, 3), pivoting=True)[1],
                 lambda x: sl.qr(x.reshape(4, 3), pivoting=True)[1], W.ravel(), value_rtol=1e-10)
    X0 = np.triu(SYM) - 0.5 * np.diag(np.diag(SYM))  # SYM = X0 + X0.T: symmetric by construction
    Z0 = sl.schur(SYM)[1]

    def sym(x):
        return _mat(x) + _mat(x).T

    def schur_z(x):  # scipy's sign choice may flip under the difference step: hold it to the one at SYM
        Z = sl.schur(sym(x))[1]
        return Z * np.where(np.sum(Z * Z0, axis=0) < 0, -1.0, 1.0)
    check_mirror(lambda x: linalg.schur(sym(x))[0], lambda x: sl.schur(sym(x))[0], X0.ravel(), value_rtol=1e-9,
                 atol=1e-6)
    check_mirror(lambda x: linalg.schur(sym(x))[1], schur_z, X0.ravel(), value_rtol=1e-9, rtol=1e-5)
    with pytest.raises(dualad.UnsupportedFunctionError, match="leaves the symmetric"):
        dualad.jacobian(lambda x: linalg.schur(_mat(x))[0], SYM.ravel())
    for k in range(2):
        for side in ("right", "left"):
            check_mirror(lambda x: linalg.polar(_mat(x), side=side)[k], lambda x: sl.polar(_mat(x), side=side)[k],
                         A.ravel(), value_rtol=1e-9, rtol=1e-5)
    with pytest.raises(dualad.UnsupportedFunctionError, match="non-symmetric"):
        dualad.jacobian(lambda x: linalg.schur(_mat(x))[0], A.ravel())


def test_special_matrices_and_block_diag():
    c, r = np.array([1.0, 2.0, 3.0]), np.array([9.0, 4.0])
    check_mirror(lambda x: linalg.toeplitz(x[:3], x[3:]), lambda x: sl.toeplitz(x[:3], x[3:]), np.r_[c, r])
    check_mirror(lambda x: linalg.toeplitz(x), lambda x: sl.toeplitz(x), c)
    check_mirror(lambda x: linalg.hankel(x[:3], x[3:]), lambda x: sl.hankel(x[:3], x[3:]), np.r_[c, r])
    check_mirror(lambda x: linalg.hankel(x), lambda x: sl.hankel(x), c)
    check_mirror(lambda x: linalg.circulant(x), lambda x: sl.circulant(x), c)
    check_mirror(lambda x: linalg.block_diag(x[:4].reshape(2, 2), 2.0 * np.eye(1), x[4:]),
                 lambda x: sl.block_diag(x[:4].reshape(2, 2), 2.0 * np.eye(1), x[4:]), np.arange(1.0, 8.0))


def test_sparsity_is_a_superset():
    for f, x in [(lambda x: linalg.expm(_mat(x)), A.ravel()),
                 (lambda x: linalg.solve_triangular(_mat(x), b), UPPER.ravel()),
                 (lambda x: linalg.lu_factor(_mat(x))[0], (A + 3 * np.eye(N)).ravel()),
                 (lambda x: linalg.toeplitz(x), b)]:
        J = dualad.jacobian(f, x).reshape(-1, x.size)
        S = dualad.jacobian_sparsity(f, x).toarray()
        assert not np.any((J != 0) & ~S)


def test_hessian_of_expm_trace_forward_over_reverse():
    f = lambda x: np.trace(linalg.expm(_mat(x)))  # noqa: E731
    H = dualad.hessian(f, A.ravel())
    np.testing.assert_allclose(dualad.jacobian(lambda x: tape.grad(f, x), A.ravel()), H, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(H, central_jacobian(lambda x: dualad.gradient(f, x), A.ravel()), rtol=1e-5, atol=1e-6)


def test_against_jax():  # expm is checked against scipy's expm_frechet (Al-Mohy & Higham) above
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jsl = pytest.importorskip("jax.scipy.linalg")
    for ours, theirs, point in [
            (lambda x: np.sum(linalg.solve_triangular(_mat(x), B, lower=True) ** 2),
             lambda x: jax.numpy.sum(jsl.solve_triangular(x.reshape(N, N), B, lower=True) ** 2), UPPER.T),
            # JAX symmetrises the Cholesky derivative, scipy's numbers read one triangle: agree on symmetric input
            (lambda x: np.sum(linalg.cho_solve(linalg.cho_factor(_mat(x) + _mat(x).T), B)),
             lambda x: jax.numpy.sum(jsl.cho_solve(jsl.cho_factor(x.reshape(N, N) + x.reshape(N, N).T), B)), SPD / 2),
            (lambda x: np.sum(linalg.lu_solve(linalg.lu_factor(_mat(x)), B) ** 2),
             lambda x: jax.numpy.sum(jsl.lu_solve(jsl.lu_factor(x.reshape(N, N)), B) ** 2), A + 3 * np.eye(N))]:
        want = jax.jit(jax.grad(theirs))(point.ravel())
        np.testing.assert_allclose(tape.grad(ours, point.ravel()), want, rtol=1e-9, atol=1e-12)
