"""dualad.prepare: replayed derivatives equal the plain ones at new points, guards never replay a stale trace."""
import math

import numpy as np
import pytest

import dualad
from dualad import tape
from alias_check import central_differences  # central differences of the plain-float code



W = np.array([[0.3, -1.2, 0.5], [0.7, 0.1, -0.4]])
A = np.array([[2.0, 0.3, 0.1], [0.2, 3.0, -0.5], [0.0, 0.4, 1.5]])

# Functions of a length-3 vector, each a different kind of recorded node
SMOOTH = {
    "chain": lambda x: np.cosh(np.log1p(np.exp(np.sin(x)))),
    "broadcast": lambda x: x[:, None] * x[None, :] + np.ones((3, 3)),
    "scalar_broadcast": lambda x: x[0] + np.arange(4.0) * x[1],
    "matmul": lambda x: np.tanh(W @ x + 1.0),
    "matmul_left": lambda x: x @ A,
    "sum_axis": lambda x: np.sum(np.outer(x, x) ** 2, axis=0),
    "setitem": lambda x: _setitem(x),
    "list_output": lambda x: [x[0] * x[1], np.sin(x[2]), x[0] - x[2]],
    "concatenate": lambda x: np.concatenate([x[:2] ** 2, [x[0] * x[2]], x]),
    "stack": lambda x: np.stack([x, x ** 2]),
    "max": lambda x: np.max(x ** 2) + np.min(x),
    "solve": lambda x: np.linalg.solve(A + np.diag(x), x),
    "det": lambda x: np.linalg.det(A * x[0] + np.diag(x)),
    "power": lambda x: (x ** 2 + 0.5) ** x[0] + np.sqrt(x ** 2 + 1.0),
    "reshape": lambda x: np.reshape(np.outer(x, x), (9,))[::2],
    "where_constant_mask": lambda x: np.where(np.array([True, False, True]), x ** 2, -x),
    "floor": lambda x: x * np.floor(3 * x) + np.sign(x),
    "scalar_out": lambda x: np.sum(np.sin(x) * x),
    "constant": lambda x: np.ones(2),
    "mean_var": lambda x: np.mean(x) * np.var(x),
    "cumsum": lambda x: np.cumsum(x * x[::-1]),
    "prod": lambda x: np.prod(x + 1.5),
    "sum_of_product": lambda x: np.sum(np.outer(x, x) * A, axis=1) + np.sum(A * np.outer(x, np.cos(x)))
    + np.sum(np.sin(x)[None, :] * A, axis=0) + np.sum(np.outer(x, x) * x, axis=-1),
    # a factor known now, broadcast (a hand model's rest positions): summed with the tangent in one einsum
    "sum_of_constant_product": lambda x: np.sum(np.outer(np.sin(x), x) * np.array([[1.0, -2.0, 0.5]]), axis=1)
    + np.sum(np.reshape(np.outer(x, x ** 2), (3, 1, 3)) * A[:, None, :], axis=(0, 2)),
}


def _setitem(x):
    z = dualad.zeros_like(x, (4,))
    z[0] = x[0] * x[1]
    z[1:3] = np.sin(x[1:])
    z[3] = z[0] + x[2]
    return z


