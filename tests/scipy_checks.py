"""Shared checks for the dualad.scipy mirrors: value equals scipy's, derivatives equal central
differences, forward mode equals reverse mode."""
from __future__ import annotations

import numpy as np

import dualad
from dualad import tape

from cases import central_jacobian


def check_mirror(ours, theirs, x, *, rtol=1e-6, atol=1e-7, value_rtol=1e-12, second=False):
    """``ours`` (a dualad.scipy function of x) against ``theirs`` (scipy's, same call) at ``x``."""
    x = np.asarray(x, dtype=float)
    want = np.asarray(theirs(x))
    got = np.asarray(ours(x))
    np.testing.assert_allclose(got, want, rtol=value_rtol, atol=value_rtol * max(1.0, np.abs(want).max()))
    J = dualad.jacobian(ours, x)
    np.testing.assert_allclose(J, central_jacobian(theirs, x), rtol=rtol, atol=atol)
    np.testing.assert_allclose(tape.jacobian(ours, x), J, rtol=1e-9, atol=1e-11)
    if second:
        g = lambda z: dualad.jacobian(ours, z)  # noqa: E731
        H = dualad.jacobian(g, x)
        np.testing.assert_allclose(H, central_jacobian(g, x, rel_step=1e-5), rtol=1e-4, atol=1e-5)
    return J
