"""Cost and accuracy of ODE sensitivities: dualad's forward sensitivities vs central differences.

For each problem, d y(t_eval) / d (y0, p) -- all n + n_p directions -- by

- dualad forward mode through ``dualad.scipy.integrate.solve_ivp`` (one plain solve plus one
  augmented solve of n (1 + n + n_p) states),
- dualad reverse mode (the gradient of the first state at the last time: the same augmented solve,
  then Sᵀu),
- central differences: 2 (n + n_p) plain scipy solves,

reported as wall time relative to ONE plain scipy solve (median of interleaved repeats, with the
range), and as the largest relative error against a reference computed at much tighter tolerances.

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/ode_sensitivities.py [--repeats 5]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scipy.integrate as si  # noqa: E402

import dualad  # noqa: E402
from dualad import tape  # noqa: E402
from dualad.checking import central_differences  # noqa: E402
from dualad.scipy.integrate import solve_ivp  # noqa: E402


def robertson(t, y, k1, k2, k3):
    return np.stack([-k1 * y[0] + k3 * y[1] * y[2],
                     k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2],
                     k2 * y[1] ** 2])


def lotka_volterra(t, y, a, b, c, d):
    return np.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])


PROBLEMS = {
    "Robertson (BDF, n=3, n_p=3; y0 = (1, 1e-3, 1e-3) so that FD steps stay positive)": dict(
        fun=robertson, n=3, z=np.array([1.0, 1e-3, 1e-3, 0.04, 3e7, 1e4]), t_span=(0.0, 40.0),
        t_eval=np.array([1.0, 10.0, 40.0]), method="BDF", rtol=1e-6, atol=[1e-8, 1e-12, 1e-8],
        ref=dict(rtol=1e-11, atol=[1e-14, 1e-18, 1e-14])),
    "Lotka-Volterra (DOP853, n=2, n_p=4)": dict(
        fun=lotka_volterra, n=2, z=np.array([1.0, 0.5, 1.5, 1.0, 1.0, 3.0]), t_span=(0.0, 10.0),
        t_eval=np.array([2.5, 5.0, 10.0]), method="DOP853", rtol=1e-6, atol=1e-8,
        ref=dict(rtol=1e-13, atol=1e-13)),
}


def make(problem, solver, **tol):
    n = problem["n"]
    options = dict(method=problem["method"], t_eval=problem["t_eval"], rtol=problem["rtol"], atol=problem["atol"])
    options.update(tol)

    def y_of(z):
        return solver(problem["fun"], problem["t_span"], z[:n], args=tuple(z[n:]), **options).y
    return y_of


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    for name, problem in PROBLEMS.items():
        z = problem["z"]
        plain = make(problem, si.solve_ivp)
        ours = make(problem, solve_ivp)
        reference = dualad.jacobian(make(problem, solve_ivp, **problem["ref"]), z)
        rel_step = 1e-4 if problem["method"] == "BDF" else None  # FD needs a larger step over a looser solve
        methods = {
            "one plain solve": lambda: plain(z),
            "dualad forward (jacobian)": lambda: dualad.jacobian(ours, z),
            "dualad reverse (gradient)": lambda: tape.grad(lambda w: ours(w)[0, -1], z),
            f"central differences ({2 * z.size} solves)": lambda: central_differences(plain, z, rel_step)[0],
        }
        times = {k: [] for k in methods}
        results = {}
        for _ in range(repeats):  # interleaved, so load changes hit every method alike
            for key, fn in methods.items():
                t, out = timed(fn)
                times[key].append(t)
                results[key] = out
        base = np.median(times["one plain solve"])
        scale = np.abs(reference).max(axis=(1, 2), keepdims=True)  # per state, so tiny states count too
        print(f"\n{name}: d y(t_eval) / d(y0, p), {z.size} directions, rtol={problem['rtol']}; one plain solve "
              f"= {base * 1e3:.0f} ms (median of {repeats})")
        print(f"  {'method':<34} {'time / one solve':>22}   {'max rel. error vs reference':>28}")
        for key in methods:
            ts = np.array(times[key]) / base
            err = ""
            if key.startswith("dualad forward") or key.startswith("central"):
                err = f"{np.max(np.abs(results[key] - reference) / scale):.1e}"
            if key.startswith("dualad reverse"):
                expected = reference[0, -1, :]
                err = f"{np.max(np.abs(results[key] - expected)) / np.abs(expected).max():.1e}"
            print(f"  {key:<34} {np.median(ts):7.2f} ({ts.min():.2f}-{ts.max():.2f})      {err:>20}")


if __name__ == "__main__":
    main()
