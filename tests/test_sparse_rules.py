"""Every sample in tests/cases.py through the sparsity tracer, like test_rules.py does for the modes.

The traced pattern must contain every entry of the Jacobian that is nonzero:
exactly nonzero in forward mode's Jacobian, or clearly nonzero in central
finite differences of the plain function (an independent reference).
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad

from cases import all_cases, case_id, central_jacobian

pytest.importorskip("scipy")

CASES = all_cases()


@pytest.mark.parametrize("key,i,f,x", CASES, ids=[f"{case_id(k)}-{i}" for k, i, _, _ in CASES])
def test_pattern_contains_every_nonzero(key, i, f, x):
    pattern = dualad.jacobian_sparsity(f, x).toarray()
    n = np.size(x)
    exact = np.asarray(dualad.jacobian(f, x)).reshape(-1, n)
    approximate = central_jacobian(f, x).reshape(-1, n)
    assert pattern.shape == exact.shape
    nonzero = (exact != 0) | (np.abs(approximate) > 1e-4 * max(1.0, np.abs(approximate).max()))
    missing = np.argwhere(nonzero & ~pattern)
    assert missing.size == 0, f"pattern misses Jacobian entries (row, column): {missing[:5].tolist()}"
