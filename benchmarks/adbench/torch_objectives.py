"""ADBench's four objectives written natively in PyTorch (float64), for the benchmark's PyTorch column.

The numpy modules beside this one (gmm, ba, lstm, hand) are what dualad, JAX and autograd
differentiate. PyTorch cannot run that source without a numpy layer whose overhead would misrepresent
it (``torch._numpy`` made the LSTM 5x slower than native torch code), so these are the same
formulas, operation for operation, written the way a PyTorch user writes them: ``torch.logsumexp``
(the same max shift, fused), ``torch.sigmoid``, ``torch.cross``. Benchmark-only: importing this module
needs torch; ``run.py`` imports it lazily and skips the column when torch is absent.

>>> import torch
>>> from benchmarks.adbench.dataio import read_gmm, data_path
>>> g = read_gmm(data_path("gmm", "test.txt"))
>>> round(float(gmm_objective(*as_tensors(g.alphas, g.means, g.icf, g.x), g.wishart_gamma, g.wishart_m)), 10)
8.07380408
"""
from __future__ import annotations

import functools
import math

import numpy
import torch

from benchmarks.adbench import gmm as numpy_gmm
from benchmarks.adbench import hand as numpy_hand
from benchmarks.adbench.ba import N_CAM_PARAMS


def as_tensors(*arrays):
    """float64 tensors (integer arrays stay integer) sharing memory with the numpy arrays."""
    return tuple(torch.from_numpy(numpy.ascontiguousarray(a)) for a in arrays)


# ----------------------------------------------------------------------------- GMM
@functools.lru_cache(maxsize=None)
def _lower_index(d: int) -> torch.Tensor:
    return torch.from_numpy(numpy_gmm.lower_triangle_index(d))


def gmm_objective(alphas, means, icf, x, wishart_gamma: float, wishart_m: int):
    """ADBench's GMM objective (see ``gmm.gmm_objective``) on tensors."""
    n, d = x.shape
    k = alphas.shape[0]
    log_diagonals = icf[:, :d]
    q_diagonals = torch.exp(log_diagonals)
    sum_qs = log_diagonals.sum(dim=1)
    padded = torch.cat([icf.new_zeros((k, 1)), icf[:, d:]], dim=1)
    lower = padded[:, _lower_index(d)]                                          # (k, d, d)
    centred = x[None, :, :] - means[:, None, :]                                 # (k, n, d)
    q_times_centred = q_diagonals[:, None, :] * centred + centred @ lower.transpose(1, 2)
    main_term = (alphas + sum_qs)[:, None] - 0.5 * (q_times_centred ** 2).sum(dim=2)
    constant = -n * d * 0.5 * math.log(2 * math.pi)
    dof = d + wishart_m + 1
    frobenius = (q_diagonals ** 2).sum(dim=1) + (icf[:, d:] ** 2).sum(dim=1)
    prior = ((0.5 * wishart_gamma ** 2 * frobenius - wishart_m * sum_qs).sum()
             - k * (dof * d * (math.log(wishart_gamma) - 0.5 * math.log(2))
                    - numpy_gmm.multigammaln(0.5 * dof, d)))
    return (constant + torch.logsumexp(main_term, dim=0).sum() - n * torch.logsumexp(alphas, dim=0)
            + prior)


def gmm_objective_of_params(params, x, k: int, d: int, wishart_gamma: float, wishart_m: int):
    """The objective of the flat parameter vector in ``gmm.pack``'s order."""
    icf_size = d * (d + 1) // 2
    return gmm_objective(params[:k], params[k:k + k * d].reshape(k, d),
                         params[k + k * d:k + k * d + k * icf_size].reshape(k, icf_size),
                         x, wishart_gamma, wishart_m)


# ----------------------------------------------------------------------------- LSTM
def lstm_cell(weight, bias, hidden, cell, inputs):
    hsize = hidden.shape[0]
    gates = torch.cat([inputs, hidden, inputs, hidden]) * weight + bias
    forget = torch.sigmoid(gates[:hsize])
    ingate = torch.sigmoid(gates[hsize:2 * hsize])
    outgate = torch.sigmoid(gates[2 * hsize:3 * hsize])
    change = torch.tanh(gates[3 * hsize:])
    cell = cell * forget + ingate * change
    hidden = outgate * torch.tanh(cell)
    return hidden, cell


