"""The guard suite: generated branchy functions give, at every point, the plain dualad.jacobian's result.

Each generated program mixes smooth steps with value-dependent ones (if/else on
an entry, np.where masks, sorting, argmax indexing, loops that exit early). It
is prepared at one point and evaluated at several others: a stale trace (one
recorded on another branch) would give a visibly different Jacobian, since
every branch below changes the derivative, not only the value.
"""
import hypothesis
import hypothesis.strategies as st
import numpy as np

import dualad

N = 4


def step(kind, a, c, y):
    """One program step on the vector ``y`` (``a`` an index, ``c`` a constant)."""
    i = a % N
    if kind == 0:
        return np.sin(y) * (1.0 + c) + y[i]
    if kind == 1:  # if/else on a value
        if y[i] > c:
            return y * y[(i + 1) % N]
        return y + c * y ** 2
    if kind == 2:  # a mask
        return np.where(y > c, y ** 2, np.cos(y) * c)
    if kind == 3:  # an order
        return np.sort(y) * np.arange(1.0, N + 1.0) + 0.1 * y
    if kind == 4:  # argmax as an index
        return y * y[np.argmax(y)] + c
    if kind == 5:  # a loop that exits on a value
        steps = 0
        while np.sum(y * y) < 4.0 + c and steps < 6:
            y = 1.3 * y + 0.1 * np.sin(y)
            steps += 1
        return y
    if kind == 6:  # a reduction decided by a comparison between entries
        return y * (np.max(y) if y[0] < y[-1] else np.min(y))
    if kind == 7:  # boolean mask indexing changes which entries are summed
        return y + np.sum(y[y > c] ** 2)
    return np.tanh(y) * (1.0 + np.argsort(y))  # argsort as a constant factor


programs = st.lists(st.tuples(st.integers(0, 8), st.integers(0, N - 1), st.sampled_from([-0.5, 0.0, 0.3, 1.0])),
                    min_size=1, max_size=5)
vectors = st.lists(st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False), min_size=N, max_size=N)


def as_function(program):
    """The generated program as a function of x: its steps applied in order."""
    def f(x):
        y = x
        for kind, a, c in program:
            y = step(kind, a, c, y)
        return y
    return f


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(program=programs, example=vectors, points=st.lists(vectors, min_size=3, max_size=6))
def test_prepared_equals_plain_at_every_point(program, example, points):
    f = as_function(program)
    x0 = np.array(example)
    with np.errstate(all="ignore"):
        try:
            expected0 = dualad.jacobian(f, x0)
        except dualad.DualadError:
            return  # refused by plain dualad too: nothing to compare
        if not np.all(np.isfinite(expected0)):
            hypothesis.assume(False)
        p = dualad.prepare(f, x0)
        for point in points + points[:2] + [example]:
            x = np.array(point)
            expected = dualad.jacobian(f, x)
            got = p(x)
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
        # every call was answered by a replay, by the plain path after a mismatch, or after a non-finite result
        assert p.replays + p.mismatches + p.fallbacks >= len(points) + 3
