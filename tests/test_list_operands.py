"""A list (or tuple) operand holding differentiable entries, in an elementwise call: numpy reads it as one
array (``x + [x[1], 2.0, 3.0]``), so does dualad (stacked, derivatives kept), in both modes and the tracer."""
from __future__ import annotations

import numpy as np
import pytest

import dualad

from alias_check import check_both_modes

X = np.array([0.5, -1.2, 2.0])

CALLS = {
    "x + [x1, 2, 3]": lambda x: x + [x[1], 2.0, 3.0],
    "[x0, 2, 1] * x": lambda x: [x[0], 2.0, 1.0] * x,
    "x - (x2, x0, 1)": lambda x: x - (x[2], x[0], 1.0),
    "x / [x1 ** 2 + 1]": lambda x: x / [x[1] ** 2 + 1.0],
    "x ** [2, x0, 1]": lambda x: np.abs(x) ** [2.0, x[0], 1.0],
    "np.maximum(x, [x1, 1, 2])": lambda x: np.maximum(x, [x[1], 1.0, 2.5]),
    "np.add([x0], x)": lambda x: np.add([x[0]], x),
    "np.hypot(x, [x2, x0, x1])": lambda x: np.hypot(x, [x[2], x[0], x[1]]),
    "np.arctan2([[x0], [x1]], x)": lambda x: np.arctan2([[x[0]], [x[1]]], x).ravel(),
    "x * [[x0, x1, x2]] (2-D)": lambda x: (x * [[x[0], x[1], x[2]], [1.0, 2.0, 3.0]]).ravel(),
    "x += [x1, 0, 0]": lambda x: (lambda y: (y.__iadd__([x[1], 0.0, 0.0]), y)[1])(x * 1.0),
}


@pytest.mark.parametrize("name", CALLS, ids=str)
def test_list_operand_is_one_array(name):
    check_both_modes(CALLS[name], X)


@pytest.mark.parametrize("name", CALLS, ids=str)
def test_list_operand_in_sparsity_detection(name):
    pytest.importorskip("scipy")
    pattern = dualad.jacobian_sparsity(CALLS[name], X).toarray().reshape(-1, X.size)
    jacobian = dualad.jacobian(CALLS[name], X).reshape(-1, X.size)
    assert ((jacobian != 0) <= pattern).all()
    np.testing.assert_allclose(dualad.sparse_jacobian(CALLS[name], X).toarray().reshape(jacobian.shape), jacobian)
