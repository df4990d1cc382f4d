"""Sparse Hessians as users write them: ``SparseJacobian`` (and ``prepare``) of a gradient function.

The gradient inside is dualad's own (forward ``dualad.gradient`` or the tape's ``tape.grad``), so
its internal shape queries (``np.ndim`` of a partial) run on the tracer and on Duals: they must not
count as value-dependent decisions, or the second call refuses a deterministic function.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape

pytest.importorskip("scipy")


def chained_quartic(x):  # a banded Hessian
    return np.sum(x[1:] ** 3 * x[:-1]) + np.sum(np.sin(x)) + 0.25 * np.sum(x ** 4)


def through_views(x):  # writes through views inside the objective
    y = x * 1.0
    y[1:] += 0.5 * x[:-1] ** 2
    head = y[:3]
    head *= np.exp(-x[:3])
    return np.sum(y ** 2) + np.prod(np.cos(x[::2]))


def with_a_branch(x):
    return np.sum(np.where(x > 0.8, x ** 3, np.sinh(x))) + np.sum(x[:-1] * x[1:])


INNER = {"dualad.gradient": dualad.gradient, "tape.grad": tape.grad}


def gradient_differences(g, x, h=1e-5):
    return np.array([(dualad.gradient(g, x + h * e) - dualad.gradient(g, x - h * e)) / (2 * h)
                     for e in np.eye(x.size)]).T


@pytest.mark.parametrize("inner", INNER)
@pytest.mark.parametrize("g", [chained_quartic, through_views, with_a_branch], ids=lambda g: g.__name__)
def test_sparse_jacobian_of_a_gradient_is_the_hessian(g, inner):
    grad = INNER[inner]
    x = np.linspace(0.25, 1.45, 7)  # no point within differencing reach of the branch at 0.8
    sparse = dualad.SparseJacobian(lambda v: grad(g, v), x)
    for point in (x, 1.2 * x, x, 0.9 * x, 1.2 * x):  # plain calls, then the compiled ones
        expected = gradient_differences(g, point)
        np.testing.assert_allclose(sparse(point).toarray(), expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(sparse(point).toarray(), dualad.hessian(g, point), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("inner", INNER)
def test_prepared_jacobian_of_a_gradient_is_the_hessian(inner):
    grad = INNER[inner]
    x = np.linspace(0.2, 1.4, 7)
    prepared = dualad.prepare(lambda v: grad(chained_quartic, v), x)
    for point in (x, 1.2 * x, 0.7 * x):
        np.testing.assert_allclose(prepared.jacobian(point), gradient_differences(chained_quartic, point),
                                   rtol=1e-6, atol=1e-6)
