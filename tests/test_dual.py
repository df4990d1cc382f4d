"""The ``Dual`` type: construction, array-like attributes and methods, operators, indexing,
``__setitem__``, comparisons and the ufunc methods (reduce, accumulate, outer, out=)."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import Dual

from cases import central_jacobian


def _check(f, x, rtol=1e-5, atol=1e-6):
    J = dualad.jacobian(f, x)
    R = central_jacobian(f, x)
    assert J.shape == R.shape
    np.testing.assert_allclose(J, R, rtol=rtol, atol=atol)
    return J


X23 = np.array([[0.3, -1.2, 2.1], [1.7, -0.4, 0.9]])


# ----------------------------------------------------------------------------- construction
@pytest.mark.parametrize("value", [3, True, np.int32(2), [1, 2], np.arange(3), np.array([True, False])])
def test_int_and_bool_values_become_float64(value):
    d = Dual(value, np.ones(np.shape(value)))
    assert d.dtype == np.float64
    assert np.asarray(d.value).dtype == np.float64 and np.asarray(d.tangent).dtype == np.float64
    np.testing.assert_array_equal(d.value, np.asarray(value, dtype=float))


def test_int_tangent_becomes_the_value_dtype():
    d = Dual(np.array([1.0, 2.0], np.float32), [1, 0])
    assert d.tangent.dtype == np.float32


def test_float32_stays_float32():
    d = Dual(np.array([1.0, 2.0], np.float32), np.ones(2))
    assert d.dtype == np.float32 and d.tangent.dtype == np.float32
    for y in (d * 2.5, np.sin(d) + 1, d @ d, np.sum(d ** 2), np.max(d), d / 3, np.cumprod(d), np.sqrt(d)):
        assert np.asarray(y.value).dtype == np.float32, y
        assert np.asarray(y.tangent).dtype == np.float32, y


def test_float32_end_to_end_through_jacobian():
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)

    def f(x):
        return np.stack([np.sin(x[0]) * x[1], np.exp(x @ x) / np.sum(x), np.maximum(x[0], x[2]),
                         np.linalg.norm(x), np.where(x[1] > 0, x[1], 2.0 * x[2])])

    J = dualad.jacobian(f, x)
    assert J.dtype == np.float32
    np.testing.assert_allclose(J, dualad.jacobian(f, x.astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert dualad.gradient(lambda x: np.sum(x ** 2), x).dtype == np.float32
    assert dualad.hessian(lambda x: np.sum(x ** 3), x).dtype == np.float32
    assert dualad.jvp(f, x, np.ones(3, np.float32))[1].dtype == np.float32


def test_float32_tie_weights_do_not_promote():
    x = np.array([1.0, 1.0], dtype=np.float32)
    assert dualad.jacobian(lambda x: np.maximum(x[0], x[1]), x).dtype == np.float32
    assert dualad.jacobian(np.max, x).dtype == np.float32


@pytest.mark.parametrize("value_shape, tangent_shape", [((), ()), ((), (4,)), ((3,), (3,)), ((3,), (3, 2)),
                                                       ((2, 3), (2, 3)), ((2, 3), (2, 3, 5))])
def test_tangent_shapes_accepted(value_shape, tangent_shape):
    d = Dual(np.ones(value_shape), np.ones(tangent_shape))
    assert d.shape == value_shape
    assert np.shape(d.tangent) == tangent_shape
    assert d.batched == (len(tangent_shape) > len(value_shape))


@pytest.mark.parametrize("value_shape, tangent_shape", [((3,), (2,)), ((3,), (2, 3)), ((3,), (3, 2, 1)),
                                                       ((2, 3), (3, 2)), ((), (2, 2)), ((2, 3), (6,))])
def test_tangent_shape_mismatch_raises(value_shape, tangent_shape):
    with pytest.raises(dualad.TangentShapeError, match="remedy"):
        Dual(np.ones(value_shape), np.ones(tangent_shape))
    with pytest.raises(ValueError):  # TangentShapeError is a ValueError too
        Dual(np.ones(value_shape), np.ones(tangent_shape))


def test_scalar_construction_and_repr():
    d = Dual(2.0, 1.0)
    assert d.shape == () and d.ndim == 0 and d.size == 1
    assert "Dual(" in repr(d)


# ----------------------------------------------------------------------------- attributes
def test_array_like_attributes():
    d = Dual(np.ones((2, 3, 4)), np.ones((2, 3, 4, 5)))
    assert d.shape == (2, 3, 4) and d.ndim == 3 and d.size == 24 and d.dtype == np.float64
    assert len(d) == 2
    assert d.T.shape == (4, 3, 2)
    assert d.T.tangent.shape == (4, 3, 2, 5)


def test_len_of_scalar_raises_like_numpy():
    with pytest.raises(TypeError):
        len(Dual(1.0, 1.0))


def test_iteration_yields_rows_with_their_tangents():
    x = Dual(X23, np.arange(6.0).reshape(2, 3))
    rows = list(x)
    assert len(rows) == 2 and all(isinstance(r, Dual) for r in rows)
    np.testing.assert_array_equal(rows[1].value, X23[1])
    np.testing.assert_array_equal(rows[1].tangent, [3.0, 4.0, 5.0])
    # a Python loop over elements is differentiable code
    _check(lambda x: sum(xi * xi for xi in x), np.array([0.5, -1.0, 2.0]))


def test_tolist_gives_scalar_duals():
    x = Dual(X23, np.ones((2, 3, 2)))
    lst = x.tolist()
    assert isinstance(lst, list) and len(lst) == 2 and len(lst[0]) == 3
    assert all(isinstance(e, Dual) and e.ndim == 0 for row in lst for e in row)
    assert lst[1][2].value == X23[1, 2] and lst[1][2].tangent.shape == (2,)
    _check(lambda x: np.stack([a * b for a, b in zip(x.tolist(), x.tolist()[::-1])]), np.array([0.5, -1.0, 2.0]))


METHODS = [
    ("T", lambda x: x.T),
    ("reshape args", lambda x: x.reshape(3, 2)),
    ("reshape tuple", lambda x: x.reshape((6,))),
    ("reshape -1", lambda x: x.reshape(-1, 2)),
    ("ravel", lambda x: x.ravel()),
    ("flatten", lambda x: x.flatten()),
    ("transpose", lambda x: x.transpose()),
    ("transpose args", lambda x: x.transpose(1, 0)),
    ("transpose tuple", lambda x: x.transpose((1, 0))),
    ("sum", lambda x: x.sum()),
    ("sum axis", lambda x: x.sum(axis=0)),
    ("sum keepdims", lambda x: x.sum(axis=1, keepdims=True)),
    ("mean", lambda x: x.mean()),
    ("mean axis", lambda x: x.mean(axis=-1)),
    ("prod", lambda x: x.prod()),
    ("prod axis", lambda x: x.prod(axis=1)),
    ("max", lambda x: x.max()),
    ("max axis", lambda x: x.max(axis=0)),
    ("min", lambda x: x.min()),
    ("min axis keepdims", lambda x: x.min(axis=1, keepdims=True)),
    ("cumsum", lambda x: x.cumsum()),
    ("cumsum axis", lambda x: x.cumsum(axis=1)),
    ("cumprod", lambda x: x.cumprod()),
    ("cumprod axis", lambda x: x.cumprod(axis=0)),
    ("dot vector", lambda x: x.dot(np.array([1.0, -2.0, 0.5]))),
    ("dot self", lambda x: x.dot(x.T)),
    ("copy", lambda x: x.copy() * x),
    ("repeat", lambda x: x.repeat(2)),
    ("repeat axis", lambda x: x.repeat([2, 1], axis=0)),
    ("squeeze", lambda x: x[None, :, None].squeeze()),
    ("squeeze axis", lambda x: x[:, None].squeeze(1)),
    ("clip", lambda x: x.clip(-1.0, 1.0)),
    ("clip keywords", lambda x: x.clip(min=-1.0)),
    ("astype", lambda x: x.astype(np.float64) * 2.0),
    ("var", lambda x: x.var(axis=0)),
    ("std", lambda x: x.std()),
    ("swapaxes", lambda x: x.swapaxes(0, 1)),
    ("trace", lambda x: x[:, :2].trace()),
    ("diagonal", lambda x: x.diagonal(1)),
    ("item", lambda x: x[:1, :1].item()),
    ("round", lambda x: x.round() + x),
    ("conj", lambda x: x.conj() * x.real),
]


@pytest.mark.parametrize("name, f", METHODS, ids=[m[0] for m in METHODS])
def test_methods_match_numpy_and_differentiate(name, f):
    d = Dual(X23, np.zeros_like(X23))
    got = f(d)
    assert isinstance(got, Dual)
    np.testing.assert_allclose(got.value, f(X23), rtol=1e-14)
    assert got.shape == np.shape(f(X23))
    _check(f, X23)


def test_astype_float32_round_trip():
    d = Dual(X23, np.ones((2, 3, 2)))
    e = d.astype(np.float32)
    assert e.dtype == np.float32 and e.tangent.dtype == np.float32 and e.tangent.shape == (2, 3, 2)
    assert e.astype("float64").dtype == np.float64


def test_item_of_larger_dual_raises():
    with pytest.raises(ValueError):
        Dual(X23, np.ones_like(X23)).item()


# ----------------------------------------------------------------------------- operators
A = np.array([0.7, -1.3, 2.2])
B = np.array([1.4, 0.6, -0.8])

BINARY_OPS = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: abs(a) ** b),
    ("matmul", lambda a, b: a @ b),
    ("mod", lambda a, b: a % (abs(b) + 3.0)),
]


@pytest.mark.parametrize("name, op", BINARY_OPS, ids=[o[0] for o in BINARY_OPS])
def test_binary_operators_both_dual(name, op):
    _check(lambda z: op(z[:3], z[3:]), np.concatenate([A, B]))


@pytest.mark.parametrize("name, op", BINARY_OPS, ids=[o[0] for o in BINARY_OPS])
def test_binary_operators_with_constants(name, op):
    _check(lambda x: op(x, B), A)         # Dual op ndarray
    _check(lambda x: op(A, x), B)         # ndarray op Dual: numpy hands over via __array_ufunc__
    if name != "matmul":
        _check(lambda x: op(x, 1.5), A)   # Dual op Python float
        _check(lambda x: op(1.5, x), B)   # reflected: float op Dual
        _check(lambda x: op(x, 2), A)     # Dual op int
        _check(lambda x: op(np.float64(1.5), x), B)   # numpy scalar op Dual


def test_python_scalar_reflected_returns_dual():
    d = Dual(2.0, 1.0)
    for r in (1 + d, 1 - d, 3 * d, 1 / d, 2 ** d, 5 % d, np.float64(2) * d, np.array(2.0) - d):
        assert isinstance(r, Dual)
    assert (1 - d).tangent == -1 and (1 / d).tangent == -0.25
    assert (2 ** d).tangent == pytest.approx(4 * np.log(2))


def test_unary_operators():
    _check(lambda x: -x, A)
    _check(lambda x: +x * x, A)
    _check(lambda x: abs(x), A)
    d = Dual(A, np.ones(3))
    assert isinstance(-d, Dual) and isinstance(+d, Dual) and isinstance(abs(d), Dual)


INPLACE = [
    ("iadd", lambda y, b: y.__iadd__(b)),
    ("isub", lambda y, b: y.__isub__(b)),
    ("imul", lambda y, b: y.__imul__(b)),
    ("itruediv", lambda y, b: y.__itruediv__(b)),
    ("ipow", lambda y, b: y.__ipow__(2.0)),
    ("imod", lambda y, b: y.__imod__(5.0)),
]


@pytest.mark.parametrize("name, iop", INPLACE, ids=[o[0] for o in INPLACE])
def test_inplace_operators(name, iop):
    def f(z):
        y = z[:3] * 1.0
        out = iop(y, z[3:])
        assert out is y  # in place: the same object comes back
        return y
    _check(f, np.concatenate([A, B]))


def test_inplace_with_constants_and_statement_form():
    def f(x):
        y = x * 1.0
        y += 1.0
        y *= B
        y -= A
        y /= 2.0
        y **= 2
        return y
    _check(f, A)


def test_inplace_matmul():
    M = np.array([[1.0, 2.0], [-0.5, 0.3]])

    def f(x):
        y = x.reshape(2, 2) * 1.0
        y @= M
        return y
    _check(f, np.array([0.3, -1.0, 2.0, 0.7]))


def test_inplace_on_a_view_updates_the_base_like_numpy():
    base = np.arange(6.0).reshape(2, 3)
    d = Dual(base.copy(), np.ones((2, 3)))
    v = d[0]          # basic indexing: a view, as in numpy
    v += 10.0
    plain = base.copy()
    pv = plain[0]
    pv += 10.0
    np.testing.assert_array_equal(d.value, plain)
    np.testing.assert_array_equal(d.tangent, np.ones((2, 3)))
    w = d[:, 1:]
    w *= d[:, :2]      # overlapping operands: numpy reads the operands before writing
    pw = plain[:, 1:]
    pw *= plain[:, :2]
    np.testing.assert_array_equal(d.value, plain)
    # d/d(seed) of v_new = v_old_col * v_old_prev_col: both tangents were 1
    np.testing.assert_array_equal(d.tangent[:, 1:], np.array([[10, 11], [3, 4]]) + np.array([[11, 12], [4, 5]]))


def test_inplace_on_a_view_derivative():
    def f(x):
        y = x * 1.0
        v = y[1:]
        v *= x[:-1]   # y[i] becomes x[i] * x[i-1] for i >= 1
        return y
    _check(f, A)


# ----------------------------------------------------------------------------- comparisons
def test_comparisons_return_plain_values():
    d = Dual(A, np.ones(3))
    e = Dual(B, np.ones(3))
    for r in (d < 0, d <= e, d > B, d >= 0.5, d == d, d != e, 0 < d, B > d, A == d, np.less(d, e),
              np.greater_equal(A, d)):
        assert isinstance(r, np.ndarray) and r.dtype == bool
    np.testing.assert_array_equal(d < e, A < B)
    np.testing.assert_array_equal(B > d, B > A)
    s = Dual(2.0, 1.0)
    assert (s > 1) is np.True_ or (s > 1) is True
    assert isinstance(s < 1, (bool, np.bool_)) and not (s < 1)
    assert isinstance(s == 2.0, (bool, np.bool_)) and s == 2.0


def test_python_branching_on_values():
    def f(x):
        return x ** 2 if x > 0 else -x

    assert dualad.derivative(f, 3.0) == 6.0
    assert dualad.derivative(f, -3.0) == -1.0
    assert bool(Dual(0.0, 1.0)) is False and bool(Dual(2.0, 0.0)) is True


def test_dual_is_unhashable_like_ndarray():
    with pytest.raises(TypeError):
        hash(Dual(1.0, 1.0))


# ----------------------------------------------------------------------------- indexing
X3 = np.arange(24.0).reshape(2, 3, 4) / 7.0 - 1.0

KEYS = [1, -1, slice(1, None), (0, 1), (0, slice(None), 2), Ellipsis, (Ellipsis, 1), (1, Ellipsis),
        None, (None, 0), (slice(None), None, 1), [1, 0, 1], np.array([[0], [1]]), ([0, 1], [2, 0]),
        (slice(None), [2, 0]), ([1, 0], slice(None), [3, 3]), X3 > 0, (slice(None), (X3 > 0)[1]),
        (0, np.array([True, False, True])), (1, slice(None), np.array([True, False, True, True])),
        (Ellipsis, np.array([True, False, True, True])), ()]


@pytest.mark.parametrize("key", KEYS, ids=[f"key{i}" for i in range(len(KEYS))])
@pytest.mark.parametrize("batched", [False, True])
def test_indexing_value_and_tangent(key, batched):
    t = np.random.default_rng(0).standard_normal(X3.shape + ((3,) if batched else ()))
    d = Dual(X3, t)
    got = d[key]
    assert isinstance(got, Dual)
    np.testing.assert_array_equal(got.value, X3[key])
    if batched:
        for k in range(3):
            np.testing.assert_array_equal(got.tangent[..., k], t[..., k][key])
    else:
        np.testing.assert_array_equal(got.tangent, t[key])


def test_index_with_numpy_integer_and_negative_step():
    d = Dual(A, np.eye(3))
    assert d[np.int64(2)].value == A[2]
    np.testing.assert_array_equal(d[::-1].tangent, np.eye(3)[::-1])


# ----------------------------------------------------------------------------- __setitem__
@pytest.mark.parametrize("batched", [False, True])
def test_setitem_updates_value_and_tangent_together(batched):
    k = (2,) if batched else ()
    d = Dual(np.zeros((2, 3)), np.zeros((2, 3) + k))
    item = Dual(np.array([1.0, 2.0, 3.0]), np.ones((3,) + k) * 7.0)
    d[1] = item
    np.testing.assert_array_equal(d.value, [[0, 0, 0], [1, 2, 3]])
    np.testing.assert_array_equal(d.tangent[1], np.full((3,) + k, 7.0))
    np.testing.assert_array_equal(d.tangent[0], np.zeros((3,) + k))
    d[:, 0] = 5.0           # a constant: the tangent there becomes zero
    np.testing.assert_array_equal(d.value[:, 0], [5.0, 5.0])
    np.testing.assert_array_equal(d.tangent[:, 0], np.zeros((2,) + k))
    d[0, 1:] = item[0]      # a scalar Dual broadcast into a slice
    np.testing.assert_array_equal(d.value[0], [5.0, 1.0, 1.0])
    np.testing.assert_array_equal(d.tangent[0, 1:], np.full((2,) + k, 7.0))


def test_setitem_with_masks_and_index_arrays():
    def f(x):
        y = np.zeros_like(x)
        y[x > 0] = x[x > 0] ** 2
        y[[0, 2]] += 1.0
        y[..., -1] = np.sin(x[0])
        return y
    _check(f, A)


def test_setitem_plain_values_into_dual():
    d = Dual(np.ones(3), np.ones(3))
    d[1] = np.float32(4.0)
    d[2] = 3
    np.testing.assert_array_equal(d.value, [1.0, 4.0, 3.0])
    np.testing.assert_array_equal(d.tangent, [1.0, 0.0, 0.0])


def test_setitem_buffer_from_zeros_like():
    def f(x):
        out = dualad.zeros_like(x)
        for i in range(1, len(x)):
            out[i] = x[i] * x[i - 1]
        return out
    _check(f, A)


def test_setitem_of_inner_dual_into_outer_buffer():
    """Writing a Dual of a newer (inner) differentiation into an older buffer lifts the buffer."""
    def f(x):
        buf = np.zeros_like(x)       # tagged with the outer differentiation

        def h(y):
            buf[0] = y[0] * x[1]     # y is the inner variable
            return buf[0]
        g = dualad.gradient(h, x)    # = [x1, 0, 0]
        return g * x[0]              # = [x0 * x1, 0, 0]

    x = np.array([2.0, 3.0, 5.0])
    J = dualad.jacobian(f, x)
    np.testing.assert_allclose(J, [[3.0, 2.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


# ----------------------------------------------------------------------------- ufunc methods
REDUCTIONS = [np.add, np.multiply, np.maximum, np.minimum]


@pytest.mark.parametrize("ufunc", REDUCTIONS, ids=lambda u: u.__name__)
def test_ufunc_reduce(ufunc):
    d = Dual(X23, np.ones((2, 3)))
    assert isinstance(ufunc.reduce(d), Dual)
    np.testing.assert_allclose(ufunc.reduce(d).value, ufunc.reduce(X23))
    _check(lambda x: ufunc.reduce(x), X23)
    _check(lambda x: ufunc.reduce(x, axis=1), X23)
    _check(lambda x: ufunc.reduce(x, axis=-1, keepdims=True), X23)
    _check(lambda x: ufunc.reduce(x, axis=None), X23)
    _check(lambda x: ufunc.reduce(x), A)


@pytest.mark.parametrize("ufunc", REDUCTIONS, ids=lambda u: u.__name__)
def test_ufunc_accumulate(ufunc):
    d = Dual(X23, np.ones((2, 3)))
    assert isinstance(ufunc.accumulate(d), Dual)
    np.testing.assert_array_equal(ufunc.accumulate(d).value, ufunc.accumulate(X23))
    np.testing.assert_array_equal(ufunc.accumulate(d, axis=1).value, ufunc.accumulate(X23, axis=1))
    _check(lambda x: ufunc.accumulate(x), X23)
    _check(lambda x: ufunc.accumulate(x, axis=1), X23)
    _check(lambda x: ufunc.accumulate(x, axis=-1), X23)
    _check(lambda x: ufunc.accumulate(x), np.array([0.3, -1.0, 2.0, 1.5, 2.5, 0.1, -3.0]))


@pytest.mark.parametrize("ufunc", [np.maximum, np.minimum], ids=lambda u: u.__name__)
def test_extreme_accumulate_ties_match_prefix_reduction(ufunc):
    """With ties, entry j of the running max/min has the derivative of np.max/np.min of the prefix."""
    x = np.array([3.0, 1.0, 3.0, 3.0, 0.0, 4.0, 4.0]) * (1 if ufunc is np.maximum else -1)
    reduce = np.max if ufunc is np.maximum else np.min
    J = dualad.jacobian(ufunc.accumulate, x)
    for j in range(len(x)):
        want = np.zeros(len(x))
        want[:j + 1] = dualad.jacobian(reduce, x[:j + 1])
        np.testing.assert_allclose(J[j], want, rtol=0, atol=1e-15)
    # and the hand-derived tie shares
    np.testing.assert_allclose(J[3], [1 / 3, 0, 1 / 3, 1 / 3, 0, 0, 0])
    np.testing.assert_allclose(J[6], [0, 0, 0, 0, 0, 0.5, 0.5])


def test_ufunc_accumulate_second_derivative():
    x = np.array([0.3, -1.0, 2.0, 1.5, 2.5])
    H = dualad.hessian(lambda x: np.sum(np.maximum.accumulate(x) ** 2), x)
    # running max = [x0, x0, x2, x2, x4]: the sum of squares has d2 = 4, 4, 2 on x0, x2, x4
    np.testing.assert_allclose(H, np.diag([4.0, 0.0, 4.0, 0.0, 2.0]))


def test_ufunc_outer():
    _check(lambda z: np.multiply.outer(z[:2], z[2:]), np.array([0.5, -1.0, 2.0, 3.0, 0.1]))
    _check(lambda x: np.add.outer(x, B), A)


def test_ufunc_out_dual_buffer():
    def f(x):
        out = np.zeros_like(x)
        r = np.sin(x, out=out)
        assert r is out
        np.multiply(out, x, out=(out,))
        np.add(out, 1.0, out=out)
        return out
    _check(f, A)


def test_ufunc_out_plain_array_for_predicates():
    d = Dual(A, np.ones(3))
    buf = np.zeros(3, dtype=bool)
    r = np.isnan(d, out=buf)
    assert r is buf and not buf.any()


def test_array_function_out_dual_buffer():
    def f(x):
        out = np.zeros_like(x[0])
        np.sum(x, axis=0, out=out)
        return out
    _check(f, X23)
