"""SparseJacobian re-checks its assumptions (issue 12, section 1): decisions recorded at detection and
checked on every call, re-detection when one differs, fixed patterns, check=True, extra arguments."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import decisions

pytest.importorskip("scipy")

BRANCHY = {
    "if on a value": (lambda x: x ** 2 if x[0] > 0 else x ** 2 + x[0], np.ones(4), np.array([-1.0, 1, 1, 2])),
    "np.sort": (lambda x: np.sort(x) * x, np.arange(1.0, 5.0), np.array([3.0, 1.0, 4.0, 2.0])),
    "x[argmax]": (lambda x: x * x[np.argmax(x)], np.arange(1.0, 5.0), np.array([4.0, 1.0, 2.0, 3.0])),
    "argsort index": (lambda x: x[np.argsort(x)] * x[::-1], np.arange(1.0, 5.0), np.array([2.0, 1.0, 4.0, 3.0])),
    "nonzero": (lambda x: np.concatenate([x[np.nonzero(x > 2)] * x[0], x]), np.arange(1.0, 5.0),
                np.array([3.0, 3.0, 1.0, 1.0])),
    "one-arg where": (lambda x: x[np.where(x > 2)[0][:1]] * x, np.arange(1.0, 5.0), np.array([3.0, 3.0, 1.0, 1.0])),
    "mask index": (lambda x: np.sum(x[x > 2.5]) * x, np.arange(1.0, 5.0), np.array([3.0, 1.0, 1.0, 1.0])),
    "while loop": (lambda x: _loop(x), np.array([0.5, 0.2, 0.1]), np.array([3.0, 0.2, 0.1])),
    "python max": (lambda x: max(x[0], x[1]) * x, np.array([2.0, 1.0, 0.5]), np.array([1.0, 2.0, 0.5])),
    "array method argsort": (lambda x: x[x.argsort()[-1]] * x, np.arange(1.0, 4.0), np.array([3.0, 1.0, 2.0])),
    "maximum.accumulate": (lambda x: np.maximum.accumulate(x) * 1.0, np.arange(1.0, 5.0), np.array([4.0, 1.0, 2.0, 3.0])),
}


def _loop(x):
    y, i = x * 1.0, 0
    while y[0] > 1.0 and i < 5:  # iterations depend on x
        y = np.concatenate([y[:1] * 0.5 + y[-1:], y[1:]])
        i += 1
    return y


@pytest.mark.parametrize("name", list(BRANCHY))
def test_pattern_follows_decisions(name):
    f, x0, x1 = BRANCHY[name]
    jac = dualad.SparseJacobian(f, x0)
    for x in (x0, x1, x0, x1):
        np.testing.assert_allclose(jac(x).toarray(), dualad.jacobian(f, x).reshape(-1, x.size), atol=1e-13)
    assert jac.redetections >= 1
    assert dualad.SparseJacobian(f, x0)(x0).shape[1] == x0.size


@pytest.mark.parametrize("name", ["if on a value", "np.sort", "x[argmax]"])
def test_fixed_pattern_raises(name):
    f, x0, x1 = BRANCHY[name]
    jac = dualad.SparseJacobian(f, x0, fixed=True)
    jac(x0)
    with pytest.raises(dualad.SparsityChangedError, match="remedy"):
        jac(x1)


def test_no_redetection_when_decisions_hold():
    f = lambda x: np.where(x > 0, x ** 2, -x) * x[0] if x[1] > -10 else x  # noqa: E731
    jac = dualad.SparseJacobian(f, np.ones(5))
    for seed in range(4):
        x = np.random.default_rng(seed).uniform(0.1, 2.0, 5)
        np.testing.assert_allclose(jac(x).toarray(), dualad.jacobian(f, x), atol=1e-13)
    assert jac.redetections == 0
    assert len(jac.decisions) == 2  # the x > 0 array and the x[1] > -10 bool


def test_decision_log_is_a_reusable_engine_piece():
    """The same log works for any engine: recorded on tracers, checked on Duals or tape values."""
    f = lambda x: np.sum(x[np.argsort(x)][:2]) if x[0] > 0 else np.sum(x)  # noqa: E731
    with decisions.recording() as log:
        dualad.tape.grad(f, np.array([1.0, 3.0, 2.0]))
    assert [k for k, _ in log.entries] == ["compare", "np.argsort", "index"]  # the order, then its use as an index
    with decisions.checking(log) as same:
        dualad.gradient(f, np.array([1.0, 3.0, 2.0]))
    with decisions.checking(log) as other:
        dualad.gradient(f, np.array([1.0, 2.0, 3.0]))
    assert not same.diverged and other.diverged


def test_user_pattern_check():
    f = lambda x: x[1:] * x[:-1]  # noqa: E731
    x = np.arange(1.0, 6.0)
    S = np.eye(4, 5, dtype=bool)  # misses the superdiagonal
    assert np.abs(dualad.SparseJacobian(f, x, sparsity=S)(x).toarray() - dualad.jacobian(f, x)).max() > 0
    with pytest.raises(dualad.SparsityError, match="remedy"):
        dualad.SparseJacobian(f, x, sparsity=S, check=True)(x)
    with pytest.raises(dualad.SparsityError, match="remedy"):
        dualad.sparse_jacobian(f, x, sparsity=S, check=True)
    good = dualad.SparseJacobian(f, x, sparsity=S | np.eye(4, 5, 1, dtype=bool), check=True)
    np.testing.assert_allclose(good(x + 1).toarray(), dualad.jacobian(f, x + 1))


def test_heaviside_detection_exact_at_the_point():
    J = dualad.sparse_jacobian(lambda h: np.heaviside(0.0, h), [0.3, 0.7])
    np.testing.assert_array_equal(J.toarray(), np.eye(2))
    np.testing.assert_array_equal(dualad.jacobian(lambda h: np.heaviside(0.0, h), np.array([0.3, 0.7])), np.eye(2))
    x = np.array([0.0, 1.0, -1.0, 0.0])
    f = lambda z: np.heaviside(z[:2], z[2:])  # noqa: E731
    np.testing.assert_array_equal(dualad.sparse_jacobian(f, x).toarray(), dualad.jacobian(f, x))


def test_extra_arguments_for_solve_ivp():
    scipy_integrate = pytest.importorskip("scipy.integrate")

    def rhs(t, y, k):
        switch = 2.0 if t > 0.5 else 1.0  # a decision on t: guarded like one on y
        return np.concatenate([-k * y[:1] * switch, k * y[:-1] ** 2 - y[1:] * np.exp(-t)])

    y0 = np.array([1.0, 0.5, 0.2, 0.1])
    jac = dualad.SparseJacobian(rhs, y0, args=(0.0, 3), argnum=1)
    for t in (0.1, 0.9, 0.2):
        y = y0 + t
        np.testing.assert_allclose(jac(t, y, 3).toarray(), dualad.jacobian(lambda v: rhs(t, v, 3), y), atol=1e-13)
    assert jac.redetections == 2  # t crossed 0.5 twice
    np.testing.assert_allclose(jac(0.2, y0, 4).toarray(), dualad.jacobian(lambda v: rhs(0.2, v, 4), y0))
    assert jac.redetections == 3  # another k: an argument that is not a float is a decision itself
    sol = scipy_integrate.solve_ivp(rhs, (0, 1), y0, method="BDF", args=(3,), jac=jac, rtol=1e-8)
    ref = scipy_integrate.solve_ivp(rhs, (0, 1), y0, method="BDF", args=(3,), rtol=1e-8)
    assert sol.success and np.allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-5)
    with pytest.raises(dualad.InputError, match="remedy"):
        jac(y0)