POINTS = [np.array([0.3, -0.7, 1.1]), np.array([1.3, 0.4, -0.2]), np.array([-0.6, 0.9, 0.5])]


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_jacobian_equals_plain_at_new_points(name):
    f = SMOOTH[name]
    p = dualad.prepare(f, POINTS[0])
    for x in POINTS[1:]:
        J = p.jacobian(x)
        np.testing.assert_allclose(J, dualad.jacobian(f, x), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(J, central_differences(f, x), rtol=1e-5, atol=1e-6)
    assert p.retapes == 0 and p.fallbacks == 0 and p.replays == len(POINTS) - 1


def test_sum_of_products_are_einsums_in_the_jacobian_program():
    p = dualad.prepare(SMOOTH["sum_of_constant_product"], POINTS[0])
    p.jacobian(POINTS[1])
    assert p.traces[0].jacobian_code.source.count("einsum(") == 2


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_jvp_vjp_against_plain(name):
    f = SMOOTH[name]
    p = dualad.prepare(f, POINTS[0])
    x = POINTS[1]
    v = np.array([0.5, -1.0, 2.0])
    y, jv = p.jvp(x, v)
    y_ref, jv_ref = dualad.jvp(f, x, v)
    np.testing.assert_allclose(y, y_ref, rtol=1e-14)
    np.testing.assert_allclose(jv, jv_ref, rtol=1e-12, atol=1e-13)
    u = np.linspace(-1.0, 1.0, np.size(y)).reshape(np.shape(y))
    y2, uj = p.vjp(x, u)
    np.testing.assert_allclose(y2, y_ref, rtol=1e-14)
    np.testing.assert_allclose(uj, tape.vjp(f, x, u)[1], rtol=1e-12, atol=1e-13)
    # the adjoint identity <u, J v> = <uᵀJ, v> ties the two programs together
    assert math.isclose(float(np.sum(u * jv)), float(np.sum(uj * v)), rel_tol=1e-10, abs_tol=1e-12)


@pytest.mark.parametrize("name", ["scalar_out", "max", "det", "mean_var", "prod"])
def test_value_and_grad_and_hvp(name):
    f = SMOOTH[name]
    p = dualad.prepare(f, POINTS[0])
    for x in POINTS[1:]:
        value, g = p.value_and_grad(x)
        np.testing.assert_allclose(value, f(x), rtol=1e-14)
        np.testing.assert_allclose(g, dualad.gradient(f, x), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(p.gradient(x), g)
        v = np.array([1.0, -0.5, 0.25])
        np.testing.assert_allclose(p.hvp(x, v), dualad.hvp(f, x, v), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p.hvp(x, v), dualad.hessian(f, x) @ v, rtol=1e-8, atol=1e-10)


def test_reverse_jacobian_for_wide_functions():
    f = lambda x: np.stack([np.sum(np.sin(x) * x), np.prod(x[:3])])  # noqa: E731  (2 outputs, 6 inputs)
    x0 = np.linspace(0.2, 1.2, 6)
    p = dualad.prepare(f, x0)
    x = x0[::-1].copy()
    np.testing.assert_allclose(p(x), dualad.jacobian(f, x), rtol=1e-12, atol=1e-14)


def test_results_are_own_arrays():
    p = dualad.prepare(lambda x: x[:2], np.ones(3))
    J = p(np.zeros(3))
    J[0, 0] = 5.0
    np.testing.assert_array_equal(p(np.zeros(3)), np.eye(3)[:2])


def test_input_is_not_changed_and_int_input_accepted():
    f = SMOOTH["setitem"]
    p = dualad.prepare(f, [1, 2, 3])
    x = np.array([0.5, 0.25, 2.0])
    before = x.copy()
    p(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(p([1, 2, 3]), dualad.jacobian(f, np.array([1.0, 2.0, 3.0])))


# ------------------------------------------------------------------ guards
def test_branch_change_retapes_and_is_right():
    f = lambda x: x ** 2 if x[0] > 0 else x ** 2 + x[0]  # noqa: E731 (issue 12's example)
    p = dualad.prepare(f, np.ones(3))
    x = np.array([-1.0, 1.0, 1.0])
    J = p(x)
    np.testing.assert_allclose(J[1], [1.0, 2.0, 0.0])  # a stale trace gives [0, 2, 0]
    assert p.mismatches == 1 and p.retapes == 0  # met once: answered plainly
    np.testing.assert_allclose(p(x), dualad.jacobian(f, x))
    assert p.mismatches == 2 and p.retapes == 1  # met again: recorded
    np.testing.assert_allclose(p(np.ones(3)), 2 * np.eye(3))
    np.testing.assert_allclose(p(x), dualad.jacobian(f, x))
    assert p.retapes == 1 and p.mismatches == 2 and len(p.traces) == 2  # both branches replayed now


@pytest.mark.parametrize("f", [
    lambda x: np.sort(x) * np.arange(1.0, 4.0),
    lambda x: x * x[np.argmax(x)],
    lambda x: x[np.argsort(x)][:2] ** 2,
    lambda x: np.where(x > 0, x ** 2, -x),
    lambda x: x[np.nonzero(x > 0)[0]].sum() * x,
    lambda x: x[x > 0.5].sum() * x,
], ids=["sort", "argmax_index", "argsort", "where_mask", "nonzero", "boolean_mask"])
def test_value_dependent_orders_are_guarded(f):
    p = dualad.prepare(f, np.array([0.1, 0.7, -0.4]))
    for x in (np.array([0.9, -0.3, 0.6]), np.array([-0.2, 0.1, 0.8]), np.array([0.1, 0.7, -0.4])):
        for _ in range(2):
            np.testing.assert_allclose(p(x), dualad.jacobian(f, x), rtol=1e-12, atol=1e-14)
    assert p.retapes >= 1 and p.replays + p.mismatches == 6


def test_while_loop_with_value_exit():
    def f(x):
        y = x
        steps = 0
        while np.sum(y * y) < 10.0 and steps < 20:
            y = 1.5 * y + np.sin(y)
            steps += 1
        return y
    p = dualad.prepare(f, np.array([0.5, 0.2]))
    for x in 2 * (np.array([0.1, 0.1]), np.array([2.0, 2.0]), np.array([0.5, 0.2])):
        np.testing.assert_allclose(p(x), dualad.jacobian(f, x), rtol=1e-12)
    assert 2 <= p.mismatches <= 4 and p.retapes >= 1 and len(p.traces) >= 2


def test_shape_change_is_a_new_trace():
    f = lambda x: np.sin(x) * np.sum(x)  # noqa: E731
    p = dualad.prepare(f, np.ones(3))
    for _ in range(3):
        np.testing.assert_allclose(p(np.ones(5)), dualad.jacobian(f, np.ones(5)))
    assert p.mismatches == 2 and p.retapes == 1 and p.replays == 1


def test_trace_cache_is_bounded():
    f = lambda x: x * (1.0 if x[0] < 1 else 2.0 if x[0] < 2 else 3.0 if x[0] < 3 else 4.0)  # noqa: E731
    p = dualad.prepare(f, np.array([0.5]), max_traces=2)
    for x0 in (1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 0.5, 0.5):
        assert p(np.array([x0]))[0, 0] == 1.0 + min(int(x0), 3)
    assert len(p.traces) == 2 and p.retapes == 4


def test_value_reading_composite_is_refused_with_remedy():
    with pytest.raises(dualad.ReplayRefused, match="dualad.jacobian"):
        dualad.prepare(lambda x: np.median(x) * x, np.array([0.3, 0.1, 0.2]))
    assert issubclass(dualad.ReplayRefused, dualad.DualadError)


def test_nonfinite_results_use_the_plain_conventions():
    f = lambda x: np.sqrt(x) * x  # noqa: E731  (sqrt'(0) is inf, times x = 0: forward mode gives 0 there)
    p = dualad.prepare(f, np.ones(2))
    x = np.array([0.0, 1.0])
    np.testing.assert_array_equal(p(x), dualad.jacobian(f, x))
    assert p.fallbacks == 1


# ------------------------------------------------------------------ extra arguments
def rhs(t, y, k):
    return np.stack([-k * y[0] + np.exp(-t) * y[1], k * y[0] * y[1] - t * y[1] ** 2])


def test_extra_arguments_recorded_as_values():
    p = dualad.prepare(rhs, np.array([1.0, 2.0]), args=(0.0, 0.5), argnum=1)
    for t in (0.0, 0.3, 1.7):
        y = np.array([0.4, -1.2]) * (1 + t)
        np.testing.assert_allclose(p(t, y, 0.5), dualad.jacobian(lambda v: rhs(t, v, 0.5), y), rtol=1e-13)
    np.testing.assert_allclose(p(0.2, np.ones(2), 2.0), dualad.jacobian(lambda v: rhs(0.2, v, 2.0), np.ones(2)))
    assert p.retapes == 0


def test_extra_argument_used_as_python_number_is_guarded():
    import math as m

    def f(t, y):
        return y * m.exp(-t) + y ** 2 * int(t > 1)  # float(t): t must stay a plain number
    p = dualad.prepare(f, np.ones(2), args=(0.0,), argnum=1)
    for t in (0.0, 0.5, 2.0, 0.5, 0.5):
        np.testing.assert_allclose(p(t, np.array([1.0, 3.0])), dualad.jacobian(lambda v: f(t, v), np.array([1.0, 3.0])))
    # each new t is a new constant of the recording: 0.5 and 2.0 answered plainly, then 0.5 recorded and replayed
    assert p.mismatches == 3 and p.retapes == 1 and p.replays == 2


def test_solve_ivp_with_prepared_jacobian():
    scipy = pytest.importorskip("scipy.integrate")

    def robertson(t, y):
        return np.stack([-0.04 * y[0] + 1e4 * y[1] * y[2],
                         0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
                         3e7 * y[1] ** 2])
    y0 = np.array([1.0, 0.0, 0.0])
    jac = dualad.prepare(robertson, y0, args=(0.0,), argnum=1)
    sol = scipy.solve_ivp(robertson, (0, 100.0), y0, method="BDF", jac=jac, rtol=1e-6, atol=1e-10)
    ref = scipy.solve_ivp(robertson, (0, 100.0), y0, method="BDF", rtol=1e-6, atol=1e-10)
    assert sol.success and jac.replays >= 1 and jac.retapes == 0
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-3, atol=1e-8)


def test_wrong_number_of_arguments():
    p = dualad.prepare(rhs, np.ones(2), args=(0.0, 0.5), argnum=1)
    with pytest.raises(dualad.InputError, match="call it the way f is called"):
        p(np.ones(2))
    with pytest.raises(dualad.InputError, match="shape"):
        dualad.prepare(np.sin, np.ones(2)).jvp(np.ones(2), np.ones(3))
    with pytest.raises(dualad.OutputError):
        dualad.prepare(np.sin, np.ones(2)).value_and_grad(np.ones(2))


# ------------------------------------------------------------------ scalar-style code: Python-float and vectorised programs
def lorenz96(x):
    n = len(x)
    return [(x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + 8.0 for i in range(n)]


def robertson_list(y):
    k1, k2, k3 = 0.04, 3e7, 1e4
    return [-k1 * y[0] + k3 * y[1] * y[2], k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2, k2 * y[1] ** 2]


def kinetics_mixed(y):  # divisions, powers, a transcendental, a value-dependent branch, a scalar output row
    rate = np.exp(-1.5 / (y[0] + 2.0)) * y[1] ** 3 / (1.0 + y[2] ** 2)
    other = y[0] * y[2] - 0.5 * y[1] if y[0] > 0.2 else np.sin(y[1]) * y[2]
    return [rate - other, -rate, 2.0 * other + y[1] / y[2], np.sqrt(y[0] ** 2 + 1.0), (y[0] ** 2 + 0.1) ** 1.5]


def scalar_then_vector(x):  # scalar rows and one whole-array operation: the vectorised block
    rows = np.stack([(x[(i + 1) % len(x)] - x[i - 2]) * x[i - 1] - x[i] for i in range(len(x))])
    return np.concatenate([rows, np.sin(x) * x[0]])


@pytest.mark.parametrize("f, x0, points", [
    (lorenz96, np.linspace(0.1, 1.0, 12), [np.cos(np.arange(12.0)), np.linspace(-2, 2, 12)]),
    (robertson_list, np.array([0.9, 2e-5, 0.1]), [np.array([0.5, 3e-5, 0.4]), np.array([1.0, 0.0, 0.0])]),
    (kinetics_mixed, np.array([0.5, 0.7, 1.3]), [np.array([0.6, 0.2, 0.9]), np.array([0.1, 0.8, 1.1]),
                                                np.array([0.1, 0.8, 1.1])]),
    (scalar_then_vector, np.linspace(0.2, 1.4, 10), [np.sin(np.arange(10.0)), np.linspace(-1, 1, 10)]),
], ids=["lorenz96", "robertson", "kinetics_branch", "scalar_then_vector"])
def test_scalar_style_programs(f, x0, points):
    p = dualad.prepare(f, x0)
    for x in points:
        J = p(x)
        np.testing.assert_allclose(J, dualad.jacobian(f, x), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(J, central_differences(lambda v: np.asarray(f(v), dtype=float), x),
                                   rtol=1e-5, atol=1e-5 * max(1.0, np.max(np.abs(J))))


def test_scalar_program_and_vectorised_block_are_used():
    from dualad.replay.jacobian_code import jacobian_program
    from dualad.replay.scalar_code import scalar_program
    from dualad.replay.recording import record
    x = np.linspace(0.1, 1.0, 12)
    rec = record(lorenz96, (x,), 0)
    assert scalar_program(rec) is not None
    assert scalar_program(record(scalar_then_vector, (x,), 0)) is None  # np.sin(x): not scalar-style
    vec = jacobian_program(record(scalar_then_vector, (x,), 0))
    assert "R[" in vec.source and "TR[" in vec.source  # the scalar rows went through the lanes
    for program in (vec, jacobian_program(record(scalar_then_vector, (x,), 0), vectorize=False)):
        np.testing.assert_allclose(program(x[::-1].copy()), dualad.jacobian(scalar_then_vector, x[::-1].copy()),
                                   rtol=1e-13, atol=1e-14)


def test_scalar_rhs_with_time_argument():
    def rhs(t, y):
        return [-0.04 * y[0] * (1.0 + t) + 1e4 * y[1] * y[2], 3e7 * y[1] ** 2 - t * y[0]]
    p = dualad.prepare(rhs, np.array([1.0, 1e-5, 0.1]), args=(0.0,), argnum=1)
    for t in (0.0, 0.7, 3.0):
        y = np.array([0.8, 2e-5, 0.2]) * (1.0 + t)
        np.testing.assert_allclose(p(t, y), dualad.jacobian(lambda v: rhs(t, v), y), rtol=1e-13)
    assert p.replays == 3 and p.retapes == 0


def test_sparse_prepared_jacobian():
    pytest.importorskip("scipy")

    def bratu(u, lam):
        h2 = 1.0 / (len(u) + 1) ** 2
        padded = np.concatenate([np.zeros(1), u, np.zeros(1)])
        return (padded[2:] - 2 * u + padded[:-2]) / h2 + lam * np.exp(u) * (1.0 if u[0] > 0 else 2.0)
    n = 30
    p = dualad.prepare(bratu, np.full(n, 0.1), args=(2.0,), argnum=0, sparse=True)
    for u, lam in ((np.linspace(0.1, 0.5, n), 1.5), (-np.linspace(0.1, 0.5, n), 2.0), (-np.linspace(0.1, 0.5, n), 2.0)):
        J = p(u, lam)
        assert J.format == "csr" and J.nnz == 3 * n - 2
        np.testing.assert_allclose(J.toarray(), dualad.jacobian(lambda v: bratu(v, lam), u), rtol=1e-12, atol=1e-9)
    assert p.retapes == 1  # the branch on u[0] flipped: recorded (with its own pattern) the second time


def test_gradient_of_a_sliced_parameter_vector():
    """Slices of one parameter vector (an MLP's weights): their adjoints are added into one buffer in place."""
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))

    def loss(theta):
        W1, b1 = theta[:12].reshape(4, 3), theta[12:15]
        W2, b2 = theta[15:21].reshape(3, 2), theta[21:23]
        r = np.tanh(X @ W1 + b1) @ W2 + b2 - Y
        return np.mean(r * r) + 0.1 * np.sum(theta[:12] ** 2)
    p = dualad.prepare(loss, 0.3 * rng.standard_normal(23))
    for theta in (0.2 * rng.standard_normal(23), rng.standard_normal(23)):
        value, g = p.value_and_grad(theta)
        np.testing.assert_allclose(value, loss(theta), rtol=1e-14)
        np.testing.assert_allclose(g, dualad.gradient(loss, theta), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g, central_differences(loss, theta), rtol=1e-6, atol=1e-8)
        assert p.value_and_grad(theta)[1] is not g  # a fresh array each call
    assert "] += " in p.traces[0].reverse_single.source and p.fallbacks == 0


# Scalar losses whose gradient program (one cotangent, no direction axis) meets every kind of step:
# indexing (repeated advanced indices, masks, an index computed from x, a view of x read twice),
# broadcasting sums, custom rules, float32 points
GRADIENTS = {
    "repeated_index": lambda x: np.sum(np.sin(x[[0, 2, 0, 0]]) * x[1:3].sum()),
    "mask_and_argmax": lambda x: np.sum(x[x > 0.0] ** 3) + x[np.argmax(x)] * x[0],
    "broadcast_sum": lambda x: np.sum(np.outer(x, np.ones(3)) * x[:, None] + x[None, :3]),
    "slices_of_2d": lambda x: np.sum(np.reshape(x, (2, 3))[:, 1:] ** 2) + np.reshape(x, (2, 3))[1, 0],
    "read_then_sliced": lambda x: np.sum(x * x) + x[0] * x[5] - np.sum(x[2:4]),
    "logsumexp": lambda x: np.log(np.sum(np.exp(x - np.max(x)))) + np.max(x),
    "concat_and_axis_sums": lambda x: np.sum(
        np.sum(np.concatenate([np.reshape(x, (2, 3)), np.ones((2, 1)), np.sin(np.reshape(x, (2, 3)))], axis=1) ** 2,
               axis=1, keepdims=True) * np.sum(np.reshape(x, (2, 3)), axis=-1)[:, None])
    + np.sum(np.concatenate([x[:2], x, [1.0]]) * np.arange(9.0)),
    "reshapes": lambda x: np.sum(np.reshape(x, (2, 3), order="C")[0] * np.arange(3.0))
    + np.sum(np.ravel(np.reshape(x, (3, 2)))[:3] ** 2) + np.sum(np.squeeze(np.expand_dims(x, 0)) ** 3),
    "logsumexp_axis": lambda x: np.sum(_lse(np.reshape(x, (2, 3)), 1, squeeze=True) * np.array([1.0, -2.0])),
    "logsumexp_keepdims": lambda x: np.sum(_lse(np.reshape(x, (2, 3)), 0, squeeze=False)),
    "logsumexp_shift_used_twice": lambda x: np.sum(_lse(np.reshape(x, (2, 3)), 1, squeeze=True, reuse=True)),
    "large_sum_of_squares": lambda x: np.sum(np.sqrt(np.sum(np.reshape(np.outer(x, np.linspace(-1.0, 1.0, 400)),
                                                                     (6, 20, 20)) ** 2, axis=2) + 1.0)),
    "gate_slices": lambda x: _gates(np.concatenate([x, x[::-1]]) * 2.0 + 1.0, overlap=False),
    "overlapping_slices": lambda x: _gates(np.concatenate([x, x[::-1]]) * 2.0 + 1.0, overlap=True),
    "solve_and_list": lambda x: np.sum(np.linalg.solve(np.diag(x[:3] + 2.0) + 0.1, x[3:])) + sum([x[1], x[4]]),
    # a constant multi-axis gather with repeated entries (GMM's triangle table): its adjoint by bincount
    "table_gather": lambda x: np.sum(np.sin(np.concatenate([np.zeros((2, 1)), np.reshape(x, (2, 3))], axis=1)
                                            [:, _TABLE]) * _TABLE_WEIGHTS)
    + np.sum(np.reshape(np.concatenate([x, x]), (3, 4))[_ROWS[:, None], _COLS] ** 2),
    # signs folded: negated cotangents scattered (x[i] -=, np.add.at, bincount), through custom rules,
    # a tuple's part, gate slices of mixed and of equal signs, x's own adjoint negated at the end
    "negated_scatters": lambda x: -np.sum(np.sin(x[[0, 2, 0, 4]]) * 2.0) + np.sum(np.cos(-x[1:3]))
    - np.sum(np.concatenate([np.zeros((2, 1)), np.reshape(x, (2, 3))], axis=1)[:, _TABLE] * _TABLE_WEIGHTS),
    "negated_custom_steps": lambda x: -np.max(np.sqrt(x) - x ** 2) - np.linalg.slogdet(np.diag(x[:3]) + 1.0)[1]
    - np.sum(np.linalg.solve(np.diag(x[:3] + 2.0), -x[3:])),
    "mixed_sign_slices": lambda x: (lambda v: np.sum(np.tanh(v[:3])) - np.sum(v[3:6] * v[9:]) + np.sum(np.exp(v[6:9])))(
        np.concatenate([x, x[::-1]]) * 2.0),
    "mostly_negated_slices": lambda x: (lambda v: np.sum(np.exp(v[6:9])) - np.sum(np.tanh(v[:3]))
                                        - np.sum(v[3:6] * v[9:]))(np.concatenate([x, x[::-1]]) * 2.0),
    "negated_slices": lambda x: -_gates(np.concatenate([x, x[::-1]]) * 2.0 + 1.0, overlap=False) / 3.0,
    # small sums whose adjoint a product takes as the number it is, or written out where a step needs it
    "small_sums": lambda x: np.sum(x * x[::-1]) * 3.0 - np.sum(np.exp(x) + 1.0) + np.sum(np.sin(x) / (x + 2.0))
    - np.sum(np.linalg.solve(np.diag(x[:3] + 2.0), x[3:]) * x[:3]) + np.sum(np.cos(x) * x) + np.sum(np.cos(x))
    + np.sum(x[:, None] * np.arange(4.0)) - np.sum(np.log(x) - x),
}
_TABLE = np.random.default_rng(3).integers(0, 4, size=(16, 20))
_TABLE_WEIGHTS = np.random.default_rng(4).normal(size=(16, 20))
_ROWS, _COLS = np.random.default_rng(5).integers(0, 3, size=10), np.random.default_rng(6).integers(0, 4, size=10)


def _lse(a, axis, squeeze, reuse=False):  # logsumexp shifted by its maximum, as ADBench's GMM writes it
    shift = np.max(a, axis=axis, keepdims=True)
    total = np.log(np.sum(np.exp(a - shift), axis=axis, keepdims=not squeeze))
    out = total + (np.squeeze(shift, axis=axis) if squeeze else shift)
    return out * np.squeeze(shift, axis=axis) if reuse else out  # the shift's derivative is not zero here


def _gates(v, overlap):  # an LSTM cell's gate vector, cut into slices that tile it (and one more)
    loss = np.sum(np.tanh(v[:3]) * v[3:6] + np.exp(v[6:9]) * v[9:])
    return loss + np.sum(v[9:11] ** 2) if overlap else loss


@pytest.mark.parametrize("name", sorted(GRADIENTS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_program_without_direction_axis(name, dtype):
    f = GRADIENTS[name]
    rng = np.random.default_rng(7)
    p = dualad.prepare(f, rng.uniform(0.2, 1.0, 6).astype(dtype))
    for x in (rng.uniform(0.2, 1.0, 6).astype(dtype), rng.uniform(0.3, 1.1, 6).astype(dtype)):
        value, g = p.value_and_grad(x)
        ref = dualad.gradient(f, x)
        assert g.shape == x.shape and g.dtype == tape.value_and_grad(f, x)[1].dtype == dtype
        tol = 1e-12 if dtype is np.float64 else 1e-5
        np.testing.assert_allclose(g, ref, rtol=tol, atol=tol)
        if dtype is np.float64:
            np.testing.assert_allclose(g, central_differences(f, x), rtol=1e-6, atol=1e-8)
        u = np.asarray(2.5, dtype)
        np.testing.assert_allclose(p.vjp(x, u)[1], 2.5 * ref, rtol=tol, atol=tol)
    source = p.traces[0].reverse_single.source
    assert p.fallbacks == 0 and "[..., None] *" not in source
    if name == "large_sum_of_squares":  # x ** 2's adjoint: x * (2 ct) on np.sum's small cotangent
        assert "(2.0 * reshape(" in source
    if name == "table_gather":  # (2, 16, 20) picked: flat positions summed by bincount; (10, 10): np.add.at
        assert source.count("bincount(") == 1 and source.count("add_at(") == 1
    if name.startswith("logsumexp_"):  # the maximum's vjp is skipped exactly where the shift cancels
        assert ("custom_step" in source) == name.endswith("twice")


SUMMED_PRODUCTS = {  # name: (the broadcast factor's shape, the other factor's shape, einsum expected)
    "over_middle_axis": ((3, 1, 16), (3, 5, 16), True),
    "over_leading_axes": ((16,), (2, 3, 16), True),
    "kept_size_one_axis": ((1, 4, 1, 8), (2, 4, 3, 8), True),
    "last_axis_summed": ((3, 5, 1), (3, 5, 16), False),
    "short_last_axis": ((3, 1, 4), (3, 5, 4), False),
}


@pytest.mark.parametrize("name", sorted(SUMMED_PRODUCTS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_summed_products_by_einsum(name, dtype, monkeypatch):
    # a factor broadcast against a large one: its adjoint sum(p * ct) over the broadcast axes is one
    # einsum (above 4 MB; lowered here so that small arrays take the path)
    from dualad.replay import reverse_code
    monkeypatch.setattr(reverse_code, "_EINSUM_MIN_BYTES", 0)
    small_shape, large_shape, expected = SUMMED_PRODUCTS[name]
    other = np.random.default_rng(2).uniform(-1.0, 1.0, size=large_shape).astype(dtype)
    weights = np.random.default_rng(3).uniform(-1.0, 1.0, size=large_shape).astype(dtype)
    size = int(np.prod(small_shape))

    def f(x):
        factor = np.reshape(np.sin(x[:size]), small_shape)
        return np.sum(np.tanh(factor * (other * x[-1])) * weights)

    x = np.random.default_rng(4).uniform(0.2, 1.0, size + 1).astype(dtype)
    p = dualad.prepare(f, x)
    assert ("einsum(" in p.traces[0].reverse_single.source) == expected
    for point in (x, (x * 0.7).astype(dtype)):
        value, g = p.value_and_grad(point)
        reference = tape.grad(f, point)
        tol = 1e-12 if dtype is np.float64 else 2e-5
        assert g.dtype == dtype and value == f(point)
        np.testing.assert_allclose(g, reference, rtol=tol, atol=tol)
        if dtype is np.float64:
            np.testing.assert_allclose(g, central_differences(f, point), rtol=1e-6, atol=1e-8)


def test_complex_intermediates_are_refused():
    with pytest.raises(dualad.ReplayRefused, match="complex"):
        dualad.prepare(lambda x: np.abs(np.exp(1j * x) * (1 + 2j) + x), np.array([0.3, 0.7]))

    def f(x):  # real on one branch, complex inside on the other: that branch is answered plainly
        return np.abs(np.exp(1j * x) + x) if x[0] > 0 else x ** 2
    p = dualad.prepare(f, -np.ones(2))
    for x in (np.array([0.3, 0.7]),) * 3:
        np.testing.assert_allclose(p(x), dualad.jacobian(f, x), rtol=1e-13)
    assert p.fallbacks >= 1 and len(p.traces) == 1


def test_a_new_branch_runs_the_failing_program_once_then_answers_plainly(monkeypatch):
    # on a branch never seen, the replay that failed its guard is not run a second time
    # before the plain answer (each run is cost on top of one plain dualad.jacobian)
    from dualad.replay.codegen import GuardFailed

    def branchy(x):
        s = 1.0 if x[0] > 0 else 2.0
        return [s * x[1] * x[2], x[0] ** 2]
    xa, xb = np.array([0.5, 1.0, 2.0]), np.array([-0.5, 1.0, 2.0])
    p = dualad.prepare(branchy, xa)
    failures = []
    original = GuardFailed.__init__

    def counted(self, guard):
        failures.append(guard)
        original(self, guard)
    monkeypatch.setattr(GuardFailed, "__init__", counted)
    J = p(xb)
    np.testing.assert_allclose(J, [[0.0, 4.0, 2.0], [-1.0, 0.0, 0.0]])
    assert len(failures) == 1 and p.mismatches == 1 and p.replays == 0


@pytest.mark.parametrize("have, shape", [((40, 300, 2), (40, 1, 2)), ((3, 40, 300), (300,)), ((40, 300, 3), (1, 300, 1)),
                                         ((2, 30, 200, 3), (30, 1, 3)), ((5000,), (1,)), ((64, 128), (64, 1))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_to_equals_numpy_sums(have, shape, dtype):
    """The gradient programs' sum over broadcast axes (BLAS for long contiguous blocks) equals np.sum's."""
    from dualad.replay.reverse_code import sum_to
    lead = len(have) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and have[lead + i] != 1)
    c = np.random.default_rng(1).standard_normal(have).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype is np.float32 else dict(rtol=1e-12, atol=1e-12)
    for arg in (c, np.flip(c, -1)):  # contiguous (BLAS), and a view (np.sum)
        got = sum_to(arg, shape)
        assert got.shape == shape and got.dtype == dtype
        np.testing.assert_allclose(got, np.sum(arg.astype(np.float64), axis=axes).reshape(shape), **tol)
    c.flat[7] = np.nan
    assert np.isnan(sum_to(c, shape)).any()


def test_gradient_programs_follow_a_branch_that_flips():
    """An LSTM-like loss (gate slices that tile a vector, a logsumexp, a concatenation) with a branch on a
    value: every call's gradient equals tape.grad's and central differences, before and after the retape."""
    rng = np.random.default_rng(5)
    W = rng.standard_normal((8, 4))

    def loss(theta):
        state = np.zeros(2)
        total = 0.0
        for t in range(3):
            gates = W @ np.concatenate([theta[:2] * (t + 1), state]) + theta[2:10]
            cell = np.tanh(gates[:2]) * (1.0 / (1.0 + np.exp(-gates[2:4]))) + gates[4:6] * gates[6:]
            state = np.tanh(cell) if np.sum(cell) > 0 else -cell  # the branch a guard re-checks
            shift = np.max(state, keepdims=True)
            total = total + (np.log(np.sum(np.exp(state - shift))) + np.squeeze(shift))
        return total
    p = dualad.prepare(loss, rng.standard_normal(10))
    for theta in [rng.standard_normal(10) for _ in range(6)] * 2:
        value, g = p.value_and_grad(theta)
        np.testing.assert_allclose(value, loss(theta), rtol=1e-13)
        np.testing.assert_allclose(g, tape.grad(loss, theta), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(g, central_differences(loss, theta), rtol=1e-5, atol=1e-7)
    assert p.retapes >= 1 and p.fallbacks == 0
    source = p.traces[0].reverse_single.source
    assert "concatenate([" in source and "custom_step" not in source  # no max's vjp, no concatenate rule


# ------------------------------------------------------------------ structured Jacobian programs
def _bratu(u, lam=2.0):
    h2 = 1.0 / (len(u) + 1) ** 2
    z = np.zeros(1)
    return (np.concatenate((z, u[:-1])) - 2.0 * u + np.concatenate((u[1:], z))) / h2 + lam * np.exp(u)


def _bratu_branch(u):  # the reaction term doubles where u[0] <= 0
    return _bratu(u, 2.0 if u[0] > 0 else 4.0)


def _weighted_stencil(u, w=np.linspace(0.5, 1.5, 7)):  # per-entry constant weights on both parts
    return w * (u[::-1] - u) + np.sin(u) * u


def _reversal_plus(u):  # odd n: the reversal's middle entry is on the diagonal (J's diagonal += d)
    return u[::-1] + u * u


def _stencil_by_zero(u):  # a constant partial inf (1 / 0.0) times a stencil with zeros: the plain path decides
    with np.errstate(divide="ignore"):
        return (u[1:] - u[:-1]) / np.float64(0.0) + np.exp(u[1:])


def _chain_unused_value(u):  # cosh's value is read by no partial: it is not computed
    return np.cosh(np.log1p(np.exp(np.sin(u))))


STRUCTURED = {"bratu": _bratu, "bratu_branch": _bratu_branch, "weighted_stencil": _weighted_stencil,
              "reversal_plus": _reversal_plus, "stencil_by_zero": _stencil_by_zero, "chain": _chain_unused_value}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(STRUCTURED))
def test_structured_jacobian_programs(name, dtype):
    """Diagonal plus a stencil known now, constant partials folded, unread values skipped: every call equals
    plain dualad.jacobian (also where an entry is inf or nan, and across a branch flip) and central
    differences."""
    f = STRUCTURED[name]
    n = 7
    x0 = np.linspace(0.1, 0.4, n).astype(dtype)
    p = dualad.prepare(f, x0)
    big = np.linspace(0.1, 0.4, n)
    big[3] = 800.0  # exp / cosh overflow: not finite
    nan = np.linspace(0.1, 0.4, n)
    nan[2] = np.nan
    points = [np.linspace(-0.3, 0.6, n), np.cos(np.arange(n)), -np.linspace(0.2, 0.5, n),
              -np.linspace(0.2, 0.5, n), big, nan, np.linspace(0.3, 0.9, n)]
    for x in points:
        x = x.astype(dtype)
        with np.errstate(all="ignore"):
            J = p(x)
            plain = dualad.jacobian(f, x)
        assert J.shape == plain.shape
        # float32 x: some programs answer in float64 where the plain path answers in float32 (as before)
        assert J.dtype == plain.dtype
        np.testing.assert_allclose(J, plain, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=0)
        if np.all(np.isfinite(plain)) and dtype == np.float64:
            np.testing.assert_allclose(J, central_differences(f, x), rtol=1e-5, atol=1e-4)
    assert p.fallbacks >= 1  # the overflowing or nan point went the plain way
    if name == "bratu_branch":
        assert p.retapes == 1


def test_structured_jacobian_program_source():
    from dualad.replay.jacobian_code import jacobian_program
    from dualad.replay.recording import record
    u = np.linspace(0.1, 0.5, 20)
    bratu = jacobian_program(record(_bratu, (u,), 0))
    # the stencil is a constant; only exp(u) and the diagonal are computed; no n x n product, no concatenate
    assert "exp" not in bratu.source and "[..., None]" not in bratu.source and "concatenate" not in bratu.source
    assert bratu.source.count("\n") < 16 and "J[::21] = " in bratu.source
    np.testing.assert_allclose(bratu(u[::-1].copy()), dualad.jacobian(_bratu, u[::-1].copy()), rtol=1e-13)
    chain = jacobian_program(record(_chain_unused_value, (u,), 0))
    assert chain.source.count("f_") == 3  # sin, exp, log1p; cosh's value is not computed
    np.testing.assert_allclose(chain(u[::-1].copy()), dualad.jacobian(_chain_unused_value, u[::-1].copy()),
                               rtol=1e-13)


def test_structured_jacobian_with_a_scalar_extra_argument():
    """diag(t) plus a stencil, t an argument that is not differentiated: the diagonal is a broadcast number."""
    def f(u, t):
        return t * u + u[::-1] - np.concatenate((u[1:], np.zeros(1)))
    p = dualad.prepare(f, np.linspace(0.1, 0.5, 5), args=(0.5,), argnum=0)
    for t in (0.5, -2.0, np.inf):
        u = np.linspace(-0.3, 0.3, 5)
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(p(u, t), dualad.jacobian(lambda v: f(v, t), u))
    assert p.replays == 2 and p.fallbacks == 1


def _comparing(y):  # scalar style, one branch per kind of comparison (Python operators and numpy ufuncs)
    a = y[0] * y[1] if y[0] > 0.5 else y[0] - y[1]
    b = y[1] ** 2 if np.less_equal(y[1], y[2]) else 3.0 * y[1]
    c = y[2] * 2.0 if y[2] != np.float64(1.0) else y[2]
    d = y[0] + y[2] if np.greater_equal(y[0] * y[2], -0.25) else y[0] * y[0]
    e = y[1] if y[1] == 0.0 else y[1] * y[2]
    return [a + b, c * d, e - a, b * (1.0 if y[2] < y[0] else -1.0)]


def test_scalar_guards_as_python_comparisons():
    """Comparisons of scalars in scalar-style programs are Python's operators (no ufunc call); every branch
    flip, NaN (compares False both ways) and inf gives plain dualad.jacobian's answer."""
    from dualad.replay.recording import record
    from dualad.replay.scalar_code import scalar_program
    x0 = np.array([0.7, 0.3, 0.9])
    source = scalar_program(record(_comparing, (x0,), 0)).source
    assert "g_" not in source and " > " in source and " <= " in source and " != " in source
    p = dualad.prepare(_comparing, x0)
    points = [np.array([0.2, 0.3, 0.9]), np.array([0.7, 1.3, 0.9]), np.array([0.7, 0.3, 1.0]),
              np.array([-0.7, 0.3, 0.9]), np.array([0.7, 0.0, 0.9]), np.array([0.7, 0.3, 0.1]),
              np.array([np.nan, 0.3, 0.9]), np.array([0.7, np.inf, 0.9]), np.array([0.8, 0.4, 0.95])]
    for x in points + points:
        with np.errstate(all="ignore"):
            J, plain = p(x), dualad.jacobian(_comparing, x)
        np.testing.assert_array_equal(J, plain)
        if np.all(np.isfinite(x)) and not np.any(np.isin(x, (0.0, 1.0))):  # not on a branch's edge
            np.testing.assert_allclose(J, central_differences(_comparing, x), rtol=1e-6, atol=1e-6)
    assert p.retapes >= 3 and p.replays >= 3


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_float32_jacobian_in_the_plain_dtype(name):
    """float32 x: the prepared Jacobian has plain dualad.jacobian's dtype (and its numbers, to float32's
    precision), whatever constants the program folded in float64."""
    f = SMOOTH[name]
    p = dualad.prepare(f, POINTS[0].astype(np.float32))
    for x in POINTS[1:]:
        x = x.astype(np.float32)
        J, plain = p.jacobian(x), dualad.jacobian(f, x)
        assert J.dtype == plain.dtype and J.shape == plain.shape
        np.testing.assert_allclose(J, plain, rtol=2e-5, atol=1e-6)
    assert p.replays == len(POINTS) - 1


def _lorenz(y):
    n = len(y)
    return [(y[(i + 1) % n] - y[i - 2]) * y[i - 1] - y[i] + 8.0 for i in range(n)]


SCALAR_STYLE = {
    "lorenz": _lorenz,
    "kinetics": lambda y: [-0.04 * y[0] + 1e4 * y[1] * y[2], 3e7 * y[1] ** 2 - np.exp(y[0]) / (1.0 + y[2]), y[1]],
    "scalar_out": lambda y: y[0] * y[1] + np.sin(y[2]) / y[3],
    "branchy": lambda y: [y[0] ** 2 if y[1] > 0 else -y[0] * y[2], y[1] * y[3], np.tanh(y[2])],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(SCALAR_STYLE) + ["chain", "matmul", "scalar_broadcast", "max"])
def test_prepared_jvp_vjp_short_calls(name, dtype):
    """p.jvp / p.vjp called as (x, v) take the short path (scalar-style code: f(x) and J as Python floats,
    then J @ v and u @ J; other code: the forward / one-cotangent programs): the plain results' values,
    shapes and dtypes, derivatives equal to plain jvp / tape.vjp and to central differences, guards kept."""
    f = SCALAR_STYLE.get(name) or SMOOTH[name]
    rng = np.random.default_rng(3)
    n = 4 if name in SCALAR_STYLE else 3
    x0 = rng.uniform(0.2, 1.0, n).astype(dtype)
    p = dualad.prepare(f, x0)
    points = [rng.uniform(0.2, 1.0, n).astype(dtype) for _ in range(2)]
    points.append(points[0] * np.asarray([1.0, -1.0, 1.0, 1.0][:n], dtype))  # "branchy" flips its branch here
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)
    for x in points + points[-1:] + points[-1:]:
        v = rng.standard_normal(n)
        y, jv = p.jvp(x, v)
        y_ref, jv_ref = dualad.jvp(f, x, v)
        np.testing.assert_allclose(y, y_ref, **tol)
        np.testing.assert_allclose(jv, jv_ref, **tol)
        assert np.shape(jv) == np.shape(jv_ref) and np.asarray(jv).dtype == np.asarray(jv_ref).dtype
        assert np.shape(y) == np.shape(y_ref)
        u = rng.standard_normal(np.shape(y_ref)).astype(np.asarray(y_ref).dtype)
        y2, uj = p.vjp(x, u)
        y2_ref, uj_ref = tape.vjp(f, x, u)
        np.testing.assert_allclose(y2, y2_ref, **tol)
        np.testing.assert_allclose(uj, uj_ref, **tol)
        assert np.shape(uj) == np.shape(uj_ref) and np.asarray(uj).dtype == np.asarray(uj_ref).dtype
        close = 1e-9 if dtype == np.float64 else 1e-5
        assert math.isclose(float(np.sum(u * jv)), float(np.sum(uj * v)), rel_tol=close, abs_tol=close)
        if dtype == np.float64:
            J = central_differences(f, x)
            scale = 1e-7 * max(1.0, float(np.abs(J).max()))  # kinetics: entries up to 1e7
            np.testing.assert_allclose(jv, J @ v, rtol=1e-6, atol=scale)
            np.testing.assert_allclose(uj, np.tensordot(u, J, np.ndim(u)), rtol=1e-6, atol=scale)
        jv[...] = 0.0  # the caller's own arrays
        uj[...] = 0.0
    assert p.replays >= 6
    if name == "branchy":
        assert p.mismatches >= 2


def test_prepared_jvp_of_scalar_style_code_needs_no_forward_program():
    p = dualad.prepare(_lorenz, np.linspace(0.1, 1.0, 12))
    x, v = np.linspace(-0.5, 0.7, 12), np.linspace(1.0, 2.0, 12)
    y, jv = p.jvp(x, v)
    np.testing.assert_allclose(jv, dualad.jacobian(_lorenz, x) @ v, rtol=1e-13)
    np.testing.assert_array_equal(y, np.asarray(_lorenz(x)))
    assert p.traces[0]._forward is None and p.replays == 1
    # not finite: the plain path answers (0 x inf conventions)
    with np.errstate(all="ignore"):
        y, jv = p.jvp(x, np.full(12, np.inf))
        y_ref, jv_ref = dualad.jvp(_lorenz, x, np.full(12, np.inf))
    np.testing.assert_array_equal(jv, jv_ref)
    assert p.fallbacks == 1


def _rosenbrock(x):  # scalar style: Python's sum over entries
    return sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(len(x) - 1))


def _kinked(x):
    return x[0] * x[1] + (np.exp(x[2]) if x[2] > 0 else -x[2] * x[3]) + x[3] ** 3 / (1.0 + x[0] ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("f", [_rosenbrock, _kinked], ids=["rosenbrock", "kinked"])
def test_prepared_gradient_of_scalar_style_code(f, dtype):
    """value_and_grad of scalar-style code: f(x) and its Jacobian row as Python floats (no reverse program),
    equal to tape.value_and_grad and to central differences; a branch flip answered plainly."""
    rng = np.random.default_rng(5)
    p = dualad.prepare(f, rng.uniform(0.1, 1.0, 4).astype(dtype))
    points = [rng.uniform(0.1, 1.0, 4).astype(dtype) for _ in range(2)] + [np.array([0.3, 0.5, -0.4, 0.7], dtype)]
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-5)
    for x in points + points[-1:] * 2:
        value, g = p.value_and_grad(x)
        value_ref, g_ref = tape.value_and_grad(f, x)
        np.testing.assert_allclose(value, value_ref, **tol)
        np.testing.assert_allclose(g, g_ref, **tol)
        assert g.shape == x.shape and g.dtype == np.asarray(g_ref).dtype
        if dtype == np.float64:
            np.testing.assert_allclose(g, central_differences(f, x), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(p.gradient(x), g_ref, **tol)
        g[...] = 0.0  # the caller's own array
    if dtype == np.float64:
        assert p.traces[-1]._reverse_single is None  # the first trace never needed a reverse program
    if f is _kinked:
        assert p.mismatches >= 2
