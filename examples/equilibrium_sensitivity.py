"""How an equilibrium moves with its parameters: scipy.optimize.root differentiated implicitly.

A ring of n genes, each repressed by its predecessor (a repressilator-like network). Its steady
state x*(p) solves

    F_i(x, p) = alpha w_i / (1 + (x_{i-1} / K)^h) - delta * x_i = 0,     p = (alpha, K, h, delta),

with fixed promoter strengths w_i between 0.6 and 1.4.

Changing ``from scipy.optimize import root`` to ``from dualad.scipy.optimize import root`` makes
x*(p) differentiable in ``args``: dualad never differentiates the solver's iterations, it applies
the implicit function theorem, dx*/dp = -F_x^-1 F_p, with F_x and F_p from the residual. The
script checks the result against central differences of re-solving (8 more solves), in forward and
reverse mode, and does the same for n = 2000 with ``dualad.custom_root(F, sparse=True)`` (F_x by
colouring, a sparse LU) around a hand-written sparse Newton solver.

Run:  python examples/equilibrium_sensitivity.py
"""
import time

import numpy as np
import scipy.optimize
import scipy.sparse.linalg

import dualad
from dualad import tape
from dualad.checking import central_differences
from dualad.scipy.optimize import root


def residual(x, alpha, K, h, delta):
    previous = np.roll(x, 1)                       # x_{i-1}, around the ring
    strength = np.linspace(0.6, 1.4, len(x))       # w_i (constants)
    return alpha * strength / (1.0 + (previous / K) ** h) - delta * x


def equilibrium(p, n=5, solve=root):
    res = solve(residual, np.full(n, 1.0), args=(p[0], p[1], p[2], p[3]), tol=1e-13)
    return res.x


P = np.array([3.0, 1.2, 2.5, 0.8])          # alpha, K, h, delta


def main():
    x = equilibrium(P)
    print(f"equilibrium (n = 5): {np.round(x, 6)}")
    t0 = time.perf_counter()
    J = dualad.jacobian(equilibrium, P)                        # forward: one solve with F_x
    t_fwd = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = tape.grad(lambda p: np.sum(equilibrium(p)), P)        # reverse: one solve with F_x^T
    t_rev = time.perf_counter() - t0
    t0 = time.perf_counter()
    J_fd = central_differences(lambda p: equilibrium(p, solve=scipy.optimize.root), P)[0]
    t_fd = time.perf_counter() - t0
    err = np.abs(J - J_fd).max() / np.abs(J).max()
    print(f"dx*/dp (5 x 4) by the implicit function theorem, forward mode ({t_fwd * 1e3:.0f} ms):")
    print(np.round(J, 6))
    print(f"central differences of re-solving (8 solves, {t_fd * 1e3:.0f} ms): max relative difference {err:.1e}")
    print(f"reverse mode, gradient of sum(x*) ({t_rev * 1e3:.0f} ms): max difference from the forward "
          f"Jacobian's column sums {np.abs(g - J.sum(axis=0)).max():.1e}")
    assert err < 1e-6
    assert np.allclose(g, J.sum(axis=0), rtol=1e-12, atol=1e-14)

    # a large ring: F_x is sparse (2 entries per row); custom_root finds its pattern and colours once
    n = 2000

    jac = dualad.SparseJacobian(lambda v: residual(v, *P), np.ones(n))   # the solver's own Newton Jacobian

    @dualad.custom_root(residual, sparse=True)
    def big_equilibrium(alpha, K, h, delta):
        x = np.full(n, 1.0)                    # Newton with a sparse LU: any solver would do here
        jac.f = lambda v: residual(v, alpha, K, h, delta)
        for _ in range(50):
            r = residual(x, alpha, K, h, delta)
            if np.abs(r).max() < 1e-13:
                break
            x = x - scipy.sparse.linalg.spsolve(jac(x).tocsc(), r)
        return x

    def big(p):
        return big_equilibrium(p[0], p[1], p[2], p[3])

    t0 = time.perf_counter()
    J_big = dualad.jacobian(big, P)
    t_big = time.perf_counter() - t0
    (sj,) = big_equilibrium._sparse_jacobians.values()
    col = central_differences(lambda a: big(np.array([a[0], *P[1:]])), P[:1])[0][:, 0]
    err_big = np.abs(J_big[:, 0] - col).max() / np.abs(J_big[:, 0]).max()
    print(f"\nn = {n}: dx*/dp ({n} x 4) with a sparse F_x ({sj.ncolors} colours, {sj.sparsity.nnz} nonzeros) "
          f"in {t_big:.2f} s (solver included); d x*/d alpha vs central differences: {err_big:.1e}")
    assert err_big < 1e-5


if __name__ == "__main__":
    main()
