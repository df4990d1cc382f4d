"""The compressed-Jacobian program's layouts for large tangents (dualad.replay.sparse_code, .buffers).

Large tangents are written into reused buffers (``out=``) term by term. Small problems take that path
here by lowering its threshold (``buffers.BIG``), and every program is compared with the one written
without it (the same entries, bit for bit), with the dense Jacobian, central differences and ADBench's
reference values.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

import dualad
from dualad.replay import buffers
from test_adbench import REFERENCE, adbench_ba_jacobian, ba_function
from test_sparse import fd_jacobian
from test_sparse_replay import FUNCTIONS, dense, near

pytest.importorskip("scipy.sparse")

from benchmarks.adbench import dataio  # noqa: E402
from benchmarks.adbench.dataio import data_path  # noqa: E402

HUGE = 2 ** 62


def program_source(prepared) -> str:
    return prepared.traces[0]._sparse[1].source


def random_ba(cameras: int, points: int, observations: int, seed: int):
    """A BA instance with varied poses; camera 0 has no rotation (Rodrigues' other branch)."""
    rng = np.random.default_rng(seed)
    cams = np.column_stack([rng.normal(scale=0.3, size=(cameras, 3)), rng.normal(size=(cameras, 3)),
                            rng.uniform(200, 400, cameras), rng.normal(size=(cameras, 2)),
                            rng.normal(scale=1e-2, size=(cameras, 2))])
    cams[0, 0:3] = 0.0
    X = rng.normal(size=(points, 3)) + [0, 0, 8]
    obs = np.column_stack([np.arange(observations) % cameras, rng.permutation(observations) % points])
    return dataio.BAInput(cams, X, rng.uniform(0.5, 1.5, observations), obs,
                          rng.normal(scale=50, size=(observations, 2)))


def prepared_pair(monkeypatch, f, x):
    """``prepare(f, x, sparse=True)`` written without and with the buffered layout."""
    monkeypatch.setattr(buffers, "BIG", HUGE)
    plain = dualad.prepare(f, x, sparse=True)
    plain(x)
    monkeypatch.setattr(buffers, "BIG", 1)
    pooled = dualad.prepare(f, x, sparse=True)
    pooled(x)
    return plain, pooled


CASES = {**FUNCTIONS,
         "ba": ba_function(random_ba(3, 6, 16, seed=2))[::-1],
         "float32": (lambda u: np.concatenate([u[1:] - u[:-1], u[-1:]]) * np.float32(2.0) + np.sin(u) * u[::-1],
                     np.random.default_rng(3).uniform(0.0, 1.0, 10).astype(np.float32))}


@pytest.mark.parametrize("name", sorted(CASES))
def test_buffered_programs_give_the_same_entries_bit_for_bit(monkeypatch, name):
    f, x = CASES[name]
    plain, pooled = prepared_pair(monkeypatch, f, x)
    for seed in range(3):
        z = near(x, seed).astype(x.dtype)
        a, b = plain(z), pooled(z)
        assert a.dtype == b.dtype == np.result_type(x.dtype, np.float32)
        np.testing.assert_array_equal(a.data, b.data)
        reference = dense(f, z.astype(np.float64))
        tolerance = 1e-5 if x.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(b.toarray(), reference, rtol=tolerance, atol=tolerance)
    assert pooled.replays == plain.replays == 4


def test_ba_program_writes_into_buffers_and_matches_references(monkeypatch):
    inputs = random_ba(4, 10, 40, seed=5)
    params, f = ba_function(inputs)
    plain, pooled = prepared_pair(monkeypatch, f, params)
    assert "B.take" in program_source(pooled) and "B.take" not in program_source(plain)
    z = params + 0.01 * np.random.default_rng(1).normal(size=params.size)
    J = pooled(z)
    np.testing.assert_array_equal(J.data, plain(z).data)
    np.testing.assert_allclose(J.toarray(), dualad.jacobian(f, z), rtol=1e-11, atol=1e-11)
    # the camera without rotation (first-order branch) and a rotated one, by central differences
    np.testing.assert_allclose(J.toarray()[:, :22], fd_jacobian(f, z)[:, :22], rtol=1e-5, atol=1e-4)
    # ADBench's own Jacobian values for its test input
    reference = REFERENCE["ba"]
    inputs = dataio.read_ba(data_path(reference["input"]))
    params, f = ba_function(inputs)
    monkeypatch.setattr(buffers, "BIG", 1)
    J = dualad.prepare(f, params, sparse=True)(params)
    expected = adbench_ba_jacobian(reference["jacobian_values"], len(inputs.cams), len(inputs.X), inputs.obs)
    np.testing.assert_allclose(J.toarray(), expected, rtol=1e-10, atol=1e-12)


def test_results_never_share_a_buffer_and_threads_get_their_own(monkeypatch):
    monkeypatch.setattr(buffers, "BIG", 1)
    f, x = CASES["ba"]
    jac = dualad.SparseJacobian(f, x)
    jac(x), jac(x)
    first = jac(x)
    kept = first.data.copy()
    second = jac(near(x, 1))
    assert jac.replays == 2 and "B.take" in jac._compiled.program.source
    np.testing.assert_array_equal(first.data, kept)  # the second call wrote nowhere the first one reads
    points = [near(x, seed) for seed in range(8)]
    expected = [dense(f, z) for z in points]
    errors: list = []

    def work(offset):
        for _ in range(3):
            for k in range(offset, len(points), 2):
                try:
                    np.testing.assert_allclose(jac(points[k]).toarray(), expected[k], rtol=1e-12, atol=1e-12)
                except AssertionError as err:
                    errors.append(err)
    threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and second.shape == first.shape


def test_non_finite_entries_still_go_the_plain_way(monkeypatch):
    monkeypatch.setattr(buffers, "BIG", 1)
    f = lambda u: np.sqrt(u) * u[::-1] + np.sin(u)  # noqa: E731  (d/du sqrt at 0 is inf; the plain path's 0 x inf is 0)
    jac = dualad.SparseJacobian(f, np.ones(6))
    jac(np.ones(6)), jac(np.ones(6))
    z = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(jac(z).toarray(), dense(f, z))
    assert jac.replays == 0
    np.testing.assert_allclose(jac(z + 1.0).toarray(), dense(f, z + 1.0), rtol=1e-13)
    assert jac.replays == 1


def test_a_pooled_array_is_reused_only_when_nothing_refers_to_it():
    pool = buffers.Buffers()
    dtype = np.dtype(np.float64)
    a = pool.take((4, 3), dtype)
    assert pool.take((4, 3), dtype) is not a  # a is held here
    view = a.reshape(12)[::2]
    held = id(a)
    del a
    assert all(id(pool.take((4, 3), dtype)) != held for _ in range(3))  # the view keeps its base busy
    del view
    assert id(pool.take((4, 3), dtype)) == held and len(pool) == 2
    assert pool.take((4, 3), np.dtype(np.float32)).dtype == np.float32 and len(pool) == 3


# ----------------------------------------------------------------------------- directions a tangent holds
def test_direction_helpers():
    from dualad.replay.sparse_code import _run_list, direction_order, nonzero_directions, union_of
    const = np.zeros((4, 3, 6))
    const[1, 2, 4] = np.nan
    const[3, 0, 1] = -2.0
    assert nonzero_directions(const) == (1, 4)
    assert union_of([(1, 4), (0, 1)], 6) == (0, 1, 4) and union_of([(0, 1, 2), None], 3) is None
    assert union_of([(0, 1), (2,)], 3) is None  # all of them
    assert _run_list([0, 1, 2, 5, 6, 9]) == [(0, 0, 3), (3, 5, 2), (5, 9, 1)]
    assert direction_order([(0, 1), (1, 2, 3)], 5) is None  # runs already
    order = direction_order([(0, 5), (0, 5, 2), (0, 5, 2, 4)], 6)
    rank = np.empty(6, dtype=int)
    rank[order] = np.arange(6)
    for members in [(0, 5), (0, 5, 2), (0, 5, 2, 4)]:
        assert sorted(rank[list(members)]) == list(range(min(rank[list(members)]), max(rank[list(members)]) + 1))


def held_widths(source: str) -> set:
    """The direction counts of the buffers a program takes."""
    import re
    return {int(w) for w in re.findall(r"B\.take\(\([^)]*?(\d+)\)", source)}


def test_ba_tangents_hold_only_their_directions(monkeypatch):
    """The rotation's tangent holds its 3 colours, the rotated point its 9, not all 14."""
    params, f = ba_function(random_ba(4, 10, 40, seed=6))
    monkeypatch.setattr(buffers, "BIG", 1)
    prepared = dualad.prepare(f, params, sparse=True)
    J = prepared(params)
    source = program_source(prepared)
    assert {3, 9} <= held_widths(source) and max(held_widths(source)) <= 14
    assert "expanded(" not in source  # every meeting of different direction sets is slices
    np.testing.assert_allclose(J.toarray(), dualad.jacobian(f, params), rtol=1e-11, atol=1e-11)


def where_function(u):
    v = u.reshape(4, 3)
    chosen = np.where(v > 0.0, v ** 2 * v[:, :1], np.sin(v) + v[:, 2:])
    return np.concatenate([chosen.sum(axis=1), np.sum(chosen * v, axis=-1, keepdims=True).ravel(),
                           np.where(v[:, 0] > 0.0, 1.0, v[:, 1]) * 3.0])


@pytest.mark.parametrize("signs", ["all positive", "all negative", "mixed"])
@pytest.mark.parametrize("big", [HUGE, 1])
def test_where_with_a_fixed_condition_and_short_axis_sums(monkeypatch, signs, big):
    """np.where's condition is fixed by its guarded comparison: a branch never selected adds nothing,
    one selected everywhere is its tangent. The short-axis sums and concatenations take their buffered
    forms when large."""
    monkeypatch.setattr(buffers, "BIG", big)
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 1.5, 12) * {"all positive": 1, "all negative": -1, "mixed": np.sign(rng.normal(size=12))}[signs]
    prepared = dualad.prepare(where_function, x, sparse=True)
    for seed in range(3):
        z = x * rng.uniform(0.9, 1.1, 12)  # the same signs: the recording answers
        np.testing.assert_allclose(prepared(z).toarray(), dense(where_function, z), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(prepared(z).toarray(), fd_jacobian(where_function, z), rtol=1e-6, atol=1e-6)
    assert prepared.replays >= 3
    flipped = -x  # the other branches: a guard fails, the answer is still right
    np.testing.assert_allclose(prepared(flipped).toarray(), dense(where_function, flipped), rtol=1e-13, atol=1e-13)
    if big == 1:
        source = program_source(prepared)
        assert "np.add(" in source and "B.take" in source


def concatenations(u):
    a, b = u[:6].reshape(3, 2), u[6:].reshape(3, 3)
    rotated = np.concatenate([a * b[:, :1], np.cos(b), np.ones((3, 1)), a[:, ::-1] ** 2], axis=1)
    return np.concatenate([rotated.ravel(), np.concatenate([a, b[:, 1:]], axis=0).ravel() * u[0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_concatenations_written_block_by_block(monkeypatch, dtype):
    x = np.random.default_rng(8).uniform(0.5, 1.5, 15).astype(dtype)
    plain, pooled = prepared_pair(monkeypatch, concatenations, x)
    assert "B.take" in program_source(pooled) and "] = 0" in program_source(pooled)
    for seed in range(2):
        z = near(x, seed).astype(dtype)
        a, b = plain(z), pooled(z)
        np.testing.assert_array_equal(a.data, b.data)
        assert b.dtype == concatenations(z).dtype  # np.ones is float64: so is the output
        np.testing.assert_allclose(b.toarray(), dense(concatenations, z.astype(np.float64)),
                                   rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-5 if dtype == np.float32 else 1e-13)
