"""dualad.scipy.special: logsumexp, softmax, log_softmax, polygamma, multigammaln; and the
ConversionError that names the scipy function (and its dualad.scipy version) a Dual went into."""
from __future__ import annotations

import numpy as np
import pytest

sc = pytest.importorskip("scipy.special")

import dualad  # noqa: E402
from dualad import tape  # noqa: E402
from dualad.scipy import special  # noqa: E402

from scipy_checks import check_mirror  # noqa: E402

X = np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]])


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": 1}, {"axis": -1, "keepdims": True},
                                {"axis": (0, 1)}, {"keepdims": True}])
def test_logsumexp_axis_keepdims(kw):
    check_mirror(lambda x: special.logsumexp(x, **kw), lambda x: sc.logsumexp(x, **kw), X, second=True)


def test_logsumexp_weights_in_a_and_b_and_return_sign():
    b = np.array([[1.0, 2.0, 0.5], [0.3, -0.2, 1.5]])
    check_mirror(lambda x: special.logsumexp(x, b=b, axis=1), lambda x: sc.logsumexp(x, b=b, axis=1), X)
    # differentiable in b as well
    check_mirror(lambda w: special.logsumexp(X, b=w, axis=1), lambda w: sc.logsumexp(X, b=w, axis=1), b)
    bneg = np.array([0.1, -3.0, 0.01])  # a negative sum: sign -1
    x = X[0]
    out, sign = special.logsumexp(x, b=bneg, return_sign=True)
    want, want_sign = sc.logsumexp(x, b=bneg, return_sign=True)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert sign == want_sign == -1.0
    check_mirror(lambda v: special.logsumexp(v, b=bneg, return_sign=True)[0],
                 lambda v: sc.logsumexp(v, b=bneg, return_sign=True)[0], x)
    # a zero weight drops the entry (even an infinite one)
    np.testing.assert_allclose(special.logsumexp(np.array([0.0, np.inf]), b=np.array([1.0, 0.0])), 0.0)


def test_logsumexp_is_stable_for_large_inputs():
    x = np.array([1000.0, 1000.0])
    assert special.logsumexp(x) == pytest.approx(1000.0 + np.log(2.0))
    np.testing.assert_allclose(dualad.gradient(special.logsumexp, x), [0.5, 0.5])
    np.testing.assert_allclose(tape.grad(special.logsumexp, x), [0.5, 0.5])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_softmax_and_log_softmax(name, axis):
    check_mirror(lambda x: getattr(special, name)(x, axis=axis), lambda x: getattr(sc, name)(x, axis=axis), X,
                 second=axis == 1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("row", [[np.inf, 1.0, 2.0], [-np.inf, 1.0, 2.0], [-np.inf, -np.inf, -np.inf], [np.inf, np.inf, 0.5],
                                 [1000.0, 1.0, -1000.0], [np.nan, 1.0, 0.0]], ids=str)
def test_softmax_values_at_infinities_are_scipys(name, row):
    x = np.array([row, [0.3, -1.2, 2.0]])
    for axis in (None, 1):
        want = getattr(sc, name)(x, axis=axis)
        np.testing.assert_allclose(getattr(special, name)(x, axis=axis), want, rtol=1e-14, atol=0)
        value, _ = dualad.jvp(lambda v: getattr(special, name)(v, axis=axis), x, np.ones_like(x))
        np.testing.assert_allclose(value, want, rtol=1e-14, atol=0)
        np.testing.assert_allclose(np.asarray(tape.record(lambda v: getattr(special, name)(v, axis=axis), x).value),
                                   want, rtol=1e-14, atol=0)


def test_polygamma_and_multigammaln():
    x = np.array([0.7, 1.3, 2.9])
    for n in (0, 1, 2, 3):
        check_mirror(lambda v: special.polygamma(n, v), lambda v: sc.polygamma(n, v), x, rtol=1e-5, value_rtol=1e-10)
    n = np.array([0, 1, 2])
    check_mirror(lambda v: special.polygamma(n, v), lambda v: sc.polygamma(n, v), x, rtol=1e-5, value_rtol=1e-10)
    with pytest.raises(dualad.UnsupportedFunctionError, match="argument n"):
        dualad.derivative(lambda k: special.polygamma(k, 1.5), 1.0)
    check_mirror(lambda a: special.multigammaln(a, 3), lambda a: sc.multigammaln(a, 3), x + 1.5, value_rtol=1e-10)
    with pytest.raises(ValueError):
        special.multigammaln(0.5, 3)


def test_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jsp = pytest.importorskip("jax.scipy.special")
    b = np.array([[1.0, 2.0, 0.5], [0.3, 0.2, 1.5]])
    want = jax.jit(jax.grad(lambda x: jsp.logsumexp(x, axis=1, b=b).sum()))(X)
    np.testing.assert_allclose(tape.grad(lambda x: np.sum(special.logsumexp(x, axis=1, b=b)), X), want, rtol=1e-12)
    want = jax.jit(jax.jacobian(lambda x: jax.nn.softmax(x, axis=0)))(X)
    np.testing.assert_allclose(dualad.jacobian(lambda x: special.softmax(x, axis=0), X), want, rtol=1e-12, atol=1e-15)


def test_ufuncs_are_handed_out_under_their_names():
    assert special.erf is sc.erf and special.xlogy is sc.xlogy
    with pytest.raises(AttributeError, match="not a ufunc"):
        special.lpmn  # noqa: B018 - a scipy.special Python function without a mirror


# ----------------------------------------------------------------------------- the error names scipy's function
@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian])
def test_conversion_inside_scipy_names_the_function_and_the_mirror(engine):
    with pytest.raises(dualad.ConversionError,
                       match=r"inside scipy\.special\.logsumexp.*use dualad\.scipy\.special\.logsumexp"):
        engine(lambda x: sc.logsumexp(x), np.ones(3))
    with pytest.raises(dualad.ConversionError, match=r"scipy\.special\.polygamma.*dualad\.scipy\.special\.polygamma"):
        engine(lambda x: sc.polygamma(1, x), np.ones(3))


def test_conversion_inside_scipy_without_a_mirror_says_so():
    integrate = pytest.importorskip("scipy.integrate")
    with pytest.raises(dualad.ConversionError, match=r"inside scipy\.integrate\.quad.*no differentiable version"):
        dualad.derivative(lambda a: integrate.quad(lambda t: a * t, 0.0, 1.0)[0], 1.0)


def test_conversion_outside_scipy_has_no_scipy_hint():
    with pytest.raises(dualad.ConversionError) as err:
        dualad.jacobian(lambda x: np.asarray(x), np.ones(2))
    assert "scipy" not in str(err.value)
