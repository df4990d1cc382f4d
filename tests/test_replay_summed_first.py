"""Gradient programs that sum a cotangent before its linear map (reverse_code.summed_first).

An adjoint that is only summed over some axes (GMM's means: ``centred = x - means[:, None, :]``) may
take every contribution summed first, when each contribution is a product with something constant
along those axes or a matrix product along its row (column) axis. Each case is checked against
tape.grad, forward mode and central differences of the same code, in float64 and float32, and whether
the rewrite was written is asserted both where it applies and where it must not.
"""
import numpy as np
import pytest

import dualad
from dualad import tape
from alias_check import central_differences  # central differences of the plain-float code

K, N, D = 3, 5, 4
RNG = np.random.default_rng(11)
X = RNG.normal(size=(K, N, D))           # constant data along the summed axis N (like GMM's points)
XT = RNG.normal(size=(K, D, N))
X2 = RNG.normal(size=(N, D))
Y = RNG.normal(size=(K, N, D))
WEIGHTS = RNG.uniform(0.5, 1.5, size=(K, N, D))


def parts(x):
    """means (K, D), scales (K, D), matrices (K, D, D) from one flat vector of 72 entries."""
    return x[:12].reshape(K, D), np.exp(x[12:24].reshape(K, D)), x[24:72].reshape(K, D, D)


def gmm_like(x):  # ADBench's z = q * (x - mu) + (x - mu) @ L, its means' adjoint summed over the points
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    z = scales[:, None, :] * centred + centred @ lower
    return np.sum(np.tanh(z) * WEIGHTS)


def shared_matrix(x):  # a (D, D) matrix broadcast over the batch: summed over the batch and the rows
    means, _, lower = parts(x)
    centred = X - means[:1, None, :]
    return np.sum(np.sin(centred @ lower[0] * 0.5) * WEIGHTS)


def partly_summed(x):  # the matrices vary along the batch: summed over the rows only, then down to (1, 1, D)
    means, _, lower = parts(x)
    centred = X - means[:1, None, :]
    return np.sum(np.cos(centred @ lower) * WEIGHTS)


def right_operand(x):  # B @ (xt - mu[:, :, None]): summed over the columns
    means, scales, lower = parts(x)
    centred = XT - means[:, :, None]
    return np.sum(np.tanh(lower @ centred) * WEIGHTS.reshape(K, D, N)) + np.sum(scales * means)


def negated_chain(x):  # mu - x (a +1 partial into mu), its uses negated and scaled
    means, _, lower = parts(x)
    centred = means[:, None, :] - X
    return np.sum(np.tanh(-(centred @ lower) + 2.0 * centred) * WEIGHTS)


def broadcast_in_child(x):  # the summed node is broadcast by its child (a leading axis added)
    means, scales, _ = parts(x)
    centred = X2 - means[0]
    return np.sum(np.sin((centred + Y * scales[:, None, :]) ** 2))


def alias_then_updated(x):  # u's adjoint starts as z's array, then gets its own contribution
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    u = scales[:, None, :] * centred
    extra = np.sin(u)
    w = centred @ lower
    z = u + w
    return np.sum(z ** 2 * WEIGHTS) + np.sum(extra * WEIGHTS)


def two_sums(x):  # two summed nodes sharing one child
    means, scales, lower = parts(x)
    a = X - means[:, None, :]
    b = Y - scales[:, None, :]
    return np.sum(np.tanh(a @ lower + b) * WEIGHTS)


# the rewrite must not be written: the other factor varies along the axis, or the cotangent is also
# used whole (a reduction, a getitem, a partial that varies along the axis)
def matrix_varies_along_batch(x):  # summed only over the batch, along which the matrices vary
    _, _, lower = parts(x)
    centred = X - x[:20].reshape(1, N, D)
    return np.sum(np.tanh(centred @ lower) * WEIGHTS)


def scale_varies_along_points(x):
    means, scales, _ = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(centred * (Y * scales[:, None, :])))


def also_reduced(x):
    means, _, lower = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(centred @ lower) * WEIGHTS) + np.sum(np.sum(centred, axis=2) ** 2)


def also_indexed(x):
    means, _, lower = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(centred @ lower) * WEIGHTS) + np.sum(centred[:, 0] ** 3)


def varying_partial(x):
    means, _, lower = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(centred @ lower) * WEIGHTS) + np.sum(np.sin(centred))


CASES = {f.__name__: (f, expected) for f, expected in [
    (gmm_like, True), (shared_matrix, True), (partly_summed, True), (right_operand, True),
    (negated_chain, True), (broadcast_in_child, True), (alias_then_updated, True), (two_sums, True),
    (matrix_varies_along_batch, False), (scale_varies_along_points, False), (also_reduced, False),
    (also_indexed, False), (varying_partial, False)]}


