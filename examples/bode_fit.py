"""Fit a transfer function to a measured Bode curve with scipy.optimize.least_squares (issue 15).

    H(s) = (b1 s + b0) / (s^2 + a1 s + a0),   s = i omega

The residuals compare the model's gain (dB, from np.abs) and phase (np.angle) with a noisy
"measured" curve: complex intermediates, a real residual vector. dualad gives the exact Jacobian
of the residuals with respect to the four (log-)coefficients; it is checked against central
differences, and the fit recovers the true coefficients.

Run: PYTHONPATH=. python examples/bode_fit.py
"""
import numpy as np
from scipy.optimize import least_squares

import dualad

omega = np.logspace(-1, 2, 60)
s = 1j * omega
true = np.log([2.0, 5.0, 0.8, 4.0])        # log of b1, b0, a1, a0 (positive coefficients)


def response(p):
    b1, b0, a1, a0 = np.exp(p[0]), np.exp(p[1]), np.exp(p[2]), np.exp(p[3])
    return (b1 * s + b0) / (s * s + a1 * s + a0)


rng = np.random.default_rng(0)
H_true = response(true)
gain_db = 20 * np.log10(np.abs(H_true)) + rng.normal(0, 0.05, omega.size)
phase = np.angle(H_true) + rng.normal(0, 0.005, omega.size)


def residuals(p):
    H = response(p)
    return np.concatenate([20 * np.log10(np.abs(H)) - gain_db, np.angle(H) - phase])


def jac(p):
    return dualad.jacobian(residuals, p)


p0 = np.log([1.0, 1.0, 1.0, 1.0])
J = jac(p0)
h = 1e-6
J_fd = np.stack([(residuals(p0 + h * e) - residuals(p0 - h * e)) / (2 * h) for e in np.eye(4)], axis=1)
err = np.abs(J - J_fd).max() / np.abs(J).max()
print(f"residual Jacobian ({J.shape[0]} x {J.shape[1]}) vs central differences: {err:.1e}")
assert err < 1e-7
assert np.allclose(dualad.tape.jacobian(residuals, p0), J, atol=1e-12), "reverse mode agrees"

fit = least_squares(residuals, p0, jac=jac)
found = np.exp(fit.x)
print("fitted b1, b0, a1, a0:", np.round(found, 4), " true:", np.exp(true))
print(f"cost {fit.cost:.4g}, {fit.nfev} residual and {fit.njev} Jacobian evaluations")
assert fit.success and np.allclose(found, np.exp(true), rtol=0.02)
