"""Every entry of the rule table, checked against central finite differences.

The tests iterate over ``dualad.rules.TABLE`` itself, so a rule added to the
table without a test (a case in ``cases.py``) makes the coverage test fail.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest

import dualad
from dualad import rules
from dualad.rules import (TABLE, Composite, Custom, Elementwise, Linear, NoDerivative,
                          ZeroDerivative)

from cases import CASES, NO_DERIVATIVE_CASES, RAISES, case_id, central_jacobian

RTOL, ATOL = 1e-5, 1e-6

ELEMENTWISE = [f for f, r in TABLE.items() if type(r) is Elementwise]
UNARY = [f for f in ELEMENTWISE if f.nin == 1]
BINARY = [f for f in ELEMENTWISE if f.nin == 2]
# user-defined rules (dualad.custom_jvp and friends, registered as tests run) are tested in test_custom.py
DIFFERENTIABLE = [f for f, r in TABLE.items() if type(r) in (Linear, Custom, Composite, ZeroDerivative)
                  and not hasattr(f, "custom_function")]
NO_DERIVATIVE = [f for f, r in TABLE.items() if type(r) is NoDerivative]


def _domain(ufunc, i):
    dom = TABLE[ufunc].domain
    return dom[i] if i < len(dom) else dom[-1]


def _sample(ufunc, i, shape, seed):
    lo, hi = _domain(ufunc, i)
    rng = np.random.default_rng(seed)
    # keep a margin inside the interval so the finite-difference stencil stays in the domain
    margin = 0.02 * (hi - lo)
    return rng.uniform(lo + margin, hi - margin, size=shape)


def _check(f, x, rtol=RTOL, atol=ATOL):
    J = dualad.jacobian(f, x)
    R = central_jacobian(f, x)
    assert J.shape == R.shape
    np.testing.assert_allclose(J, R, rtol=rtol, atol=atol)
    return J


# ----------------------------------------------------------------------------- coverage
def test_table_is_nonempty_and_kinds_known():
    kinds = {type(r) for r in TABLE.values()}
    assert kinds <= {Elementwise, Linear, Custom, Composite, ZeroDerivative, NoDerivative}
    assert len(ELEMENTWISE) > 40 and len(DIFFERENTIABLE) > 60


def test_every_key_is_reachable_through_numpy_dispatch():
    """A key numpy never hands to __array_ufunc__/__array_function__ would be a dead rule."""
    dead = [case_id(f) for f in TABLE
            if not (isinstance(f, np.ufunc) or hasattr(f, "_implementation")
                    or f in (operator.getitem, rules.SETITEM)
                    or hasattr(f, "custom_function"))]  # a user's rule: its own function dispatches it
    assert dead == []


def test_every_differentiable_entry_has_a_case():
    missing = [case_id(f) for f in DIFFERENTIABLE if not CASES.get(f) and not RAISES.get(f)]
    assert not missing, f"rule-table entries without a test case in tests/cases.py: {missing}"


def test_every_no_derivative_entry_has_a_case():
    missing = [case_id(f) for f in NO_DERIVATIVE if not NO_DERIVATIVE_CASES.get(f)]
    assert not missing, f"NoDerivative entries without a sample in tests/cases.py: {missing}"


def test_cases_name_table_entries_of_the_right_kind():
    for f in CASES:  # an elementwise key may carry extra samples (a rule can change kind)
        assert type(TABLE.get(f)) in (Linear, Custom, Composite, ZeroDerivative, Elementwise), case_id(f)
    for f in NO_DERIVATIVE_CASES:
        assert type(TABLE.get(f)) is NoDerivative, case_id(f)
    assert operator.getitem in CASES and rules.SETITEM in CASES


def test_issue_functions_are_in_the_table():
    """The numpy functions issue 2 lists by name all have a rule."""
    named = [np.add, np.subtract, np.multiply, np.divide, np.power, np.float_power, np.exp, np.exp2,
             np.expm1, np.log, np.log2, np.log10, np.log1p, np.logaddexp, np.logaddexp2, np.sin, np.cos,
             np.tan, np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh,
             np.arctanh, np.sqrt, np.cbrt, np.square, np.reciprocal, np.hypot, np.arctan2, np.maximum,
             np.minimum, np.fmax, np.fmin, np.deg2rad, np.rad2deg, np.matmul, np.sign, np.floor, np.ceil,
             np.trunc, np.rint, np.isnan, np.isfinite, np.greater, np.less, np.equal,
             np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.cumsum, np.cumprod, np.var,
             np.std, np.dot, np.vdot, np.inner, np.outer, np.tensordot, np.einsum, np.trace, np.diag,
             np.diagonal, np.concatenate, np.stack, np.hstack, np.vstack, np.column_stack, np.reshape,
             np.ravel, np.transpose, np.swapaxes, np.moveaxis, np.squeeze, np.expand_dims,
             np.broadcast_to, np.flip, np.roll, np.tile, np.repeat, np.where, np.clip, np.take, np.copy,
             np.round, np.diff, np.linalg.norm, np.linalg.solve, np.linalg.inv, np.linalg.det,
             np.linalg.slogdet]
    assert [case_id(f) for f in named if f not in TABLE] == []


# ----------------------------------------------------------------------------- elementwise
UNARY_SHAPES = [(), (5,), (2, 3), (2, 1, 3)]
BINARY_SHAPES = [((), ()), ((5,), (5,)), ((2, 3), (2, 3)), ((3, 1), (4,)), ((4,), (3, 1)),
                 ((), (2, 3)), ((2, 3), ())]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("ufunc", UNARY, ids=case_id)
def test_unary_elementwise(ufunc, shape):
    x = _sample(ufunc, 0, shape, seed=len(shape))
    J = _check(ufunc, x)
    if shape:  # elementwise: the Jacobian is diagonal
        n = x.size
        off = J.reshape(n, n) * (1 - np.eye(n))
        assert not off.any()


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("ufunc", BINARY, ids=case_id)
def test_binary_elementwise_both_variable(ufunc, shapes):
    sa, sb = shapes
    a, b = _sample(ufunc, 0, sa, seed=1), _sample(ufunc, 1, sb, seed=2)
    na = a.size
    z = np.concatenate([a.ravel(), b.ravel()])
    _check(lambda z: ufunc(z[:na].reshape(sa), z[na:].reshape(sb)), z)


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("ufunc", BINARY, ids=case_id)
def test_binary_elementwise_one_constant(ufunc, shapes):
    sa, sb = shapes
    a, b = _sample(ufunc, 0, sa, seed=3), _sample(ufunc, 1, sb, seed=4)
    _check(lambda x: ufunc(x, b), a)
    _check(lambda x: ufunc(a, x), b)


@pytest.mark.parametrize("ufunc", BINARY, ids=case_id)
def test_binary_elementwise_python_scalar_constant(ufunc):
    a, b = _sample(ufunc, 0, (4,), seed=5), _sample(ufunc, 1, (), seed=6)
    _check(lambda x: ufunc(x, float(b)), a)
    _check(lambda x: ufunc(float(a[0]), x), b)
    _check(lambda x: ufunc(x, np.float64(b)), a)


@pytest.mark.parametrize("ufunc", ELEMENTWISE, ids=case_id)
def test_elementwise_single_direction_matches_jacobian(ufunc):
    """The unbatched path (one direction, as jvp uses) agrees with the batched one."""
    args = [_sample(ufunc, i, (3,), seed=10 + i) for i in range(ufunc.nin)]
    z = np.concatenate(args)
    f = (lambda z: ufunc(z)) if ufunc.nin == 1 else (lambda z: ufunc(z[:3], z[3:]))
    v = np.random.default_rng(0).standard_normal(z.shape)
    y, t = dualad.jvp(f, z, v)
    np.testing.assert_allclose(y, f(z))
    np.testing.assert_allclose(t, dualad.jacobian(f, z) @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ufunc", ELEMENTWISE, ids=case_id)
def test_elementwise_second_derivative(ufunc):
    """Forward over forward: the partials are themselves differentiated correctly."""
    args = [_sample(ufunc, i, (3,), seed=20 + i) for i in range(ufunc.nin)]
    z = np.concatenate(args)
    f = (lambda z: ufunc(z)) if ufunc.nin == 1 else (lambda z: ufunc(z[:3], z[3:]))
    g = lambda z: dualad.jacobian(f, z)  # noqa: E731
    np.testing.assert_allclose(dualad.jacobian(g, z), central_jacobian(g, z, rel_step=1e-5),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ufunc", ELEMENTWISE, ids=case_id)
def test_elementwise_float32(ufunc):
    """float32 in, float32 Jacobian and second derivative out, close to the float64 ones."""
    args = [_sample(ufunc, i, (3,), seed=30 + i) for i in range(ufunc.nin)]
    z = np.concatenate(args)
    f = (lambda z: ufunc(z)) if ufunc.nin == 1 else (lambda z: ufunc(z[:3], z[3:]))
    z32 = z.astype(np.float32)
    J = dualad.jacobian(f, z32)
    H = dualad.jacobian(lambda v: dualad.jacobian(f, v), z32)
    want = f(z32).dtype  # float32, except float_power, which numpy computes in float64
    assert J.dtype == want and H.dtype == want
    np.testing.assert_allclose(J, dualad.jacobian(f, z), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("ufunc", ELEMENTWISE, ids=case_id)
def test_elementwise_domain_is_valid(ufunc):
    """The declared sampling domain is an interval where the function is finite."""
    args = [np.linspace(*_domain(ufunc, i), 7) for i in range(ufunc.nin)]
    assert np.all(np.isfinite(ufunc(*args)))


# ----------------------------------------------------------------------------- conventions at kinks
def _d(f, x):
    return dualad.derivative(f, x)


def test_convention_abs_at_zero_is_zero():
    assert _d(np.abs, 0.0) == 0.0 and _d(abs, 0.0) == 0.0 and _d(np.fabs, 0.0) == 0.0
    assert _d(np.abs, -2.0) == -1.0


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_convention_sqrt_cbrt_at_zero_is_inf():
    assert _d(np.sqrt, 0.0) == np.inf and _d(np.cbrt, 0.0) == np.inf


def test_convention_zero_tangent_times_infinite_partial_is_zero():
    # sqrt'(0) is inf; the direction that does not move x[0] must get 1, not inf * 0 = nan
    with warnings.catch_warnings():
        # inf * 0 is an internal detail the engine resolves: it must not warn "invalid value"
        warnings.filterwarnings("error", message="invalid value", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="divide by zero", category=RuntimeWarning)
        J = dualad.jacobian(lambda x: np.sqrt(x[0]) + x[1], np.array([0.0, 4.0]))
    assert J[0] == np.inf and J[1] == 1.0


@pytest.mark.parametrize("ufunc", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_convention_max_min_ties_split(ufunc):
    J = dualad.jacobian(lambda z: ufunc(z[0], z[1]), np.array([1.5, 1.5]))
    np.testing.assert_array_equal(J, [0.5, 0.5])


@pytest.mark.parametrize("reduce", [np.max, np.min, np.amax, np.amin])
def test_convention_reduction_ties_split(reduce):
    J = dualad.jacobian(reduce, np.array([1.0, 3.0, 3.0, -3.0 if reduce in (np.max, np.amax) else 1.0]))
    if reduce in (np.max, np.amax):
        np.testing.assert_array_equal(J, [0.0, 0.5, 0.5, 0.0])
    else:
        np.testing.assert_array_equal(J, [0.5, 0.0, 0.0, 0.5])


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_convention_hypot_and_norm_at_zero():
    np.testing.assert_array_equal(dualad.jacobian(lambda z: np.hypot(z[0], z[1]), np.zeros(2)), [0.0, 0.0])
    np.testing.assert_array_equal(dualad.gradient(np.linalg.norm, np.zeros(3)), np.zeros(3))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_convention_where_does_not_leak_nan():
    # the unselected branch has an infinite derivative (log at 0, sqrt at 0): it must not leak
    f = lambda x: np.where(x > 0, np.sqrt(np.abs(x)), 0.0)  # noqa: E731
    np.testing.assert_array_equal(dualad.jacobian(f, np.array([0.0, 4.0])), [[0.0, 0.0], [0.0, 0.25]])


def test_convention_clip_is_minimum_of_maximum():
    J = dualad.jacobian(lambda x: np.clip(x, -1.0, 1.0), np.array([-2.0, 0.5, 2.0]))
    np.testing.assert_array_equal(J, np.diag([0.0, 1.0, 0.0]))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_convention_power_at_zero_base():
    assert _d(lambda x: x ** 2.0, 0.0) == 0.0
    assert _d(lambda x: x ** 1.0, 0.0) == 1.0
    assert _d(lambda x: x ** 0.5, 0.0) == np.inf
    # d/dp 0**p at p > 0 is 0, not nan
    assert _d(lambda p: np.power(0.0, p), 2.0) == 0.0


def test_power_negative_base_integer_exponent():
    x = np.array([-1.5, -0.5, 2.0])
    _check(lambda x: x ** 3, x)
    _check(lambda x: np.power(x, 2.0), x)
    _check(lambda x: x ** -2, x)


# ----------------------------------------------------------------------------- non-elementwise
ALL_CASES = [(f, i, fx, x) for f in CASES if f in TABLE for i, (fx, x) in enumerate(CASES[f])]


@pytest.mark.parametrize("f, i, fx, x", ALL_CASES, ids=[f"{case_id(c[0])}-{c[1]}" for c in ALL_CASES])
def test_case_against_finite_differences(f, i, fx, x):
    J = _check(fx, x)
    if type(TABLE[f]) is ZeroDerivative:
        assert not J.any()


@pytest.mark.parametrize("f, i, fx, x", ALL_CASES, ids=[f"{case_id(c[0])}-{c[1]}" for c in ALL_CASES])
def test_case_single_direction_and_value(f, i, fx, x):
    """One direction (unbatched tangent) gives J @ v, and the value is f(x) unchanged."""
    v = np.random.default_rng(i).standard_normal(np.shape(x))
    y, t = dualad.jvp(fx, x, v)
    np.testing.assert_allclose(y, fx(x), rtol=1e-12, atol=1e-12)
    J = dualad.jacobian(fx, x)
    np.testing.assert_allclose(t, np.tensordot(J, v, axes=np.ndim(x)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("f, i, fx, x", ALL_CASES, ids=[f"{case_id(c[0])}-{c[1]}" for c in ALL_CASES])
def test_case_second_derivative(f, i, fx, x):
    """A Jacobian of the Jacobian (nested tags) against differences of the first Jacobian."""
    g = lambda z: dualad.jacobian(fx, z)  # noqa: E731
    H = dualad.jacobian(g, x)
    np.testing.assert_allclose(H, central_jacobian(g, x, rel_step=1e-5), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("f", [f for f in DIFFERENTIABLE if type(TABLE[f]) is ZeroDerivative], ids=case_id)
def test_zero_derivative_returns_dual_with_zero_tangent(f):
    fx, x = CASES[f][0]
    d = dualad.Dual(x, np.ones_like(x))
    y = fx(d)
    assert isinstance(y, dualad.Dual)
    assert not np.any(y.tangent)


@pytest.mark.parametrize("f", list(RAISES), ids=case_id)
def test_refusing_composites_raise(f):
    for fx, x in RAISES[f]:
        with pytest.raises(dualad.UnsupportedFunctionError, match="remedy"):
            dualad.jacobian(fx, x)


def _contains_dual(obj) -> bool:
    if isinstance(obj, dualad.Dual):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_dual(o) for o in obj)
    return False


NO_DERIV_CASES = [(f, i, fx, x) for f in NO_DERIVATIVE for i, (fx, x) in enumerate(NO_DERIVATIVE_CASES.get(f, []))]


@pytest.mark.parametrize("f, i, fx, x", NO_DERIV_CASES, ids=[f"{case_id(c[0])}-{c[1]}" for c in NO_DERIV_CASES])
def test_no_derivative_returns_plain_values(f, i, fx, x):
    d = dualad.Dual(x, np.ones_like(x))
    got = fx(d)
    assert not _contains_dual(got)
    want = fx(x)
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("f, i, fx, x", ALL_CASES, ids=[f"{case_id(c[0])}-{c[1]}" for c in ALL_CASES])
def test_case_float32_stays_float32(f, i, fx, x):
    """Where numpy keeps a float32 result, the Jacobian is float32 too (and near the float64 one)."""
    x32 = np.asarray(x, dtype=np.float32)
    J32 = dualad.jacobian(fx, x32)
    if np.asarray(fx(x32)).dtype == np.float32:
        assert J32.dtype == np.float32
    np.testing.assert_allclose(J32, dualad.jacobian(fx, x), rtol=2e-3, atol=2e-3)
