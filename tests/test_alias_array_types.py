"""np.matrix and masked arrays are refused (issue class 6); copy.copy/deepcopy of a Dual do not alias."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")

JACOBIANS = [dualad.jacobian, tape.jacobian, dualad.gradient, tape.grad]


@pytest.mark.parametrize("jac", JACOBIANS)
def test_matrix_input_refused(jac):
    with pytest.raises(InputError, match="np.matrix.*remedy"):
        jac(lambda x: np.sum(x * x.T), np.matrix([[1.0, 2.0]]))


@pytest.mark.parametrize("jac", JACOBIANS)
def test_masked_input_refused(jac):
    with pytest.raises(InputError, match="masked.*remedy"):
        jac(lambda x: np.sum(x * 2.0), np.ma.array([1.0, 2.0], mask=[0, 1]))


@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian])
@pytest.mark.parametrize("kind", ["matrix", "masked"])
def test_matrix_or_masked_constant_refused(jac, kind):
    const = np.matrix([[1.0, 2.0], [3.0, 4.0]]) if kind == "matrix" else np.ma.array([1.0, 2.0], mask=[0, 1])
    with pytest.raises(InputError):
        jac(lambda x: x * const, np.ones(2))


def test_copy_of_a_dual_does_not_alias():
    d = dualad.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    for c in (copy.copy(d), copy.deepcopy(d)):
        c[0] = 9.0
        c += 1.0
        np.testing.assert_array_equal(d.value, [1.0, 2.0])
        np.testing.assert_array_equal(d.tangent, [1.0, 0.0])
        np.testing.assert_array_equal(c.value, [10.0, 3.0])

    def f(x):
        c = copy.copy(x)
        c[0] = x[1] ** 2
        return x + c
    np.testing.assert_array_equal(dualad.jacobian(f, np.array([1.0, 2.0])), [[1.0, 4.0], [0.0, 2.0]])
    np.testing.assert_array_equal(tape.jacobian(f, np.array([1.0, 2.0])), [[1.0, 4.0], [0.0, 2.0]])
