"""f changing its input (issue class 5): each pass sees the same x, the caller's x is untouched,
cached seeds cannot change, and passes that disagree on f's value raise."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import cost, tape
from dualad.errors import NondeterministicError

from alias_check import check_both_modes


def bump(x):
    x += 1
    return x ** 2


def bump_slice(x):
    x[1:] *= 2.0
    x[0] = x[1] * x[0]
    return np.sin(x)


@pytest.mark.parametrize("f", [bump, bump_slice])
def test_f_mutating_its_input(f):
    J = check_both_modes(f, np.array([1.0, 2.0, 3.0]))
    if f is bump:
        np.testing.assert_array_equal(J, np.diag([4.0, 6.0, 8.0]))


def test_chunked_passes_all_see_the_same_x():
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(dualad.jacobian(bump, x, chunk_size=1), np.diag([4.0, 6.0]))
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_dual_input_is_not_changed():
    d = dualad.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    dualad.jacobian(bump, d)
    np.testing.assert_array_equal(d.value, [1.0, 2.0])
    np.testing.assert_array_equal(d.tangent, [1.0, 0.0])


def test_sparse_jacobian_cached_seed_is_safe():
    pytest.importorskip("scipy")
    x = np.array([1.0, 2.0])
    S = dualad.SparseJacobian(bump, x)
    for _ in range(3):
        np.testing.assert_array_equal(S(x).toarray(), np.diag([4.0, 6.0]))
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_finite_difference_jacobian_with_mutating_f():
    for kind in ("central", "forward"):
        J, _ = cost.finite_difference_jacobian(bump, np.array([1.0, 2.0]), kind=kind)
        np.testing.assert_allclose(J, np.diag([4.0, 6.0]), rtol=1e-5)


def test_nondeterministic_f_raises_naming_it():
    rng = np.random.default_rng(0)
    f = lambda x: x * rng.standard_normal()  # noqa: E731
    with pytest.raises(NondeterministicError, match="not deterministic.*remedy"):
        dualad.jacobian(f, np.ones(4), chunk_size=2)
    state = {"calls": 0}

    def counting(x):
        state["calls"] += 1
        return x * state["calls"]
    with pytest.raises(NondeterministicError):
        dualad.jacobian(counting, np.ones(3), chunk_size=1)


def test_tape_input_write_is_recorded():
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(tape.grad(lambda v: np.sum(bump(v)), x), [4.0, 6.0])
    np.testing.assert_array_equal(x, [1.0, 2.0])
