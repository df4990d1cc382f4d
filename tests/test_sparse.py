"""Sparse Jacobians (issue 7): detected patterns, colourings, and the compressed Jacobian.

Every expected pattern is built independently of the tracer: from the hand-built
structure of the test function (band offsets, block sizes, the random index
arrays it gathers with) or from the nonzeros of dense Jacobians at random
points. Jacobians are compared with dense ``dualad.jacobian`` and with central
finite differences.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import dualad
from benchmarks.problems import bratu_1d, bratu_2d
from dualad import ConversionError, InputError, UnsupportedFunctionError

sp = pytest.importorskip("scipy.sparse")

from dualad.sparse.coloring import (band_coloring, check_coloring, color_columns,  # noqa: E402
                                    greedy_coloring)
from dualad.sparse.jacobian import MissingDependencyError  # noqa: E402
from dualad.sparse.pattern import network  # noqa: E402

RNG = np.random.default_rng(20240607)


def dense(S) -> np.ndarray:
    return np.asarray(S.toarray(), dtype=bool)


def from_pairs(m, n, rows, cols) -> np.ndarray:
    P = np.zeros((m, n), dtype=bool)
    P[np.asarray(rows), np.asarray(cols)] = True
    return P


def band(m, n, offsets) -> np.ndarray:
    P = np.zeros((m, n), dtype=bool)
    for k in offsets:
        P |= np.eye(m, n, k=k, dtype=bool)
    return P


def fd_jacobian(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        cols.append((np.ravel(f(x + e.reshape(x.shape))) - np.ravel(f(x - e.reshape(x.shape)))) / (2 * h))
    return np.stack(cols, axis=-1)


def dense_jacobian(f, x):
    J = dualad.jacobian(f, x)
    out_shape = J.shape[:J.ndim - np.ndim(x)]
    return np.reshape(J, (int(np.prod(out_shape)), np.size(x)))


# ----------------------------------------------------------------------------- test functions
def tridiagonal(u):
    """A 1-D Bratu residual with zero boundary values (neighbours through concatenate)."""
    return bratu_1d(u)


def pentadiagonal_buffer(u):
    """Offsets -2..2 written into a zero buffer with slice assignments."""
    r = 3.0 * u ** 3
    r[2:] = r[2:] + np.sin(u[:-2])
    r[:-2] += 2.0 * u[2:]
    r[1:] += u[:-1] ** 2
    r[:-1] -= np.exp(u[1:])
    return r


def arrow(x):
    return np.concatenate([np.reshape(np.sum(x ** 2), (1,)), x[1:] * x[0] + np.cos(x[1:])])


BLOCK, NBLOCK = 4, 5
M_BLOCK = RNG.uniform(0.5, 1.5, (BLOCK, BLOCK))  # no zeros: every block entry couples


def block_diagonal(x):
    xb = x.reshape(NBLOCK, BLOCK)
    return (np.tanh(xb) @ M_BLOCK.T).reshape(-1)


def block_einsum(x):
    xb = x.reshape(NBLOCK, BLOCK)
    return np.einsum("ij,bj->bi", M_BLOCK, xb * xb).reshape(-1)


N_RAND, M_RAND = 30, 25
IA, IB, IC = (RNG.integers(0, N_RAND, M_RAND) for _ in range(3))


def random_gathers(x):
    return np.sin(x[IA]) * x[IB] + x[IC] ** 2


IDX_SUM = RNG.integers(0, N_RAND, (M_RAND, 3))
W_SUM = RNG.uniform(0.5, 2.0, (M_RAND, 3))


def random_sums(x):
    return np.sum(np.exp(x[IDX_SUM]) * W_SUM, axis=1)


def grid_pattern(N):
    rows, cols = [], []
    for i in range(N):
        for j in range(N):
            for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= i + di < N and 0 <= j + dj < N:
                    rows.append(i * N + j)
                    cols.append((i + di) * N + j + dj)
    return from_pairs(N * N, N * N, rows, cols)


def scalar_loop(x):
    out = dualad.zeros_like(x)
    for i in range(len(x)):
        out[i] = x[i] * x[i - 1] + 1.0  # x[-1] wraps: a periodic neighbour
    return out


CASES = {
    # name: (f, x, true pattern built from the structure)
    "diagonal": (lambda x: np.sin(x) * x ** 2, RNG.uniform(0.5, 1.5, 12), np.eye(12, dtype=bool)),
    "tridiagonal": (tridiagonal, RNG.uniform(0.1, 0.9, 15), band(15, 15, (-1, 0, 1))),
    "pentadiagonal-buffer": (pentadiagonal_buffer, RNG.uniform(0.5, 1.5, 11), band(11, 11, (-2, -1, 0, 1, 2))),
    "arrow": (arrow, RNG.uniform(0.5, 1.5, 10),
              np.eye(10, dtype=bool) | (np.arange(10)[:, None] * 0 + np.arange(10) == 0)
              | (np.arange(10)[:, None] == 0)),
    "block-diagonal-matmul": (block_diagonal, RNG.uniform(0.5, 1.5, 20),
                              np.kron(np.eye(NBLOCK), np.ones((BLOCK, BLOCK))).astype(bool)),
    "block-diagonal-einsum": (block_einsum, RNG.uniform(0.5, 1.5, 20),
                              np.kron(np.eye(NBLOCK), np.ones((BLOCK, BLOCK))).astype(bool)),
    "random-gathers": (random_gathers, RNG.uniform(0.5, 1.5, N_RAND),
                       from_pairs(M_RAND, N_RAND, np.tile(np.arange(M_RAND), 3), np.concatenate([IA, IB, IC]))),
    "random-sums": (random_sums, RNG.uniform(0.5, 1.5, N_RAND),
                    from_pairs(M_RAND, N_RAND, np.repeat(np.arange(M_RAND), 3), IDX_SUM.ravel())),
    "bratu-2d": (bratu_2d, RNG.uniform(0.1, 0.9, 36), grid_pattern(6)),
    "scalar-loop": (scalar_loop, RNG.uniform(0.5, 1.5, 7), band(7, 7, (-1, 0)) | band(7, 7, (6,))),
    "cumsum": (lambda x: np.cumsum(x * x), RNG.uniform(0.5, 1.5, 9), np.tril(np.ones((9, 9), dtype=bool))),
    "outer-broadcast": (lambda x: (x[:3, None] * x[None, 3:]).reshape(-1), RNG.uniform(0.5, 1.5, 7),
                        from_pairs(12, 7, np.concatenate([np.arange(12), np.arange(12)]),
                                   np.concatenate([np.repeat(np.arange(3), 4), 3 + np.tile(np.arange(4), 3)]))),
    "list-output": (lambda x: [x[0] * x[1], np.sin(x[2]), 3.0, x[3]], RNG.uniform(0.5, 1.5, 5),
                    from_pairs(4, 5, [0, 0, 1, 3], [0, 1, 2, 3])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_detected_pattern_equals_true_pattern(name):
    f, x, true = CASES[name]
    S = dualad.jacobian_sparsity(f, x)
    assert isinstance(S, sp.csr_matrix) and S.dtype == bool
    assert S.shape == true.shape
    assert S.has_sorted_indices
    np.testing.assert_array_equal(dense(S), true)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sparse_jacobian_equals_dense_and_finite_differences(name):
    f, x, true = CASES[name]
    J = dualad.sparse_jacobian(f, x)
    assert isinstance(J, sp.csr_matrix) and J.shape == true.shape
    D = dense_jacobian(f, x)
    np.testing.assert_allclose(J.toarray(), D, rtol=1e-13, atol=1e-13)
    assert not np.any(D[~true]), "the dense Jacobian has a nonzero outside the true pattern"
    if name != "list-output":
        np.testing.assert_allclose(J.toarray(), fd_jacobian(lambda v: np.asarray(f(v)), x), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- generic functions
def random_program(seed: int):
    """A random composition of elementwise, shifting, reducing and matrix steps (no cancellations)."""
    rng = np.random.default_rng(seed)
    n = 16
    steps = []
    for _ in range(5):
        kind = rng.integers(0, 7)
        s = int(rng.integers(1, 4))
        if kind == 0:
            steps.append(lambda v: np.sin(v) + v ** 2)
        elif kind == 1:
            steps.append(lambda v, s=s: v * np.roll(v, s))
        elif kind == 2:
            steps.append(lambda v, s=s: np.concatenate([v[s:], v[:s] ** 3]) + np.exp(v))
        elif kind == 3:
            steps.append(lambda v: np.repeat(np.sum(v.reshape(4, 4) ** 2, axis=1), 4) + v)
        elif kind == 4:
            A = rng.uniform(0.5, 1.5, (n, n)) * (rng.random((n, n)) < 0.15)
            steps.append(lambda v, A=A: A @ np.tanh(v) + v)
        elif kind == 5:
            idx = rng.permutation(n)
            steps.append(lambda v, idx=idx: v[idx] * v)
        else:
            steps.append(lambda v: np.where(v > 1.0, v ** 2, np.cos(v)) + v)

    def f(v):
        for step in steps:
            v = np.tanh(0.5 * step(v)) + 1.0  # bounded: no derivative underflows to an exact zero
        return v
    return f, n


@pytest.mark.parametrize("seed", range(12))
def test_pattern_of_generic_functions_is_the_union_of_numeric_nonzeros(seed):
    """Away from cancellations, the pattern is where some dense Jacobian is nonzero."""
    f, n = random_program(seed)
    rng = np.random.default_rng(seed + 100)
    xs = [rng.uniform(0.2, 1.8, n) for _ in range(3)]
    S = dense(dualad.jacobian_sparsity(f, xs[0]))
    seen = np.zeros_like(S)
    for x in xs:
        seen |= dense_jacobian(f, x) != 0
    np.testing.assert_array_equal(S, seen)
    np.testing.assert_allclose(dualad.sparse_jacobian(f, xs[0]).toarray(), dense_jacobian(f, xs[0]),
                               rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- conventions of the tracer
def test_identically_zero_partial_contributes_nothing():
    # copysign(x, y) does not depend on y's magnitude: its partial w.r.t. y is zero everywhere
    S = dualad.jacobian_sparsity(lambda x: np.copysign(x, x[::-1] + 3.0), np.arange(1.0, 5.0))
    np.testing.assert_array_equal(dense(S), np.eye(4, dtype=bool))


def test_zero_value_does_not_hide_a_dependency():
    # d(x0 * x1)/dx1 = x0 = 0 at this point, but the pattern holds for every x
    S = dualad.jacobian_sparsity(lambda x: x[0] * x[1], np.array([0.0, 2.0]))
    np.testing.assert_array_equal(dense(S), [[True, True]])


def test_where_keeps_both_branches_and_max_every_candidate():
    x = np.array([3.0, -1.0, 0.5, 2.0])
    S = dualad.jacobian_sparsity(lambda v: np.where(v > 0, v, v[::-1] ** 2), x)
    np.testing.assert_array_equal(dense(S), np.eye(4, dtype=bool) | np.eye(4, dtype=bool)[::-1])
    S = dualad.jacobian_sparsity(lambda v: np.max(v.reshape(2, 2), axis=1), x)
    np.testing.assert_array_equal(dense(S), np.kron(np.eye(2), np.ones((1, 2))).astype(bool))


def test_matrix_zeros_are_structural_and_linear_algebra_couples_everything():
    A = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0], [4.0, 0.0, 5.0]])
    S = dualad.jacobian_sparsity(lambda v: A @ v ** 2, np.ones(3))
    np.testing.assert_array_equal(dense(S), A != 0)
    B = A + 3 * np.eye(3)
    S = dualad.jacobian_sparsity(lambda v: np.linalg.solve(B, v[:3] * 1.0) + v[3], np.ones(4))
    np.testing.assert_array_equal(dense(S), np.ones((3, 4), dtype=bool))
    S = dualad.jacobian_sparsity(lambda v: np.linalg.det(v[:4].reshape(2, 2)), np.arange(1.0, 6.0))
    np.testing.assert_array_equal(dense(S), [[True, True, True, True, False]])


def test_value_dependent_python_branch_follows_x():
    def f(v):
        return v[1:] * v[0] if v[0] > 0 else v[1:] ** 2
    at_pos = dense(dualad.jacobian_sparsity(f, np.array([1.0, 2.0, 3.0])))
    at_neg = dense(dualad.jacobian_sparsity(f, np.array([-1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(at_pos, [[True, True, False], [True, False, True]])
    np.testing.assert_array_equal(at_neg, [[False, True, False], [False, False, True]])


def test_tracer_refuses_to_drop_dependencies():
    with pytest.raises(ConversionError):
        dualad.jacobian_sparsity(lambda v: float(v[0]) * v, np.ones(3))
    with pytest.raises(ConversionError):
        dualad.jacobian_sparsity(lambda v: np.asarray(v) + 1, np.ones(3))
    with pytest.raises(UnsupportedFunctionError):
        dualad.jacobian_sparsity(lambda v: np.spacing(v) * v, np.ones(4))
    # an FFT is differentiated now (issue 15): every output depends on every input
    assert dualad.jacobian_sparsity(lambda v: np.fft.fft(v).real, np.ones(4)).nnz == 16


def test_sorting_networks_sort_every_zero_one_input():
    for w in range(1, 9):
        for bits in range(1 << w):
            a = [(bits >> i) & 1 for i in range(w)]
            for i, j in network(w):
                if a[i] > a[j]:
                    a[i], a[j] = a[j], a[i]
            assert a == sorted(a), (w, bits)


def test_wide_and_skewed_patterns_merge_exactly():
    """Many layers (merged mid-trace) and rows of very different lengths (CSR layers)."""
    n = 40
    x = RNG.uniform(0.5, 1.5, n)

    def f(v):
        r = v * 1.0
        for s in range(1, 12):
            r = r + np.roll(v, s) * s
        return np.concatenate([np.reshape(np.sum(v), (1,)), r[1:] * v[0]])
    true = np.zeros((n, n), dtype=bool)
    for i in range(n):
        true[i, [(i - s) % n for s in range(12)]] = True
    true[0, :] = True
    true[1:, 0] = True
    np.testing.assert_array_equal(dense(dualad.jacobian_sparsity(f, x)), true)


# ----------------------------------------------------------------------------- colouring
@pytest.mark.parametrize("m,n,offsets", [
    (30, 30, (0,)), (30, 30, (-1, 0, 1)), (40, 40, (-2, -1, 0, 1, 2)), (25, 30, (0, 1, 2, 3)),
    (50, 50, tuple(range(-1, 7))), (30, 30, (-3, 0, 2)), (30, 20, (-4, -2, 0)),
])
def test_banded_patterns_get_at_most_the_band_optimum(m, n, offsets):
    P = sp.csr_matrix(band(m, n, offsets))
    lower, upper = max(0, -min(offsets)), max(0, max(offsets))
    ncolors = int(color_columns(P).max()) + 1
    assert check_coloring(P, color_columns(P))
    # a full band needs l + u + 1 colours (some row holds all of them) and the band colouring
    # j mod (l + u + 1) achieves it; a band with gaps may need fewer, never more
    assert ncolors <= lower + upper + 1
    assert ncolors >= int(P.getnnz(axis=1).max())
    if len(offsets) == lower + upper + 1:
        assert ncolors == lower + upper + 1


@pytest.mark.parametrize("seed", range(6))
def test_random_sparse_patterns_need_few_colours(seed):
    rng = np.random.default_rng(seed)
    n = 300
    per_row = int(rng.integers(2, 6))
    P = np.zeros((n, n), dtype=bool)
    P[np.arange(n), np.arange(n)] = True  # a random sparse Jacobian: diagonal plus random couplings
    for i in range(n):
        P[i, rng.choice(n, per_row - 1, replace=False)] = True
    S = sp.csr_matrix(P)
    colors = color_columns(S)
    assert check_coloring(S, colors)
    for order in ("natural", "largest_first"):
        assert check_coloring(S, greedy_coloring(S, order))
    max_row = int(S.getnnz(axis=1).max())
    assert max_row <= int(colors.max()) + 1 <= max_row + 6, (int(colors.max()) + 1, max_row)


def test_check_coloring_rejects_a_shared_colour():
    S = sp.csr_matrix(band(6, 6, (-1, 0, 1)))
    assert check_coloring(S, np.arange(6) % 3)
    assert not check_coloring(S, np.arange(6) % 2)
    assert np.array_equal(band_coloring(S), np.arange(6) % 3)


def test_grid_colouring_beats_the_band():
    S = sp.csr_matrix(grid_pattern(10))
    colors = color_columns(S)
    assert check_coloring(S, colors)
    assert int(colors.max()) + 1 < int(band_coloring(S).max()) + 1
    assert int(colors.max()) + 1 <= 9


# ----------------------------------------------------------------------------- SparseJacobian
def test_sparse_jacobian_object_reuses_pattern_and_colouring():
    f, x, true = CASES["tridiagonal"]
    sj = dualad.SparseJacobian(f, x)
    np.testing.assert_array_equal(dense(sj.sparsity), true)
    assert sj.ncolors == 3 and sj.colors.shape == (x.size,)
    assert check_coloring(sj.sparsity, sj.colors)
    assert sj.shape == true.shape
    for _ in range(3):
        y = RNG.uniform(0.1, 0.9, x.size)
        np.testing.assert_allclose(sj(y).toarray(), dense_jacobian(f, y), rtol=1e-13, atol=1e-13)
    with pytest.raises(InputError):
        sj(np.ones(x.size + 1))


def test_given_sparsity_and_colouring():
    f, x, true = CASES["tridiagonal"]
    D = dense_jacobian(f, x)
    for sparsity in (true, sp.csr_matrix(true), sp.coo_matrix(true.astype(float))):
        np.testing.assert_allclose(dualad.sparse_jacobian(f, x, sparsity=sparsity).toarray(), D, rtol=1e-13)
    for coloring in ("natural", "largest_first", "band", np.arange(x.size) % 3):
        np.testing.assert_allclose(dualad.sparse_jacobian(f, x, coloring=coloring).toarray(), D, rtol=1e-13)
    with pytest.raises(InputError):
        dualad.sparse_jacobian(f, x, coloring=np.arange(x.size) % 2)  # neighbours share a colour
    with pytest.raises(ValueError):
        dualad.sparse_jacobian(f, x, coloring="rainbow")
    with pytest.raises(InputError):
        dualad.sparse_jacobian(f, x, sparsity=np.ones(5, dtype=bool))


def test_matrix_shaped_input_and_output_follow_the_flattened_convention():
    def f(X):
        return np.stack([X[:, 0] * X[:, 1], np.sin(X[:, 1])])  # (2, 3) from (3, 2)
    X = RNG.uniform(0.5, 1.5, (3, 2))
    J = dualad.sparse_jacobian(f, X)
    assert J.shape == (6, 6)
    np.testing.assert_allclose(J.toarray(), dualad.jacobian(f, X).reshape(6, 6), rtol=1e-13)


def test_nested_differentiation_is_refused():
    with pytest.raises(InputError):
        dualad.jacobian(lambda v: dualad.sparse_jacobian(np.sin, v).toarray(), np.ones(2))


# ----------------------------------------------------------------------------- scipy is optional
def test_without_scipy_the_error_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    for call in (lambda: dualad.jacobian_sparsity(np.sin, np.ones(3)),
                 lambda: dualad.sparse_jacobian(np.sin, np.ones(3)),
                 lambda: dualad.SparseJacobian(np.sin, np.ones(3))):
        with pytest.raises(MissingDependencyError, match=r"pip install dualad\[scipy\]") as info:
            call()
        assert isinstance(info.value, ImportError)


def test_importing_dualad_does_not_import_scipy():
    code = "import sys, dualad; assert 'scipy' not in sys.modules, sorted(m for m in sys.modules if 'scipy' in m)"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- probing, views, edge cases
def test_probe_classification_is_exact_for_copies_and_never_mistakes_a_mix():
    from dualad.sparse.probe import classify as _classify, probe_base as _probe_base
    n = 50
    base = _probe_base(n)
    rows = base[1:n + 1]
    gather = rows[[3, 7, 7, 0]]
    s, multi = _classify(np.vstack([gather, np.zeros((1, 4))]), n, base)
    assert multi is None and s.tolist() == [3, 7, 7, 0, -1]
    # mixes that match a single source in the first probes: an average of w = 10 and 12
    # looks like w = 11 with coefficient 1; a signed 5-point stencil (1, -4, 7, -4, 1) matches
    # the ones, w and w**2 probes of its centre exactly; only the full probe set tells them apart
    mixes = [0.5 * rows[9] + 0.5 * rows[11],
             rows[18] - 4 * rows[19] + 7 * rows[20] - 4 * rows[21] + rows[22],
             rows[5] + rows[6], rows[1] - rows[1] + rows[2] - rows[2] + rows[4]]
    s, multi = _classify(np.vstack(mixes), n, base)
    assert s.tolist() == [-1, -1, -1, 4] and multi.tolist() == [True, True, True, False]


def test_many_sources_per_entry_are_resolved_exactly():
    A = np.ones((3, 60))
    A[1, ::2] = 0.0
    np.testing.assert_array_equal(dense(dualad.jacobian_sparsity(lambda v: A @ v, np.ones(60))), A != 0)
    B = RNG.uniform(0.5, 1.5, (80, 80)) * (np.abs(np.subtract.outer(np.arange(80), np.arange(80))) <= 3)
    np.testing.assert_array_equal(dense(dualad.jacobian_sparsity(lambda v: B @ v ** 2, np.ones(80))), B != 0)


def test_writes_through_views():
    x = np.arange(1.0, 7.0)

    def augmented(v):  # the usual idiom: the slice is written back through the array
        a = v * 1.0
        a[1:4] += v[:3] * v[5]
        return a

    want = np.eye(6, dtype=bool)
    want[[1, 2, 3], [0, 1, 2]] = want[[1, 2, 3], [5, 5, 5]] = True
    np.testing.assert_array_equal(dense(dualad.jacobian_sparsity(augmented, x)), want)
    np.testing.assert_allclose(dualad.sparse_jacobian(augmented, x).toarray(), dense_jacobian(augmented, x))

    def through_view(v):
        a = v * 1.0
        w = a[1:4]
        w[0] = v[5] * 2.0  # also changes a[1]
        return a

    def stale_view(v):
        a = v * 1.0
        w = a[1:4]
        a[2] = v[0]  # also changes w[1]
        return w

    for f in (through_view, stale_view):  # followed like numpy's memory (they were refused before)
        np.testing.assert_array_equal(dense(dualad.jacobian_sparsity(f, x)), dense_jacobian(f, x) != 0)
        np.testing.assert_allclose(dualad.sparse_jacobian(f, x).toarray(), dense_jacobian(f, x))

    def view_is_fine(v):
        a = v * 1.0
        w = a[1:3]
        a[4] = v[0]  # not under w
        w[0] = v[5]  # w itself is up to date
        return np.concatenate([w, a[3:]])
    np.testing.assert_allclose(dualad.sparse_jacobian(view_is_fine, x).toarray(), dense_jacobian(view_is_fine, x))
    want = from_pairs(5, 6, [0, 1, 2, 3, 4], [5, 2, 3, 0, 5])
    np.testing.assert_array_equal(dense(dualad.jacobian_sparsity(view_is_fine, x)), want)


@pytest.mark.parametrize("f,x,want", [
    (lambda v: v * 2.0, np.zeros(0), np.zeros((0, 0), dtype=bool)),
    (np.sin, 2.0, [[True]]),
    (lambda v: np.sum(v ** 2), [1, 2, 3], [[True, True, True]]),
    (lambda v: np.ones(2), [1.0, 2.0, 3.0], np.zeros((2, 3), dtype=bool)),
    (lambda v: np.add.reduce(v.reshape(2, 2), axis=1), np.arange(1.0, 5.0), [[1, 1, 0, 0], [0, 0, 1, 1]]),
    (lambda v: np.maximum.accumulate(v), np.array([3.0, 1.0, 2.0, 5.0]), np.tril(np.ones((4, 4)))),
    (lambda v: np.multiply.outer(v[:2], v[2:]).ravel(), np.arange(1.0, 5.0),
     [[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1]]),
    (lambda v: np.sort(v), np.array([3.0, 1.0, 2.0]), [[0, 1, 0], [0, 0, 1], [1, 0, 0]]),  # the order at x
    (lambda v: np.diff(v, 2), np.arange(5.0) ** 2, band(3, 5, (0, 1, 2))),
    (lambda v: np.linalg.slogdet(v.reshape(2, 2))[1], np.array([3.0, 1.0, 2.0, 5.0]), [[1, 1, 1, 1]]),
])
def test_small_cases(f, x, want):
    S = dualad.jacobian_sparsity(f, x)
    np.testing.assert_array_equal(dense(S), np.asarray(want, dtype=bool))
    J = dualad.sparse_jacobian(f, x)
    np.testing.assert_allclose(J.toarray(), dense_jacobian(f, x).reshape(J.shape), rtol=1e-13, atol=0)


def test_out_argument_writes_into_a_traced_buffer():
    def f(v):
        o = np.zeros_like(v)
        np.multiply(v, v[::-1], out=o)
        return o
    np.testing.assert_array_equal(dense(dualad.jacobian_sparsity(f, np.arange(1.0, 4.0))),
                                  np.eye(3, dtype=bool) | np.eye(3, dtype=bool)[::-1])


def test_threads_trace_independently():
    import threading
    out = {}

    def run(k):
        v = np.random.default_rng(k).uniform(size=3000)
        out[k] = dense(dualad.jacobian_sparsity(lambda u: np.roll(u, 1) * u + np.sum(u[:5]), v))
    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = np.eye(3000, dtype=bool) | np.roll(np.eye(3000, dtype=bool), 1, axis=0)
    want[:, :5] = True
    for k in range(4):
        np.testing.assert_array_equal(out[k], want)


@pytest.mark.parametrize("module", ["dualad.sparse.jacobian", "dualad.sparse.tracer", "dualad.sparse.dispatch",
                                    "dualad.sparse.coloring", "dualad.sparse.pattern", "dualad.sparse.probe",
                                    "dualad.sparse.views"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
