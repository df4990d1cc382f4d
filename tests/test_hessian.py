"""hessian: forward over reverse with chunk_size (issue 12, section 5); memory is measured in benchmarks/memory.py."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.forward import auto_hessian_chunk_size

from cases import central_jacobian


def rosen(v):
    return np.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)


def mixed(v):
    z = np.zeros_like(v)
    z[1:] = v[1:] * v[:-1]
    return np.sum(np.sin(z) * v) + np.linalg.norm(v) ** 3 + v[np.argmax(v)] ** 2


@pytest.mark.parametrize("f", [rosen, mixed, lambda v: np.sum(v ** 3), lambda v: np.prod(v[:4]) * np.exp(v[0])])
@pytest.mark.parametrize("chunk_size", [None, 1, 3, 40])
def test_hessian_matches_differences_of_the_gradient(f, chunk_size):
    x = np.linspace(-0.8, 1.1, 11)
    H = dualad.hessian(f, x, chunk_size=chunk_size)
    np.testing.assert_allclose(H, central_jacobian(lambda v: dualad.gradient(f, v), x, rel_step=1e-6),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(H, tape.jacobian(lambda v: dualad.gradient(f, v), x), rtol=1e-12, atol=1e-10)


def test_hessian_closed_form_and_shapes():
    x = np.linspace(-1.0, 1.0, 300)
    np.testing.assert_allclose(dualad.hessian(lambda v: np.sum(v ** 3), x), np.diag(6.0 * x), atol=1e-12)
    X = np.arange(6.0).reshape(2, 3) / 5
    H = dualad.hessian(lambda m: np.sum(m ** 2 * m[0, 0]), X, chunk_size=2)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H.reshape(6, 6), central_jacobian(
        lambda v: dualad.gradient(lambda m: np.sum(m ** 2 * m[0, 0]), v.reshape(2, 3)).ravel(), X.ravel()), atol=1e-6)
    assert auto_hessian_chunk_size(300) == 18 and auto_hessian_chunk_size(5) == 5


def test_hessian_chunk_size_is_checked():
    with pytest.raises(dualad.InputError, match="remedy"):
        dualad.hessian(rosen, np.ones(3), chunk_size=0)
