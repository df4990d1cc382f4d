"""Star/bicolouring: the densest rows read from reverse passes, the others from forward colours
(sparse/coloring.py:bicolor, SparseJacobian(coloring="bicolor"/"auto")). Checked against dense
Jacobians and for O(1) passes on arrow patterns."""
from __future__ import annotations

import numpy as np
import pytest

import dualad

sp = pytest.importorskip("scipy.sparse")

from dualad.sparse.coloring import bicolor, check_bicoloring, check_coloring  # noqa: E402


def arrow(x):  # one dense row, one dense column, the diagonal
    return np.concatenate([[np.sum(x ** 2)], x[1:] * x[0] + np.sin(x[1:])])


def double_arrow(x):  # two dense rows sharing columns, two dense columns
    core = np.sin(x) * x[0] + x[3] * x ** 2
    return np.concatenate([[np.sum(np.cos(x))], core, [np.prod(x[:5]) + np.sum(x[::2] ** 3)]])


def banded_with_row(x):
    return np.concatenate([x[1:] * x[:-1], [np.linalg.norm(x)]])


@pytest.mark.parametrize("n", [5, 40, 400])
def test_arrow_needs_a_constant_number_of_passes(n):
    x = np.linspace(0.2, 1.3, n)
    sj = dualad.SparseJacobian(arrow, x, coloring="bicolor")
    assert sj.ncolors + sj.reverse_colors <= 3
    assert dualad.SparseJacobian(arrow, x).ncolors == n  # column colouring alone: one per column
    np.testing.assert_allclose(sj(x).toarray(), dualad.jacobian(arrow, x), rtol=1e-13, atol=1e-13)
    x2 = x[::-1] * 0.7  # another point, same pattern
    np.testing.assert_allclose(sj(x2).toarray(), dualad.jacobian(arrow, x2), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("f", [arrow, double_arrow, banded_with_row], ids=lambda f: f.__name__)
@pytest.mark.parametrize("coloring", ["bicolor", "auto"])
def test_bicoloured_jacobian_equals_the_dense_one(f, coloring):
    x = np.random.default_rng(3).uniform(0.3, 1.2, 30)
    sj = dualad.SparseJacobian(f, x, coloring=coloring, check=True)
    np.testing.assert_allclose(sj(x).toarray(), dualad.jacobian(f, x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dualad.sparse_jacobian(f, x, coloring=coloring).toarray(),
                               dualad.jacobian(f, x), rtol=1e-12, atol=1e-12)


def test_bicolor_with_extra_arguments_and_redetection():
    def rhs(t, y):
        core = y[1:] * y[0] * t
        return np.concatenate([[np.sum(y ** 2) if t > 0.5 else np.sum(y)], core])
    y = np.linspace(0.1, 1.0, 12)
    jac = dualad.SparseJacobian(rhs, y, args=(1.0,), argnum=1, coloring="bicolor")
    assert jac.reverse_colors == 1
    for t in (1.0, 0.2):
        np.testing.assert_allclose(jac(t, y).toarray(), dualad.jacobian(lambda v: rhs(t, v), y), atol=1e-13)
    assert jac.redetections == 1


@pytest.mark.parametrize("seed", range(6))
def test_random_patterns_are_valid_bicolourings(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(5, 40, 2)
    A = rng.uniform(size=(m, n)) < 0.08
    A[rng.integers(0, m, 2), :] = True  # dense rows
    A[:, rng.integers(0, n, 2)] = True  # dense columns
    S = sp.csr_matrix(A)
    cols, rows = bicolor(S)
    assert check_bicoloring(S, cols, rows)
    passes = int(cols.max()) + 1 + (int(rows.max()) + 1 if (rows >= 0).any() else 0)
    assert passes <= int(cols.max()) + 1 + m and passes <= n  # never worse than column colouring alone
    bad = rows.copy()
    if (bad >= 0).sum() >= 2:  # two reverse rows sharing a column forced into one colour: detected
        r = np.flatnonzero(bad >= 0)
        bad[r] = 0
        shared = (A[r].sum(axis=0) > 1).any()
        assert check_bicoloring(S, cols, bad) == (not shared)


def test_forward_rows_are_column_coloured_correctly():
    S = sp.csr_matrix(np.eye(6, dtype=bool) | np.eye(6, k=1, dtype=bool))
    cols, rows = bicolor(S)
    assert (rows < 0).all() and check_coloring(S, cols)  # nothing dense: plain column colouring
