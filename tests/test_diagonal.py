"""DiagonalTangent, the identity seed kept as its diagonal, stands in exactly for the dense array.

Every shortcut is compared with the same numpy operation on the dense array
(bit for bit); every rule-table case and elementwise rule is differentiated
with the diagonal seed forced on and compared with the dense seed; numpy's
view semantics (in-place writes through slices of x) still hold.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import forward, rules
from dualad.diagonal import DiagonalTangent

from cases import all_cases, case_id, central_jacobian

D = np.array([1.5, -2.0, 0.25, 3.0])


def fresh():
    return DiagonalTangent(D.copy())


def same(a, b):
    """Equal values, shapes and dtypes (NaN equal to NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- the shortcuts
FACTORS = {
    "python float": 2.5, "python int": 3, "numpy scalar": np.float64(-1.25), "0-d": np.array(0.5),
    "column (n,1)": np.array([[1.0], [2.0], [-3.0], [0.5]]), "row (n,)": np.array([0.1, 0.2, 0.3, 0.4]),
    "row (1,n)": np.array([[4.0, 3.0, 2.0, 1.0]]), "(1,1)": np.array([[7.0]]), "int column": np.arange(4)[:, None],
}


@pytest.mark.parametrize("name", list(FACTORS))
def test_scaling_keeps_the_diagonal_and_equals_the_dense_product(name):
    s = FACTORS[name]
    for result, dense in ((s * fresh(), s * np.diag(D)), (fresh() * s, np.diag(D) * s)):
        assert type(result) is DiagonalTangent
        same(result, dense)


@pytest.mark.parametrize("s", [np.array([1.0, np.inf, 2.0, 3.0])[:, None], np.nan, np.inf,
                               np.ones((4, 4)), np.ones((2, 4, 4)), np.array([True, False, True, True])])
def test_other_factors_see_the_dense_array(s):
    # inf * 0 off the diagonal is NaN in the dense product: no shortcut may hide it
    with np.errstate(invalid="ignore"):
        result, dense = s * fresh(), s * np.diag(D)
    assert type(result) is np.ndarray
    same(result, dense)


def test_sums_differences_negation_of_diagonals():
    a, b = fresh(), DiagonalTangent(np.array([0.5, 0.5, -1.0, 2.0]))
    for result, dense in ((a + b, np.diag(D) + np.diag(b.diag)), (a - b, np.diag(D) - np.diag(b.diag)),
                          (-a, -np.diag(D)), (+a, np.diag(D)), (a * b, np.diag(D) * np.diag(b.diag))):
        assert type(result) is DiagonalTangent
        same(result, dense)
    same(a + np.ones((4, 4)), np.diag(D) + 1.0)
    same(np.ones((4, 4)) - a, 1.0 - np.diag(D))
    same(a == 0, np.diag(D) == 0)


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_matmul_from_the_left_and_right(shape):
    rng = np.random.default_rng(1)
    m = rng.standard_normal(shape)
    same(m @ fresh(), m @ np.diag(D))
    mt = np.swapaxes(m, -1, -2) if m.ndim == 2 else m
    same(fresh() @ mt, np.diag(D) @ mt)
    assert type(fresh() @ fresh()) is DiagonalTangent
    same(fresh() @ fresh(), np.diag(D) @ np.diag(D))
    with np.errstate(invalid="ignore"):
        bad = m.copy()
        bad.reshape(-1)[0] = np.inf
        same(bad @ fresh(), bad @ np.diag(D))  # NaN where the dense product has it


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
@pytest.mark.parametrize("m_dtype, eye_dtype", [(np.float64, np.float64), (np.int64, np.float64),
                                                (np.float32, np.float64), (np.float64, np.float32),
                                                (np.int8, np.float32)])
def test_matmul_with_the_identity_seed_is_the_dense_product(shape, m_dtype, eye_dtype):
    # the seed knows it is the identity: m @ eye is m's copy, in the dense product's dtype
    rng = np.random.default_rng(2)
    m = (rng.standard_normal(shape) * 10).astype(m_dtype)
    eye = DiagonalTangent.eye(4, eye_dtype)
    assert eye.ones and not fresh().ones and not (np.cos(D) * eye).ones  # scaled: no longer the identity
    dense = np.eye(4, dtype=eye_dtype)
    product = m @ eye
    same(product, m @ dense)
    assert not np.shares_memory(product, m)  # a tangent of its own, never the caller's matrix
    mt = np.swapaxes(m, -1, -2) if m.ndim == 2 else m
    same(eye @ mt, dense @ mt)
    assert not np.shares_memory(eye @ mt, mt)
    if m.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = m.copy()
            bad.reshape(-1)[-1] = np.inf
            same(bad @ eye, bad @ dense)  # NaN where the dense product has it (inf x 0)
            badt = np.swapaxes(bad, -1, -2) if bad.ndim == 2 else bad
            same(eye @ badt, dense @ badt)


def test_column_sums_and_other_functions():
    same(np.sum(fresh(), axis=(0,)), np.sum(np.diag(D), axis=0))
    same(np.sum(fresh(), axis=0, keepdims=True), np.sum(np.diag(D), axis=0, keepdims=True))
    same(np.sum(fresh(), axis=1), np.sum(np.diag(D), axis=1))
    same(np.moveaxis(fresh(), -1, 0), np.diag(D).T)
    same(fresh().reshape(2, 8), np.diag(D).reshape(2, 8))
    same(fresh()[1:, ::2], np.diag(D)[1:, ::2])
    assert fresh().shape == (4, 4) and fresh().ndim == 2 and len(fresh()) == 4 and fresh().dtype == D.dtype


def test_scale_rows_equals_the_dense_row_scaling():
    s = np.array([0.5, -3.0, 1e300, 0.0])
    result = fresh().scale_rows(s)
    assert type(result) is DiagonalTangent
    same(result, s[:, None] * np.diag(D))
    assert fresh().scale_rows(np.ones(3)) is None  # not one factor per row
    t = fresh()
    t.dense()
    assert t.scale_rows(s) is None  # the dense array exists: writes through its views must be seen


def test_dense_form_is_shared_and_stops_the_shortcuts():
    t = fresh()
    view = t[1:]
    t[2, 2] = 10.0  # a write through the object reaches the view
    assert view[1, 2] == 10.0
    result = t * 2.0  # after densifying, operations read the (modified) dense array
    assert type(result) is np.ndarray and result[2, 2] == 20.0
    assert np.asarray(t) is t.dense()


# ----------------------------------------------------------------------------- through jacobian
@pytest.fixture
def diagonal_always(monkeypatch):
    monkeypatch.setattr(forward, "DIAGONAL_SEED_MIN", 1)


@pytest.fixture
def diagonal_never(monkeypatch):
    monkeypatch.setattr(forward, "DIAGONAL_SEED_MIN", 10 ** 9)


def _jacobian_both_ways(f, x, monkeypatch):
    monkeypatch.setattr(forward, "DIAGONAL_SEED_MIN", 1)
    diag = dualad.jacobian(f, x)
    monkeypatch.setattr(forward, "DIAGONAL_SEED_MIN", 10 ** 9)
    dense = dualad.jacobian(f, x)
    return diag, dense


ONE_D_CASES = [c for c in all_cases() if np.ndim(c[3]) == 1]


@pytest.mark.parametrize("key, index, f, x", ONE_D_CASES,
                         ids=[f"{case_id(k)}-{i}" for k, i, _, _ in ONE_D_CASES])
def test_every_rule_case_gives_the_dense_seed_jacobian(key, index, f, x, monkeypatch):
    diag, dense = _jacobian_both_ways(f, x, monkeypatch)
    np.testing.assert_allclose(diag, dense, rtol=1e-14, atol=1e-14)


ELEMENTWISE = [(k, r) for k, r in rules.TABLE.items() if type(r) is rules.Elementwise]


@pytest.mark.parametrize("ufunc, rule", ELEMENTWISE, ids=[u.__name__ for u, _ in ELEMENTWISE])
def test_every_elementwise_rule_keeps_the_diagonal_right(ufunc, rule, monkeypatch):
    rng = np.random.default_rng(7)
    lo, hi = rule.domain[0]
    x = rng.uniform(lo, hi, 5)
    if ufunc.nin == 1:
        f = ufunc
    else:
        lo2, hi2 = rule.domain[-1]
        y = rng.uniform(lo2, hi2, 5)
        f = lambda v: ufunc(v, y) + ufunc(y[::-1], v) * 0.5 if rule.domain[-1] == rule.domain[0] \
            else ufunc(v, y)  # noqa: E731
    diag, dense = _jacobian_both_ways(f, x, monkeypatch)
    np.testing.assert_allclose(diag, dense, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(diag, central_jacobian(f, x), rtol=1e-5, atol=1e-7)


def chain(x):
    return np.cosh(np.log1p(np.exp(np.sin(x))))


def test_chain_and_dense_layer_against_hand_jacobians(diagonal_always):
    x = np.linspace(-1.0, 1.0, 40)
    e = np.exp(np.sin(x))
    np.testing.assert_allclose(dualad.jacobian(chain, x), np.diag(np.sinh(np.log1p(e)) / (1 + e) * e * np.cos(x)),
                               rtol=1e-13, atol=1e-15)
    W = np.random.default_rng(3).standard_normal((30, 40))
    b = np.linspace(0.0, 1.0, 30)
    y = np.tanh(W @ x + b)
    J = dualad.jacobian(lambda v: np.tanh(W @ v + b), x)
    np.testing.assert_allclose(J, (1 - y * y)[:, None] * W, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dualad.jacobian(lambda v: np.tanh(v @ W.T + b), x), J, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dualad.gradient(lambda v: np.sum(chain(v)), x), np.diag(dualad.jacobian(chain, x)))


def test_returned_jacobian_is_a_writable_array(diagonal_always):
    J = dualad.jacobian(np.sin, np.linspace(0.0, 1.0, 20))
    assert type(J) is np.ndarray and J.flags.writeable
    J[0, 1] = 5.0
    J2 = dualad.jacobian(lambda v: v, np.zeros(20))
    np.testing.assert_array_equal(J2, np.eye(20))


def _in_place_through_views(x):
    x = x * 1.0  # a Dual with a diagonal tangent
    head = x[:3]           # a view
    x *= 2.0               # in place: the view must see it, value and tangent alike
    x[4] = x[0] * x[1]     # setitem into x
    tail = x[2:]
    tail += np.sin(head[0])
    return np.concatenate([head, x, tail])


def _setitem_seen_by_a_reshaped_view(x):
    x = x * 1.0
    grid = x.reshape(2, 3)  # a view made by a Linear rule while x's tangent is still diagonal
    x[4] = 2.0              # setitem: grid must see the value and the (now zero) tangent
    return grid.sum(axis=0) * x[:3]


def _in_place_seen_by_a_reshaped_view(x):
    x = x * 1.0
    grid = x.reshape(2, 3)
    x *= np.arange(1.0, 7.0)  # in place on a diagonal-tangent Dual: grid must see it
    return grid.ravel() * np.cos(x)


@pytest.mark.parametrize("f", [_in_place_through_views, _setitem_seen_by_a_reshaped_view,
                               _in_place_seen_by_a_reshaped_view])
def test_numpy_view_semantics_hold_with_the_diagonal_seed(f, diagonal_always, monkeypatch):
    x = np.linspace(0.2, 1.4, 6)
    value = f(x.copy())
    J = dualad.jacobian(f, x)
    np.testing.assert_allclose(J, central_jacobian(f, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dualad.jvp(f, x, np.ones(6))[0], value)
    monkeypatch.setattr(forward, "DIAGONAL_SEED_MIN", 10 ** 9)
    np.testing.assert_array_equal(J, dualad.jacobian(f, x))


def test_nested_hessian_with_diagonal_seeds(diagonal_always):
    f = lambda v: np.sum(np.sin(v) * v ** 2) + v[0] * v[-1]  # noqa: E731
    x = np.linspace(-0.5, 0.8, 18)
    H = dualad.hessian(f, x)
    np.testing.assert_allclose(H, central_jacobian(lambda y: dualad.gradient(f, y), x), rtol=1e-6, atol=1e-6)


def test_seed_size_rule(monkeypatch):
    seen = []
    monkeypatch.setattr(forward, "DIAGONAL_SEED_MIN", 16)
    dualad.jacobian(lambda v: seen.append(type(v.tangent)) or v, np.zeros(16))
    dualad.jacobian(lambda v: seen.append(type(v.tangent)) or v, np.zeros(15))
    dualad.jacobian(lambda v: seen.append(type(v.tangent)) or v, np.zeros((4, 4)))   # not 1-D
    dualad.jacobian(lambda v: seen.append(type(v.tangent)) or v, np.zeros(40), chunk_size=8)  # chunked
    assert seen == [DiagonalTangent, np.ndarray, np.ndarray] + [np.ndarray] * 5
