"""A stiff ODE solved with an exact Jacobian from dualad.

Robertson's chemical kinetics (1966), three species with rate constants
spanning nine orders of magnitude:

    y1' = -0.04 y1 + 1e4 y2 y3
    y2' =  0.04 y1 - 1e4 y2 y3 - 3e7 y2^2
    y3' =  3e7 y2^2,          y(0) = (1, 0, 0),  t in [0, 1e5].

Implicit solvers (BDF) need the Jacobian d f / d y. Without ``jac=`` scipy
estimates it by finite differences, costing extra right-hand-side calls each
time; with ``jac=`` from ``dualad.jacobian`` it is exact. This script solves
the problem both ways and compares the counts.

Run:  python examples/stiff_ode.py   (needs scipy)
"""
import time

import numpy as np

import dualad

K1, K2, K3 = 0.04, 1e4, 3e7


def robertson(t, y):
    """The right-hand side, plain numpy; runs on floats and on dualad.Dual values alike."""
    y1, y2, y3 = y[0], y[1], y[2]
    return np.stack([
        -K1 * y1 + K2 * y2 * y3,
        K1 * y1 - K2 * y2 * y3 - K3 * y2 ** 2,
        K3 * y2 ** 2,
    ])


def robertson_jacobian(t, y):
    """d f / d y by dualad: one forward pass with 3 tangent directions."""
    return dualad.jacobian(lambda v: robertson(t, v), y)


def hand_jacobian(y):
    """Written out by hand, only to check dualad's."""
    y1, y2, y3 = y
    return np.array([[-K1, K2 * y3, K2 * y2],
                     [K1, -K2 * y3 - 2 * K3 * y2, -K2 * y2],
                     [0.0, 2 * K3 * y2, 0.0]])


def main():
    try:
        from scipy.integrate import solve_ivp
    except ImportError:
        print("scipy is not installed: this example needs scipy.integrate.solve_ivp")
        return

    y_test = np.array([0.7, 3e-5, 0.3])
    err = np.max(np.abs(robertson_jacobian(0.0, y_test) - hand_jacobian(y_test)))
    print(f"Robertson kinetics: max |dualad Jacobian - hand formula| at {y_test} = {err:.1e}")
    assert err < 1e-9

    y0 = np.array([1.0, 0.0, 0.0])
    t_span = (0.0, 1e5)
    t_eval = np.array([0.4, 40.0, 4e3, 1e5])
    runs, calls = {}, {}
    for label, jac in (("jac=dualad.jacobian", robertson_jacobian), ("finite differences ", None)):
        # scipy's nfev leaves out the calls its finite-difference Jacobian makes, so count every call
        count = [0]

        def rhs(t, y, count=count):
            count[0] += 1
            return robertson(t, y)

        t0 = time.perf_counter()
        sol = solve_ivp(rhs, t_span, y0, method="BDF", jac=jac, rtol=1e-6, atol=1e-10, t_eval=t_eval)
        elapsed = time.perf_counter() - t0
        runs[label], calls[label] = sol, count[0]
        assert sol.success, sol.message
        print(f"\nBDF, {label}: nfev = {sol.nfev}, njev = {sol.njev}, nlu = {sol.nlu}, "
              f"right-hand-side calls in all = {count[0]}, {elapsed * 1e3:.0f} ms")
        for t, y in zip(sol.t, sol.y.T):
            print(f"  t = {t:8.1f}: y = [{y[0]:.6f}, {y[1]:.4e}, {y[2]:.6f}]")

    exact, approx = runs["jac=dualad.jacobian"], runs["finite differences "]
    # the reactions conserve total mass: y1 + y2 + y3 = 1
    assert np.max(np.abs(exact.y.sum(axis=0) - 1.0)) < 1e-6
    # both runs integrate the same problem to the same tolerance
    assert np.max(np.abs(exact.y - approx.y) / (np.abs(exact.y) + 1e-8)) < 1e-3
    # classical reference values (Hairer and Wanner) at t = 40: y1 ~ 0.7158, y3 ~ 0.2842
    i40 = list(exact.t).index(40.0)
    assert abs(exact.y[0, i40] - 0.7158) < 1e-3 and abs(exact.y[2, i40] - 0.2842) < 1e-3
    # with the exact Jacobian no right-hand-side calls go into estimating it: each finite-difference
    # Jacobian costs n = 3 extra calls
    c_exact, c_approx = calls["jac=dualad.jacobian"], calls["finite differences "]
    assert c_exact == exact.nfev
    assert c_approx >= approx.nfev + 3 * approx.njev
    print(f"\nRight-hand-side calls: {c_exact} with the exact Jacobian ({exact.njev} Jacobians by "
          f"dualad) vs {c_approx} with finite differences ({approx.njev} Jacobians estimated with "
          f"{c_approx - approx.nfev} extra calls, which scipy's nfev does not count).")


if __name__ == "__main__":
    main()
