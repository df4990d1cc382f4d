"""Sparse Jacobians of a PDE residual: pattern detection, colouring, Newton and an implicit ODE solver.

The 2-D Bratu problem on the unit square, zero on the boundary,

    -Laplace(u) = lam * exp(u),      lam = 6,

discretised with the 5-point stencil on an N x N interior grid (n = N**2
unknowns; N = 100 gives n = 10 000). The residual is written once in plain
numpy. dualad detects the Jacobian's sparsity pattern by running it once on
dependency-tracking values, colours the columns (a 5-point stencil needs only
a handful of colours, whatever n is), and then computes the whole Jacobian
with ONE forward pass carrying one tangent direction per colour.

1. pattern and colours at n = 10 000;
2. time against dense ``dualad.jacobian`` at n = 900, where dense is feasible;
3. Newton's method with scipy's sparse LU at n = 10 000;
4. the parabolic version u_t = Laplace(u) + lam * exp(u) integrated by
   ``scipy.integrate.solve_ivp(method="BDF", jac=...)`` with the sparse
   Jacobian: it settles on the Newton solution.

Run:  python examples/sparse_pde.py      (needs scipy: pip install dualad[scipy])
"""
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.integrate import solve_ivp

import dualad

LAM = 6.0


def bratu(u, lam=LAM):
    """The residual Laplace(u) + lam * exp(u) on the interior grid; u is the flattened N x N grid."""
    N = int(round(np.sqrt(u.size)))
    h = 1.0 / (N + 1)
    U = u.reshape(N, N)
    zero_row, zero_col = np.zeros((1, N)), np.zeros((N + 2, 1))
    P = np.concatenate([zero_col, np.concatenate([zero_row, U, zero_row], axis=0), zero_col], axis=1)
    laplace = (P[2:, 1:-1] + P[:-2, 1:-1] + P[1:-1, 2:] + P[1:-1, :-2] - 4.0 * U) / h ** 2
    return (laplace + lam * np.exp(U)).reshape(-1)


def stencil_pattern(N):
    """The 5-point pattern built by hand, only to check the detected one."""
    T = sp.diags([1, 1, 1], [-1, 0, 1], shape=(N, N), dtype=float)
    I = sp.identity(N)
    return ((sp.kron(I, T) + sp.kron(sp.diags([1, 1], [-1, 1], shape=(N, N), dtype=float), I)) != 0).astype(bool)


def best_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    N = 100
    n = N * N
    u0 = np.zeros(n)

    # 1. pattern and colours -------------------------------------------------------
    t0 = time.perf_counter()
    jac = dualad.SparseJacobian(bratu, u0)
    setup = time.perf_counter() - t0
    S = jac.sparsity
    assert (S != stencil_pattern(N)).nnz == 0, "detected pattern differs from the 5-point stencil"
    t_detect = best_time(lambda: dualad.jacobian_sparsity(bratu, u0))
    t_f = best_time(lambda: bratu(u0), repeat=50)
    print(f"2-D Bratu, N = {N}: n = {n} unknowns, Jacobian {S.shape[0]} x {S.shape[1]} with {S.nnz} nonzeros")
    print(f"  pattern detection {t_detect * 1e3:.2f} ms = {t_detect / t_f:.1f} x one residual "
          f"({t_f * 1e6:.0f} us); pattern + colouring {setup * 1e3:.0f} ms, once")
    print(f"  colours: {jac.ncolors} (so {jac.ncolors} tangent directions instead of {n}; "
          f"band colouring would need {2 * N + 1})")
    assert jac.ncolors <= 10
    t_jac = best_time(lambda: jac(u0))
    print(f"  one sparse Jacobian: {t_jac * 1e3:.2f} ms")

    # 2. against dense forward mode where dense is feasible -------------------------
    Nd = 30
    ud = np.random.default_rng(0).uniform(0.0, 0.5, Nd * Nd)
    J_dense = dualad.jacobian(bratu, ud)
    J_sparse = dualad.sparse_jacobian(bratu, ud)
    assert np.allclose(J_sparse.toarray(), J_dense, rtol=1e-13, atol=1e-10)
    jac_d = dualad.SparseJacobian(bratu, ud)
    t_dense = best_time(lambda: dualad.jacobian(bratu, ud), repeat=3)
    t_sparse = best_time(lambda: dualad.sparse_jacobian(bratu, ud))
    t_reuse = best_time(lambda: jac_d(ud))
    print(f"\nn = {Nd * Nd}: dense jacobian {t_dense * 1e3:.1f} ms; sparse_jacobian (detect + colour + "
          f"evaluate) {t_sparse * 1e3:.2f} ms ({t_dense / t_sparse:.0f}x); SparseJacobian call "
          f"{t_reuse * 1e3:.2f} ms ({t_dense / t_reuse:.0f}x); same matrix to 1e-13")

    # 3. Newton with sparse LU at n = 10 000 ---------------------------------------
    print(f"\nNewton, n = {n}, sparse LU:")
    u = u0.copy()
    t0 = time.perf_counter()
    for it in range(20):
        r = bratu(u)
        norm = np.linalg.norm(r) / np.sqrt(n)
        print(f"  iteration {it}: rms residual {norm:.3e}")
        if norm < 1e-10:
            break
        u = u - spla.splu(jac(u).tocsc()).solve(r)
    newton_time = time.perf_counter() - t0
    assert norm < 1e-10, "Newton did not converge"
    print(f"  converged in {it} iterations, {newton_time:.2f} s; max u = {u.max():.6f}")

    # 4. u_t = Laplace(u) + lam exp(u) by BDF with the sparse Jacobian ----------------
    calls = {"jac": 0}

    def jac_ivp(t, y):
        calls["jac"] += 1
        return jac(y)

    t0 = time.perf_counter()
    sol = solve_ivp(lambda t, y: bratu(y), (0.0, 2.0), u0, method="BDF", jac=jac_ivp, rtol=1e-6, atol=1e-8)
    ivp_time = time.perf_counter() - t0
    assert sol.success, sol.message
    gap = np.max(np.abs(sol.y[:, -1] - u))
    print(f"\nsolve_ivp(BDF) on u_t = Laplace(u) + {LAM:g} exp(u), n = {n}, t in [0, 2]: {sol.t.size} steps, "
          f"{calls['jac']} sparse Jacobians, {ivp_time:.2f} s")
    print(f"  max |u(2) - Newton steady state| = {gap:.2e}")
    assert gap < 1e-4


if __name__ == "__main__":
    main()
