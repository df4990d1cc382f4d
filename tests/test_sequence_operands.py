"""A list or tuple of numbers as an operand (numpy's array_like: ``[0.2, 0.3, 0.5] * x``,
``np.multiply(w, x)``, ``x ** [1, 2, 3]``) works in every engine as for a plain array: it raised
"list indices must be integers or slices, not tuple" deep in forward mode's and the tape's kernels
(a rule's partial or transpose was the list itself)."""
import numpy as np
import pytest

import dualad
from dualad import tape
from alias_check import central_differences  # central differences of the plain-float code

W = [0.5, -2.0, 1.5]

FUNCTIONS = {
    "list_times_x": lambda x: W * x,
    "x_times_tuple": lambda x: x * (0.5, -2.0, 1.5),
    "x_power_list": lambda x: x ** [1, 2, 3],
    "list_power_x": lambda x: [1.5, 2.0, 0.5] ** x,
    "in_place": lambda x: _in_place(x),
    "nested_list": lambda x: [[1.0], [2.0]] * x,
    "np_multiply": lambda x: np.multiply(W, x),
    "np_power": lambda x: np.power(x, [1.0, 2.0, 3.0]),
    "np_arctan2": lambda x: np.arctan2(W, x),
    "np_matmul": lambda x: np.matmul(W, x),
    "matmul_operator": lambda x: W @ x,
    "list_of_entries": lambda x: [x[0], x[1], 2.0] * x,
}


def _in_place(x):
    y = x * 1.0
    y *= W
    return y


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_sequence_operands_in_every_engine(name):
    f = FUNCTIONS[name]
    x = np.array([0.7, 1.3, 0.4])
    want = central_differences(f, x)
    np.testing.assert_allclose(dualad.jacobian(f, x), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tape.jacobian(f, x), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dualad.prepare(f, x)(x), want, rtol=1e-6, atol=1e-7)
    pattern = dualad.jacobian_sparsity(f, x).toarray()
    assert not np.any((want.reshape(pattern.shape) != 0) & ~pattern)  # flattened outputs x inputs