def lstm_objective(main_params, extra_params, state, sequence):
    """ADBench's LSTM loss (see ``lstm.lstm_objective``) on tensors."""
    layers = state.shape[0] // 2
    hidden_cell = list(state.unbind(0))
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        x = sequence[t] * extra_params[0]
        for layer in range(layers):
            hidden, cell = lstm_cell(main_params[2 * layer], main_params[2 * layer + 1],
                                     hidden_cell[2 * layer], hidden_cell[2 * layer + 1], x)
            hidden_cell[2 * layer], hidden_cell[2 * layer + 1] = hidden, cell
            x = hidden
        ypred = x * extra_params[1] + extra_params[2]
        ynorm = ypred - torch.log(torch.exp(ypred).sum() + 2.0)
        total = total + (sequence[t + 1] * ynorm).sum()
    return -total / ((sequence.shape[0] - 1) * sequence.shape[1])


def lstm_objective_of_params(params, state, sequence):
    layers, bits = state.shape[0] // 2, state.shape[1]
    return lstm_objective(params[:8 * layers * bits].reshape(2 * layers, 4 * bits),
                          params[8 * layers * bits:].reshape(3, bits), state, sequence)


# ----------------------------------------------------------------------------- Hand
def _matrices(*entries):
    return torch.stack(entries, dim=-1).reshape(entries[0].shape + (3, 3))


def euler_angles_to_rotation_matrix(angles):
    tx, tz, ty = angles[..., 0], angles[..., 1], angles[..., 2]
    zero, one = torch.zeros_like(tx), torch.ones_like(tx)
    cx, sx, cy, sy, cz, sz = torch.cos(tx), torch.sin(tx), torch.cos(ty), torch.sin(ty), torch.cos(tz), torch.sin(tz)
    rx = _matrices(one, zero, zero, zero, cx, -sx, zero, sx, cx)
    ry = _matrices(cy, zero, -sy, zero, one, zero, sy, zero, cy)
    rz = _matrices(cz, -sz, zero, sz, cz, zero, zero, zero, one)
    return rz @ ry @ rx


def angle_axis_to_rotation_matrix(angle_axis):
    angle = torch.sqrt((angle_axis ** 2).sum())
    small = angle < 1e-4
    safe_angle = torch.where(small, torch.ones_like(angle), angle)
    axis = angle_axis / safe_angle
    x, y, z = axis[0], axis[1], axis[2]
    s, c = torch.sin(safe_angle), torch.cos(safe_angle)
    rotation = _matrices(x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s,
                         x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s,
                         x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c)
    return torch.where(small, torch.eye(3, dtype=angle_axis.dtype), rotation)


class HandTensors:
    """The hand model and one instance's data as tensors (built once, outside any timing)."""

    def __init__(self, inputs):
        model = inputs.model
        self.parents = [int(p) for p in model.parents]
        self.base_relatives, self.inverse_base_absolutes, self.base_positions, self.weights = as_tensors(
            model.base_relatives, model.inverse_base_absolutes, model.base_positions, model.weights)
        self.correspondences, self.points = as_tensors(inputs.correspondences, inputs.points)
        self.pose_index = torch.from_numpy(numpy_hand.pose_index(len(self.parents), inputs.theta.shape[0]))


