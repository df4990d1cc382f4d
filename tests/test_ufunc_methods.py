"""ufunc.reduce / .accumulate / .outer of the binary ufuncs numpy has no dedicated function for
(dualad/ops/ufuncmethods.py: left folds through the rule table). Value = numpy's exactly; derivative =
central differences of numpy on floats, in both modes."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import DualadError

from cases import central_jacobian

A = np.array([[1.3, 0.7, 2.1], [0.4, 1.9, 0.8]])
UFUNCS = [np.subtract, np.divide, np.power, np.hypot, np.arctan2, np.copysign, np.fmod, np.remainder,
          np.fmax, np.fmin, np.float_power, np.heaviside]
CALLS = {
    "reduce-axis1": lambda u, x: u.reduce(x, axis=1),
    "reduce-axis0-keepdims": lambda u, x: u.reduce(x, axis=0, keepdims=True),
    "reduce-1d": lambda u, x: u.reduce(x[1]),
    "accumulate-axis1": lambda u, x: u.accumulate(x, axis=1),
    "accumulate-axis0": lambda u, x: u.accumulate(x),
}


@pytest.mark.parametrize("call", list(CALLS), ids=str)
@pytest.mark.parametrize("ufunc", UFUNCS, ids=lambda u: u.__name__)
def test_fold_matches_numpy_and_finite_differences(ufunc, call):
    f = lambda x: CALLS[call](ufunc, x) * 1.0  # noqa: E731
    d = f(dualad.Dual(A, np.zeros(A.shape + (1,))))
    np.testing.assert_array_equal(d.value, f(A.copy()))
    want = central_jacobian(f, A)
    np.testing.assert_allclose(dualad.jacobian(f, A), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tape.jacobian(f, A), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_reorderable_reductions_over_every_axis_and_boolean_methods(engine):
    f = lambda x: np.hypot.reduce(x, axis=None) + np.fmax.reduce(x, axis=(0, 1))  # noqa: E731
    np.testing.assert_allclose(engine(f, A), central_jacobian(f, A), rtol=1e-6, atol=1e-7)
    g = lambda x: np.less.outer(x[0], x[1]) * x[0, 0] + np.logical_and.reduce(x > 1, axis=0) * x[0]  # noqa: E731
    np.testing.assert_allclose(engine(g, A), central_jacobian(g, A), atol=1e-7)


@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_numpy_errors_and_refusals(engine):
    with pytest.raises(ValueError, match="reorderable"):
        engine(lambda x: np.subtract.reduce(x, axis=(0, 1)), A)
    with pytest.raises(DualadError, match="remedy"):
        engine(lambda x: np.subtract.reduce(x, axis=1, initial=1.0), A)
