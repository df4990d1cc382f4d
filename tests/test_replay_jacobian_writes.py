"""The Jacobian program's cheaper writes (issue 17, replay vs re-recording): a constant matrix times a
varying vector as ``ndarray.dot``, a diagonal Jacobian written into a fresh zero J in its final shape,
a dense tangent returned without a reshape. Each checked against plain ``dualad.jacobian``, central
differences and the values of f itself, with the cases where the shortcut must not apply beside them."""
import re

import numpy as np
import pytest

import dualad
from dualad.replay.forward_code import forward_program
from dualad.replay.recording import record
from alias_check import central_differences  # central differences of the plain-float code



RNG = np.random.default_rng(17)
M = RNG.standard_normal((5, 5)) / 2.0
M_WIDE = RNG.standard_normal((8, 5)) / 2.0          # 8 outputs, 5 inputs
M_STRIDED = (RNG.standard_normal((10, 5)) / 2.0)[::2]  # a view: the recording keeps a C-ordered copy
B = RNG.standard_normal(5)

# name -> (f of a length-5 vector, is matmul written as ndarray.dot?)
MATMULS = {
    "matrix_vector": (lambda x: np.tanh(M @ x + B), True),
    "wide_matrix_vector": (lambda x: np.sin(M_WIDE @ x), True),
    "vector_matrix": (lambda x: np.exp(x @ M) * x, True),
    "fortran_matrix": (lambda x: np.tanh(M.T @ x), True),  # M.T is F-contiguous
    "computed_vector": (lambda x: np.cos(M @ np.sin(x)), True),
    "strided_matrix": (lambda x: np.tanh(M_STRIDED @ x), True),
    "varying_matrix": (lambda x: np.outer(x, x) @ B, False),
    "vector_vector": (lambda x: (x @ B) * x, False),
    "float32_matrix_float64_x": (lambda x: np.tanh(M.astype(np.float32) @ x), False),
    "matmul_keyword": (lambda x: np.matmul(M, x, dtype=np.float64), False),
}
POINTS = [np.linspace(-0.9, 0.8, 5), np.array([0.3, -1.2, 0.05, 2.0, -0.4])]


def _jacobian_source(p):
    return p.traces[0].jacobian_code.source


def _dotted(source: str) -> bool:
    """Does a value line call ndarray.dot (``v1 = c_0.dot(v0)``; the finiteness check's dot is not one)?"""
    return re.search(r"^\s*v\d+ = \w+\.dot\(", source, re.MULTILINE) is not None


