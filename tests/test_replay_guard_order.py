"""Guards checked first in the replay programs (codegen.guards_first), and guards written cheaply.

A reordered program must compute what the program as written computes: the same returned values, and
the same first failed guard. Checked on random straight-line programs with the kinds of lines the writers
emit (plain assignments, writes into a shared buffer through slices, views of it, augmented assignments,
guards with and without a decision), then on prepared functions against the plain path.
"""
import numpy as np
import pytest

import dualad
from dualad.replay.codegen import GuardFailed, guards_first, same_decision


def _random_program(rng) -> list:
    lines = ["R = np.zeros(6)", "v0 = x * 1.0"]
    values = ["v0"]
    guards = 0
    for k in range(1, int(rng.integers(6, 16))):
        kind = rng.integers(0, 6)
        a, b = rng.choice(values), rng.choice(values)
        if kind == 0:
            lines.append(f"v{k} = np.sin({a}) + {b}")
        elif kind == 1:  # a write into the buffer, through a slice
            s = int(rng.integers(0, 5))
            lines.append(f"R[{s}:{s + 2}] = {a} * {k}")
            lines.append(f"v{k} = {b} * 1.0")
        elif kind == 2:  # a view of the buffer, read later (after other writes, maybe)
            s = int(rng.integers(0, 5))
            lines.append(f"v{k} = R[{s}:{s + 2}]")
        elif kind == 3:  # an augmented assignment of the buffer
            lines.append(f"R += {a}[:1]")
            lines.append(f"v{k} = {b} - 0.5")
        elif kind == 4:  # a bool guard
            lines.append(f"if not ({a}.sum() > {float(rng.normal()):.3f}): raise GuardFailed({guards})")
            lines.append(f"v{k} = {a} * {b}[:1]")
            guards += 1
        else:  # a guard with a decision
            lines.append(f"if not same_decision(decided := {a}.argsort(), ORDER): raise GuardFailed({guards}, decided)")
            lines.append(f"v{k} = np.cos({b})")
            guards += 1
        values.append(f"v{k}")
    picked = rng.choice(values, size=3)
    lines.append(f"return ({', '.join(picked)}, R.copy())")
    return lines


def _run(lines, x):
    env = {"np": np, "GuardFailed": GuardFailed, "same_decision": same_decision, "ORDER": np.arange(2)}
    exec("def f(x):\n" + "\n".join("    " + ln for ln in lines), env)
    try:
        return "value", env["f"](x.copy())
    except GuardFailed as failed:
        return "guard", failed.args[0]


@pytest.mark.parametrize("seed", range(60))
def test_reordered_programs_compute_the_same(seed):
    rng = np.random.default_rng(seed)
    lines = _random_program(rng)
    moved = guards_first(lines)
    assert sorted(moved) == sorted(lines)
    for _ in range(4):
        x = rng.normal(size=2)
        kind, got = _run(moved, x)
        want_kind, want = _run(lines, x)
        assert kind == want_kind
        if kind == "guard":
            assert got == want  # the same first failed guard
        else:
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)


def test_guards_keep_their_order_and_come_before_unneeded_lines():
    lines = ["v1 = f(x)", "d1 = g(x)", "if v1 > 0: raise GuardFailed(0)", "v2 = h(v1)", "d2 = d1 * v2",
             "if v2 > 0: raise GuardFailed(1)", "return d2"]
    assert guards_first(lines) == ["v1 = f(x)", "if v1 > 0: raise GuardFailed(0)", "v2 = h(v1)",
                                   "if v2 > 0: raise GuardFailed(1)", "d1 = g(x)", "d2 = d1 * v2", "return d2"]


def _late(v):
    y = np.sin(v) * np.exp(-v * v) + np.cos(v) * v
    z = y * np.tanh(y) + np.log1p(v * v)
    return z * 2.0 if y.sum() > 0 else z ** 2


def test_a_late_decision_is_checked_before_the_tangents():
    x = np.linspace(0.1, 1.0, 7)
    p = dualad.prepare(_late, x)
    p(x)
    src = p.traces[0].jacobian_code.source.splitlines()
    guard = next(k for k, ln in enumerate(src) if "GuardFailed" in ln)
    first_tangent = next(k for k, ln in enumerate(src) if ln.strip().startswith(("d", "m", "t")) and " = " in ln
                         and not ln.strip().startswith("del"))
    assert guard < first_tangent
    for point in (x, -x, x * 0.5, -2 * x):  # both branches, each met twice
        for _ in range(3):
            np.testing.assert_allclose(p(point), dualad.jacobian(_late, point), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("f", [
    lambda v: v * 2.0 if v[0] else v * 3.0,                  # truth of a float
    lambda v: v * 2.0 if v[0] > 0.5 else v * 3.0,            # a comparison of two scalars
    lambda v: v * v[np.argmax(v)] + np.cos(v),               # a position
    lambda v: np.sort(v) * np.arange(1.0, v.size + 1.0),     # an order
    lambda v: v[np.argmin(v)] * np.sin(v),
    lambda v: np.where(v > 0, v ** 2, -v) * (2.0 if (v > 0).sum() > 2 else 1.0),
])
def test_cheap_guards_decide_as_the_plain_path(f):
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-1, 1, 5)
    x0[0] = 1.0
    p = dualad.prepare(f, x0)
    for point in [x0, -x0, np.zeros(5), *rng.uniform(-1, 1, (12, 5))]:
        for call in range(2):
            np.testing.assert_allclose(p(point), dualad.jacobian(f, point), rtol=1e-13, atol=1e-15)
            t = rng.normal(size=5)
            np.testing.assert_allclose(p.jvp(point, t)[1], dualad.jvp(f, point, t)[1], rtol=1e-13, atol=1e-15)
    assert p.fallbacks == 0  # every guard ran as written (an error in one would send calls to the plain path)
    assert p.replays > 0
