"""The speed-ups' special cases give the same derivatives as the general paths.

Each fast path (lists of scalar outputs, scalar Duals, exact-shape tangents,
chunking) is checked against hand-derived Jacobians or central differences,
and where it matters against the same computation forced down the general
path. No timing here: speed lives in benchmarks/.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from benchmarks.problems import lorenz96, lorenz96_jacobian
from dualad import Dual
from dualad.dual import new_tag

from cases import central_jacobian


X6 = np.array([0.3, -1.2, 2.1, 0.5, -0.7, 1.4])


# ----------------------------------------------------------------------------- lists of scalar outputs
@pytest.mark.parametrize("chunk", [None, 1, 4])
def test_list_of_scalar_duals_matches_hand_jacobian(chunk):
    J = dualad.jacobian(lorenz96, X6, chunk_size=chunk)
    assert J.shape == (6, 6) and J.dtype == np.float64
    np.testing.assert_allclose(J, lorenz96_jacobian(X6), rtol=1e-14, atol=1e-14)


def test_list_with_constants_gives_zero_rows_and_right_values():
    def f(x):
        return [x[0] * x[1], 2.0, 3, np.float64(4.5), np.sin(x[2]), True]

    x = np.array([0.5, -1.5, 0.25])
    J = dualad.jacobian(f, x)
    expected = np.zeros((6, 3))
    expected[0] = [x[1], x[0], 0.0]
    expected[4, 2] = np.cos(x[2])
    np.testing.assert_allclose(J, expected, rtol=1e-15, atol=0)
    value, tangent = dualad.jvp(f, x, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(value, [x[0] * x[1], 2.0, 3.0, 4.5, np.sin(x[2]), 1.0])
    np.testing.assert_allclose(tangent, expected[:, 0])


def test_list_of_only_constants_is_a_zero_jacobian():
    J = dualad.jacobian(lambda x: [1.0, 2.0], np.array([0.1, 0.2, 0.3]))
    assert J.shape == (2, 3) and not J.any()


def test_list_mixing_scalars_and_arrays_takes_the_general_path():
    # a non-scalar item is not a row: the list is stacked like np.stack would
    f = lambda x: [x[:2] * x[2], np.cos(x[1:])]  # noqa: E731
    x = np.array([0.4, -0.3, 1.2])
    np.testing.assert_allclose(dualad.jacobian(f, x), central_jacobian(lambda v: np.array(f(v)), x),
                               rtol=1e-7, atol=1e-9)


def test_list_output_keeps_float32():
    x = np.array([0.5, -1.0, 2.0, 0.25], dtype=np.float32)
    J = dualad.jacobian(lambda v: [v[0] * v[1], v[2] - v[3], 1.0], x)
    assert J.dtype == np.float32
    np.testing.assert_allclose(J, [[-1.0, 0.5, 0, 0], [0, 0, 1, -1], [0, 0, 0, 0]], rtol=1e-6)


def test_list_output_under_nesting_hessian_of_scalar_code():
    # the outer Jacobian of gradients whose inner output is a list of nested scalar Duals
    def energy(x):
        return sum(0.5 * v * v for v in lorenz96(x))

    H = dualad.hessian(energy, X6)
    fd = central_jacobian(lambda y: dualad.gradient(energy, y), X6)
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)


def test_jacobian_of_list_inside_jacobian():
    # inner list outputs carry Duals of the outer tag as values: not the scalar fast path
    inner = lambda y: dualad.jacobian(lorenz96, y)  # noqa: E731
    D = dualad.jacobian(inner, X6[:4])
    np.testing.assert_allclose(D, central_jacobian(inner, X6[:4]), rtol=1e-6, atol=1e-7)


def test_list_of_outer_constants_is_not_mistaken_for_this_level():
    # x_outer appears only as a constant of the inner differentiation
    def outer(a):
        return dualad.jacobian(lambda b: [a[0] * b[0], a[1] + b[1] * b[0]], np.array([2.0, 3.0]))

    D = dualad.jacobian(outer, np.array([0.7, -0.2]))
    np.testing.assert_allclose(D, central_jacobian(outer, np.array([0.7, -0.2])), rtol=1e-7, atol=1e-8)


def test_the_fast_path_is_the_one_taken_for_scalar_lists():
    # guards the tests above: they must exercise the fast path, not only the general one
    from dualad import forward

    seed = Dual._make(X6, np.eye(6), 10 ** 9)
    assert forward._scalar_rows(lorenz96(seed) + [1.0], 10 ** 9, 6) is not None
    assert forward._scalar_rows([seed[:2]], 10 ** 9, 6) is None


# ----------------------------------------------------------------------------- np.stack of scalar Duals
def _stacked_lorenz(x):
    return np.stack(lorenz96(x))


@pytest.mark.parametrize("chunk", [None, 4])
def test_stack_of_scalar_duals_matches_hand_jacobian(chunk):
    J = dualad.jacobian(_stacked_lorenz, X6, chunk_size=chunk)
    assert J.shape == (6, 6) and J.dtype == np.float64
    np.testing.assert_allclose(J, lorenz96_jacobian(X6), rtol=1e-14, atol=1e-14)


def test_stack_of_scalar_duals_takes_the_short_path_and_equals_the_composite():
    # guards the test above (the short path is the one taken) and compares it with the
    # composite's result on the same Duals, entry by entry, value, tangent and dtype
    from dualad import dispatch
    from dualad.rules import TABLE

    for tangent in (np.eye(6), None):  # batched (Jacobian) and single-direction (jvp) tangents
        seed = Dual._make(X6, np.eye(6) if tangent is not None else np.ones(6), new_tag())
        items = lorenz96(seed)
        short = dispatch.stack_scalars(items)
        assert short is not None
        general = TABLE[np.stack].impl(items)
        np.testing.assert_array_equal(short.value, general.value)
        np.testing.assert_array_equal(short.tangent, general.tangent)
        assert short.tangent.dtype == general.tangent.dtype and short.tangent.shape == general.tangent.shape


@pytest.mark.parametrize("make", [
    lambda x: [x[0] * 2.0, 1.0],                         # a constant among the Duals
    lambda x: [x[0], x[1:3]],                            # not all scalars (np.stack's shape error)
    lambda x: [x[0] * x[1], x[2:3].reshape(())],         # a 0-d array value, not a numpy scalar
])
def test_stack_of_other_lists_takes_the_composite(make):
    from dualad import dispatch

    seed = Dual._make(X6, np.eye(6), new_tag())
    assert dispatch.stack_scalars(make(seed)) is None
    f = lambda v: np.stack(make(v))  # noqa: E731
    try:
        expected = central_jacobian(f, X6)
    except ValueError:  # numpy refuses to stack different shapes: so must dualad
        with pytest.raises(ValueError):
            dualad.jacobian(f, X6)
        return
    np.testing.assert_allclose(dualad.jacobian(f, X6), expected, rtol=1e-7, atol=1e-8)


def test_stack_of_scalar_duals_of_two_levels_is_nested_right():
    # d/da of the inner Jacobian of [a*b0, b0*b1]: the inner Duals carry the outer one in their values
    def outer(a):
        return dualad.jacobian(lambda b: np.stack([a[0] * b[0], b[0] * b[1]]), np.array([2.0, 3.0]))

    np.testing.assert_allclose(dualad.jacobian(outer, np.array([0.7, -0.2])),
                               central_jacobian(outer, np.array([0.7, -0.2])), rtol=1e-7, atol=1e-8)


# ----------------------------------------------------------------------------- scalar Duals
SCALAR_OPS = [
    ("add", lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    ("sub", lambda a, b: a - b, lambda a, b: (1.0, -1.0)),
    ("mul", lambda a, b: a * b, lambda a, b: (b, a)),
    ("div", lambda a, b: a / b, lambda a, b: (1.0 / b, -a / b ** 2)),
    ("pow", lambda a, b: a ** b, lambda a, b: (b * a ** (b - 1.0), a ** b * np.log(a))),
]


@pytest.mark.parametrize("name, op, partials", SCALAR_OPS, ids=[o[0] for o in SCALAR_OPS])
@pytest.mark.parametrize("k", [None, 1, 3])
def test_scalar_dual_binary_ops_match_hand_partials(name, op, partials, k):
    a, b = np.float64(1.7), np.float64(0.6)
    ta = np.float64(0.3) if k is None else np.linspace(0.1, 1.0, k)
    tb = np.float64(-1.1) if k is None else np.linspace(2.0, -1.0, k)
    z = op(Dual(a, ta), Dual(b, tb))
    pa, pb = partials(a, b)
    assert type(z.value) is np.float64 and z.value == op(a, b)
    np.testing.assert_allclose(z.tangent, pa * ta + pb * tb, rtol=1e-14)
    # one side a plain number (Python float, int, numpy scalar): only the Dual's partial counts
    for c in (0.6, 2, np.float64(0.6)):
        z = op(Dual(a, ta), c)
        assert type(z.value) is np.float64
        np.testing.assert_allclose(z.tangent, partials(a, float(c))[0] * ta, rtol=1e-14)
        z = op(c, Dual(b, tb))
        np.testing.assert_allclose(z.tangent, partials(float(c), b)[1] * tb, rtol=1e-14)


@pytest.mark.parametrize("name, op, partials", SCALAR_OPS, ids=[o[0] for o in SCALAR_OPS])
def test_scalar_path_agrees_with_the_array_path(name, op, partials):
    # the same operation on 1-element arrays goes through the ufunc: both must agree exactly
    a, b, ta, tb = 1.3, 0.8, np.array([1.0, -2.0]), np.array([0.5, 0.25])
    s = op(Dual(a, ta), Dual(b, tb))
    v = op(Dual([a], ta[None]), Dual([b], tb[None]))
    assert s.value == v.value[0]
    np.testing.assert_array_equal(s.tangent, v.tangent[0])


def test_scalar_division_by_zero_behaves_like_numpy():
    with pytest.warns(RuntimeWarning):
        z = Dual(1.0, 1.0) / Dual(0.0, 0.0)
    assert z.value == np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        z = Dual(0.0, 1.0) ** -1
        assert np.isinf(z.value) and type(z.value) is np.float64
        z = Dual(-8.0, 1.0) ** (1.0 / 3.0)
        assert np.isnan(z.value)


def test_scalar_float32_stays_float32():
    z = Dual(np.float32(1.5), np.float32(1.0)) * 2.0 - Dual(np.float32(0.5), np.float32(0.0))
    assert np.asarray(z.value).dtype == np.float32 and np.asarray(z.tangent).dtype == np.float32
    assert z.tangent == 2.0


def test_scalar_infinite_partial_times_zero_tangent_is_zero():
    # the NaN-safe convention on the scalar path: sqrt'(0) = inf, times a zero tangent gives 0
    with np.errstate(divide="ignore"):  # sqrt'(0) = 0.5 / 0 warns, as numpy does
        z = np.sqrt(Dual(0.0, np.array([0.0, 1.0, 0.0])))
        assert np.sqrt(Dual(0.0, 0.0)).tangent == 0.0
        J = dualad.jacobian(lambda v: [np.sqrt(v[0]) + v[1], np.sqrt(v[1])], np.array([0.0, 4.0]))
    assert z.tangent[0] == 0.0 and z.tangent[1] == np.inf and z.tangent[2] == 0.0
    np.testing.assert_array_equal(J, [[np.inf, 1.0], [0.0, 0.25]])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_array_partial_with_one_non_finite_entry_is_caught(bad):
    # the finiteness check is a single reduction: one bad entry among many must still be seen,
    # so a zero tangent row meeting it gives 0, not NaN (the NaN-safe convention)
    from dualad.dispatch import _scale

    partial = np.full(50, 4.0)
    partial[17] = bad
    t = np.ones((50, 3))
    t[17] = 0.0
    with np.errstate(invalid="ignore"):
        c = _scale(partial, t, True)
    assert (c[17] == 0).all() and (c[:17] == 4.0).all() and (c[18:] == 4.0).all()
    with np.errstate(divide="ignore"):
        z = np.sqrt(Dual(np.array([4.0, 0.0, 1.0]), np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])))
    np.testing.assert_array_equal(z.tangent, [[0.25, 0.0], [0.0, 0.0], [0.0, 1.0]])


def test_partials_whose_squares_overflow_are_still_right():
    huge = Dual(np.full(4, 1e200), np.eye(4))
    with np.errstate(over="ignore"):  # the value overflows; the tangent does not
        z = huge * np.full(4, 3e200)
    np.testing.assert_array_equal(z.tangent, 3e200 * np.eye(4))


def test_scalar_binary_infinite_partial_and_mixed_tags():
    with np.errstate(divide="ignore"):
        z = Dual(0.0, np.array([0.0, 1.0])) ** 0.5  # d/dx x**0.5 at 0 is inf: 0 where the tangent is 0
    np.testing.assert_array_equal(z.tangent, [0.0, np.inf])
    # two tags: the higher one is the variable, the lower one a constant carrying its own tangent
    # fresh tags (a hard-coded small tag may belong to a call that already returned: LifetimeError)
    outer_tag, inner_tag = new_tag(), new_tag()
    outer = Dual._make(np.float64(2.0), np.float64(1.0), outer_tag)
    inner = Dual._make(np.float64(3.0), np.float64(1.0), inner_tag)
    z = outer * inner
    assert z.tag == inner_tag and z.value.tag == outer_tag
    assert z.value.value == 6.0 and z.value.tangent == 3.0      # d/d outer at fixed inner
    assert z.tangent.value == 2.0 and z.tangent.tangent == 1.0  # d/d inner, itself depending on outer
    z = inner * outer
    assert z.tag == inner_tag and z.value.value == 6.0 and z.tangent.value == 2.0


def test_python_float_infinite_partial_times_zero_tangent_is_zero():
    # the partial of x * c in x is c itself, here a Python float: the NaN-safe product still applies
    z = Dual(2.0, np.array([0.0, 1.0])) * float("inf")
    np.testing.assert_array_equal(z.tangent, [0.0, np.inf])


@pytest.mark.parametrize("batched", [False, True])
def test_integer_index_equals_the_general_index_path(batched):
    # x[i] with a Python int takes a short path; x[(i,)] and x[np.int64(i)] take the general one
    value = np.arange(12.0).reshape(4, 3)
    tangent = np.arange(24.0).reshape(4, 3, 2) if batched else -np.arange(12.0).reshape(4, 3)
    d = Dual._make(value, tangent, 3)
    for i in (0, 2, -1, -4):
        for other in (d[(i,)], d[np.int64(i)]):
            fast = d[i]
            assert fast.tag == 3
            np.testing.assert_array_equal(fast.value, other.value)
            np.testing.assert_array_equal(fast.tangent, other.tangent)
        np.testing.assert_array_equal(d[i].tangent, tangent[i])
    row = d[1][2]  # a scalar from two int indexings
    assert row.value == 5.0 and np.all(row.tangent == tangent[1, 2])
    with pytest.raises(IndexError):
        d[4]


@pytest.mark.parametrize("n", [3, 20])  # a dense seed, and the diagonal one
@pytest.mark.parametrize("f", [lambda v: v[0] + np.zeros((2, 3)), lambda v: v[0] + np.zeros(3),
                               lambda v: np.broadcast_to(v, (2,) + v.shape), lambda v: v],
                         ids=["scalar-to-matrix", "scalar-to-vector", "broadcast", "identity"])
def test_one_pass_jacobian_is_a_writable_array_of_its_own(f, n):
    # broadcast tangents are read-only views: the returned Jacobian must still be the caller's
    x = np.linspace(0.5, 1.5, n)
    J = dualad.jacobian(f, x)
    assert type(J) is np.ndarray and J.flags.writeable
    np.testing.assert_allclose(J, central_jacobian(f, x), atol=1e-8)
    J[...] = 7.0  # writing into it changes no later result
    np.testing.assert_allclose(dualad.jacobian(f, x), central_jacobian(f, x), atol=1e-8)


def test_scalar_code_second_derivatives_by_hand():
    # f(a, b) = a**3 * b - a / b: mixed and pure second partials from scalar-style code
    f = lambda v: v[0] ** 3 * v[1] - v[0] / v[1]  # noqa: E731
    a, b = 1.3, 0.7
    H = dualad.hessian(f, np.array([a, b]))
    np.testing.assert_allclose(H, [[6 * a * b, 3 * a * a + 1 / b ** 2],
                                   [3 * a * a + 1 / b ** 2, -2 * a / b ** 3]], rtol=1e-13)


# ----------------------------------------------------------------------------- one-argument ufuncs
def test_unary_ufuncs_on_arrays_by_hand():
    x = np.array([0.3, -1.2, 2.0])
    t = np.array([[1.0, 0.5], [0.0, 2.0], [-1.0, 1.0]])
    for ufunc, deriv in ((np.sin, np.cos), (np.exp, np.exp), (np.negative, lambda v: -np.ones_like(v)),
                         (np.positive, np.ones_like), (np.tanh, lambda v: 1 - np.tanh(v) ** 2)):
        z = ufunc(Dual(x, t))
        np.testing.assert_array_equal(z.value, ufunc(x))
        np.testing.assert_allclose(z.tangent, deriv(x)[:, None] * t, rtol=1e-15)
    z = np.cos(Dual(x.astype(np.float32), t.astype(np.float32)))
    assert z.value.dtype == np.float32 and z.tangent.dtype == np.float32


def test_unary_ufunc_nested_second_derivative():
    # d2/dx2 of sum(sin(x) * exp(x)) = sum(2 cos(x) exp(x)) on the diagonal
    x = np.array([0.2, -0.4, 1.1])
    H = dualad.hessian(lambda v: np.sum(np.sin(v) * np.exp(v)), x)
    np.testing.assert_allclose(H, np.diag(2 * np.cos(x) * np.exp(x)), rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- array code's short paths
# np.sin(x) on an array tangent, W @ x of a float64 array and a Dual, and jacobian's output read inline
# each have a short path in front of the general one: these compare them with the general path's
# conventions (0 x inf, dense semantics of the diagonal seed) and with central differences.
def _general_scale(partial, tangent):
    from dualad.common import chain_product
    with np.errstate(invalid="ignore"):
        return chain_product(partial[:, None], tangent)


@pytest.mark.parametrize("n", [3, 20])  # the dense seed, and the diagonal one
@pytest.mark.parametrize("ufunc, partial", [
    (np.sqrt, lambda v: 0.5 / np.sqrt(v)), (np.log, lambda v: 1.0 / v), (np.arcsin, lambda v: 1 / np.sqrt(1 - v * v))],
    ids=["sqrt", "log", "arcsin"])
def test_unary_array_path_with_non_finite_partials_keeps_dense_semantics(ufunc, partial, n):
    x = np.linspace(0.1, 0.9, n)
    x[1] = 0.0 if ufunc is not np.arcsin else 1.0  # an infinite partial
    x[2] = -1.0 if ufunc is not np.arcsin else 2.0  # a NaN value (and a NaN partial, except log's -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        J = dualad.jacobian(ufunc, x)
        expected = _general_scale(partial(x), np.eye(n))
    same(J, expected)
    assert J[1, 0] == 0.0 and J[2, 0] == 0.0  # 0 (not NaN) off the diagonal, as the convention says
    assert np.isinf(J[1, 1]) and (np.isnan(J[2, 2]) or ufunc is np.log)


def test_unary_array_path_on_a_dense_tangent_equals_the_general_product():
    x = np.array([0.0, 4.0, 1.0])
    t = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 0.0]])  # row 0 is zero where the partial is infinite
    with np.errstate(divide="ignore"):
        z = np.sqrt(Dual(x, t))
    same(z.tangent, _general_scale(0.5 / np.sqrt(np.where(x == 0, 1.0, x)) * np.where(x == 0, np.inf, 1.0), t))
    assert (z.tangent[0] == 0.0).all()
    z = np.sin(Dual(x, t[:, 0]))  # one direction: no trailing axis
    same(z.tangent, np.cos(x) * t[:, 0])


def same(a, b):
    """Equal values, shapes and dtypes (NaN equal to NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [3, 20])
