"""ADBench objective 1: log-likelihood of a Gaussian mixture model with a Wishart prior, in plain numpy.

Each of the k components has a mean and an inverse covariance factor Q = diag(exp(q)) + L (L strictly
lower triangular), stored in one row of ``icf``: the d entries q first, then L's entries column by
column (ADBench's layout). The objective is

    sum_i logsumexp_k(alpha_k + sum(q_k) - |Q_k (x_i - mu_k)|^2 / 2) - n logsumexp(alpha)
    - n d log(2 pi) / 2 + log Wishart prior(Q_1..Q_k),

and its gradient with respect to (alphas, means, icf) is what ADBench times.

>>> from benchmarks.adbench.dataio import read_gmm, data_path
>>> g = read_gmm(data_path("gmm", "test.txt"))
>>> round(float(gmm_objective(g.alphas, g.means, g.icf, g.x, g.wishart_gamma, g.wishart_m)), 10)
8.07380408
"""
from __future__ import annotations

import math

import numpy
import numpy as np   # the only name namespaces.with_numpy rebinds; constant tables use numpy


def lower_triangle_index(d: int) -> np.ndarray:
    """(d, d) int table that gathers L from ``[0, icf[d:]...]``: 0 on and above the diagonal, else
    1 + the entry's position in icf's column-by-column list."""
    index = numpy.zeros((d, d), dtype=numpy.intp)
    cols, rows = numpy.triu_indices(d, 1)   # (column, row) pairs, column by column below the diagonal
    index[rows, cols] = numpy.arange(1, rows.size + 1)
    return index


def logsumexp(a, axis=0):
    """log(sum(exp(a))) along ``axis``, shifted by the maximum so that exp cannot overflow."""
    shift = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - shift), axis=axis)) + np.squeeze(shift, axis=axis)


def multigammaln(a: float, p: int) -> float:
    """log of the multivariate gamma function Gamma_p(a) (a constant of the prior)."""
    return p * (p - 1) / 4 * math.log(math.pi) + sum(math.lgamma(a - j / 2) for j in range(p))


def log_wishart_prior(d, wishart_gamma, wishart_m, sum_qs, q_diagonals, icf):
    """Log Wishart prior on the k precision factors (up to ADBench's constant)."""
    k = icf.shape[0]
    dof = d + wishart_m + 1
    frobenius = np.sum(q_diagonals ** 2, axis=1) + np.sum(icf[:, d:] ** 2, axis=1)
    out = np.sum(0.5 * wishart_gamma ** 2 * frobenius - wishart_m * sum_qs)
    constant = dof * d * (math.log(wishart_gamma) - 0.5 * math.log(2)) - multigammaln(0.5 * dof, d)
    return out - k * constant


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    """ADBench's GMM objective for alphas (k,), means (k, d), icf (k, d(d+1)/2) and points x (n, d)."""
    n, d = x.shape
    k = alphas.shape[0]
    log_diagonals = icf[:, :d]
    q_diagonals = np.exp(log_diagonals)
    sum_qs = np.sum(log_diagonals, axis=1)
    # Every component's strictly lower triangle, gathered from the icf entries past the diagonal
    # (a leading 0 column fills the rest).
    padded = np.concatenate([np.zeros((k, 1)), icf[:, d:]], axis=1)
    lower = padded[:, lower_triangle_index(d)]                         # (k, d, d)
    centred = x[None, :, :] - means[:, None, :]                        # (k, n, d)
    q_times_centred = q_diagonals[:, None, :] * centred + centred @ np.swapaxes(lower, 1, 2)
    main_term = (alphas + sum_qs)[:, None] - 0.5 * np.sum(q_times_centred ** 2, axis=2)   # (k, n)
    constant = -n * d * 0.5 * math.log(2 * math.pi)
    return (constant + np.sum(logsumexp(main_term, axis=0)) - n * logsumexp(alphas)
            + log_wishart_prior(d, wishart_gamma, wishart_m, sum_qs, q_diagonals, icf))


def pack(alphas, means, icf):
    """One flat parameter vector in ADBench's gradient order: alphas, means, icf."""
    return np.concatenate([alphas.ravel(), means.ravel(), icf.ravel()])


def unpack(params, k: int, d: int):
    """Inverse of :func:`pack`."""
    icf_size = d * (d + 1) // 2
    return (params[:k], params[k:k + k * d].reshape(k, d),
            params[k + k * d:k + k * d + k * icf_size].reshape(k, icf_size))


def objective_of_params(params, x, k, d, wishart_gamma, wishart_m):
    """The objective as a function of the flat parameter vector (what the gradient is taken of)."""
    alphas, means, icf = unpack(params, k, d)
    return gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m)


def gmm_gradient_by_hand(alphas, means, icf, x, wishart_gamma, wishart_m):
    """The gradient in :func:`pack`'s order, derived by hand (ADBench's "Manual" contestant): the
    floor for what plain numpy, one array operation at a time, does without automatic differentiation.

    With z = Q (x_i - mu_k) and w = softmax over k of the main term, the main term's adjoint is w and
    z's is -w z; Q's diagonal exp(q) and its lower triangle L then collect z's adjoint times x - mu,
    and mu collects Q^T times z's adjoint summed over the points (summed first: Q is the same for all).
    """
    n, d = x.shape
    k = alphas.shape[0]
    log_diagonals = icf[:, :d]
    q_diagonals = np.exp(log_diagonals)
    padded = np.concatenate([np.zeros((k, 1)), icf[:, d:]], axis=1)
    lower = padded[:, lower_triangle_index(d)]
    centred = x[None, :, :] - means[:, None, :]                              # (k, n, d)
    z = q_diagonals[:, None, :] * centred + centred @ np.swapaxes(lower, 1, 2)
    main_term = (alphas + np.sum(log_diagonals, axis=1))[:, None] - 0.5 * np.sum(z ** 2, axis=2)
    weights = np.exp(main_term - np.max(main_term, axis=0))
    weights /= np.sum(weights, axis=0)                                       # (k, n): softmax over k
    per_component = np.sum(weights, axis=1)
    alpha_weights = np.exp(alphas - np.max(alphas))
    d_alphas = per_component - n * alpha_weights / np.sum(alpha_weights)
    d_z = -weights[:, :, None] * z
    d_log_diagonals = (np.sum(d_z * centred, axis=1) * q_diagonals + per_component[:, None]
                       + wishart_gamma ** 2 * q_diagonals ** 2 - wishart_m)
    cols, rows = numpy.triu_indices(d, 1)
    d_lower = (np.swapaxes(d_z, 1, 2) @ centred)[:, rows, cols] + wishart_gamma ** 2 * icf[:, d:]
    summed = np.sum(d_z, axis=1)                                             # (k, d): summed over the points
    d_means = -(summed * q_diagonals + (summed[:, None, :] @ lower)[:, 0, :])   # before the linear map
    return np.concatenate([d_alphas, d_means.ravel(), np.concatenate([d_log_diagonals, d_lower], axis=1).ravel()])
