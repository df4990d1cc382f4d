"""A prepared derivative answers in the dtype plain dualad answers in, with the same numbers.

A partial the programs write as a literal (`v * 2`'s 2, `v * True`'s True) once made an int64
or bool Jacobian: right numbers, wrong dtype (`J /= 3` then truncates or raises).
"""
import numpy as np
import pytest

import dualad

FUNCTIONS = {
    "v * 2": lambda v: v * 2,
    "2 * v + 1": lambda v: 2 * v + 1,
    "v * True": lambda v: v * True,
    "v * int array": lambda v: v * np.arange(1, 4),
    "int matrix @ v": lambda v: np.arange(9).reshape(3, 3) @ v,
    "scalar style": lambda v: [v[0] * 2, v[1] * 3, v[2] + 1],
    "sin(v) * 2": lambda v: np.sin(v) * 2,
    "reversed * 2": lambda v: v[::-1] * 2,
    "np.where": lambda v: np.where(v > 0, v * 2, v * 3),
    "cumsum * 3": lambda v: np.cumsum(v) * 3,
}


def summed(f):
    return lambda v: np.sum(np.stack(f(v)) if isinstance(f(v), list) else f(v))


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prepared_jacobian_and_gradient_dtype(name, dtype):
    f = FUNCTIONS[name]
    x = np.array([0.5, -1.0, 2.0], dtype)
    p = dualad.prepare(f, x)
    sparse = dualad.prepare(f, x, sparse=True)
    g = dualad.prepare(summed(f), x)
    for point in (x, x + 1, x - 2):  # the recorded point, then replays (a branch flip at x - 2)
        want = np.asarray(dualad.jacobian(f, point))
        for got in (p.jacobian(point), sparse.jacobian(point).toarray().reshape(want.shape)):
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-6)
        want_g = np.asarray(dualad.gradient(summed(f), point))
        got_g = np.asarray(g.gradient(point))
        np.testing.assert_allclose(got_g, want_g, rtol=1e-6)
        if dtype is np.float64:
            assert got_g.dtype == want_g.dtype
            _, jv = p.jvp(point, np.ones(3))
            assert np.asarray(jv).dtype == np.float64
