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


# ------------------------------------------------------------------ the mismatch path's bookkeeping
import itertools  # noqa: E402

import pytest  # noqa: E402

from dualad.replay.codegen import GuardFailed, same_decision  # noqa: E402


def _ordered(x):
    return np.sort(x) * np.arange(1.0, x.size + 1.0) + 0.1 * np.sin(x)


def _by_argmax(x):
    return x * x[np.argmax(x)] + np.cos(x)


def _signs(x):
    return [x[i] ** 2 if x[i] > 0 else -x[i] * x[(i + 1) % len(x)] for i in range(len(x))]


def test_new_orders_are_not_recorded_on_every_second_call():
    # 24 points, each on an order never met before: the same guard fails every time, but with another
    # decision each time, so nothing is recorded (a recording per second call cost 5-7 plain calls each)
    base = np.array([0.3, -0.7, 1.1, 0.2])
    p = dualad.prepare(_ordered, base)
    for order in itertools.permutations(range(4)):
        x = base[list(order)] * 1.01
        np.testing.assert_allclose(p(x), dualad.jacobian(_ordered, x), rtol=1e-13, atol=1e-15)
    assert p.retapes == 0 and p.mismatches == 23 and p.replays == 1  # the identity order is the recorded one
    x = base[[1, 0, 2, 3]]  # an order met a second time: recorded, then replayed
    np.testing.assert_allclose(p(x), dualad.jacobian(_ordered, x), rtol=1e-13, atol=1e-15)
    assert p.retapes == 1 and p.replays == 1
    np.testing.assert_allclose(p(x * 2.0), dualad.jacobian(_ordered, x * 2.0), rtol=1e-13, atol=1e-15)
    assert p.replays == 2 and p.retapes == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_traces_that_decided_otherwise_are_not_run(monkeypatch, dtype):
    # four branches recorded (argmax at each position); a point on a branch whose trace is not the front:
    # the front trace's program fails once, the failure's decision (the new argmax) picks the right trace
    points = [np.roll(np.array([0.9, 0.1, -0.4, 0.3], dtype), k) for k in range(4)]
    p = dualad.prepare(_by_argmax, points[0])
    for x in points[1:]:
        p(x), p(x)
    assert len(p.traces) == 4
    failures = []

    def counted(self, *args):
        failures.append(args)
        Exception.__init__(self, *args)
    monkeypatch.setattr(GuardFailed, "__init__", counted)
    for k in (0, 2, 1, 1, 3, 0):
        x = points[k] * np.asarray(1.5, dtype)
        before = len(failures), p.replays
        J = p(x)
        np.testing.assert_array_equal(J, dualad.jacobian(_by_argmax, x))
        assert p.replays == before[1] + 1 and len(failures) - before[0] <= 1
        assert J.dtype == dualad.jacobian(_by_argmax, x).dtype
    # NaN: argmax picks the first NaN; no trace recorded that: answered plainly, the same as plain
    x = np.array([0.2, np.nan, 0.5, 0.1], dtype)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(p(x), dualad.jacobian(_by_argmax, x))


def test_one_off_recordings_make_recording_wait_longer():
    # max_traces=2 and a stream of scalar-style branches each met exactly twice in a row: every recording
    # is dropped unused, so after four of them a branch must be met more often before it is recorded
    p = dualad.prepare(_signs, np.ones(6), max_traces=2)
    points = [np.where(np.array([int(c) for c in f"{k:06b}"]) > 0, 1.0, -1.0) * np.linspace(0.5, 1.0, 6)
              for k in range(1, 17)]
    for x in points:
        for _ in range(2):
            np.testing.assert_array_equal(p(x), dualad.jacobian(_signs, x))
    assert len(p.traces) == 2 and 5 <= p.retapes <= 10  # recording at every second meeting: 16
    # a branch that keeps coming back is still recorded and replayed
    x, replays = points[5] * 1.1, p.replays
    for _ in range(40):
        np.testing.assert_array_equal(p(x), dualad.jacobian(_signs, x))
    assert p.replays - replays >= 30


def test_a_recorded_branch_is_compiled_at_its_first_replay():
    f = lambda x: x ** 2 if x[0] > 0 else np.sin(x) * x[1]  # noqa: E731
    p = dualad.prepare(f, np.ones(3))
    x = np.array([-1.0, 2.0, 0.5])
    p(x), p(x)
    assert p.retapes == 1 and "jacobian_code" not in vars(p.traces[0])  # recorded, not compiled yet
    np.testing.assert_allclose(p(x * 0.5), dualad.jacobian(f, x * 0.5), rtol=1e-14)
    assert p.replays == 1 and "jacobian_code" in vars(p.traces[0])


@pytest.mark.parametrize("new, old, same", [
    (np.array([2, 0, 1]), np.array([2, 0, 1]), True), (np.array([2, 0, 1]), np.array([2, 1, 0]), False),
    (np.array([2, 0, 1], np.int32), np.array([2, 0, 1]), True), (np.array([True, False]), np.array([True, True]), False),
    (np.array([1, 2]), np.array([1, 2, 3]), False), (np.int64(3), 3, True), (np.int64(3), np.int64(4), False),
    (np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), True), (np.float64(np.nan), np.float64(np.nan), True),
    (np.True_, True, True), (False, np.True_, False), ((np.array([1]), 2), (np.array([1]), 2), True),
])
def test_same_decision(new, old, same):
    assert same_decision(new, old) is same and same_decision(old, new) is same
