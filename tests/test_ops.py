"""The rule families of ``dualad.ops`` (issue 14): behaviour at degenerate points, ties and kinks,
and a sample checked against JAX.

The table-driven checks (finite differences, one and many directions, second order, float32,
forward = reverse, <v, Jᵀu> = <Jv, u>, sparsity pattern ⊇ nonzeros) run for these entries in
``test_rules.py``, ``test_tape.py`` and ``test_sparse_rules.py`` through ``cases.py``; this file
adds what those loops do not cover.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import DualadError, rules, tape
from dualad.errors import DegeneracyError

from cases import central_jacobian


def _defined_in_ops(rule) -> bool:
    parts = []
    for name in ("impl", "jvp"):
        parts.append(getattr(rule, name, None))
    for name in ("tangent",):
        maps = getattr(rule, name, None)
        if isinstance(maps, dict):
            parts.extend(maps.values())
    return any(getattr(p, "__module__", "").startswith("dualad.ops") for p in parts if p is not None)


OPS_KEYS = [k for k, r in rules.TABLE.items() if _defined_in_ops(r)]


def test_ops_registered_their_entries():
    assert np.linalg.eigh in OPS_KEYS and np.linalg.svd in OPS_KEYS and np.linalg.cholesky in OPS_KEYS


# ----------------------------------------------------------------------------- degenerate spectra
def _repeated(eigenvalues, seed=3):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues),) * 2))
    return q @ np.diag(eigenvalues) @ q.T


A_REPEATED = _repeated([1.0, 2.0, 2.0, 4.0])


@pytest.mark.parametrize("engine", [dualad.gradient, tape.grad], ids=["forward", "reverse"])
@pytest.mark.parametrize("f", [lambda a: np.sum(np.linalg.eigvalsh(a)[1:3]),
                               lambda a: np.sum(np.linalg.eigvalsh(a) ** 2),
                               lambda a: np.sum(np.linalg.eigvalsh(a)[1:3] ** 3)], ids=["sum", "squares", "cubes"])
def test_eigenvalue_cluster_functions_are_exact_at_repeated_eigenvalues(engine, f):
    """Symmetric functions of a repeated cluster are smooth: diag(Vᵀ dA V) gives their derivative."""
    np.testing.assert_allclose(engine(f, A_REPEATED), central_jacobian(f, A_REPEATED), rtol=1e-6, atol=1e-7)


def test_eigh_eigenvalues_at_repeated_eigenvalues():
    """Reverse mode sees that only the eigenvalues are used; forward mode computes the vectors' tangents
    too, so it refuses and names eigvalsh."""
    f = lambda a: np.sum(np.linalg.eigh(a)[0][1:3] ** 3)  # noqa: E731
    np.testing.assert_allclose(tape.grad(f, A_REPEATED), central_jacobian(f, A_REPEATED), rtol=1e-6, atol=1e-7)
    with pytest.raises(DegeneracyError, match="eigvalsh"):
        dualad.gradient(f, A_REPEATED)


def test_eigvalsh_gradient_at_repeated_eigenvalue_is_the_cluster_projector():
    # d(λ₂ + λ₃)/dA = P = V_c V_cᵀ for the cluster's eigenspace, read from the lower triangle
    w, V = np.linalg.eigh(A_REPEATED)
    P = V[:, 1:3] @ V[:, 1:3].T
    want = np.tril(P) + np.tril(P, -1)  # the strict lower entries carry both symmetric halves
    got = dualad.gradient(lambda a: np.sum(np.linalg.eigvalsh(a)[1:3]), A_REPEATED)
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
@pytest.mark.parametrize("f", [
    lambda a: np.linalg.eigh(a)[1],
    lambda a: np.linalg.eigh(a).eigenvectors[:, 0],
    lambda a: np.linalg.svd(a)[0],
    lambda a: np.linalg.svd(a, full_matrices=False)[2][1],
], ids=["eigh-V", "eigh-V-column", "svd-U", "svd-Vh-row"])
def test_vector_derivatives_at_repeated_values_raise(engine, f):
    with pytest.raises(DegeneracyError, match="repeated.*remedy"):
        engine(f, A_REPEATED)
    assert issubclass(DegeneracyError, DualadError) and issubclass(DegeneracyError, ValueError)


@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_singular_vectors_of_identity_raise_but_singular_values_do_not(engine):
    eye = np.eye(3)
    with pytest.raises(DegeneracyError):
        engine(lambda a: np.linalg.svd(a)[2], eye)
    J = engine(np.linalg.svdvals, eye)   # diag(Uᵀ dA V) with U = V = I: ds_i = dA_ii
    np.testing.assert_allclose(J, np.einsum("ij,ik->ijk", np.eye(3), np.eye(3)), atol=1e-15)
    # the nuclear norm of I is smooth there: its gradient is I
    np.testing.assert_allclose(dualad.gradient(lambda a: np.linalg.norm(a, "nuc"), eye), eye, atol=1e-15)


def test_reverse_eigh_values_only_is_fine_at_repeated_eigenvalues():
    g = tape.grad(lambda a: np.sum(np.linalg.eigh(a)[0]), A_REPEATED)
    np.testing.assert_allclose(g, np.tril(np.ones((4, 4))) * 0 + np.eye(4), atol=1e-12)  # d trace = I


def test_rank_deficient_factorisations_raise():
    low_rank = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])
    with pytest.raises(DegeneracyError, match="remedy"):
        dualad.jacobian(lambda a: np.linalg.qr(a)[1], low_rank)
    with pytest.raises(DegeneracyError, match="remedy"):
        tape.jacobian(lambda a: np.linalg.svd(a[:, :2], full_matrices=False)[0], np.outer([1.0, 2.0, 3.0], [1.0, 2.0]))


def test_singular_value_at_zero_has_zero_derivative():
    # like abs at 0: s = |a| for a 1 x 1 matrix
    assert dualad.jacobian(np.linalg.svdvals, np.zeros((1, 1))).ravel().tolist() == [0.0]
    assert tape.jacobian(np.linalg.svdvals, np.zeros((1, 1))).ravel().tolist() == [0.0]


def test_cholesky_reads_only_the_lower_triangle_like_numpy():
    A = np.array([[4.0, 1.0], [1.0, 3.0]])
    J = dualad.jacobian(np.linalg.cholesky, A)
    assert not J[..., 0, 1].any()           # numpy never reads A[0, 1]
    np.testing.assert_allclose(J, central_jacobian(np.linalg.cholesky, A), rtol=1e-7, atol=1e-9)
    # a symmetric A = f(x) gets the usual symmetric derivative
    f = lambda x: np.linalg.cholesky(np.outer(x, x) + np.eye(2))  # noqa: E731
    np.testing.assert_allclose(dualad.jacobian(f, np.array([0.3, -0.7])),
                               central_jacobian(f, np.array([0.3, -0.7])), rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------------------- statistics conventions
@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_order_statistics_share_ties_equally(engine):
    np.testing.assert_array_equal(engine(np.median, np.array([1.0, 2.0, 2.0])), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(engine(lambda x: np.quantile(x, 1.0), np.array([3.0, 1.0, 3.0])), [0.5, 0, 0.5])
    # unique: each distinct value moves with the mean of the entries equal to it
    J = engine(np.unique, np.array([2.0, 1.0, 2.0, 2.0]))
    np.testing.assert_allclose(J, [[0, 1, 0, 0], [1 / 3, 0, 1 / 3, 1 / 3]])


def test_quantile_of_a_slice_with_nan_is_nan_with_zero_derivative():
    y, t = dualad.jvp(lambda x: np.median(x, axis=1), np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]]), np.ones((2, 3)))
    assert np.isnan(y[0]) and y[1] == 2.0 and t[0] == 0.0 and t[1] == 1.0


@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
@pytest.mark.parametrize("ufunc, base", [(np.logaddexp, np.exp), (np.logaddexp2, np.exp2)])
def test_logaddexp_reduce(engine, ufunc, base):
    x = np.array([[0.3, -1.2, 2.0], [5.0, 4.0, -3.0]])
    for axis in (0, 1, None):
        f = lambda v: ufunc.reduce(v, axis=axis)  # noqa: E731
        np.testing.assert_allclose(f(x), ufunc.reduce(x, axis=axis), rtol=1e-14)
        J = engine(f, x)
        np.testing.assert_allclose(J, central_jacobian(f, x), rtol=1e-7, atol=1e-9)
    # softmax weights: d logsumexp / dx = exp(x - logsumexp)
    np.testing.assert_allclose(engine(lambda v: np.logaddexp.reduce(v), x[0]), np.exp(x[0]) / np.exp(x[0]).sum())
    assert engine(lambda v: np.logaddexp.reduce(v, keepdims=True, axis=1), x).shape == (2, 1, 2, 3)


# ----------------------------------------------------------------------------- against JAX
@pytest.fixture(scope="module")
def jnp():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


JAX_SAMPLES = [
    ("cholesky", lambda m, x: m.linalg.cholesky(x @ x.T + 3 * m.eye(3)), (3, 3)),
    ("eigh-vectors", lambda m, x: (lambda v: v * v[:1])(m.linalg.eigh(x + x.T)[1]), (3, 3)),
    ("svd-U", lambda m, x: (lambda u: u * u[:1])(m.linalg.svd(x, full_matrices=False)[0]), (3, 4)),
    ("pinv", lambda m, x: m.linalg.pinv(x), (4, 3)),
    ("quantile", lambda m, x: m.quantile(x, m.array([0.2, 0.5, 0.9]), axis=1), (3, 6)),
    ("corrcoef", lambda m, x: m.corrcoef(x), (3, 5)),
]


@pytest.mark.parametrize("name, f, shape", JAX_SAMPLES, ids=[s[0] for s in JAX_SAMPLES])
def test_against_jax(jnp, name, f, shape):
    import jax
    import jax.numpy as jnp_
    x = np.random.default_rng(11).standard_normal(shape)
    want = np.asarray(jax.jacfwd(lambda v: f(jnp_, v))(x))
    np.testing.assert_allclose(dualad.jacobian(lambda v: f(np, v), x), want, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(tape.jacobian(lambda v: f(np, v), x), want, rtol=1e-9, atol=1e-10)
