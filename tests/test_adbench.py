"""ADBench's four objectives (benchmarks/adbench): values and dualad's derivatives.

References, all independent of dualad: ADBench's own expected outputs for its test inputs
(``data/reference_outputs.json``), JAX (x64) differentiating the same numpy source with ``np`` bound
to ``jax.numpy``, straightforward loop implementations of the objectives on plain floats, and central
finite differences. Small sizes only; speed lives in ``benchmarks/adbench/run.py``.
"""
import doctest
import importlib
import json
import math

import numpy as np
import pytest

import dualad
from benchmarks.adbench import ba, dataio, gmm, hand, lstm
from benchmarks.adbench.dataio import data_path
from benchmarks.adbench.namespaces import with_numpy

REFERENCE = json.load(open(data_path("reference_outputs.json")))


@pytest.fixture(scope="module")
def jnp():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy
    return jax.numpy


@pytest.mark.parametrize("name", ["dataio", "namespaces", "gmm", "ba", "lstm", "hand"])
def test_docstring_examples(name):
    module = importlib.import_module("benchmarks.adbench." + name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ----------------------------------------------------------------------------- GMM
def gmm_by_loops(alphas, means, icf, x, gamma, m):
    """ADBench's GMM objective, one point and one component at a time, on Python floats."""
    k, d = means.shape
    n = x.shape[0]

    def logsumexp(values):
        top = max(values)
        return math.log(sum(math.exp(v - top) for v in values)) + top

    total = 0.0
    for i in range(n):
        terms = []
        for c in range(k):
            q = np.diag(np.exp(icf[c, :d]))
            position = d
            for col in range(d):
                for row in range(col + 1, d):
                    q[row, col] = icf[c, position]
                    position += 1
            mahalanobis = q @ (x[i] - means[c])
            terms.append(alphas[c] + icf[c, :d].sum() - 0.5 * float(mahalanobis @ mahalanobis))
        total += logsumexp(terms)
    dof = d + m + 1
    prior = sum(0.5 * gamma ** 2 * (float(np.sum(np.exp(icf[c, :d]) ** 2)) + float(np.sum(icf[c, d:] ** 2)))
                - m * icf[c, :d].sum() for c in range(k))
    from scipy.special import multigammaln
    prior -= k * (dof * d * (math.log(gamma) - 0.5 * math.log(2)) - multigammaln(0.5 * dof, d))
    return -n * d * 0.5 * math.log(2 * math.pi) + total - n * logsumexp(list(alphas)) + prior


def gmm_function(inputs):
    k, d = inputs.means.shape
    params = gmm.pack(inputs.alphas, inputs.means, inputs.icf)
    return params, (lambda p: gmm.objective_of_params(p, inputs.x, k, d, inputs.wishart_gamma, inputs.wishart_m))


def test_gmm_matches_adbench_reference():
    inputs = dataio.read_gmm(data_path(REFERENCE["gmm"]["input"]))
    params, f = gmm_function(inputs)
    expected = np.array(REFERENCE["gmm"]["gradient"])
    assert float(f(params)) == pytest.approx(REFERENCE["gmm"]["objective"], rel=1e-12)
    np.testing.assert_allclose(dualad.tape.grad(f, params), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dualad.gradient(f, params), expected, rtol=1e-10, atol=1e-12)
    by_hand = gmm.gmm_gradient_by_hand(inputs.alphas, inputs.means, inputs.icf, inputs.x, inputs.wishart_gamma,
                                       inputs.wishart_m)
    np.testing.assert_allclose(by_hand, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("d, k, n, m", [(1, 2, 5, 0), (3, 4, 6, 0), (4, 3, 7, 2)])
def test_gmm_against_loops_and_jax(d, k, n, m, jnp):
    import jax
    inputs = dataio.generate_gmm(d, k, n, seed=d + k)
    inputs.wishart_m = m
    params, f = gmm_function(inputs)
    value = gmm_by_loops(inputs.alphas, inputs.means, inputs.icf, inputs.x, inputs.wishart_gamma, m)
    assert float(f(params)) == pytest.approx(value, rel=1e-12)
    jgmm = with_numpy(gmm, jnp)
    expected = np.asarray(jax.jit(jax.grad(
        lambda p: jgmm.objective_of_params(p, inputs.x, k, d, inputs.wishart_gamma, m)))(params))
    np.testing.assert_allclose(dualad.tape.grad(f, params), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dualad.gradient(f, params), expected, rtol=1e-10, atol=1e-12)
    by_hand = gmm.gmm_gradient_by_hand(inputs.alphas, inputs.means, inputs.icf, inputs.x, inputs.wishart_gamma, m)
    np.testing.assert_allclose(by_hand, expected, rtol=1e-10, atol=1e-12)


def test_gmm_prior_constant_is_scipys_multigammaln():
    special = pytest.importorskip("scipy.special")
    for a, p in [(1.5, 1), (3.5, 4), (33.0, 64)]:
        assert gmm.multigammaln(a, p) == pytest.approx(special.multigammaln(a, p), rel=1e-13)


# ----------------------------------------------------------------------------- BA
def reprojection_by_scalars(cam, X, w, feat):
    """One observation's two reprojection residuals, written out on Python floats."""
    rot, centre = [float(v) for v in cam[0:3]], [float(a - b) for a, b in zip(X, cam[3:6])]
    sqtheta = sum(r * r for r in rot)
    cross = lambda a, b: [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    if sqtheta != 0:
        theta = math.sqrt(sqtheta)
        axis = [r / theta for r in rot]
        along = sum(a * p for a, p in zip(axis, centre)) * (1 - math.cos(theta))
        across = cross(axis, centre)
        moved = [p * math.cos(theta) + c * math.sin(theta) + a * along for p, c, a in zip(centre, across, axis)]
    else:
        moved = [p + c for p, c in zip(centre, cross(rot, centre))]
    u, v = moved[0] / moved[2], moved[1] / moved[2]
    rsq = u * u + v * v
    distortion = 1 + cam[9] * rsq + cam[10] * rsq * rsq
    return [w * (u * distortion * cam[6] + cam[7] - feat[0]), w * (v * distortion * cam[6] + cam[8] - feat[1])]


def ba_function(inputs):
    n, m = len(inputs.cams), len(inputs.X)
    params = ba.pack(inputs.cams, inputs.X, inputs.w)
    return params, (lambda p: ba.residuals_of_params(p, n, m, inputs.obs, inputs.feats))


def adbench_ba_jacobian(values, n, m, obs):
    """Dense Jacobian from ADBench's CSR values, placed by its BASparseMat insertion order."""
    p = len(obs)
    jacobian = np.zeros((3 * p, 11 * n + 3 * m + p))
    position = 0
    for i, (camera, point) in enumerate(obs):
        for row in (2 * i, 2 * i + 1):
            columns = list(range(11 * camera, 11 * camera + 11)) + \
                list(range(11 * n + 3 * point, 11 * n + 3 * point + 3)) + [11 * n + 3 * m + i]
            jacobian[row, columns] = values[position:position + 15]
            position += 15
    for i in range(p):
        jacobian[2 * p + i, 11 * n + 3 * m + i] = values[position]
        position += 1
    assert position == len(values)
    return jacobian


def test_ba_matches_adbench_reference():
    reference = REFERENCE["ba"]
    inputs = dataio.read_ba(data_path(reference["input"]))
    params, f = ba_function(inputs)
    p = len(inputs.w)
    residuals = f(params)
    np.testing.assert_allclose(residuals[:2 * p], np.tile(reference["reprojection_error_per_observation"], p),
                               rtol=1e-12)
    np.testing.assert_allclose(residuals[2 * p:], reference["weight_error"], rtol=1e-12)
    expected = adbench_ba_jacobian(reference["jacobian_values"], len(inputs.cams), len(inputs.X), inputs.obs)
    np.testing.assert_allclose(dualad.jacobian(f, params), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dualad.tape.jacobian(f, params), expected, rtol=1e-10, atol=1e-12)
    sparse = dualad.SparseJacobian(f, params)
    np.testing.assert_allclose(sparse(params).toarray(), expected, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def varied_ba():
    """3 cameras with different poses (camera 1 without rotation: the other branch), 5 points, 12 observations."""
    rng = np.random.default_rng(7)
    cams = np.column_stack([rng.normal(scale=0.3, size=(3, 3)), rng.normal(size=(3, 3)),
                            rng.uniform(200, 400, 3), rng.normal(size=(3, 2)), rng.normal(scale=1e-2, size=(3, 2))])
    cams[1, 0:3] = 0.0
    X = rng.normal(size=(5, 3)) + [0, 0, 8]
    obs = np.column_stack([np.arange(12) % 3, (5 * np.arange(12)) % 5 + np.arange(12) // 3 % 5]) % [3, 5]
    return dataio.BAInput(cams, X, rng.uniform(0.5, 1.5, 12), obs, rng.normal(scale=50, size=(12, 2)))


def test_ba_values_match_scalar_code(varied_ba):
    params, f = ba_function(varied_ba)
    expected = [value for i, (c, j) in enumerate(varied_ba.obs)
                for value in reprojection_by_scalars(varied_ba.cams[c], varied_ba.X[j], varied_ba.w[i], varied_ba.feats[i])]
    np.testing.assert_allclose(f(params)[:24], expected, rtol=1e-12)
    np.testing.assert_allclose(f(params)[24:], 1 - varied_ba.w ** 2, rtol=1e-12)


def test_ba_jacobian_against_jax_and_differences(varied_ba, jnp):
    import jax
    params, f = ba_function(varied_ba)
    jba = with_numpy(ba, jnp)
    expected = np.asarray(jax.jit(jax.jacfwd(lambda p: jba.residuals_of_params(p, 3, 5, varied_ba.obs, varied_ba.feats)))(params))
    sparse = dualad.SparseJacobian(f, params)
    for jacobian in (dualad.jacobian(f, params), dualad.tape.jacobian(f, params), sparse(params).toarray()):
        np.testing.assert_allclose(jacobian, expected, rtol=1e-9, atol=1e-9)
    # The camera without rotation takes the first-order branch; its rotation columns by central differences.
    step = 1e-6
    for column in range(11, 14):
        e = np.zeros_like(params)
        e[column] = step
        difference = (f(params + e) - f(params - e)) / (2 * step)
        np.testing.assert_allclose(sparse(params).toarray()[:, column], difference, rtol=1e-5, atol=1e-4)
    # A new point: the stored pattern and colouring are reused, the values follow.
    moved = params + 0.01 * np.random.default_rng(1).normal(size=params.size)
    np.testing.assert_allclose(sparse(moved).toarray(), dualad.jacobian(f, moved), rtol=1e-10, atol=1e-10)


def test_ba_sparse_jacobian_blocks():
    """Every reprojection row touches 11 camera + 3 point + 1 weight columns (fewer only where a
    derivative is structurally zero: x depends on one principal-point coordinate, not both)."""
    inputs = dataio.read_ba(data_path("ba", "test.txt"))
    params, f = ba_function(inputs)
    pattern = dualad.jacobian_sparsity(f, params).tocsr()
    per_row = np.diff(pattern.indptr)
    assert set(per_row[:20]) == {14} and set(per_row[20:]) == {1}


# ----------------------------------------------------------------------------- LSTM
def test_lstm_matches_adbench_reference():
    reference = REFERENCE["lstm"]
    inputs = dataio.read_lstm(data_path(reference["input"]))
    params = lstm.pack(inputs.main_params, inputs.extra_params)
    f = lambda p: lstm.objective_of_params(p, inputs.state, inputs.sequence)
    assert float(f(params)) == pytest.approx(reference["objective"], abs=1e-8)
    np.testing.assert_allclose(dualad.tape.grad(f, params), reference["gradient"], rtol=1e-8, atol=1e-13)


def central_difference(f, x, direction, step=1e-6):
    return (f(x + step * direction) - f(x - step * direction)) / (2 * step)


def test_lstm_short_sequence_forward_reverse_differences():
    inputs = dataio.read_lstm(data_path("lstm", "lstm_l2_c1024.txt"))
    sequence = inputs.sequence[:4]
    params = lstm.pack(inputs.main_params, inputs.extra_params)
    f = lambda p: lstm.objective_of_params(p, inputs.state, sequence)
    reverse = dualad.tape.grad(f, params)
    np.testing.assert_allclose(dualad.gradient(f, params), reverse, rtol=1e-10, atol=1e-15)
    for direction in np.random.default_rng(3).normal(size=(3, params.size)):
        assert float(reverse @ direction) == pytest.approx(float(central_difference(f, params, direction)), rel=1e-6)


# ----------------------------------------------------------------------------- Hand
def hand_function(inputs):
    return lambda theta: hand.hand_objective(theta, inputs.model, inputs.correspondences, inputs.points)


def test_hand_matches_adbench_reference():
    reference = REFERENCE["hand"]
    inputs = dataio.read_hand(data_path(reference["model"]), data_path(reference["input"]))
    f = hand_function(inputs)
    np.testing.assert_allclose(f(inputs.theta), reference["objective"], rtol=1e-10)
    np.testing.assert_allclose(dualad.jacobian(f, inputs.theta), reference["jacobian"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(dualad.tape.jacobian(f, inputs.theta), reference["jacobian"], rtol=1e-9, atol=1e-14)


def test_hand_forward_reverse_differences():
    inputs = dataio.read_hand(data_path("hand", "model"), data_path("hand", "simple_small", "hand1_t26_c100.txt"))
    inputs.correspondences, inputs.points = inputs.correspondences[:12], inputs.points[:12]
    f = hand_function(inputs)
    small_rotation = inputs.theta.copy()
    small_rotation[0:3] = [3e-5, -2e-5, 1e-5]          # below 1e-4 ADBench uses the identity
    for theta in (inputs.theta, small_rotation):
        forward = dualad.jacobian(f, theta)
        np.testing.assert_allclose(dualad.tape.jacobian(f, theta), forward, rtol=1e-10, atol=1e-14)
        differences = np.column_stack([central_difference(f, theta, e) for e in np.eye(theta.size)])
        np.testing.assert_allclose(forward, differences, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- prepared (record once, replay)
def test_prepared_derivatives_match_adbench_references():
    if not hasattr(dualad, "prepare"):
        pytest.skip("dualad.prepare is not in this checkout")
    inputs = dataio.read_gmm(data_path(REFERENCE["gmm"]["input"]))
    params, f = gmm_function(inputs)
    prepared = dualad.prepare(f, params)
    np.testing.assert_allclose(prepared.gradient(params), REFERENCE["gmm"]["gradient"], rtol=1e-10, atol=1e-12)
    moved = params + 0.1
    np.testing.assert_allclose(prepared.gradient(moved), dualad.tape.grad(f, moved), rtol=1e-10, atol=1e-12)

    hand_inputs = dataio.read_hand(data_path(REFERENCE["hand"]["model"]), data_path(REFERENCE["hand"]["input"]))
    f = hand_function(hand_inputs)
    prepared = dualad.prepare(f, hand_inputs.theta)
    np.testing.assert_allclose(prepared.jacobian(hand_inputs.theta), REFERENCE["hand"]["jacobian"], rtol=1e-9, atol=1e-14)
    moved = hand_inputs.theta + 0.05
    np.testing.assert_allclose(prepared.jacobian(moved), dualad.jacobian(f, moved), rtol=1e-10, atol=1e-14)

    lstm_inputs = dataio.read_lstm(data_path("lstm", "lstm_l2_c1024.txt"))
    sequence = lstm_inputs.sequence[:4]
    params = lstm.pack(lstm_inputs.main_params, lstm_inputs.extra_params)
    f = lambda p: lstm.objective_of_params(p, lstm_inputs.state, sequence)
    prepared = dualad.prepare(f, params)
    for point in (params, params * 0.9):
        np.testing.assert_allclose(prepared.gradient(point), dualad.tape.grad(f, point), rtol=1e-10, atol=1e-15)


# ----------------------------------------------------------------------------- PyTorch (benchmark-only)
def test_torch_objectives_match_references(varied_ba):
    """The PyTorch column's native torch objectives (run.py) against ADBench's references and dualad.
    torch is not a test dependency: skipped where it is not installed."""
    torch = pytest.importorskip("torch")
    from benchmarks.adbench import torch_objectives as T
    result = doctest.testmod(T, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

    inputs = dataio.read_gmm(data_path(REFERENCE["gmm"]["input"]))
    k, d = inputs.means.shape
    leaf = torch.tensor(gmm.pack(inputs.alphas, inputs.means, inputs.icf), requires_grad=True)
    value = T.gmm_objective_of_params(leaf, torch.from_numpy(inputs.x), k, d, inputs.wishart_gamma, inputs.wishart_m)
    assert float(value) == pytest.approx(REFERENCE["gmm"]["objective"], rel=1e-12)
    np.testing.assert_allclose(torch.autograd.grad(value, leaf)[0].numpy(), REFERENCE["gmm"]["gradient"],
                               rtol=1e-10, atol=1e-12)

    lstm_inputs = dataio.read_lstm(data_path("lstm", "lstm_l2_c1024.txt"))
    sequence = lstm_inputs.sequence[:5]
    params = lstm.pack(lstm_inputs.main_params, lstm_inputs.extra_params)
    f = lambda p: lstm.objective_of_params(p, lstm_inputs.state, sequence)
    leaf = torch.tensor(params, requires_grad=True)
    value = T.lstm_objective_of_params(leaf, *T.as_tensors(lstm_inputs.state, sequence))
    assert float(value) == pytest.approx(float(f(params)), rel=1e-13)
    np.testing.assert_allclose(torch.autograd.grad(value, leaf)[0].numpy(), dualad.tape.grad(f, params),
                               rtol=1e-10, atol=1e-15)

    hand_inputs = dataio.read_hand(data_path(REFERENCE["hand"]["model"]), data_path(REFERENCE["hand"]["input"]))
    data = T.HandTensors(hand_inputs)
    small_rotation = hand_inputs.theta.copy()
    small_rotation[0:3] = [3e-5, -2e-5, 1e-5]          # the identity branch
    for theta in (hand_inputs.theta, small_rotation):
        jacobian = torch.func.jacfwd(lambda t: T.hand_objective(t, data))(torch.tensor(theta)).numpy()
        np.testing.assert_allclose(jacobian, dualad.jacobian(hand_function(hand_inputs), theta), rtol=1e-10, atol=1e-14)
    jacobian = torch.func.jacfwd(lambda t: T.hand_objective(t, data))(torch.tensor(hand_inputs.theta)).numpy()
    np.testing.assert_allclose(jacobian, REFERENCE["hand"]["jacobian"], rtol=1e-9, atol=1e-14)

    # BA blocks by vmap(jacfwd), placed into the dense Jacobian; camera 1 has no rotation (the other branch)
    params, f = ba_function(varied_ba)
    n, m, p = len(varied_ba.cams), len(varied_ba.X), len(varied_ba.w)
    obs, feats = T.as_tensors(varied_ba.obs, varied_ba.feats)
    np.testing.assert_allclose(T.ba_residuals_of_params(torch.tensor(params), n, m, obs, feats).numpy(), f(params),
                               rtol=1e-13)
    d_cam, d_point, d_weight, d_weight_error = (b.numpy() for b in T.ba_jacobian_blocks(torch.tensor(params), n, m,
                                                                                        obs, feats))
    placed = np.zeros((3 * p, params.size))
    for i, (camera, point) in enumerate(varied_ba.obs):
        placed[2 * i:2 * i + 2, 11 * camera:11 * camera + 11] = d_cam[i]
        placed[2 * i:2 * i + 2, 11 * n + 3 * point:11 * n + 3 * point + 3] = d_point[i]
        placed[2 * i:2 * i + 2, 11 * n + 3 * m + i] = d_weight[i]
        placed[2 * p + i, 11 * n + 3 * m + i] = d_weight_error[i]
    np.testing.assert_allclose(placed, dualad.jacobian(f, params), rtol=1e-10, atol=1e-10)
