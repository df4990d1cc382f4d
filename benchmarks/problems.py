"""Test problems shared by the benchmarks and the tests, written once.

Each function is plain numpy by default; ``X`` swaps in another array namespace
(jax.numpy, torch, autograd.numpy) where a benchmark compares libraries.

>>> import numpy as np
>>> bratu_1d(np.zeros(3)).tolist(), len(lorenz96(np.zeros(5)))
([1.0, 1.0, 1.0], 5)
"""
from __future__ import annotations

import numpy as np

__all__ = ["bratu_1d", "bratu_2d", "lorenz96", "lorenz96_branchy", "lorenz96_jacobian"]


def bratu_1d(u, lam: float = 1.0, X=np, zero=None):
    """The 1-D Bratu residual with zero boundary values, ``u'' + lam exp(u)`` (tridiagonal Jacobian).

    Neighbours come from ``concatenate`` with a zero (``zero``: that zero in ``X``'s array type).
    """
    zero = np.zeros(1) if zero is None else zero
    h2 = 1.0 / (len(u) + 1) ** 2
    left = X.concatenate((zero, u[:-1]))
    right = X.concatenate((u[1:], zero))
    return (left - 2.0 * u + right) / h2 + lam * X.exp(u)


def bratu_2d(u, lam: float = 6.0):
    """The 2-D Bratu residual on an N x N grid (``u`` flattened), zero boundary values."""
    N = int(round(np.sqrt(u.size)))
    h = 1.0 / (N + 1)
    U = u.reshape(N, N)
    zr, zc = np.zeros((1, N)), np.zeros((N + 2, 1))
    P = np.concatenate([zc, np.concatenate([zr, U, zr], axis=0), zc], axis=1)
    lap = (P[2:, 1:-1] + P[:-2, 1:-1] + P[1:-1, 2:] + P[1:-1, :-2] - 4.0 * U) / h ** 2
    return (lap + lam * np.exp(U)).reshape(-1)


def lorenz96(x, forcing: float = 8.0) -> list:
    """The Lorenz-96 right-hand side, scalar indexing in a loop, returned as a list."""
    n = len(x)
    return [(x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + forcing for i in range(n)]


def lorenz96_branchy(x) -> list:
    """Lorenz-96 with its coupling doubled where x[0] <= 0: a value-dependent branch (the guard benchmarks)."""
    n = len(x)
    s = 1.0 if x[0] > 0 else 2.0
    return [s * ((x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i]) + 8.0 for i in range(n)]


def lorenz96_jacobian(x) -> np.ndarray:
    """By hand: d/dx of (x[i+1] - x[i-2]) x[i-1] - x[i] + F."""
    n = len(x)
    J = np.zeros((n, n))
    for i in range(n):
        J[i, (i + 1) % n] += x[i - 1]
        J[i, i - 2] -= x[i - 1]
        J[i, i - 1] += x[(i + 1) % n] - x[i - 2]
        J[i, i] -= 1.0
    return J