def check_prepared_gradients(f, dtype, seed: int, against_forward: bool) -> dualad.Prepared:
    """The prepared value_and_grad at the recorded point and a new one, against the tape, central
    differences (float64) and, if asked, forward mode; returns the prepared object."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-0.5, 0.5, 72).astype(dtype)
    p = dualad.prepare(f, x0)
    for x in (x0, rng.uniform(-0.6, 0.6, 72).astype(dtype)):
        value, g = p.value_and_grad(x)
        reference = tape.grad(f, x)
        tol = 1e-12 if dtype is np.float64 else 2e-5
        assert g.dtype == dtype and value == f(x)
        np.testing.assert_allclose(g, reference, rtol=tol, atol=tol * np.abs(reference).max())
        if dtype is np.float64:
            if against_forward:
                np.testing.assert_allclose(g, dualad.gradient(f, x), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(g, central_differences(f, x), rtol=1e-6, atol=1e-7)
    return p


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_summed_first_gradients(name, dtype):
    f, expected = CASES[name]
    p = check_prepared_gradients(f, dtype, 5, against_forward=True)
    source = p.traces[0].reverse_single.source
    assert p.fallbacks == 0
    assert ("r0 = sum_to(" in source) == expected, source


def test_gmm_means_are_summed_before_the_matrix_product():
    # the program's only (K, N, D) x (D, D) transpose is the one for the matrices (it needs the whole
    # cotangent); the means' one runs on the summed cotangent, and z's array is summed once for both uses
    x0 = np.random.default_rng(2).uniform(-0.5, 0.5, 72)
    source = dualad.prepare(gmm_like, x0).traces[0].reverse_single.source
    assert source.count("r0 = sum_to(") == 1 and "r1 = " not in source
    (line,) = [ln for ln in source.splitlines() if "r0[..., None]" in ln]
    assert " z_" in line  # the summed shape stands in for the operand
    assert len([ln for ln in source.splitlines() if "* r0" in ln]) == 1  # q * sum(ct), not sum(q * ct)
    assert source.count("[..., None]") == 2  # the means' product on r0, the matrices' on the whole cotangent


def test_alias_updated_later_is_summed_again():
    source = dualad.prepare(alias_then_updated, np.zeros(72)).traces[0].reverse_single.source
    assert "r0 = sum_to(" in source and "r1 = sum_to(" in source


def test_directions_program_is_unchanged():
    # the Jacobian's reverse program (a trailing axis of directions) keeps the plain sweep
    x0 = np.random.default_rng(3).uniform(-0.5, 0.5, 72)
    p = dualad.prepare(gmm_like, x0)
    np.testing.assert_allclose(p.vjp(x0, np.array(1.5))[1], 1.5 * tape.grad(gmm_like, x0), rtol=1e-12)
    assert "r0 = " not in p.traces[0].reverse.source


def test_no_adjoint_is_written_and_never_read():
    # np.sum's broadcast adjoint is not written when its consumer took the small array (x ** 2's 2 x ct)
    import re
    from test_replay import GRADIENTS
    cases = [(f, np.random.default_rng(1).uniform(0.2, 1.0, 6)) for f in GRADIENTS.values()]
    cases += [(f, np.random.default_rng(1).uniform(-0.5, 0.5, 72)) for f, _ in CASES.values()]
    for f, x in cases:
        lines = dualad.prepare(f, x).traces[0].reverse_single.source.splitlines()
        for k, line in enumerate(lines):
            written = re.match(r"\s*(a\d+) = ", line)
            if written:
                name = re.compile(rf"\b{written.group(1)}\b")
                assert any(name.search(ln) for ln in lines[k + 1:] if not ln.strip().startswith("del ")), line


# reverse_code.diagonal_pairs: q's adjoint in q * c + c @ M read off the diagonal of M's adjoint cᵀ @ ct
def scaled_plus_matrix(x):  # ADBench GMM's z (its means' part summed first too)
    return gmm_like(x)


def matrix_minus_scaled(x):  # the two products' cotangents of opposite signs, q on the right
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(-(centred * scales[:, None, :]) + centred @ lower) * WEIGHTS)


def scaling_broadcast_over_batch(x):  # q of shape (1, 1, D): its adjoint sums over the batch too
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(scales[:1, None, :] * centred + centred @ lower) * WEIGHTS)


def shared_square_matrix(x):  # M of shape (D, D): its adjoint is summed over the batch
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(scales[:, None, :] * centred + centred @ lower[0]) * WEIGHTS)


def different_cotangents(x):
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    return np.sum(np.tanh(scales[:, None, :] * centred) * WEIGHTS) + np.sum(np.sin(centred @ lower))


def cotangents_differ_already(x):  # u's adjoint is complete before c @ M is swept, and another array
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    u = scales[:, None, :] * centred
    w = centred @ lower
    return np.sum(np.sin(w)) + np.sum(np.tanh(u) * WEIGHTS)


def matrix_product_first(x):  # c @ M recorded before q * c: swept after it, so not reused
    means, scales, lower = parts(x)
    centred = X - means[:, None, :]
    product = centred @ lower
    return np.sum(np.tanh(scales[:, None, :] * centred + product) * WEIGHTS)


DIAGONAL_CASES = {f.__name__: (f, expected) for f, expected in [
    (scaled_plus_matrix, True), (matrix_minus_scaled, True), (alias_then_updated, False),
    (scaling_broadcast_over_batch, False), (shared_square_matrix, False), (different_cotangents, False), (cotangents_differ_already, False),
    (matrix_product_first, False), (two_sums, False)]}


@pytest.mark.parametrize("name", sorted(DIAGONAL_CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scaling_adjoint_from_the_matrix_adjoint(name, dtype):
    f, expected = DIAGONAL_CASES[name]
    p = check_prepared_gradients(f, dtype, 8, against_forward=False)
    source = p.traces[0].reverse_single.source
    assert ("diagonal(" in source) == (expected and dtype is np.float64), source
