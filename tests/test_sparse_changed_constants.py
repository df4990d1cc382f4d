"""A SparseJacobian whose function reads a constant that the caller changes between calls.

The tracer reads a constant matrix by its zeros (``W @ x`` with a diagonal W has a diagonal
pattern). When the caller then writes a nonzero where W had a zero, or rebinds the global
to another matrix, the old colouring would add the new entry into another column's entry:
a silently wrong Jacobian. Every result here is compared with dense forward mode of the
same function and with central differences, at every call, before and after the calls
are compiled.
"""
import numpy as np
import pytest

import dualad
from dualad.sparse import constants

X = np.array([0.3, -0.7, 1.1, 0.5, -0.2])


def central(f, x, h=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def assert_right(jac, f, x):
    J = jac(x).toarray()
    np.testing.assert_allclose(J, dualad.jacobian(f, x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(J, central(f, x), rtol=1e-6, atol=1e-6)


def points(k):
    return [X + 0.1 * i for i in range(k)]


@pytest.mark.parametrize("replay", [True, False])
@pytest.mark.parametrize("coloring", ["greedy", "bicolor"])
@pytest.mark.parametrize("when", [0, 1, 3, 6])
def test_a_zero_written_in_place_between_calls(replay, coloring, when):
    W = np.diag(np.arange(1.0, 6.0))

    def f(v):
        return np.sin(W @ v)

    jac = dualad.SparseJacobian(f, X, coloring=coloring, replay=replay)
    assert jac.ncolors == 1
    for i, x in enumerate(points(8)):
        if i == when:
            W[0, 4] = 3.0  # a new coupling: column 4 now reaches row 0
            W[2, 1] = -1.5
        assert_right(jac, f, x)
    assert jac.redetections == 1
    assert jac.ncolors >= 2


@pytest.mark.parametrize("when", [1, 3, 6])
def test_a_global_rebound_after_the_first_call(when):
    # (a rebinding is seen by the compiled call's value check and when compiling, not by the
    # first plain call: that is documented; this test starts after it)
    box = {"W": np.diag(np.arange(1.0, 6.0))}

    def f(v):
        return box["W"] @ v + v ** 2

    jac = dualad.SparseJacobian(f, X)
    for i, x in enumerate(points(9)):
        if i == when:
            box["W"] = np.diag(np.arange(1.0, 6.0)) + np.diag(np.ones(4), 1)  # another object, more nonzeros
        if i >= when:
            assert_right(jac, f, x)
        else:
            jac(x)
    assert jac.sparsity.nnz == 9


def test_changed_values_inside_the_pattern_recolour_nothing():
    W = np.diag(np.arange(1.0, 6.0)) + np.diag(np.ones(4), -1)

    def f(v):
        return np.tanh(W @ v)

    jac = dualad.SparseJacobian(f, X)
    colors = jac.colors.copy()
    for i, x in enumerate(points(7)):
        if i == 3:
            W *= 2.0          # same zeros
            W[1, 0] = 0.0     # one nonzero gone: the old pattern still holds
        assert_right(jac, f, x)
    assert jac.redetections == 0
    np.testing.assert_array_equal(jac.colors, colors)


def test_fixed_raises_and_keeps_its_pattern():
    W = np.diag(np.arange(1.0, 6.0))
    jac = dualad.SparseJacobian(lambda v: W @ v, X, fixed=True)
    jac(X)
    W[3, 0] = 1.0
    with pytest.raises(dualad.SparsityChangedError, match="remedy"):
        jac(X)
    assert jac.sparsity.nnz == 5  # nothing changed by the refused call
    W[3, 0] = 0.0
    np.testing.assert_allclose(jac(X).toarray(), np.diag(np.arange(1.0, 6.0)))


def test_the_check_reads_the_arrays_the_pattern_relied_on():
    W = np.diag([1.0, 2.0])
    D = np.ones((2, 2))  # no zeros: nothing to rely on, so nothing kept
    with constants.collecting() as found:
        constants.note(W)
        constants.note(W)   # kept once
        constants.note(D)
        constants.note(3.0)  # not an array
    assert len(found) == 1 and not constants.moved(found)
    W[1, 1] = 0.0            # a nonzero gone: the pattern still holds
    assert not constants.moved(found)
    W[0, 1] = 1e-300         # any nonzero where a zero was
    assert constants.moved(found)
    del W
    assert not constants.moved(found)  # a dead array cannot be written any more
    constants.note(np.zeros(2))          # outside a detection nothing is collected
