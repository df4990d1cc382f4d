"""A stiff ODE (HIRES, 8 species) solved with scipy's BDF: plain, prepared and finite-difference Jacobians.

BDF asks for the Jacobian of the right-hand side again and again. ``dualad.jacobian``
runs f through dualad's dispatch at every request; ``dualad.prepare`` records f once
and replays the recording as compiled Python (here: plain float arithmetic with the
Jacobian's sparsity known in advance, since the right-hand side is written entry by
entry). It is called like f, ``jac(t, y)``, so it goes straight to ``jac=``.

    python examples/stiff_bdf.py
"""
import time

import numpy as np
from scipy.integrate import solve_ivp

import dualad


def hires(t, y):
    """HIRES (Hairer & Wanner's test set), written the way chemists write it: one expression per species."""
    r6 = 280.0 * y[5] * y[7]
    return [-1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007,
            1.71 * y[0] - 8.75 * y[1],
            -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4],
            8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3],
            -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6],
            -r6 + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6],
            r6 - 1.81 * y[6],
            -r6 + 1.81 * y[6]]


def rhs(t, y):
    return np.array(hires(t, y))


y0 = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0057])
span = (0.0, 321.8122)
options = dict(method="BDF", rtol=1e-6, atol=1e-9)

calls = {"plain": 0}


def plain_jac(t, y):
    calls["plain"] += 1
    return dualad.jacobian(lambda v: hires(t, v), y)


prepared = dualad.prepare(hires, y0, args=(0.0,), argnum=1)

solutions, seconds = {}, {}
for name, jac in (("plain dualad.jacobian", plain_jac), ("dualad.prepare", prepared), ("finite differences", None)):
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        sol = solve_ivp(rhs, span, y0, jac=jac, **options)
        best = min(best, time.perf_counter() - start)
    assert sol.success, sol.message
    solutions[name], seconds[name] = sol, best

# the same trajectory, whichever Jacobian BDF used (the Jacobian only steers Newton's iteration)
reference = solutions["plain dualad.jacobian"].y[:, -1]
for name, sol in solutions.items():
    np.testing.assert_allclose(sol.y[:, -1], reference, rtol=1e-4, atol=1e-8)

# the prepared Jacobian is the plain one at every point BDF visited
for t, y in zip(solutions["dualad.prepare"].t[::25], solutions["dualad.prepare"].y.T[::25]):
    np.testing.assert_allclose(prepared(t, y), dualad.jacobian(lambda v: hires(t, v), y), rtol=1e-13, atol=1e-15)


def per_call(fn, repeat=200):
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


middle = len(solutions["dualad.prepare"].t) // 2  # a point BDF visited
t1, y1 = solutions["dualad.prepare"].t[middle], solutions["dualad.prepare"].y[:, middle].copy()
from scipy.optimize._numdiff import approx_derivative  # what solve_ivp itself uses without jac=  # noqa: E402

per_jacobian = {
    "plain dualad.jacobian": per_call(lambda: dualad.jacobian(lambda v: hires(t1, v), y1)),
    "dualad.prepare": per_call(lambda: prepared(t1, y1)),
    "finite differences": per_call(lambda: approx_derivative(lambda v: rhs(t1, v), y1)),
}

print(f"HIRES, BDF, rtol={options['rtol']}, atol={options['atol']}: {len(solutions['dualad.prepare'].t)} steps, "
      f"{solutions['dualad.prepare'].njev} Jacobian evaluations")
print(f"{'Jacobian':24s} {'time per solve':>15s} {'time per Jacobian':>18s}")
for name in seconds:
    print(f"{name:24s} {seconds[name] * 1e3:12.1f} ms {per_jacobian[name] * 1e6:15.1f} µs")
print(f"prepared: {prepared.replays} replays, {prepared.retapes} recordings after the first, "
      f"{prepared.fallbacks} plain fallbacks")
assert prepared.retapes == 0
