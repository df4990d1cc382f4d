"""Read ADBench's input files, and generate GMM inputs by its generator's rules.

The file formats are those of the ADBench repository (microsoft/ADBench, MIT licence; the files
shipped in ``data/`` are copied unchanged from its ``data/`` folder at commit 38cb7931, see
``data/README.md``). Every reader returns plain numpy arrays.

>>> inputs = read_gmm(data_path("gmm", "test.txt"))
>>> inputs.alphas.shape, inputs.means.shape, inputs.icf.shape, inputs.x.shape
((3,), (3, 2), (3, 3), (1, 2))
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def data_path(*parts: str) -> str:
    """Path of a shipped data file, e.g. ``data_path("ba", "test.txt")``."""
    return os.path.join(DATA_DIR, *parts)


# ----------------------------------------------------------------------------- GMM
@dataclass
class GMMInput:
    alphas: np.ndarray          # (k,) unnormalised log mixture weights
    means: np.ndarray           # (k, d)
    icf: np.ndarray             # (k, d (d + 1) / 2): log of Q's diagonal, then L column by column
    x: np.ndarray               # (n, d) data points
    wishart_gamma: float
    wishart_m: int


def read_gmm(path: str) -> GMMInput:
    """ADBench's GMM file: ``d k n``, k alphas, k mean rows, k icf rows, n points, ``gamma m``."""
    with open(path) as handle:
        lines = [line.split() for line in handle if line.strip()]
    d, k, n = (int(v) for v in lines[0])
    rows = lines[1:]
    alphas = np.array([float(r[0]) for r in rows[:k]])
    means = np.array(rows[k:2 * k], dtype=float)
    icf = np.array(rows[2 * k:3 * k], dtype=float)
    x = np.array(rows[3 * k:3 * k + n], dtype=float)
    gamma, m = rows[3 * k + n]
    return GMMInput(alphas, means, icf, x, float(gamma), int(m))


