"""ADBench objective 4: hand tracking residuals (the simple variant), in plain numpy.

A skinned hand model (22 bones, 544 vertices) is posed by 26 parameters: global rotation (angle-axis)
0:3, translation 3:6, then per finger 4 joint angles (2 for the first joint, 1 for the others). Each
bone's rotation is built from Euler angles and chained down the skeleton; every vertex is a weighted
blend of its bones' transforms (linear blend skinning). The residual of each observed point is
``point - posed vertex it corresponds to``, so the Jacobian is (3 points) x 26.

>>> from benchmarks.adbench.dataio import read_hand, data_path
>>> h = read_hand(data_path("hand", "model"), data_path("hand", "test.txt"))
>>> r = hand_objective(h.theta, h.model, h.correspondences, h.points)
>>> r.shape, round(float(r[0]), 9)
((6,), 0.165193148)
"""
from __future__ import annotations

import numpy
import numpy as np   # the only name namespaces.with_numpy rebinds; constant tables use numpy

N_FINGERS = 5


def pose_index(n_bones: int, n_theta: int = 26) -> numpy.ndarray:
    """(n_bones + 3, 3) int table that gathers the pose parameters from ``[0, theta..., 1]``.

    Row 0 is the global rotation, row 1 the scale (ones), row 2 the translation, row 3 + i the
    Euler angles of bone i: each finger's first joint takes 2 parameters, the next two joints 1,
    the fingertip and the two wrist bones none.
    """
    zero, one = 0, n_theta + 1
    table = numpy.full((n_bones + 3, 3), zero, dtype=numpy.intp)
    table[0] = [1, 2, 3]
    table[1] = one
    table[2] = [4, 5, 6]
    i_theta, row = 6, 5
    for _finger in range(N_FINGERS):
        for joint in (1, 2, 3):
            table[row, 0] = 1 + i_theta
            i_theta += 1
            if joint == 1:
                table[row, 1] = 1 + i_theta
                i_theta += 1
            row += 1
        row += 1                                    # the fingertip bone does not move
    return table


def matrices(*entries):
    """Stack 9 arrays of one shape (row by row) into matrices of shape (..., 3, 3)."""
    return np.stack(entries, axis=-1).reshape(entries[0].shape + (3, 3))


def euler_angles_to_rotation_matrix(angles):
    """Rotation matrices (..., 3, 3) from Euler angles (..., 3) stored in the order x, z, y."""
    tx, tz, ty = angles[..., 0], angles[..., 1], angles[..., 2]
    zero, one = np.zeros_like(tx), np.ones_like(tx)
    cx, sx, cy, sy, cz, sz = np.cos(tx), np.sin(tx), np.cos(ty), np.sin(ty), np.cos(tz), np.sin(tz)
    rx = matrices(one, zero, zero, zero, cx, -sx, zero, sx, cx)
    ry = matrices(cy, zero, -sy, zero, one, zero, sy, zero, cy)
    rz = matrices(cz, -sz, zero, sz, cz, zero, zero, zero, one)
    return rz @ ry @ rx


def angle_axis_to_rotation_matrix(angle_axis):
    """Rodrigues' formula; the identity below an angle of 1e-4 (as ADBench does)."""
    angle = np.sqrt(np.sum(angle_axis ** 2))
    small = angle < 1e-4
    safe_angle = np.where(small, 1.0, angle)        # keeps the discarded branch finite
    axis = angle_axis / safe_angle
    x, y, z = axis[0], axis[1], axis[2]
    s, c = np.sin(safe_angle), np.cos(safe_angle)
    rotation = matrices(x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s,
                        x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s,
                        x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c)
    return np.where(small, np.eye(3), rotation)


def skinned_vertex_positions(pose_params, model):
    """Posed vertex positions (vertices, 3) for pose parameters (bones + 3, 3)."""
    n_bones = model.parents.shape[0]
    rotations = euler_angles_to_rotation_matrix(pose_params[3:])                  # (bones, 3, 3)
    homogeneous = np.concatenate([
        np.concatenate([rotations, np.zeros((n_bones, 3, 1))], axis=2),
        np.concatenate([np.zeros((n_bones, 1, 3)), np.ones((n_bones, 1, 1))], axis=2)], axis=1)
    relatives = model.base_relatives @ homogeneous
    absolutes = []
    for bone, parent in enumerate(model.parents):
        absolutes.append(relatives[bone] if parent == -1 else absolutes[parent] @ relatives[bone])
    transforms = np.stack(absolutes) @ model.inverse_base_absolutes               # (bones, 4, 4)
    # Linear blend skinning: each vertex's blend of its bones' transforms (top 3 rows), applied to it.
    blended = (model.weights @ transforms[:, :3, :].reshape(n_bones, 12)).reshape(-1, 3, 4)
    positions = np.sum(blended * model.base_positions[:, None, :], axis=2)      # (vertices, 3)
    global_rotation = angle_axis_to_rotation_matrix(pose_params[0]) * pose_params[1]
    return positions @ global_rotation.T + pose_params[2]


def hand_objective(theta, model, correspondences, points):
    """Residuals (3 points,): each point minus its corresponding posed vertex, row by row."""
    padded = np.concatenate([np.zeros(1), theta, np.ones(1)])
    pose_params = padded[pose_index(model.parents.shape[0], theta.shape[0])]
    vertices = skinned_vertex_positions(pose_params, model)
    return (points - vertices[correspondences]).reshape(-1)
