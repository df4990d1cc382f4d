"""Sparsity probing of maps whose output entries read several inputs (sparse/probe.py).

The colour rounds are probed in blocks that fit a memory budget, so their cost stays linear in the
size (issue 17: past 2**22 entries the old one-hot fallback grew with size**2). A tiny budget here
forces every path (many blocks per round, doubling G, the switch to one-hot probing) on small
inputs; the pattern must equal the dense Jacobian's nonzeros exactly.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad.sparse import jacobian_sparsity, probe

pytest.importorskip("scipy")

RNG = np.random.default_rng(11)
W_SPARSE = RNG.standard_normal((12, 12)) * (RNG.uniform(size=(12, 12)) < 0.3)


def rows_of_three(x):
    a = x.reshape(-1, 3)
    return np.concatenate([np.sum(a * a, axis=1), (a @ np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]])).ravel()])


def cross_products(x):
    a = x.reshape(-1, 3)
    return np.cross(a, a[::-1] * 2.0).ravel()


def strided_sources(x):  # sources 12 apart: j mod G collides for small G, random colours separate them
    return x[:12] * 2.0 + x[12:24] - np.roll(x, 12)[:12] * 0.5 + np.sum(x.reshape(3, 12), axis=0)


def arrow(x):  # one dense row, one dense column and the diagonal
    return np.concatenate([[np.sum(x ** 2)], x[1:] * x[0] + np.sin(x[1:])])


def sparse_matvec(x):
    return W_SPARSE @ x[:12] + np.tensordot(W_SPARSE[:3], x[12:24].reshape(12), axes=1).sum()


def mixed_counts(x):  # entries with 2, 6 and 36 sources side by side
    a = x.reshape(6, 6)
    return np.concatenate([a[:, 0] + a[:, 1], np.sum(a, axis=1), [np.sum(a)], np.cumsum(x)[::7]])


FUNCS = [rows_of_three, cross_products, strided_sources, arrow, sparse_matvec, mixed_counts]


@pytest.mark.parametrize("budget", [None, 64, 7], ids=["default", "small-budget", "tiny-budget"])
@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_pattern_equals_the_dense_jacobians_nonzeros(f, budget, monkeypatch):
    if budget is not None:
        monkeypatch.setattr(probe, "_BUDGET", budget)
    x = RNG.uniform(0.5, 1.5, 36)
    dense = dualad.jacobian(f, x)
    pattern = jacobian_sparsity(f, x).toarray()
    np.testing.assert_array_equal(pattern, dense != 0)


def test_colour_rounds_are_blocked_not_one_hot(monkeypatch):
    # with a tiny budget, resolving 3-source rows must still take O(G) forward calls, not one per input
    monkeypatch.setattr(probe, "_BUDGET", 4 * 3 * 300)  # room for 1 colour block of a 300-entry input
    calls = []
    original = probe._colour_round

    def counting(*args, **kwargs):
        calls.append(args[2])
        return original(*args, **kwargs)

    monkeypatch.setattr(probe, "_colour_round", counting)
    one_hot = []
    monkeypatch.setattr(probe, "_one_hot_pairs", lambda *a, **k: one_hot.append(a) or ([], []))
    x = RNG.uniform(0.5, 1.5, 300)
    pattern = jacobian_sparsity(rows_of_three, x).toarray()
    np.testing.assert_array_equal(pattern, dualad.jacobian(rows_of_three, x) != 0)
    assert calls and max(calls) <= 16 and not one_hot


@pytest.mark.parametrize("count", [2, 3, 5])
def test_neighbouring_sources_at_large_indices_are_never_taken_for_one(count):
    # The third probe used to be w**2: past w ~ 30 000, (w-1)**2 + w**2 + (w+1)**2 equals 3 w**2 to
    # within the classification's tolerance, and the random permutation alone let about one triple in
    # 10**5 pass as a single source (a silently missing dependency; seen in ADBench's ba1 at w = 64 872).
    n = 400_000
    base = probe.probe_base(n)
    rows = base[1:n + 1]
    first = np.arange(n - count)
    mixed = sum(rows[first + i] for i in range(count))
    sources, multi = probe.classify(mixed, n, base)
    assert not (sources >= 0).any() and multi is not None and multi.all()
    scaled = probe.classify(rows[first] / 3.0, n, base)  # one source with a coefficient is still recognised
    assert scaled[1] is None and np.array_equal(scaled[0], first)


def test_probe_values_do_not_depend_on_earlier_sizes():
    small = probe.hashed_uniform(np.arange(1, 100), 1)
    assert np.array_equal(probe.probe_base(5000)[1:100, 2], small)
    assert ((small >= 1.0) & (small < 2.0)).all() and len(np.unique(small)) == len(small)
