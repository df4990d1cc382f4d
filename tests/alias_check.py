"""Shared checks for the aliasing tests: numpy's value, and forward = reverse = central differences.

Every derivative is checked against central differences of the same code run on
plain float arrays (independent of dualad), and the two modes against each other.
"""
from __future__ import annotations

import numpy as np

import dualad
from dualad import tape


def central_differences(f, x, h=1e-6):
    """d f / d x of the plain-float code, column by column (f gets a fresh copy each time)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(f(x.copy()), dtype=float)
    J = np.zeros(y.shape + x.shape)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        J[(Ellipsis,) + i] = (np.asarray(f(up)) - np.asarray(f(down))) / (2 * h)
    return J


def check_both_modes(f, x, *, sparse=True, atol=1e-6):
    """Assert: the recorded values equal numpy's; forward, reverse (and SparseJacobian) equal
    central differences; the caller's x is unchanged. Returns the Jacobian."""
    x = np.asarray(x, dtype=float)
    keep = x.copy()
    value = np.asarray(f(x.copy()))
    fd = central_differences(f, x)
    forward = dualad.jacobian(f, x)
    reverse = tape.jacobian(f, x)
    np.testing.assert_allclose(forward, fd, atol=atol, rtol=1e-6)
    np.testing.assert_allclose(reverse, fd, atol=atol, rtol=1e-6)
    np.testing.assert_allclose(forward, reverse, atol=1e-12, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(tape.record(f, x).value), value)
    chunked = dualad.jacobian(f, x, chunk_size=1)
    np.testing.assert_allclose(chunked, forward, atol=1e-12, rtol=1e-12)
    if sparse and value.ndim == 1 and x.ndim == 1:
        pytest = __import__("pytest")
        pytest.importorskip("scipy")
        # the pattern given (compressed seeds through the same Dual passes) ...
        pattern = (forward != 0) | (central_differences(f, x + 0.1) != 0)
        S = dualad.SparseJacobian(f, x, sparsity=pattern)
        np.testing.assert_allclose(S(x).toarray(), forward, atol=1e-12, rtol=1e-12)
        # ... or detected: the tracer follows numpy's writes, or refuses them with a DualadError
        try:
            detected = dualad.SparseJacobian(f, x)
        except dualad.DualadError:
            pass
        else:
            np.testing.assert_allclose(detected(x).toarray(), forward, atol=1e-12, rtol=1e-12)
    np.testing.assert_array_equal(x, keep)
    return forward


def check_hvp(f, x, v):
    """hvp of a scalar f against forward-over-forward and central differences of the reverse gradient."""
    x, v = np.asarray(x, float), np.asarray(v, float)
    hv = dualad.hvp(f, x, v)
    h = 1e-5
    fd = (tape.grad(f, x + h * v) - tape.grad(f, x - h * v)) / (2 * h)
    np.testing.assert_allclose(hv, fd, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(hv, dualad.hessian(f, x) @ v, atol=1e-9, rtol=1e-9)
    return hv