@pytest.mark.parametrize("form", ["W @ x", "x @ W", "M @ X", "X @ M"])
def test_matmul_of_an_array_and_a_dual_equals_the_hand_jacobian(form, n):
    rng = np.random.default_rng(n)
    W = rng.standard_normal((4, n))
    x = rng.standard_normal(n)
    f = {"W @ x": lambda v: W @ v, "x @ W": lambda v: v @ W.T,
         "M @ X": lambda v: W[:, :2] @ v.reshape(2, -1) if n % 2 == 0 else W[:, :1] @ v.reshape(1, -1),
         "X @ M": lambda v: v.reshape(-1, 1) @ W[:1, :1]}[form]
    J = dualad.jacobian(f, x)
    np.testing.assert_allclose(J, central_jacobian(f, x), rtol=1e-7, atol=1e-8)
    if form in ("W @ x", "x @ W"):
        same(J, W)  # a linear map's Jacobian is the matrix itself, bit for bit
    # one direction (no trailing axis) and the skeleton's route (a float32 matrix) agree with it
    v = rng.standard_normal(n)
    np.testing.assert_allclose(dualad.jvp(f, x, v)[1], J @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [3, 20])
def test_matmul_with_a_non_finite_matrix_gives_the_dense_products(n):
    # W @ I computed densely has inf * 0 = NaN in a row holding an inf: the short path must agree
    W = np.arange(3.0 * n).reshape(3, n)
    W[1, 0] = np.inf
    with np.errstate(invalid="ignore"):
        J = dualad.jacobian(lambda v: W @ v, np.ones(n))
        expected = W @ np.eye(n)
    same(J, expected)
    assert np.isnan(J[1, 1]) and (J[0] == W[0]).all()


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_matmul_of_other_operands_takes_the_general_route():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([0.5, -1.0])
    J32 = dualad.jacobian(lambda v: W.astype(np.float32) @ v, x)  # mixed dtypes: numpy's promotion
    same(J32, W)
    with pytest.raises(dualad.DualadError):
        dualad.jacobian(lambda v: np.matrix(W) @ v, x)  # np.matrix: refused by name, as before
    # two Duals of one tag: the product rule
    np.testing.assert_allclose(dualad.jacobian(lambda v: np.outer(v, v) @ v, x),
                               central_jacobian(lambda v: np.outer(v, v) @ v, x), rtol=1e-7)


