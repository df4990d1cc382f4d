"""The forward-mode API: jvp, derivative, jacobian (chunking, input and output forms), gradient,
hessian, nesting, and hand-derived cases from backpropagation lecture notes."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import Dual, forward

from cases import central_jacobian


def mixed(x):
    """A function of a (3, 4) array touching many rule kinds."""
    A = x[:, :3]
    b = x[:, 3]
    y = np.linalg.solve(A + 3.0 * np.eye(3), b)
    out = np.zeros_like(x[0])
    out[:3] = np.cumprod(y) * np.max(x, axis=0)[:3]
    out[3] = np.sum(np.sin(x) * x ** 2) + np.linalg.norm(x[0])
    return np.concatenate([out, (A @ b) / np.exp(x[2, :3])])


X34 = np.array([[0.3, -1.2, 2.1, 0.5], [1.7, -0.4, 0.9, -0.8], [0.2, 1.1, -1.5, 1.3]])


# ----------------------------------------------------------------------------- jacobian: chunking
@pytest.mark.parametrize("chunk", [1, 3, 5, 12, 40, None])
def test_jacobian_chunk_sizes_agree(chunk):
    # n = 12: 1, a divisor (3), a non-divisor (5), n, more than n, and automatic
    J = dualad.jacobian(mixed, X34, chunk_size=chunk)
    assert J.shape == (7, 3, 4)
    np.testing.assert_allclose(J, central_jacobian(mixed, X34), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(J, dualad.jacobian(mixed, X34, chunk_size=1), rtol=1e-13, atol=1e-14)


def test_jacobian_chunks_call_f_once_per_chunk():
    calls = []

    def f(x):
        calls.append(np.shape(x.tangent))
        return np.sin(x) * x[0]

    x = np.linspace(0.1, 1.0, 10)
    J = dualad.jacobian(f, x, chunk_size=4)
    assert calls == [(10, 4), (10, 4), (10, 2)]
    calls.clear()
    np.testing.assert_allclose(dualad.jacobian(f, x), J, rtol=1e-14)
    assert calls == [(10, 10)]


def test_auto_chunk_size_rule(monkeypatch):
    assert dualad.auto_chunk_size(1) == 1 and dualad.auto_chunk_size(0) == 1
    assert dualad.auto_chunk_size(2048) == 2048          # 2048 * 2048 * 8 bytes == 32 MiB
    assert dualad.auto_chunk_size(2049) == forward.CHUNK_BYTES // (2049 * 8)
    assert dualad.auto_chunk_size(20_000) == 209
    assert dualad.auto_chunk_size(4096, itemsize=4) == 2048
    # a smaller budget makes jacobian(..., chunk_size=None) go in chunks, with the same result
    x = np.linspace(-1.0, 1.0, 30)
    full = dualad.jacobian(lambda v: np.cumsum(v ** 3), x)
    monkeypatch.setattr(forward, "CHUNK_BYTES", 30 * 7 * 8)
    assert dualad.auto_chunk_size(30) == 7
    calls = []

    def f(v):
        calls.append(1)
        return np.cumsum(v ** 3)
    np.testing.assert_allclose(dualad.jacobian(f, x), full, rtol=1e-14)
    assert len(calls) == 5   # ceil(30 / 7)


# ----------------------------------------------------------------------------- jacobian: input forms
def test_x_python_float():
    J = dualad.jacobian(lambda x: x ** 3, 2.0)
    assert np.shape(J) == () and J == pytest.approx(12.0)


def test_x_python_int_and_list():
    assert dualad.jacobian(lambda x: x ** 3, 2) == pytest.approx(12.0)
    J = dualad.jacobian(lambda x: x * x[::-1], [1.0, 2, 3])
    np.testing.assert_allclose(J, [[3, 0, 1], [0, 4, 0], [3, 0, 1]])
    J = dualad.jacobian(lambda x: np.sum(x ** 2), [[1, 2], [3, 4]])
    np.testing.assert_allclose(J, [[2, 4], [6, 8]])


@pytest.mark.parametrize("shape", [(), (1,), (4,), (2, 3), (2, 1, 3)], ids=str)
def test_x_any_shape(shape):
    x = np.linspace(0.2, 1.4, int(np.prod(shape))).reshape(shape)
    f = lambda x: np.stack([np.sum(np.exp(x)), np.prod(x)])  # noqa: E731
    J = dualad.jacobian(f, x)
    assert J.shape == (2,) + shape
    np.testing.assert_allclose(J, central_jacobian(f, x), rtol=1e-6, atol=1e-8)
    g = lambda x: np.sin(x) * 2.0  # noqa: E731
    assert dualad.jacobian(g, x).shape == shape + shape


def test_x_is_not_modified():
    x = np.array([1.0, 2.0])
    keep = x.copy()

    def f(v):
        v[0] = 7.0          # writes into the seeded Dual, never into the caller's array
        return v * 2.0
    dualad.jacobian(f, x)
    np.testing.assert_array_equal(x, keep)


def test_empty_x_gives_empty_jacobian():
    assert dualad.jacobian(lambda x: np.sum(x), np.zeros(0)).shape == (0,)
    assert dualad.jacobian(lambda x: x * 2.0, np.zeros(0)).shape == (0, 0)
    assert dualad.jacobian(lambda x: x * 2.0, np.zeros((2, 0))).shape == (2, 0, 2, 0)
    assert dualad.jacobian(lambda x: np.ones(3), np.zeros((0, 4))).shape == (3, 0, 4)
    assert dualad.jacobian(lambda x: np.sum(x), [], chunk_size=3).shape == (0,)
    assert dualad.gradient(lambda x: np.sum(x ** 2), np.zeros((0, 2))).shape == (0, 2)


def test_empty_output():
    assert dualad.jacobian(lambda x: x[:0], np.ones(3)).shape == (0, 3)
    assert dualad.jacobian(lambda x: [], np.ones((2, 3))).shape == (0, 2, 3)


# ----------------------------------------------------------------------------- jacobian: output forms
def test_f_returns_python_scalar_independent_of_x():
    J = dualad.jacobian(lambda x: 5.0, [1.0, 2.0])
    np.testing.assert_array_equal(J, [0.0, 0.0])


def test_f_returns_constant_ndarray():
    J = dualad.jacobian(lambda x: np.ones((2, 3)), np.array([1.0, 2.0]))
    assert J.shape == (2, 3, 2) and not J.any()
    J = dualad.jacobian(lambda x: np.array([1, 2]), 2.0)   # int output, constant
    assert J.shape == (2,) and J.dtype == np.float64 and not J.any()


def test_f_returns_dual():
    J = dualad.jacobian(lambda x: np.exp(x), np.array([0.0, 1.0]))
    np.testing.assert_allclose(J, np.diag([1.0, np.e]))


def test_f_returns_list_or_tuple_of_scalars():
    f = lambda x: [x[0] * x[1], 3.0, np.sin(x[1])]  # noqa: E731
    J = dualad.jacobian(f, [2.0, 0.5])
    np.testing.assert_allclose(J, [[0.5, 2.0], [0.0, 0.0], [0.0, np.cos(0.5)]])
    g = lambda x: (x[0], x[1] ** 2)  # noqa: E731
    np.testing.assert_allclose(dualad.jacobian(g, [2.0, 3.0]), [[1.0, 0.0], [0.0, 6.0]])


def test_f_returns_nested_list():
    J = dualad.jacobian(lambda x: [[x[0], x[1]], [x[1] * x[0], 1.0]], [2.0, 3.0])
    assert J.shape == (2, 2, 2)
    np.testing.assert_allclose(J, [[[1, 0], [0, 1]], [[3, 2], [0, 0]]])


def test_outputs_independent_of_x_give_zeros():
    def f(x):
        return np.stack([x[0] * 2.0, np.float64(4.0) + 0.0 * 0.0, np.sum(np.ones(3))])
    J = dualad.jacobian(f, [1.0, 2.0])
    np.testing.assert_array_equal(J, [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    # a ZeroDerivative output (floor) and a constant from .value
    g = lambda x: [np.floor(x[0]), x.value[1] if isinstance(x, Dual) else x[1]]  # noqa: E731
    np.testing.assert_array_equal(dualad.jacobian(g, [1.5, 2.0]), np.zeros((2, 2)))


# ----------------------------------------------------------------------------- jvp, derivative, gradient
def test_jvp_matches_jacobian():
    v = np.random.default_rng(0).standard_normal(X34.shape)
    y, t = dualad.jvp(mixed, X34, v)
    np.testing.assert_allclose(y, mixed(X34), rtol=1e-14)
    np.testing.assert_allclose(t, np.tensordot(dualad.jacobian(mixed, X34), v, axes=2), rtol=1e-12, atol=1e-13)


def test_jvp_scalar_and_list():
    y, t = dualad.jvp(np.sin, 0.0, 2.0)
    assert y == 0.0 and t == 2.0
    y, t = dualad.jvp(lambda x: x[0] * x[1], [2.0, 3.0], [1.0, -1.0])
    assert y == 6.0 and t == pytest.approx(3.0 - 2.0)


def test_jvp_direction_shape_must_match():
    with pytest.raises(dualad.InputError, match="remedy"):
        dualad.jvp(np.sin, np.ones(3), np.ones(2))


def test_derivative():
    assert dualad.derivative(lambda t: t ** 3, 2.0) == pytest.approx(12.0)
    d = dualad.derivative(lambda t: np.stack([t, t ** 2, np.sin(t)]), 0.5)
    np.testing.assert_allclose(d, [1.0, 1.0, np.cos(0.5)])
    assert dualad.derivative(lambda t: 3.0, 1.0) == 0.0
    with pytest.raises(dualad.InputError, match="remedy"):
        dualad.derivative(np.sin, [1.0, 2.0])


def test_gradient():
    x = np.array([[1.0, 2.0], [-0.5, 0.3]])
    g = dualad.gradient(lambda x: np.sum(np.tanh(x) ** 2), x)
    assert g.shape == (2, 2)
    np.testing.assert_allclose(g, 2 * np.tanh(x) / np.cosh(x) ** 2, rtol=1e-14)
    with pytest.raises(dualad.OutputError, match="remedy"):
        dualad.gradient(lambda x: x * 2.0, x)


def test_hessian_against_hand_formula():
    def f(v):
        x, y, z = v[0], v[1], v[2]
        return x ** 2 * y + np.sin(y) * z ** 3 + np.exp(x * z)

    v = np.array([0.7, -1.1, 0.4])
    x, y, z = v
    e = np.exp(x * z)
    want = np.array([
        [2 * y + z * z * e, 2 * x, e + x * z * e],
        [2 * x, -np.sin(y) * z ** 3, 3 * z ** 2 * np.cos(y)],
        [e + x * z * e, 3 * z ** 2 * np.cos(y), 6 * z * np.sin(y) + x * x * e],
    ])
    H = dualad.hessian(f, v)
    np.testing.assert_allclose(H, want, rtol=1e-13)


def test_hessian_of_quadratic_form_and_shape():
    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
    x = np.arange(6.0).reshape(2, 3) / 5
    H = dualad.hessian(lambda x: np.sum((x @ A) * x), x)
    assert H.shape == (2, 3, 2, 3)
    want = np.zeros((2, 3, 2, 3))
    for i in range(2):
        want[i, :, i, :] = A + A.T
    np.testing.assert_allclose(H, want, rtol=1e-14)


# ----------------------------------------------------------------------------- nesting
def test_perturbation_confusion():
    """d/dx [x * d/dy (x + y)] at x = y = 1 is 1 (a tagless implementation gives 2)."""
    def outer(x):
        return x * dualad.derivative(lambda y: x + y, 1.0)
    assert dualad.derivative(outer, 1.0) == 1.0


def test_perturbation_confusion_inner_closes_over_outer_variable():
    # d/dx [ d/dy (x * y) at y = 2 ] = d/dx x = 1, and d/dx [x * d/dy (x * y)] = 2x
    assert dualad.derivative(lambda x: dualad.derivative(lambda y: x * y, 2.0), 3.0) == 1.0
    assert dualad.derivative(lambda x: x * dualad.derivative(lambda y: x * y, 2.0), 3.0) == 6.0


def test_jacobian_of_jacobian():
    def f(x):
        return np.stack([x[0] ** 2 * x[1], np.sin(x[1]) * x[2], x @ x])

    x = np.array([0.5, -1.0, 2.0])
    JJ = dualad.jacobian(lambda v: dualad.jacobian(f, v), x)
    assert JJ.shape == (3, 3, 3)
    np.testing.assert_allclose(JJ, np.swapaxes(JJ, 1, 2), rtol=1e-14)   # each output's Hessian is symmetric
    for i in range(3):
        np.testing.assert_allclose(JJ[i], dualad.hessian(lambda v: f(v)[i], x), rtol=1e-14)
    np.testing.assert_allclose(JJ, central_jacobian(lambda v: dualad.jacobian(f, v), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(JJ[2], 2 * np.eye(3))


def test_third_derivative_by_triple_nesting():
    d3 = dualad.derivative(lambda a: dualad.derivative(lambda b: dualad.derivative(lambda c: c ** 4, b), a), 1.5)
    assert d3 == pytest.approx(24 * 1.5)


def test_nested_with_chunking():
    f = lambda x: np.sum(np.sin(x) * np.roll(x, 1))  # noqa: E731
    x = np.linspace(-1, 1, 7)
    H1 = dualad.jacobian(lambda v: dualad.jacobian(f, v, chunk_size=2), x, chunk_size=3)
    H2 = dualad.hessian(f, x)
    np.testing.assert_allclose(H1, H2, rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------------- lecture cases (hand-derived)
def test_lecture_sum_times_product():
    """f(x, y, z) = (x + y) z at (-2, 5, -4): gradient (z, z, x + y) = (-4, -4, 3)."""
    g = dualad.gradient(lambda v: (v[0] + v[1]) * v[2], np.array([-2.0, 5.0, -4.0]))
    np.testing.assert_array_equal(g, [-4.0, -4.0, 3.0])


def test_lecture_two_outputs_one_forward_pass():
    """y1 = sin(w1 x + w0), y2 = cos(w1 x + w0): ONE pass with a Dual on w1 gives both derivatives."""
    x, w0, w1 = 1.7, -0.3, 0.8
    calls = []

    def f(w1):
        calls.append(1)
        a = w1 * x + w0
        return [np.sin(a), np.cos(a)]

    _, (dy1, dy2) = dualad.jvp(f, w1, 1.0)
    assert len(calls) == 1
    a = w1 * x + w0
    assert dy1 == pytest.approx(x * np.cos(a), rel=1e-15)
    assert dy2 == pytest.approx(-x * np.sin(a), rel=1e-15)
    # the same by hand with one Dual: both outputs carry their tangents
    d = Dual(w1, 1.0)
    y1, y2 = np.sin(d * x + w0), np.cos(d * x + w0)
    assert y1.tangent == pytest.approx(x * np.cos(a), rel=1e-15)
    assert y2.tangent == pytest.approx(-x * np.sin(a), rel=1e-15)


def test_lecture_dot_product():
    """y = w . x with w = [5, 3], x = [7, 2]: dy/dx = w = [5, 3], dy/dw = x = [7, 2]."""
    w, x = np.array([5.0, 3.0]), np.array([7.0, 2.0])
    np.testing.assert_array_equal(dualad.gradient(lambda x: w @ x, x), [5.0, 3.0])
    np.testing.assert_array_equal(dualad.gradient(lambda w: w @ x, w), [7.0, 2.0])
    np.testing.assert_array_equal(dualad.gradient(lambda w: np.dot(w, x), w), [7.0, 2.0])
    both = dualad.gradient(lambda v: v[:2] @ v[2:], np.concatenate([w, x]))
    np.testing.assert_array_equal(both, [7.0, 2.0, 5.0, 3.0])


# ----------------------------------------------------------------------------- chunk_size validation
@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
def test_bad_chunk_size(bad):
    with pytest.raises(dualad.InputError, match="remedy"):
        dualad.jacobian(np.sin, np.ones(3), chunk_size=bad)


def test_numpy_integer_chunk_size():
    np.testing.assert_allclose(dualad.jacobian(np.sin, np.ones(3), chunk_size=np.int64(2)), np.diag(np.cos(np.ones(3))))


# ----------------------------------------------------------------------------- mixed tags in one operation
_A = np.array([[2.3, 0.1, -0.4], [0.2, 1.8, 0.3], [-0.1, 0.4, 2.1]])


def _set_mixed(a, b):
    y = b * 1.0          # a buffer of the inner differentiation ...
    y[1] = a[0] * b[2]   # ... receiving a value that also carries the outer one
    y[2] = a[1]          # ... and one that carries only the outer one
    return y


def _set_mixed_outer_buffer(a, b):
    y = a + 0.0 * b
    y[1:] = b[:2] * a[0]
    return y


MIXED = {
    "concatenate": lambda a, b: np.concatenate([a, b]),
    "stack": lambda a, b: np.stack([a, b]),
    "matmul": lambda a, b: np.outer(a, a) @ b,
    "where": lambda a, b: np.where(a > 0, a * b, b),
    "solve": lambda a, b: np.linalg.solve(_A + np.outer(a, b), b),
    "inv": lambda a, b: np.linalg.inv(_A + np.outer(a, b)) @ a,
    "det": lambda a, b: np.linalg.det(_A + np.outer(a, b)) * b,
    "slogdet": lambda a, b: np.linalg.slogdet(_A + np.outer(a, b))[1] * b,
    "einsum": lambda a, b: np.einsum("i,j,j->i", a, b, a),
    "setitem": _set_mixed,
    "setitem outer buffer": _set_mixed_outer_buffer,
    "max": lambda a, b: np.max(np.stack([a * b, b])),
    "prod": lambda a, b: np.prod(a * b) + b,
    "cumprod": lambda a, b: np.cumprod(a + b),
    "maximum": lambda a, b: np.maximum(a, b),
    "clip": lambda a, b: np.clip(b, a - 1.0, a + 0.1),
    "norm": lambda a, b: np.linalg.norm(a * b, 1) + np.linalg.norm(np.outer(a, b), np.inf),
    "sort": lambda a, b: np.sort(a * b),
    "broadcast_to": lambda a, b: np.broadcast_to(a, (2, 3)) * b,
    "pow": lambda a, b: np.abs(a) ** b,
    "maximum.accumulate": lambda a, b: np.maximum.accumulate(a * b),
    "var": lambda a, b: np.var(a * b) + np.mean(a + b),
    "tensordot": lambda a, b: np.tensordot(np.outer(a, b), np.outer(b, a), axes=1),
    "kron": lambda a, b: np.kron(a, b),
    "polyval": lambda a, b: np.polyval(a, b),
    "matrix_power": lambda a, b: np.linalg.matrix_power(np.outer(a, b) * 0.3 + np.eye(3), 3) @ a,
    "zeros_like": lambda a, b: dualad.zeros_like(a) + b,
}


@pytest.mark.parametrize("g", list(MIXED.values()), ids=list(MIXED))
def test_mixed_partials_with_two_tags_in_one_operation(g):
    """d/dx of (gradient over y) where x and y (two nested differentiations) meet in one numpy call."""
    x0, y0 = np.array([0.4, -0.7, 1.2]), np.array([0.9, 0.3, -0.5])
    inner = lambda x: dualad.gradient(lambda y: np.sum(np.sin(g(x, y))), y0)  # noqa: E731
    M = dualad.jacobian(inner, x0)
    np.testing.assert_allclose(M, central_jacobian(inner, x0, rel_step=1e-5), rtol=1e-4, atol=1e-5)
    # the mixed second derivative is symmetric: the other nesting order gives the transpose
    other = lambda y: dualad.gradient(lambda x: np.sum(np.sin(g(x, y))), x0)  # noqa: E731
    np.testing.assert_allclose(dualad.jacobian(other, y0), M.T, rtol=1e-9, atol=1e-10)
