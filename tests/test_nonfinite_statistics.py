"""Order statistics and running extremes of data holding inf or nan: numpy's values, in both modes, and
derivatives in the finite entries against central differences of the same numpy code."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualad
from dualad import tape

INF = np.inf
DATA = {
    "+inf": np.array([0.5, 2.0, -1.0, INF]),
    "-inf": np.array([0.5, 2.0, -1.0, -INF, 3.0]),
    "both": np.array([INF, 1.0, 2.0, 3.5, -INF]),
    "nan and inf": np.array([0.5, np.nan, 2.0, INF, -0.3]),
    "rows": np.array([[0.5, INF, 2.0, 1.0], [-INF, 0.0, INF, 1.0], [0.3, 1.5, -2.0, 0.7]]),
}

CALLS = {
    "median": np.median,
    "nanmedian": np.nanmedian,
    "quantile 0.3": lambda v: np.quantile(v, 0.3),
    "quantile 0.9 / 1.0": lambda v: np.quantile(v, [0.9, 1.0]),
    "quantile 0 / 0.25 weibull": lambda v: np.quantile(v, [0.0, 0.25], method="weibull"),
    "percentile midpoint": lambda v: np.percentile(v, 50, method="midpoint"),
    "percentile nearest": lambda v: np.percentile(v, [10, 60], method="nearest"),
    "nanquantile": lambda v: np.nanquantile(v, [0.2, 0.5]),
    "nanpercentile hazen": lambda v: np.nanpercentile(v, 40, method="hazen"),
    "median axis -1 keepdims": lambda v: np.median(v, axis=-1, keepdims=True),
    "quantile axis 0": lambda v: np.quantile(v, 0.4, axis=0),
}


def _quiet(f, x):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(x)


def _central_in_finite_entries(f, x, h=1e-6):
    y = np.asarray(_quiet(f, x.copy()))
    J = np.zeros(y.shape + x.shape)
    for i in zip(*np.nonzero(np.isfinite(x))):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        with np.errstate(invalid="ignore"):  # inf - inf where the output is infinite (not compared)
            J[(Ellipsis,) + i] = (np.asarray(_quiet(f, up)) - np.asarray(_quiet(f, down))) / (2 * h)
    return J


@pytest.mark.parametrize("call", CALLS, ids=str)
@pytest.mark.parametrize("data", DATA, ids=str)
def test_order_statistics_with_infinite_entries(call, data):
    f, x = CALLS[call], DATA[data]
    expected = _quiet(f, x)
    forward_value, _ = _quiet(lambda v: dualad.jvp(f, v, np.ones_like(v)), x)
    np.testing.assert_allclose(forward_value, expected, rtol=1e-14, atol=0)
    np.testing.assert_allclose(np.asarray(_quiet(lambda v: tape.record(f, v), x).value), expected, rtol=1e-14, atol=0)
    forward = _quiet(lambda v: dualad.jacobian(f, v), x)
    reverse = _quiet(lambda v: tape.jacobian(f, v), x)
    finite = np.isfinite(np.asarray(expected))
    reference = _central_in_finite_entries(f, x)
    columns = np.isfinite(x)
    for J in (forward, reverse):  # where numpy's value is finite, the derivative in the finite entries
        np.testing.assert_allclose(J[finite][..., columns], reference[finite][..., columns], atol=1e-7)


EXTREMES = {
    "max, nan inside": (np.maximum, np.array([0.5, np.nan, 2.0, 3.0]), 0),
    "min, nan inside": (np.minimum, np.array([0.5, -1.0, np.nan, -3.0]), 0),
    "max, nan first": (np.maximum, np.array([np.nan, 1.0, 2.0]), 0),
    "max, tie then nan": (np.maximum, np.array([1.0, 1.0, 0.5, np.nan]), 0),
    "min rows, axis 1": (np.minimum, np.array([[0.5, np.nan, 2.0], [1.0, -3.0, np.nan]]), 1),
    "max rows, axis 0": (np.maximum, np.array([[0.5, 4.0], [np.nan, 2.0], [3.0, 5.0]]), 0),
}


@pytest.mark.parametrize("name", EXTREMES, ids=str)
def test_running_extremes_propagate_nan(name):
    ufunc, x, axis = EXTREMES[name]

    def f(v):
        return ufunc.accumulate(v, axis=axis)
    expected = _quiet(f, x)
    value, _ = _quiet(lambda v: dualad.jvp(f, v, np.ones_like(v)), x)
    np.testing.assert_array_equal(value, expected)
    np.testing.assert_array_equal(np.asarray(_quiet(lambda v: tape.record(f, v), x).value), expected)
    finite = np.isfinite(expected)
    reference = _central_in_finite_entries(f, x)
    for J in (_quiet(lambda v: dualad.jacobian(f, v), x), _quiet(lambda v: tape.jacobian(f, v), x)):
        np.testing.assert_allclose(J[finite][..., np.isfinite(x)], reference[finite][..., np.isfinite(x)], atol=1e-7)
