"""Values that escape a finished call (issue class 4) raise LifetimeError; nesting keeps working."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import LifetimeError

JACOBIANS = [dualad.jacobian, tape.jacobian]


@pytest.mark.parametrize("make", [dualad.derivative, tape.grad], ids=["forward", "reverse"])
@pytest.mark.parametrize("use", [dualad.derivative, tape.grad], ids=["forward", "reverse"])
def test_saved_value_used_in_a_later_call_raises(make, use):
    saved = []
    make(lambda t: saved.append(t * 2.0) or t * 1.0, 1.0)
    with pytest.raises(LifetimeError, match="already returned.*remedy"):
        use(lambda t: t * saved[0], 1.0)
    with pytest.raises(LifetimeError):
        use(lambda t: saved[0], 1.0)  # returned as f's value
    with pytest.raises(LifetimeError):
        use(lambda t: [t, saved[0]][1] + 0.0 * t, 1.0)


@pytest.mark.parametrize("jac", JACOBIANS, ids=["forward", "reverse"])
def test_memoised_value_raises_on_the_second_call(jac):
    cache = {}

    def f(x):
        if "s" not in cache:
            cache["s"] = np.sin(x)
        return cache["s"] * x

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(jac(f, x), np.diag(np.cos(x) * x + np.sin(x)))
    with pytest.raises(LifetimeError, match="dualad"):
        jac(f, x)


def test_memo_across_chunks_of_one_jacobian_raises():
    cache = {}

    def f(x):
        cache.setdefault("s", np.sin(x))
        return cache["s"] * x

    with pytest.raises(LifetimeError):
        dualad.jacobian(f, np.array([1.0, 2.0]), chunk_size=1)


def test_buffer_shared_between_outer_and_inner_call_raises():
    def outer(x):
        buf = dualad.zeros_like(x)

        def inner(y):
            buf[0] = y * x[0]
            return y ** 2
        dualad.derivative(inner, 2.0)
        return buf
    with pytest.raises(LifetimeError):
        dualad.jacobian(outer, np.array([1.0, 2.0]))


def test_tape_record_closes_the_tape():
    t = tape.record(lambda x: x * 2.0, np.array([1.0]))
    with pytest.raises(LifetimeError, match="tape.record"):
        t.output * 3.0
    np.testing.assert_array_equal(t.backward(np.ones(1))[0], [2.0])  # inspection still works


def test_nesting_keeps_working():
    # an outer call's values are live inside inner calls, in every combination of modes
    f = lambda a: dualad.derivative(lambda b: a * b ** 2, 3.0)  # noqa: E731  d/db = 6a
    assert dualad.derivative(f, 2.0) == 6.0
    assert tape.grad(f, 2.0) == 6.0
    g = lambda a: tape.grad(lambda b: a * b ** 2, 3.0)  # noqa: E731
    assert dualad.derivative(g, 2.0) == 6.0
    np.testing.assert_allclose(dualad.hessian(lambda x: np.sum(x ** 3), np.array([1.0, 2.0])),
                               np.diag([6.0, 12.0]))
    np.testing.assert_allclose(dualad.hvp(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]), np.ones(2)),
                               [6.0, 12.0])


# sparsity detection meets a Dual or tape value: one kept from a finished call, or an outer derivative's
_USES = {
    "z * saved": lambda z, s: z * s,
    "saved * z": lambda z, s: s * z,
    "np.add(z, saved)": lambda z, s: np.add(z, s),
    "concatenate": lambda z, s: np.concatenate([z, s]),
    "stack of entries": lambda z, s: np.stack([z[0], s[1]]),
    "z[0] = saved[0]": lambda z, s: (lambda y: (y.__setitem__(0, s[0]), y)[1])(z * 1.0),
    "z += saved": lambda z, s: (lambda y: (y.__iadd__(s), y)[1])(z * 1.0),
}


@pytest.mark.parametrize("use", _USES, ids=str)
@pytest.mark.parametrize("make", [dualad.jacobian, tape.jacobian], ids=["Dual", "tape value"])
def test_sparsity_detection_names_a_saved_value(make, use):
    x = np.array([1.0, 2.0, 3.0])
    saved = []
    make(lambda z: saved.append(np.sin(z)) or z * 1.0, x)
    with pytest.raises(LifetimeError, match="already returned"):  # named where it is used, or indexed
        dualad.jacobian_sparsity(lambda z: _USES[use](z, saved[0]), x)
    with pytest.raises(LifetimeError):
        dualad.sparse_jacobian(lambda z: _USES[use](z, saved[0]), x)


@pytest.mark.parametrize("outer", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_sparse_jacobian_inside_an_outer_derivative_is_refused(outer):
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(dualad.UnsupportedFunctionError, match="outer derivative.*remedy"):
        outer(lambda p: dualad.sparse_jacobian(lambda z: z * p, x).toarray(), x)
