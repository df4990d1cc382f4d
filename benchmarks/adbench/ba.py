"""ADBench objective 2: bundle adjustment residuals, in plain numpy, vectorised over observations.

Observation i sees camera ``obs[i, 0]`` (11 parameters: Rodrigues rotation 0:3, centre 3:6, focal
length 6, principal point 7:9, radial distortion 9:11) and point ``obs[i, 1]`` (3 coordinates), with
weight ``w[i]``. Its residuals are the weighted reprojection error ``w (project(cam, X) - feat)``
(2 rows) and the weight error ``1 - w^2`` (1 row). Every function also works on one observation
(``cam`` of shape (11,), ``X`` (3,), ``w`` ()): the leading axes are batch axes, so JAX can
``vmap(jacfwd)`` the same code over observation blocks.

ADBench's Jacobian has the rows ``2 p`` reprojection errors then ``p`` weight errors and the columns
``11 n`` camera parameters, ``3 m`` point coordinates, ``p`` weights, which is what
:func:`residuals_of_params` differentiates.

>>> from benchmarks.adbench.dataio import read_ba, data_path
>>> b = read_ba(data_path("ba", "test.txt"))
>>> r = ba_residuals(b.cams, b.X, b.w, b.obs, b.feats)
>>> r.shape, round(float(r[0]), 9), round(float(r[-1]), 9)
((30,), -0.269048849, 0.826092652)
"""
from __future__ import annotations

import numpy
import numpy as np   # the only name namespaces.with_numpy rebinds; constant tables use numpy

N_CAM_PARAMS = 11


def rodrigues_rotate_point(rot, X):
    """Rotate X (..., 3) by the angle-axis vectors rot (..., 3)."""
    sqtheta = np.sum(rot ** 2, axis=-1, keepdims=True)
    no_rotation = sqtheta == 0
    # Where the angle is 0 the first-order form below is used; the 1 keeps sqrt and the division
    # finite (and their derivatives) on those rows, whose values np.where discards.
    theta = np.sqrt(np.where(no_rotation, 1.0, sqtheta))
    w = rot / theta
    costheta, sintheta = np.cos(theta), np.sin(theta)
    w_cross_X = np.cross(w, X)
    tmp = np.sum(w * X, axis=-1, keepdims=True) * (1.0 - costheta)
    rotated = X * costheta + w_cross_X * sintheta + w * tmp
    return np.where(no_rotation, X + np.cross(rot, X), rotated)


def radial_distort(rad_params, proj):
    rsq = np.sum(proj ** 2, axis=-1, keepdims=True)
    return proj * (1.0 + rad_params[..., 0:1] * rsq + rad_params[..., 1:2] * rsq * rsq)


def project(cam, X):
    """Image position (..., 2) of points X (..., 3) seen by cameras cam (..., 11)."""
    Xcam = rodrigues_rotate_point(cam[..., 0:3], X - cam[..., 3:6])
    distorted = radial_distort(cam[..., 9:11], Xcam[..., 0:2] / Xcam[..., 2:3])
    return distorted * cam[..., 6:7] + cam[..., 7:9]


def reprojection_error(cam, X, w, feat):
    return w[..., None] * (project(cam, X) - feat)


def weight_error(w):
    return 1.0 - w ** 2


def ba_residuals(cams, X, w, obs, feats):
    """All 3 p residuals: the reprojection errors (p, 2) row by row, then the weight errors (p,)."""
    reproj = reprojection_error(cams[obs[:, 0]], X[obs[:, 1]], w, feats)
    return np.concatenate([reproj.reshape(-1), weight_error(w)])


def pack(cams, X, w):
    """One flat parameter vector in ADBench's column order: cameras, points, weights."""
    return np.concatenate([cams.ravel(), X.ravel(), w.ravel()])


def unpack(params, n: int, m: int):
    cams = params[:N_CAM_PARAMS * n].reshape(n, N_CAM_PARAMS)
    X = params[N_CAM_PARAMS * n:N_CAM_PARAMS * n + 3 * m].reshape(m, 3)
    return cams, X, params[N_CAM_PARAMS * n + 3 * m:]


def residuals_of_params(params, n, m, obs, feats):
    """The residuals as a function of the flat parameter vector (what the Jacobian is taken of)."""
    cams, X, w = unpack(params, n, m)
    return ba_residuals(cams, X, w, obs, feats)


def jacobian_pattern(n: int, m: int, obs):
    """The Jacobian's block structure from the observations alone, as a boolean scipy.sparse CSR
    matrix: each reprojection row has its camera's 11 columns, its point's 3 and its weight; each
    weight-error row its weight. (A superset of the detected pattern, which also knows that x does
    not depend on the principal point's y.)"""
    import scipy.sparse
    p = len(obs)
    observation = numpy.arange(p)
    cam_cols = N_CAM_PARAMS * obs[:, 0, None] + numpy.arange(N_CAM_PARAMS)
    point_cols = N_CAM_PARAMS * n + 3 * obs[:, 1, None] + numpy.arange(3)
    weight_cols = (N_CAM_PARAMS * n + 3 * m + observation)[:, None]
    per_observation = numpy.concatenate([cam_cols, point_cols, weight_cols], axis=1)   # (p, 15)
    columns = numpy.concatenate([numpy.repeat(per_observation, 2, axis=0).ravel(), weight_cols.ravel()])
    rows = numpy.concatenate([numpy.repeat(numpy.arange(2 * p), 15), 2 * p + observation])
    return scipy.sparse.csr_matrix((numpy.ones(columns.size, dtype=bool), (rows, columns)),
                                   shape=(3 * p, N_CAM_PARAMS * n + 3 * m + p))