def hand_objective(theta, data: HandTensors):
    """ADBench's simple hand residuals (see ``hand.hand_objective``) on tensors."""
    n_bones = len(data.parents)
    padded = torch.cat([theta.new_zeros(1), theta, theta.new_ones(1)])
    pose_params = padded[data.pose_index]
    rotations = euler_angles_to_rotation_matrix(pose_params[3:])
    homogeneous = torch.cat([
        torch.cat([rotations, rotations.new_zeros((n_bones, 3, 1))], dim=2),
        torch.cat([rotations.new_zeros((n_bones, 1, 3)), rotations.new_ones((n_bones, 1, 1))], dim=2)], dim=1)
    relatives = data.base_relatives @ homogeneous
    absolutes = []
    for bone, parent in enumerate(data.parents):
        absolutes.append(relatives[bone] if parent == -1 else absolutes[parent] @ relatives[bone])
    transforms = torch.stack(absolutes) @ data.inverse_base_absolutes
    blended = (data.weights @ transforms[:, :3, :].reshape(n_bones, 12)).reshape(-1, 3, 4)
    positions = (blended * data.base_positions[:, None, :]).sum(dim=2)
    global_rotation = angle_axis_to_rotation_matrix(pose_params[0]) * pose_params[1]
    vertices = positions @ global_rotation.T + pose_params[2]
    return (data.points - vertices[data.correspondences]).reshape(-1)


# ----------------------------------------------------------------------------- BA
def rodrigues_rotate_point(rot, X):
    sqtheta = (rot ** 2).sum(dim=-1, keepdim=True)
    no_rotation = sqtheta == 0
    theta = torch.sqrt(torch.where(no_rotation, torch.ones_like(sqtheta), sqtheta))
    w = rot / theta
    costheta, sintheta = torch.cos(theta), torch.sin(theta)
    w_cross_X = torch.linalg.cross(w, X, dim=-1)
    tmp = (w * X).sum(dim=-1, keepdim=True) * (1.0 - costheta)
    rotated = X * costheta + w_cross_X * sintheta + w * tmp
    return torch.where(no_rotation, X + torch.linalg.cross(rot, X, dim=-1), rotated)


def radial_distort(rad_params, proj):
    rsq = (proj ** 2).sum(dim=-1, keepdim=True)
    return proj * (1.0 + rad_params[..., 0:1] * rsq + rad_params[..., 1:2] * rsq * rsq)


def project(cam, X):
    Xcam = rodrigues_rotate_point(cam[..., 0:3], X - cam[..., 3:6])
    distorted = radial_distort(cam[..., 9:11], Xcam[..., 0:2] / Xcam[..., 2:3])
    return distorted * cam[..., 6:7] + cam[..., 7:9]


def reprojection_error(cam, X, w, feat):
    """One observation's (or a batch's) weighted reprojection error (see ``ba.reprojection_error``)."""
    return w[..., None] * (project(cam, X) - feat)


def ba_residuals_of_params(params, n: int, m: int, obs, feats):
    """All 3 p residuals of the flat parameter vector (``ba.pack``'s order)."""
    cams = params[:N_CAM_PARAMS * n].reshape(n, N_CAM_PARAMS)
    X = params[N_CAM_PARAMS * n:N_CAM_PARAMS * n + 3 * m].reshape(m, 3)
    w = params[N_CAM_PARAMS * n + 3 * m:]
    reproj = reprojection_error(cams[obs[:, 0]], X[obs[:, 1]], w, feats)
    return torch.cat([reproj.reshape(-1), 1.0 - w ** 2])


def ba_jacobian_blocks(params, n: int, m: int, obs, feats):
    """Per-observation Jacobian blocks by ``torch.func.vmap(jacfwd)`` (the JAX column's layout):
    d(reprojection)/d(camera) (p, 2, 11), /d(point) (p, 2, 3), /d(weight) (p, 2), and the weight
    errors' diagonal -2 w."""
    cams = params[:N_CAM_PARAMS * n].reshape(n, N_CAM_PARAMS)
    X = params[N_CAM_PARAMS * n:N_CAM_PARAMS * n + 3 * m].reshape(m, 3)
    w = params[N_CAM_PARAMS * n + 3 * m:]
    blocks = torch.func.vmap(torch.func.jacfwd(reprojection_error, argnums=(0, 1, 2)))
    d_cam, d_point, d_weight = blocks(cams[obs[:, 0]], X[obs[:, 1]], w, feats)
    return d_cam, d_point, d_weight, -2.0 * w
