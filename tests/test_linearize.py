"""Linearise-and-transpose (dualad.tape.linearize): reverse mode from a Custom rule's jvp alone.

Independent checks: where an entry also has a hand-written vjp, the transposed jvp
must give the same reverse-mode Jacobian on every sample in tests/cases.py; and the
dot-product test <v, J^T u> = <J v, u> on a jvp written here, with a list argument
and a tuple output.
"""
from __future__ import annotations

import numpy as np
import pytest

from dualad import tape
from dualad.rules import TABLE, Custom
from dualad.tape.linearize import transpose_jvp

from cases import CASES, case_id

HAND_VJP = [(f, i) for f, r in TABLE.items() if type(r) is Custom and r.vjp is not None
            for i in range(len(CASES.get(f, ())))]
JVP_ONLY = [f for f, r in TABLE.items() if type(r) is Custom and r.vjp is None]


def test_inv_det_slogdet_cumprod_state_their_formula_once():
    assert {np.linalg.inv, np.linalg.det, np.linalg.slogdet, np.cumprod} <= set(JVP_ONLY)


@pytest.mark.parametrize("key,i", HAND_VJP, ids=[f"{case_id(f)}-{i}" for f, i in HAND_VJP])
def test_transposed_jvp_equals_hand_vjp(key, i):
    """Node by node (a jvp may call its own function, as solve's does: inside, the hand vjp runs)."""
    f, x = CASES[key][i]
    rule = TABLE[key]
    recorded = tape.record(f, x)
    nodes = [node for node in recorded.nodes if node.rule is rule and node.inputs]
    assert nodes, "the case never reaches the rule"
    rng = np.random.default_rng(i)
    for node in nodes:
        ct = _random_cotangent(node.value, rng)
        hand = rule.vjp(node.value, node.args, node.kwargs, ct)
        transposed = transpose_jvp(rule.jvp, node.value, node.args, node.kwargs, ct,
                                   [(pos, sub) for pos, sub, _ in node.inputs])
        for pos, sub, _ in node.inputs:
            want = hand[pos] if sub is None else hand[pos][sub]
            got = transposed[pos] if sub is None else transposed[pos][sub]
            want = np.broadcast_to(want, np.shape(got))  # a rule may return a broadcastable cotangent
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _random_cotangent(value, rng):
    """A batched (k = 2) cotangent for a node's value; one per item of a tuple value (qr, eigh, svd)."""
    if isinstance(value, tuple):
        return tuple(_random_cotangent(v, rng) for v in value)
    return rng.standard_normal(np.shape(value) + (2,))


def _jvp(out, args, kwargs, tangents):
    """d of (a[0] * b, sum(a) * c): a list argument (two arrays) and a tuple output."""
    (ta0, ta1), tb, tc = tangents[0], tangents[1], tangents[2]
    (a0, a1), b, c = args
    first = ta0 * b[..., None] + a0[..., None] * tb
    second = np.sum(ta0 + ta1, axis=0) * c + (np.sum(a0 + a1) * tc if tc is not None else 0.0)
    return (first, second)


def test_dot_product_identity_with_list_argument_and_tuple_output():
    rng = np.random.default_rng(3)
    a0, a1, b, c = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3), 1.7
    args = ([a0, a1], b, c)
    k = 2
    v = [[rng.standard_normal((3, k)), rng.standard_normal((3, k))], rng.standard_normal((3, k)), None]
    u = (rng.standard_normal((3, k)), rng.standard_normal(k))
    Jv = _jvp(None, args, {}, v)
    JTu = transpose_jvp(_jvp, None, args, {}, u, [(0, 0), (0, 1), (1, None)])
    assert JTu[2] is None and len(JTu[0]) == 2
    lhs = sum(np.sum(a * b_) for a, b_ in zip(Jv, u))
    rhs = np.sum(v[0][0] * JTu[0][0]) + np.sum(v[0][1] * JTu[0][1]) + np.sum(v[1] * JTu[1])
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_an_argument_the_output_does_not_depend_on_gets_zeros():
    jvp = lambda out, args, kwargs, tangents: 2.0 * tangents[0]  # noqa: E731  (b does not enter)
    g = transpose_jvp(jvp, None, (np.ones(2), np.ones((2, 2), np.float32)), {}, np.ones((2, 3)),
                      [(0, None), (1, None)])
    np.testing.assert_array_equal(g[0], np.full((2, 3), 2.0))
    assert g[1].shape == (2, 2, 3) and g[1].dtype == np.float32 and not g[1].any()
