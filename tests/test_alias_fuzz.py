"""Generated programs mixing views, in-place operators, buffers and fancy-index writes.

Each program runs unchanged on plain float arrays (numpy's value and central
differences), on Duals (forward mode) and on tape values (reverse mode). The
outcome must be numpy's value with forward = reverse = central differences, or
a DualadError; never a silent mismatch.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import dualad
from dualad import tape

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

from alias_check import central_differences  # noqa: E402

N = 6  # x has 6 entries; every root buffer too, so (2, 3) and (3, 2) reshapes always fit


def _expr(x, shape, coef, j, k, kind):
    """A smooth value of ``shape`` depending on x (scalar, broadcast; or an array from x)."""
    size = int(np.prod(shape)) if shape else 1
    if kind == 0 or size > N:
        return coef * np.sin(x[j]) * x[k] + 0.5
    if kind == 1:
        return np.reshape(x[:size] * coef + x[k] ** 2, shape)
    return coef * 1.5  # a constant written into a differentiable buffer


def _view(a, how):
    """A numpy view of ``a`` (or a copy, where numpy's reshape must copy): as numpy decides."""
    nd = np.ndim(a)
    if nd == 0:
        return a
    if how == 0:
        return a[1:] if len(a) > 1 else a[:]
    if how == 1:
        return a[::2]
    if how == 2:
        return a[::-1]
    if how == 3:
        return a.T
    if how == 4:
        return a.ravel() if nd > 1 else (a.reshape(2, 3) if np.size(a) == 6 else a[:, None])
    if how == 5:
        return a[0] if nd > 1 else (a.reshape(3, 2) if np.size(a) == 6 else a[None])
    return np.swapaxes(a, 0, -1)


def run(program, x, zeros_like):
    """Interpret ``program`` on x (a float array, a Dual or a tape value)."""
    arrays = [x * 1.0, zeros_like(x), np.empty_like(x)]
    arrays[2][...] = x[::-1] * 0.5  # an empty_like buffer, filled before use
    acc = 0.0 * x[0]
    for op, p, q, r, coef in program:
        a = arrays[p % len(arrays)]
        shape = np.shape(a)
        if op == 0:  # take a view
            arrays.append(_view(a, q % 7))
        elif op == 1 and shape:  # basic-slice write
            key = (slice(q % shape[0], None, 1 + r % 2),) if len(shape) else ()
            target = np.shape(a[key])
            a[key] = _expr(x, target, coef, q % N, r % N, r % 3)
        elif op == 2 and shape:  # in-place operator on a slice
            key = slice(0, 1 + q % shape[0])
            value = _expr(x, np.shape(a[key]), coef, q % N, r % N, r % 2)
            if r % 3 == 0:
                a[key] += value
            elif r % 3 == 1:
                a[key] *= value
            else:
                a[key] -= value
        elif op == 3 and shape:  # out= into (a view of) an array
            target = _view(a, q % 7)
            src = _expr(x, np.shape(target), coef, q % N, r % N, 1)
            if r % 2:
                np.sin(src, out=target)
            else:
                np.multiply(src, 0.5 + coef, out=target)
        elif op == 4 and len(shape) == 1 and shape[0] >= 2:  # fancy index with a repeat: the last write wins
            idx = np.array([q % shape[0], r % shape[0], q % shape[0]])
            a[idx] = x[:3] * coef
        elif op == 5:  # a read: later writes must not reach it
            acc = acc + np.sum(a * (coef + 0.25))
    return np.concatenate([np.ravel(b) for b in arrays[:3]] + [np.ravel(acc)])


ops = st.tuples(st.integers(0, 5), st.integers(0, 9), st.integers(0, 9), st.integers(0, 9),
                st.sampled_from([-1.5, -0.5, 0.75, 2.0]))


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(program=st.lists(ops, min_size=1, max_size=8))
def test_generated_programs(program):
    x = np.linspace(0.3, 1.3, N)
    f_plain = lambda v: run(program, v, np.zeros_like)  # noqa: E731
    f_dual = lambda v: run(program, v, dualad.zeros_like)  # noqa: E731
    try:
        value = f_plain(x.copy())
    except (ValueError, IndexError, TypeError):
        hypothesis.assume(False)  # numpy itself refuses this program (a shape mismatch)
    try:
        forward = dualad.jacobian(f_dual, x)
        reverse = tape.jacobian(f_dual, x)
        recorded = tape.record(f_dual, x).value
    except dualad.DualadError:
        return  # refused, with a reason: allowed
    np.testing.assert_array_equal(np.asarray(recorded), value)
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forward, central_differences(f_plain, x), rtol=1e-5, atol=1e-6)
    if importlib.util.find_spec("scipy") is not None:  # the sparsity tracer follows the same writes
        try:
            pattern = dualad.jacobian_sparsity(f_dual, x).toarray()
        except dualad.DualadError:
            return  # refused, with a reason: allowed
        assert np.all(pattern | (forward.reshape(pattern.shape) == 0)), "the pattern misses a nonzero"


@hypothesis.settings(max_examples=15, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(program=st.lists(ops, min_size=2, max_size=6))
def test_generated_programs_second_order(program):
    # forward over reverse (hvp) = forward over forward (hessian) = reverse over forward = reverse
    # over reverse = differences of the reverse gradient
    x = np.linspace(0.3, 1.3, N)
    u = np.linspace(-1.0, 1.0, N)
    f_plain = lambda v: np.sum(run(program, v, np.zeros_like) ** 2)  # noqa: E731
    f = lambda v: np.sum(run(program, v, dualad.zeros_like) ** 2)  # noqa: E731
    try:
        f_plain(x.copy())
    except (ValueError, IndexError, TypeError):
        hypothesis.assume(False)
    try:
        hv = dualad.hvp(f, x, u)
        H = dualad.hessian(f, x)
    except dualad.DualadError:
        return
    h = 1e-5
    fd = (tape.grad(f, x + h * u) - tape.grad(f, x - h * u)) / (2 * h)
    np.testing.assert_allclose(hv, H @ u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hv, fd, rtol=1e-4, atol=1e-5)
    # an outer tape over the inner gradient: the views are views at both levels
    for outer_over_inner in (lambda v: dualad.gradient(f, v), lambda v: tape.grad(f, v)):
        try:
            np.testing.assert_allclose(tape.jacobian(outer_over_inner, x), H, rtol=1e-8, atol=1e-8)
        except dualad.DualadError:
            pass  # refused, with a reason: allowed
