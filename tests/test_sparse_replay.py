"""SparseJacobian calls answered by a compiled replay (dualad.sparse.replayed, dualad.replay.sparse_code):
equal to the dense Jacobian at new points, through branch flips, user patterns, extra arguments and float32;
what a call returns is its own."""
from __future__ import annotations

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

import dualad
from test_replay_guards import as_function, programs, vectors
from test_sparse import CASES, fd_jacobian, random_program
from test_sparse_guards import BRANCHY

sp = pytest.importorskip("scipy.sparse")

from benchmarks.problems import bratu_1d, bratu_2d  # noqa: E402

RNG = np.random.default_rng(12)


def dense(f, x, *args, argnum=0):
    g = (lambda v: f(*args[:argnum], v, *args[argnum:])) if args else f
    return np.reshape(dualad.jacobian(g, x), (-1, np.size(x)))


def warm(jac, *call_args):
    """The first two calls go the plain way; the second also records and compiles the replay."""
    jac(*call_args)
    jac(*call_args)


def near(x, seed):
    return x * np.random.default_rng(seed).uniform(0.8, 1.2, np.shape(x))


FUNCTIONS = {
    "bratu-1d": (bratu_1d, RNG.uniform(0.0, 0.5, 30)),
    "bratu-2d": (bratu_2d, RNG.uniform(0.0, 0.5, 25)),
    **{name: CASES[name][:2] for name in ("arrow", "block-diagonal-einsum", "random-gathers", "cumsum",
                                           "outer-broadcast", "list-output", "scalar-loop")},
    "random-program-3": (random_program(3)[0], RNG.uniform(0.5, 1.5, 16)),
    "random-program-9": (random_program(9)[0], RNG.uniform(0.5, 1.5, 16)),
    "matrix-input": (lambda X: (np.sin(X) * X[:, ::-1] + X.T.reshape(3, 4) ** 2).ravel(), RNG.uniform(0.5, 1.5, (3, 4))),
    "reshaped-diagonal": (lambda u: (np.exp(u.reshape(3, 3)) * 2.0 + u.reshape(3, 3)[::-1]).reshape(9),
                          RNG.uniform(0.0, 0.5, 9)),
    "divide-and-broadcast": (lambda u: np.concatenate([u[:2] / (1.0 + u[2:4] ** 2), np.tanh(u) * u[0]]),
                             RNG.uniform(0.5, 1.5, 6)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_replayed_calls_equal_the_dense_jacobian_at_new_points(name):
    f, x = FUNCTIONS[name]
    jac = dualad.SparseJacobian(f, x)
    warm(jac, x)
    for seed in range(3):
        z = near(x, seed)
        np.testing.assert_allclose(jac(z).toarray(), dense(f, z), rtol=1e-13, atol=1e-13)
    assert jac.replays == 3 and jac.redetections == 0


def test_bratu_against_finite_differences_and_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    x = RNG.uniform(0.0, 0.5, 40)
    jac = dualad.SparseJacobian(bratu_1d, x)
    warm(jac, x)
    z = near(x, 7)
    J = jac(z)
    assert jac.replays == 1
    np.testing.assert_allclose(J.toarray(), fd_jacobian(bratu_1d, z), rtol=1e-6, atol=1e-4)
    want = jax.jacfwd(lambda u: bratu_1d(u, X=jnp, zero=jnp.zeros(1)))(jnp.asarray(z))
    np.testing.assert_allclose(J.toarray(), np.asarray(want), rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("name", ["if on a value", "np.sort", "x[argmax]", "mask index", "while loop"])
def test_branch_flips_are_detected_again(name):
    f, x0, x1 = BRANCHY[name]
    jac = dualad.SparseJacobian(f, x0)
    for x in (x0, x0 * 1.01, x0 * 1.02, x1, x1 * 1.01, x1 * 1.02, x1 * 1.03, x0, x0 * 1.01):
        np.testing.assert_allclose(jac(x).toarray(), dense(f, x), atol=1e-13)
    assert jac.redetections == 2  # to x1's branch and back
    assert jac.replays == 2  # each branch's third call (the second compiles its replay)


def test_fixed_pattern_raises_after_replaying():
    f, x0, x1 = BRANCHY["if on a value"]
    jac = dualad.SparseJacobian(f, x0, fixed=True)
    jac(x0), jac(x0), jac(x0 * 1.1)
    assert jac.replays == 1
    with pytest.raises(dualad.SparsityChangedError, match="remedy"):
        jac(x1)


def test_user_pattern_is_replayed_and_checked_on_request():
    n = 12
    S = sp.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csr")
    x = RNG.uniform(0.0, 0.5, n)
    jac = dualad.SparseJacobian(bratu_1d, x, sparsity=S, check=True)
    for z in (x, x, near(x, 1), near(x, 2)):
        np.testing.assert_allclose(jac(z).toarray(), dense(bratu_1d, z), rtol=1e-13, atol=1e-10)
    assert jac.replays == 2
    g = lambda u: bratu_1d(u) * (2.0 if u[0] > 0.1 else 1.0)  # noqa: E731  (both branches in the pattern)
    jac = dualad.SparseJacobian(g, x, sparsity=S)
    low, high = np.full(n, 0.05), np.full(n, 0.2)
    for z in (low, low, low * 1.1, high, high, high * 1.1, low * 1.2):  # a branch's second call records it
        np.testing.assert_allclose(jac(z).toarray(), dense(g, z), rtol=1e-13, atol=1e-10)
    assert jac.replays == 2 and jac.redetections == 0
    f = lambda u: bratu_1d(u) + u[::-1] * u[0] if u[0] > 0.1 else bratu_1d(u)  # noqa: E731
    jac = dualad.SparseJacobian(f, np.full(n, 0.05), sparsity=S, check=True)
    jac(np.full(n, 0.05)), jac(np.full(n, 0.05)), jac(np.full(n, 0.06))
    with pytest.raises(dualad.SparsityError, match="misses"):  # the other branch leaves the pattern
        jac(np.full(n, 0.2))


def test_extra_arguments_float_and_plain():
    def rhs(t, y, k):
        r = -k * y ** 2 + np.roll(y, 1) * np.cos(t)
        return r * 2.0 if t > 1.0 else r
    y = RNG.uniform(0.0, 1.0, 8)
    jac = dualad.SparseJacobian(rhs, y, args=(0.5, 3), argnum=1)
    calls = [(0.5, 3), (0.7, 3), (np.float64(0.8), 3), (np.array(0.9), 3), (1.5, 3), (1.6, 3), (1.7, 3),
             (0.2, 4), (0.3, 4), (0.4, 4), (0.5, 4), (0.6, 4)]
    for t, k in calls:
        z = y * (1.0 + t)
        np.testing.assert_allclose(jac(t, z, k).toarray(), dense(rhs, z, t, k, argnum=1), atol=1e-13)
    # t > 1 flips, then k changes; and t passed as a 0-d array after floats: another type of argument (f may
    # decide on it: np.isscalar(t)), detected again (the same pattern: colours and compiled call kept)
    assert jac.redetections == 3
    # 0.8, 0.9, 1.7, 0.4, 0.5 and 0.6: each detection found the same pattern and kept its colours, so a
    # branch's second plain call (1.6, 0.3) compiles it (a new pattern waits for two plain calls after it)
    assert jac.replays == 6


def test_float32():
    f = lambda u: np.concatenate([u[1:] - u[:-1], u[-1:]]) * np.float32(2.0) + np.sin(u) * u  # noqa: E731
    x = RNG.uniform(0.0, 1.0, 10).astype(np.float32)
    jac = dualad.SparseJacobian(f, x)
    assert jac(x).dtype == np.float32
    jac(x)
    z = near(x, 3).astype(np.float32)
    J = jac(z)
    assert jac.replays == 1 and J.dtype == np.float32
    np.testing.assert_allclose(J.toarray(), dense(f, z.astype(np.float64)), rtol=1e-5, atol=1e-5)


def test_results_are_independent_and_the_input_is_kept():
    def f(u):
        v = u * 1.0
        v[0] = 3.0 * u[1]
        return v ** 2 + np.roll(u, 1)
    x = RNG.uniform(0.5, 1.0, 9)
    kept = x.copy()
    jac = dualad.SparseJacobian(f, x)
    warm(jac, x)
    first, second = jac(x), jac(x)
    assert jac.replays == 2
    second.data[:] = 7.0
    second.indices[:] = 0
    first.eliminate_zeros()
    first.data *= 0.0
    np.testing.assert_array_equal(x, kept)
    np.testing.assert_allclose(jac(x).toarray(), dense(f, x), atol=1e-13)


def test_non_finite_results_take_the_plain_conventions():
    f = lambda u: np.sqrt(u) * u  # noqa: E731  (d/du at 0: 0 * inf, which the plain path makes 0 + sqrt(0))
    jac = dualad.SparseJacobian(f, np.ones(4))
    warm(jac, np.ones(4))
    z = np.array([0.0, 1.0, 2.0, 3.0])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(jac(z).toarray(), dense(f, z))
    assert jac.replays == 0


def test_constant_parts_are_folded():
    """Bratu's Laplacian is known when the program is written: the program evaluates exp alone."""
    x = RNG.uniform(0.0, 0.5, 20)
    jac = dualad.SparseJacobian(bratu_1d, x)
    warm(jac, x)
    source = jac._compiled.program.source
    assert source.count("(v") == 2, source  # exp(x) and its partial (the value itself)
    assert "diagonal_rows" not in source and "[I_" not in source  # the diagonal added in place, no gather


def test_prepare_sparse_uses_the_same_program():
    p = dualad.prepare(bratu_2d, RNG.uniform(0.0, 0.5, 16), sparse=True)
    z = RNG.uniform(0.0, 0.5, 16)
    J = p(z)
    assert sp.issparse(J) and p.replays == 1
    np.testing.assert_allclose(J.toarray(), dense(bratu_2d, z), rtol=1e-13, atol=1e-10)


def test_pickled_object_compiles_again():
    cloudpickle = pytest.importorskip("cloudpickle")
    import pickle
    x = RNG.uniform(0.0, 0.5, 10)
    jac = dualad.SparseJacobian(bratu_1d, x)
    warm(jac, x)
    copy = pickle.loads(cloudpickle.dumps(jac))
    z = RNG.uniform(0.0, 0.5, 10)
    for _ in range(3):
        np.testing.assert_allclose(copy(z).toarray(), dense(bratu_1d, z), rtol=1e-13, atol=1e-10)
    assert copy.replays == 1


@hypothesis.settings(max_examples=40, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(program=programs, example=vectors, points=st.lists(vectors, min_size=2, max_size=5))
def test_branchy_programs_equal_the_dense_jacobian_at_every_point(program, example, points):
    """The guard suite's generated programs (tests/test_replay_guards.py): compiled on one branch, called
    on others, never a stale answer."""
    f = as_function(program)
    x0 = np.array(example)
    with np.errstate(all="ignore"):
        try:
            jac = dualad.SparseJacobian(f, x0)
            jac(x0)
        except dualad.DualadError:
            return  # refused by the plain path too
        for point in [example] + points + points + [example, example]:
            x = np.array(point)
            np.testing.assert_allclose(jac(x).toarray(), dense(f, x), rtol=1e-12, atol=1e-12, equal_nan=True)


def test_parameters_changed_in_place_or_read_from_outside():
    def rhs(t, y, params):
        return -params["k"] * y ** 2 + np.roll(y, 1) * scale[0]
    scale = [1.0]
    y = RNG.uniform(0.0, 1.0, 6)
    params = {"k": 2.0}
    jac = dualad.SparseJacobian(rhs, y, args=(0.0, params), argnum=1)
    warm(jac, 0.0, y, params)
    jac(0.0, y, params)
    params["k"] = 5.0  # a non-float argument changed in place: compared with the recorded copy
    for _ in range(3):  # the first two go the plain way (the second records again), the third replays
        np.testing.assert_allclose(jac(0.0, y, params).toarray(), dense(rhs, y, 0.0, params, argnum=1),
                                   atol=1e-13)
    # the plain path's decision log compares the argument by value too (a copy, not the dict itself): one
    # detection again, which found the same pattern and kept the colours and the compiled call
    assert jac.replays == 2 and jac.redetections == 1
    scale[0] = 3.0  # read from outside the arguments: the recording froze it, but f's value moved
    replays = jac.replays
    np.testing.assert_allclose(jac(0.0, y, params).toarray(), dense(rhs, y, 0.0, params, argnum=1), atol=1e-13)
    assert jac.replays == replays  # the compiled call saw f's value differ and went the plain way
    plain = dualad.SparseJacobian(rhs, y, args=(0.0, params), argnum=1, replay=False)
    warm(plain, 0.0, y, params)
    np.testing.assert_allclose(plain(0.0, y, params).toarray(), dense(rhs, y, 0.0, params, argnum=1), atol=1e-13)
    assert plain.replays == 0


@pytest.mark.parametrize("coloring", ["bicolor", "auto"])
def test_bicoloured_calls_replay_the_reverse_rows_too(coloring):
    def arrow(x):  # a dense row, a dense column, a diagonal
        return np.concatenate([[np.sum(x ** 2)], x[1:] * x[0] + np.sin(x[1:])])
    x = RNG.uniform(0.5, 1.5, 30)
    jac = dualad.SparseJacobian(arrow, x, coloring=coloring)
    assert jac.reverse_colors == 1
    warm(jac, x)
    for seed in range(2):
        z = near(x, seed)
        np.testing.assert_allclose(jac(z).toarray(), dense(arrow, z), rtol=1e-13, atol=1e-13)
    assert jac.replays == 2


@pytest.mark.parametrize("case", ["closure constant", "global read", "branch on .value", "random numbers"])
def test_what_the_recording_froze_is_noticed_through_f_value(case):
    # a compiled call runs f once on plain floats and compares with the recording's value: what f
    # reads from outside its arguments, or decides on plain copies, cannot give a stale Jacobian
    state = {"c": 1.0}
    rng = np.random.default_rng(0)

    def f(u):
        if case == "closure constant":
            return np.sin(u) * state["c"] + u[::-1] ** 2
        if case == "global read":
            return u ** GLOBAL_POWER[0]
        if case == "branch on .value":
            return u ** 2 if np.asarray(getattr(u, "value", u))[0] > 0 else u ** 3
        return u * rng.uniform()
    x = RNG.uniform(0.5, 1.5, 5)
    jac = dualad.SparseJacobian(f, x)
    warm(jac, x)
    jac(x)
    # (f reading u.value is never compiled: the recording cannot follow the copy; every call runs f)
    assert jac.replays >= 1 or case in ("random numbers", "branch on .value")
    state["c"], GLOBAL_POWER[0] = 4.0, 3
    z = -x if case == "branch on .value" else x
    if case == "random numbers":  # each call's f draws anew: a call answers for its own draw, never a replay
        replays = jac.replays
        jac(z)
        assert jac.replays == replays
        return
    np.testing.assert_allclose(jac(z).toarray(), np.asarray(dualad.jacobian(f, z)), atol=1e-13)
    GLOBAL_POWER[0] = 2


GLOBAL_POWER = [2]