@pytest.mark.parametrize("chunk", [None, 2])
def test_container_outputs_through_the_array_path(chunk):
    x = np.array([0.3, -0.4, 1.2])
    f = lambda v: {"s": np.sin(v), "first": v[0] * v[1], "pair": (v[2], np.exp(v))}  # noqa: E731
    J = dualad.jacobian(f, x, chunk_size=chunk)
    np.testing.assert_allclose(J["s"], np.diag(np.cos(x)), rtol=1e-14)
    np.testing.assert_allclose(J["first"], [x[1], x[0], 0.0])
    np.testing.assert_allclose(J["pair"][0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(J["pair"][1], np.diag(np.exp(x)), rtol=1e-14)
    # a list input takes the general way to the same core
    np.testing.assert_allclose(dualad.jacobian(f, list(x), chunk_size=chunk)["s"], J["s"])


_PAIR_OPS = [("+", np.add), ("-", np.subtract), ("*", np.multiply), ("/", np.divide), ("**", np.power)]
_PAIR_CONSTANTS = {"same shape": np.array([[0.5, 2.0, -1.5], [3.0, 0.25, 1.0]]), "row": np.array([1.5, -0.5, 2.0]),
                   "float": 1.75, "int": 3, "float64": np.float64(-0.5), "zero": 0.0}


@pytest.mark.parametrize("constant", list(_PAIR_CONSTANTS), ids=list(_PAIR_CONSTANTS))
@pytest.mark.parametrize("name, ufunc", _PAIR_OPS, ids=[o[0] for o in _PAIR_OPS])
@pytest.mark.parametrize("tangent", ["batched", "one direction", "diagonal"])
def test_array_and_constant_operators_equal_the_general_path(name, ufunc, constant, tangent):
    from dualad.dispatch import _general
    from dualad.diagonal import DiagonalTangent
    from dualad.rules import TABLE

    c = _PAIR_CONSTANTS[constant]
    value = np.array([[0.7, 0.0, 1.3], [2.2, 0.4, 0.9]])
    if tangent == "diagonal":
        value = value[0]
        if type(c) is np.ndarray:
            c = c[-1]
        t = DiagonalTangent(np.array([1.0, 2.0, -1.0]))
    else:
        t = np.arange(12.0).reshape(2, 3, 2) - 4.0 if tangent == "batched" else np.arange(6.0).reshape(2, 3) - 2.0
    for operands in ((Dual(value, np.asarray(t)), c), (c, Dual(value, np.asarray(t)))):
        if tangent == "diagonal":  # (the same Duals with the storage format as their tangent)
            operands = tuple(Dual._make(o.value, t, o.tag) if isinstance(o, Dual) else o for o in operands)
        with np.errstate(divide="ignore", invalid="ignore"):
            fast = ufunc(*operands)
            general = _general(ufunc, TABLE[ufunc], operands, None)
        same(fast.value, general.value)
        same(fast.tangent, general.tangent)
        assert fast.tag == general.tag


def test_array_and_constant_operators_by_central_differences():
    W = np.array([[0.5, 2.0, -1.5], [3.0, 0.25, 1.0]])
    f = lambda v: ((2.0 - v.reshape(2, 3)) * W / 3 + W ** 2 - 1.5 / (v.reshape(2, 3) + 4.0)) ** 2  # noqa: E731
    x = np.linspace(0.2, 1.2, 6)
    np.testing.assert_allclose(dualad.jacobian(f, x), central_jacobian(f, x), rtol=1e-7, atol=1e-9)
    x20 = np.linspace(0.2, 1.2, 20)  # the diagonal seed
    g = lambda v: (3.0 * v - np.arange(20.0)) / 2 + v ** 3  # noqa: E731
    np.testing.assert_allclose(dualad.jacobian(g, x20), central_jacobian(g, x20), rtol=1e-7, atol=1e-9)


DIAGONAL_INF = np.where(np.eye(2, dtype=bool), np.inf, 0.0)  # inf x 0 off the diagonal is 0 (the convention)


@pytest.mark.parametrize("f, expected", [(lambda v: v / 0.0, DIAGONAL_INF), (lambda v: v / 0, DIAGONAL_INF),
                                         (lambda v: v[0] / 0.0 + v[1], np.array([np.inf, 1.0]))],
                         ids=["array / 0.0", "array / 0", "scalar / 0.0"])
def test_division_by_a_plain_zero_is_numpy_s_inf_in_both_modes(f, expected):
    # was Python's ZeroDivisionError from the partial 1.0 / y; numpy gives inf (with its warning)
    x = np.array([1.0, -2.0])
    with np.errstate(divide="ignore"):
        same(dualad.jacobian(f, x), expected)
        same(dualad.tape.jacobian(f, x), expected)