@pytest.mark.parametrize("name", sorted(MATMULS))
def test_constant_matrix_times_vector_as_dot(name):
    f, dotted = MATMULS[name]
    p = dualad.prepare(f, POINTS[0])
    for x in POINTS + [POINTS[1][::-1].copy()]:
        J = p(x)
        np.testing.assert_allclose(J, dualad.jacobian(f, x), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(J, central_differences(f, x), rtol=1e-6, atol=1e-7)
    assert p.replays == 3 and p.fallbacks == 0
    assert _dotted(_jacobian_source(p)) == dotted


@pytest.mark.parametrize("name", [k for k, (_, dotted) in MATMULS.items() if dotted])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dot_values_equal_matmul_bit_for_bit(name, dtype, monkeypatch):
    """The values program with ndarray.dot gives the bits of the same program written with np.matmul,
    also for a strided x (and f's own values to rounding: the recording may hold a C-ordered copy of
    a constant f reads as a transposed view). A float32 x with a float64 matrix keeps matmul."""
    from dualad.replay import forward_code
    f, _ = MATMULS[name]
    x0 = POINTS[0].astype(dtype)
    values = forward_program(record(f, (x0,), 0), tangents=False)
    assert _dotted(values.source) == (dtype == np.float64)
    monkeypatch.setattr(forward_code, "_dot_gives_matmul", lambda node, flow: False)
    with_matmul = forward_program(record(f, (x0,), 0), tangents=False)
    assert not _dotted(with_matmul.source)
    wide = np.linspace(-1.5, 1.7, 15).astype(dtype)
    for x in (POINTS[1].astype(dtype), wide[::3], wide[2::3]):
        got = values(x)
        assert got.dtype == with_matmul(x).dtype == f(x).dtype
        np.testing.assert_array_equal(got, with_matmul(x))
        np.testing.assert_allclose(got, f(x), rtol=1e-15 if dtype == np.float64 else 1e-6)


def test_dot_for_float32_matrix_and_vector():
    M32 = M.astype(np.float32)
    f = lambda x: np.tanh(M32 @ x)  # noqa: E731
    x0 = POINTS[0].astype(np.float32)
    assert _dotted(forward_program(record(f, (x0,), 0), tangents=False).source)
    p = dualad.prepare(f, x0)
    x = POINTS[1].astype(np.float32)
    J, plain = p(x), dualad.jacobian(f, x)
    assert J.dtype == plain.dtype == np.float32 and p.replays == 1
    np.testing.assert_allclose(J, plain, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_dot_with_nonfinite_inputs_equals_plain(bad):
    f, _ = MATMULS["matrix_vector"]
    p = dualad.prepare(f, POINTS[0])
    x = POINTS[1].copy()
    x[2] = bad
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(p(x), dualad.jacobian(f, x))


# ------------------------------------------------------------------ diagonal Jacobians
def chain(x):
    return np.cosh(np.log1p(np.exp(np.sin(x))))


@pytest.mark.parametrize("n", [1, 5, 40])  # 40: past the put/strided-write switch (32)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_diagonal_jacobian_written_into_fresh_zeros(n, dtype):
    x0 = np.linspace(-1.0, 1.0, n).astype(dtype)
    p = dualad.prepare(chain, x0)
    x = (x0[::-1] * 0.7 + 0.1).astype(dtype)
    J1, J2 = p(x), p(x)
    plain = dualad.jacobian(chain, x)
    assert J1.shape == (n, n) and J1.dtype == plain.dtype and J1.flags.c_contiguous and J1.flags.writeable
    np.testing.assert_allclose(J1, plain, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=0)
    if dtype == np.float64:
        np.testing.assert_allclose(J1, central_differences(chain, x), rtol=1e-6, atol=1e-8)
    off = ~np.eye(n, dtype=bool)
    assert not np.any(J1[off])  # exact zeros off the diagonal
    # each call hands out its own array: writing into one changes neither the next nor the program
    assert not np.shares_memory(J1, J2)
    J1[...] = 7.0
    np.testing.assert_array_equal(p(x), J2)
    assert p.fallbacks == 0


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_diagonal_jacobian_with_nonfinite_input_equals_plain(bad):
    f = lambda x: np.sqrt(x) * np.exp(x)  # noqa: E731  (sqrt'(0) = inf: the plain path's conventions)
    p = dualad.prepare(f, np.linspace(0.5, 1.5, 6))
    for x in (np.array([0.0, 1.0, 2.0, 0.5, 0.25, 3.0]), np.array([bad, 1.0, 2.0, 0.5, 0.25, 3.0])):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(p(x), dualad.jacobian(f, x))
    assert p.fallbacks == 2


def test_diagonal_jacobian_of_a_matrix_input():
    """x of shape (2, 3): J has shape (2, 3, 2, 3), its diagonal at the flat positions of the
    (6, 6) identity."""
    f = lambda x: np.log1p(x * x) * 2.0  # noqa: E731
    x0 = np.arange(6.0).reshape(2, 3) / 5.0
    p = dualad.prepare(f, x0)
    x = x0[::-1] - 0.3
    J = p(x)
    assert J.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(J, dualad.jacobian(f, x), rtol=1e-13, atol=0)
    np.testing.assert_allclose(J, central_differences(f, x), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ dense tangents
def test_dense_tangent_of_a_matrix_input_is_reshaped():
    """The no-reshape return applies only where the tangent already has J's shape: for x of shape
    (2, 3) the (m, 6) tangent is reshaped to (m, 2, 3)."""
    A = RNG.standard_normal((4, 6))
    f = lambda x: np.tanh(A @ np.reshape(x, (6,)))  # noqa: E731
    x0 = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    p = dualad.prepare(f, x0)
    x = x0 * 0.5 + 0.2
    J = p(x)
    assert J.shape == (4, 2, 3)
    np.testing.assert_allclose(J, dualad.jacobian(f, x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(J, central_differences(f, x), rtol=1e-6, atol=1e-8)


def test_dense_jacobian_results_are_fresh():
    f, _ = MATMULS["matrix_vector"]
    p = dualad.prepare(f, POINTS[0])
    J1, J2 = p(POINTS[1]), p(POINTS[1])
    assert not np.shares_memory(J1, J2) and J1.flags.writeable
    J1[...] = 0.0
    np.testing.assert_array_equal(p(POINTS[1]), J2)
