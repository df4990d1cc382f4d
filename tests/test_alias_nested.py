"""Writes through views under nested differentiation: second derivatives of the view idioms.

The inner derivative's values are an outer mode's values (a tape value inside a Dual, a tape
value inside a tape value, a Dual inside a tape value), so the views an idiom makes are views at
both levels. Each mode pair is checked against central differences of the first-order forward
gradient (itself checked against plain-float differences in test_alias_views).
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape

import test_alias_views as views

IDIOMS = views.IDIOMS + [views.many_views_then_writes, views.views_between_writes]

NESTINGS = {
    "reverse over forward": lambda g, x: tape.jacobian(lambda v: dualad.gradient(g, v), x),
    "reverse over reverse": lambda g, x: tape.jacobian(lambda v: tape.grad(g, v), x),
    "forward over reverse": lambda g, x: dualad.jacobian(lambda v: tape.grad(g, v), x),
    "forward over forward": lambda g, x: dualad.jacobian(lambda v: dualad.gradient(g, v), x),
}


def gradient_differences(g, x, h=1e-5):
    columns = [(dualad.gradient(g, x + h * e) - dualad.gradient(g, x - h * e)) / (2 * h) for e in np.eye(x.size)]
    return np.array(columns).T


@pytest.mark.parametrize("nesting", NESTINGS)
@pytest.mark.parametrize("f", IDIOMS, ids=lambda f: f.__name__)
def test_second_derivatives_through_view_writes(f, nesting):
    x = np.linspace(0.5, 1.5, 10) if f is views.gray_scott else np.array([0.3, 0.6, 0.9, 1.2])

    def g(v):
        return np.sum(f(v) ** 3)

    expected = gradient_differences(g, x)
    scale = max(1.0, np.max(np.abs(expected)))
    np.testing.assert_allclose(NESTINGS[nesting](g, x), expected, rtol=0, atol=1e-6 * scale)