def generate_gmm(d: int, k: int, n: int, seed: int = 0) -> GMMInput:
    """A GMM input drawn by the rules of ADBench's ``data/gmm/gmm-data-gen.py``.

    Means uniform on [0, 1); alphas, icf entries and points standard normal; gamma = 1, m = 0;
    every number rounded to 6 decimals as the generator writes them. A fixed seed replaces the
    generator's unseeded global state, so the inputs are reproducible (the numbers differ from
    ADBench's files, the distributions are the same).
    """
    rng = np.random.default_rng(seed)
    means = rng.uniform(0.0, 1.0, size=(k, d))
    alphas = rng.normal(size=k)
    icf = rng.normal(size=(k, d + d * (d - 1) // 2))
    x = rng.normal(size=(n, d))
    rounded = [np.round(a, 6) for a in (alphas, means, icf, x)]
    return GMMInput(*rounded, wishart_gamma=1.0, wishart_m=0)


# ----------------------------------------------------------------------------- BA
@dataclass
class BAInput:
    cams: np.ndarray            # (n, 11): rotation (3), centre (3), focal length, principal point (2), radial (2)
    X: np.ndarray               # (m, 3) points
    w: np.ndarray               # (p,) observation weights
    obs: np.ndarray             # (p, 2) int: camera index, point index
    feats: np.ndarray           # (p, 2) observed image positions


def read_ba(path: str) -> BAInput:
    """ADBench's BA file: ``n m p``, then ONE camera, point, weight and feature, replicated.

    The observations follow ADBench's rule: observation i sees camera ``i mod n`` and point
    ``i mod m``.
    """
    with open(path) as handle:
        lines = [line.split() for line in handle if line.strip()]
    n, m, p = (int(v) for v in lines[0])
    cam = np.array(lines[1], dtype=float)
    point = np.array(lines[2], dtype=float)
    weight = float(lines[3][0])
    feat = np.array(lines[4], dtype=float)
    obs = np.stack([np.arange(p) % n, np.arange(p) % m], axis=1)
    return BAInput(np.tile(cam, (n, 1)), np.tile(point, (m, 1)), np.full(p, weight), obs, np.tile(feat, (p, 1)))


# ----------------------------------------------------------------------------- LSTM
@dataclass
class LSTMInput:
    main_params: np.ndarray     # (2 l, 4 b): per layer a weight row and a bias row
    extra_params: np.ndarray    # (3, b): input weight, output weight, output bias
    state: np.ndarray           # (2 l, b): per layer hidden and cell
    sequence: np.ndarray        # (c, b): the text, one character's bits per row


def read_lstm(path: str) -> LSTMInput:
    """ADBench's LSTM file: ``l c b``, then main params, extra params, state and the text matrix."""
    with open(path) as handle:
        lines = [line.split() for line in handle if line.strip()]
    layers, chars, bits = (int(v) for v in lines[0])
    rows = lines[1:]
    main = np.array(rows[:2 * layers], dtype=float)
    extra = np.array(rows[2 * layers:2 * layers + 3], dtype=float)
    state = np.array(rows[2 * layers + 3:4 * layers + 3], dtype=float)
    sequence = np.array(rows[4 * layers + 3:4 * layers + 3 + chars], dtype=float)
    assert main.shape == (2 * layers, 4 * bits) and sequence.shape == (chars, bits)
    return LSTMInput(main, extra, state, sequence)


# ----------------------------------------------------------------------------- Hand
@dataclass
class HandModel:
    parents: np.ndarray                 # (bones,) int, -1 for the root
    base_relatives: np.ndarray          # (bones, 4, 4)
    inverse_base_absolutes: np.ndarray  # (bones, 4, 4)
    base_positions: np.ndarray          # (vertices, 4) homogeneous
    weights: np.ndarray                 # (vertices, bones) skinning weights


@dataclass
class HandInput:
    model: HandModel
    correspondences: np.ndarray         # (points,) int vertex index per point
    points: np.ndarray                  # (points, 3)
    theta: np.ndarray                   # (26,) pose parameters


def read_hand_model(directory: str) -> HandModel:
    """ADBench's hand model: ``bones.txt`` (name:parent:16 relative:16 inverse absolute) and
    ``vertices.txt`` (x:y:z:5 unused:count:bone:weight:...), fields separated by ':'."""
    bones = [line.strip().split(":") for line in open(os.path.join(directory, "bones.txt")) if line.strip()]
    parents = np.array([int(b[1]) for b in bones])
    relatives = np.array([[float(v) for v in b[2:18]] for b in bones]).reshape(-1, 4, 4)
    inverse_absolutes = np.array([[float(v) for v in b[18:34]] for b in bones]).reshape(-1, 4, 4)
    vertices = [line.strip().split(":") for line in open(os.path.join(directory, "vertices.txt")) if line.strip()]
    positions = np.ones((len(vertices), 4))
    weights = np.zeros((len(vertices), len(bones)))
    for i, atoms in enumerate(vertices):
        positions[i, :3] = [float(v) for v in atoms[:3]]
        for j in range(int(atoms[8])):
            weights[i, int(atoms[9 + 2 * j])] = float(atoms[10 + 2 * j])
    return HandModel(parents, relatives, inverse_absolutes, positions, weights)


def read_hand(model_dir: str, path: str) -> HandInput:
    """ADBench's hand instance (the simple variant): ``npts ntheta``, npts lines ``vertex x y z``,
    then ntheta pose parameters."""
    with open(path) as handle:
        lines = [line.split() for line in handle if line.strip()]
    npts, ntheta = (int(v) for v in lines[0])
    rows = lines[1:1 + npts]
    correspondences = np.array([int(r[0]) for r in rows])
    points = np.array([r[1:4] for r in rows], dtype=float)
    theta = np.array([float(r[0]) for r in lines[1 + npts:1 + npts + ntheta]])
    return HandInput(read_hand_model(model_dir), correspondences, points, theta)
