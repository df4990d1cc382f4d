"""Newton's method on a nonlinear system, with the Jacobian from dualad.

The Broyden tridiagonal problem (More, Garbow and Hillstrom, 1981), n = 100:

    F_i(x) = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1,   x_0 = x_{n+1} = 0,

started from x = (-1, ..., -1). The residual is written once, in plain numpy;
``dualad.jacobian`` gives its exact Jacobian (one forward pass, 100 tangent
directions). First a hand-written Newton loop, then the same Jacobian handed to
``scipy.optimize.root(jac=...)`` and compared with scipy's finite-difference
default.

Run:  python examples/newton_system.py
"""
import time

import numpy as np

import dualad

N = 100


def broyden_tridiagonal(x):
    """The residual F(x); works unchanged on floats and on dualad.Dual values."""
    left = np.concatenate([np.zeros(1), x[:-1]])   # x_{i-1}, with x_0 = 0
    right = np.concatenate([x[1:], np.zeros(1)])   # x_{i+1}, with x_{n+1} = 0
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


def hand_jacobian(x):
    """The Jacobian written out by hand, only to check dualad's."""
    return np.diag(3.0 - 4.0 * x) + np.diag(-np.ones(len(x) - 1), -1) + np.diag(-2.0 * np.ones(len(x) - 1), 1)


def newton(F, x0, tol=1e-12, max_iter=30):
    """Plain Newton: solve J(x) dx = -F(x) with J from dualad.jacobian."""
    x = np.array(x0, dtype=float)
    history = []
    for _ in range(max_iter):
        r = F(x)
        history.append(float(np.linalg.norm(r)))
        if history[-1] < tol:
            break
        J = dualad.jacobian(F, x)
        x = x - np.linalg.solve(J, r)
    return x, history


def main():
    x0 = -np.ones(N)

    J0 = dualad.jacobian(broyden_tridiagonal, x0)
    err = np.max(np.abs(J0 - hand_jacobian(x0)))
    print(f"Broyden tridiagonal, n = {N}: Jacobian at x0 has shape {J0.shape}, "
          f"max |dualad - hand formula| = {err:.1e}")
    assert err == 0.0  # the residual is a polynomial: forward mode is exact here

    t0 = time.perf_counter()
    x, history = newton(broyden_tridiagonal, x0)
    t_newton = time.perf_counter() - t0
    print("\nNewton with dualad.jacobian:")
    for k, r in enumerate(history):
        print(f"  iteration {k}: ||F(x)|| = {r:.3e}")
    print(f"  {len(history) - 1} Jacobians, {t_newton * 1e3:.1f} ms")
    assert history[-1] < 1e-12
    # quadratic convergence, which an inexact Jacobian would lose: each residual is below the
    # square of the previous one (until rounding, ~1e-13, takes over)
    pairs = [(a, b) for a, b in zip(history, history[1:]) if b > 1e-12]
    assert len(pairs) >= 3 and all(b < a ** 2 for a, b in pairs[1:]), history
    assert len(history) - 1 <= 8

    try:
        from scipy.optimize import root
    except ImportError:
        print("\nscipy is not installed: skipping the scipy.optimize.root comparison")
        return

    print("\nscipy.optimize.root(method='hybr'):")
    jac = lambda x: dualad.jacobian(broyden_tridiagonal, x)  # noqa: E731
    exact = root(broyden_tridiagonal, x0, jac=jac, method="hybr", tol=1e-12)
    approx = root(broyden_tridiagonal, x0, method="hybr", tol=1e-12)
    for label, sol in (("jac=dualad.jacobian", exact), ("finite differences ", approx)):
        njev = getattr(sol, "njev", 0)
        print(f"  {label}: success={sol.success}, nfev={sol.nfev:4d}, njev={njev}, "
              f"||F|| = {np.linalg.norm(sol.fun):.2e}")
    assert exact.success and np.linalg.norm(exact.fun) < 1e-9
    assert np.max(np.abs(exact.x - x)) < 1e-8  # same root as the hand-written Newton
    # without jac, MINPACK estimates the Jacobian column by column: n extra evaluations each time
    assert exact.nfev < approx.nfev
    print(f"  the exact Jacobian saves {approx.nfev - exact.nfev} residual evaluations")

    lm = root(broyden_tridiagonal, x0, jac=jac, method="lm")
    print(f"  method='lm' with jac: success={lm.success}, nfev={lm.nfev}, njev={lm.njev}")
    assert lm.success and np.max(np.abs(lm.x - x)) < 1e-8


if __name__ == "__main__":
    main()
