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
    layers += (layers[0].copy(),) if isinstance(layers[0], np.ndarray) else ()  # equal content, another object
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


@pytest.mark.parametrize("seed", range(4))
def test_stitch_places_each_piece_on_its_rows(seed):
    rng = np.random.default_rng(seed)
    rows, n = 40, 50
    order = rng.permutation(rows)
    cuts = np.sort(rng.choice(np.arange(1, rows), size=2, replace=False))
    pieces, want = [], [set() for _ in range(rows)]
    for where, kinds in zip(np.split(order, cuts), [("ell", "csr"), ("ell",), ("csr", "ell", "ell")]):
        layers = tuple(random_layer(rng, len(where), n, kind) for kind in kinds)
        for r, s in zip(where, as_sets(layers, len(where))):
            want[r] |= s
        pieces.append((where, layers))
    stitched = P.stitch(pieces, rows)
    assert len(stitched) == 3 and as_sets(stitched, rows) == want


def stacked(x):  # several operands with different numbers of layers, stitched into one output
    a, b = x[:6], x[6:]
    return np.concatenate([np.stack([a * b, np.sin(a), b + a[::-1] * a]).ravel(), a[:2] * 3.0,
                           np.sum(np.reshape(a * b, (3, 2)), axis=1)])


def broadcasts(x):  # the same pattern broadcast again and again (one layer object, remembered)
    t = np.sum(x.reshape(4, 3), axis=1, keepdims=True)
    y = x.reshape(4, 3)
    return (np.cos(t) * y + np.sin(t) * y ** 2 + t * (1.0 - np.cos(t))).ravel()


@pytest.mark.parametrize("f", [stacked, broadcasts], ids=lambda f: f.__name__)
def test_stitched_and_remembered_patterns_equal_the_dense_jacobians_nonzeros(f):
    import dualad
    pytest.importorskip("scipy")
    x = np.random.default_rng(5).uniform(0.5, 1.5, 12)
    np.testing.assert_array_equal(dualad.jacobian_sparsity(f, x).toarray(), dualad.jacobian(f, x) != 0)
    assert not P._MEMO.gathers and P._MEMO.depth == 0  # nothing kept alive after the trace


@pytest.mark.parametrize("call", [
    lambda v: np.sum(v.reshape(2, 3, 4) ** 2, axis=1),
    lambda v: np.sum(v.reshape(2, 3, 4), axis=(0, -1), keepdims=True) * v[:1],
    lambda v: np.sum(np.sin(v)) + v,
    lambda v: v.reshape(4, 6).sum(-1, dtype=np.float64),
    lambda v: np.mean(v.reshape(4, 6)[:, ::2] * v[:4, None], axis=0),
    lambda v: np.sum(v.reshape(2, 3, 4)[:, :0], axis=1) + 1.0,   # an empty axis: no dependencies
    lambda v: np.sum(v.reshape(2, 12)[:, :, None] * np.eye(1), axis=(0, 2)),
], ids=["axis", "tuple-keepdims", "all", "method-dtype", "mean", "empty-axis", "ones-axis"])
def test_sums_over_axes_equal_the_dense_jacobians_nonzeros(call):
    import dualad
    pytest.importorskip("scipy")
    x = np.random.default_rng(3).uniform(0.5, 1.5, 24)
    dense = np.reshape(dualad.jacobian(call, x), (-1, 24)) != 0
    np.testing.assert_array_equal(dualad.jacobian_sparsity(call, x).toarray(), dense)


@pytest.mark.parametrize("make", [
    lambda v: (v[:9].reshape(3, 3), v[9:].reshape(3, 3)),
    lambda v: (v[:9].reshape(3, 3) ** 2, np.arange(9.0).reshape(3, 3)),              # a constant with a zero
    lambda v: (np.arange(9.0).reshape(3, 3), v[9:].reshape(3, 3) * v[:9].reshape(3, 3)),
    lambda v: (v[:3], v[3:6] + v[:3]),
    lambda v: (v[:18].reshape(2, 3, 3)[:, :, ::-1], np.sin(v[:18]).reshape(2, 3, 3)),
])
def test_cross_of_3_vectors_has_the_composites_pattern(make):
    import dualad
    pytest.importorskip("scipy")
    x = np.random.default_rng(4).uniform(0.5, 1.5, 18)
    direct = dualad.jacobian_sparsity(lambda v: np.cross(*make(v)).ravel(), x).toarray()
    composite = dualad.jacobian_sparsity(lambda v: np.cross(*make(v), axis=-1).ravel(), x).toarray()
    np.testing.assert_array_equal(direct, composite)  # axis= takes the composite's slices and stack
    dense = np.reshape(dualad.jacobian(lambda v: np.cross(*make(v)).ravel(), x), direct.shape) != 0
    assert not (dense & ~direct).any()  # never misses an entry
