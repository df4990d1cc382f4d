"""The pattern layer algebra of the sparsity tracer (sparse/pattern.py) against Python sets.

A pattern is a tuple of layers (ELL arrays with -1 holes, or Csr rows that may repeat entries);
every operation must give, row by row, exactly the union of the sets its inputs stand for.
"""
from __future__ import annotations

import numpy as np
import pytest

from dualad.sparse import pattern as P


def as_sets(layers, rows):
    sets = [set() for _ in range(rows)]
    for layer in layers:
        if isinstance(layer, np.ndarray):
            for r in range(rows):
                sets[r].update(int(v) for v in layer[r] if v >= 0)
        else:
            for r in range(rows):
                sets[r].update(int(v) for v in layer.indices[layer.indptr[r]:layer.indptr[r + 1]])
    return sets


def random_layer(rng, rows, n, kind):
    if kind == "ell":
        layer = rng.integers(0, n, size=(rows, int(rng.integers(1, 5))))
        layer[rng.random(layer.shape) < 0.3] = -1  # holes anywhere, duplicates allowed
        return layer
    lens = rng.integers(0, 6, size=rows) if kind == "csr" else np.where(rng.random(rows) < 0.05, 40, 1)
    indptr = np.concatenate([[0], np.cumsum(lens)]).astype(P.IDX)
    return P.Csr(indptr, rng.integers(0, n, size=int(indptr[-1])).astype(P.IDX))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kinds", [("ell",) * 3, ("ell",) * 12, ("ell", "csr", "ell", "csr"), ("skewed", "ell")])
def test_merge_and_to_csr_are_the_union(seed, kinds):
    rng = np.random.default_rng(seed)
    rows, n = 37, 60
    layers = tuple(random_layer(rng, rows, n, kind) for kind in kinds)
    want = as_sets(layers, rows)
    (merged,) = P.merge(layers, rows)
    assert as_sets((merged,), rows) == want
    if isinstance(merged, np.ndarray):  # one layer: no duplicates left in a row
        assert all(len(set(r[r >= 0])) == len(r[r >= 0]) for r in merged)
    indptr, indices = P.to_csr(layers, rows)
    for r in range(rows):
        got = indices[indptr[r]:indptr[r + 1]].tolist()
        assert got == sorted(want[r])


@pytest.mark.parametrize("seed", range(4))
def test_grouped_gather_is_the_union_of_each_group(seed):
    rng = np.random.default_rng(seed)
    rows_in, n = 30, 50
    layers = (random_layer(rng, rows_in, n, "ell"), random_layer(rng, rows_in, n, "csr"))
    sets_in = as_sets(layers, rows_in)
    for counts in (np.full(10, 3), rng.integers(0, 5, size=10)):  # uniform groups (ELL) and ragged ones
        grp_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(P.IDX)
        src = rng.integers(0, rows_in, size=int(grp_ptr[-1])).astype(P.IDX)
        got = as_sets(P.grouped_gather(layers, src, grp_ptr), 10)
        want = [set().union(*(sets_in[s] for s in src[grp_ptr[r]:grp_ptr[r + 1]])) for r in range(10)]
        assert got == want
