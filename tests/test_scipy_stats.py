"""dualad.scipy.stats: pdf/logpdf/cdf/logcdf/sf/ppf against scipy.stats' values and central
differences of scipy's own methods, in x and in every parameter with a closed form; forward = reverse."""
from __future__ import annotations

import numpy as np
import pytest

st = pytest.importorskip("scipy.stats")

import dualad  # noqa: E402
from dualad import tape  # noqa: E402
from dualad.scipy import stats  # noqa: E402

from scipy_checks import check_mirror  # noqa: E402

# name: (x sample, shape parameters, loc, scale, q sample)
FAMILIES = {
    "norm": (np.array([-1.3, 0.2, 1.7]), (), 0.3, 1.4),
    "t": (np.array([-1.3, 0.2, 1.7]), (3.5,), 0.3, 1.4),
    "gamma": (np.array([0.4, 1.2, 2.9]), (2.3,), 0.1, 1.3),
    "beta": (np.array([0.15, 0.5, 0.8]), (2.3, 3.1), 0.0, 1.0),
    "expon": (np.array([0.4, 1.2, 2.9]), (), 0.1, 1.3),
    "laplace": (np.array([-1.3, 0.2, 1.7]), (), 0.3, 1.4),
    "cauchy": (np.array([-1.3, 0.2, 1.7]), (), 0.3, 1.4),
    "chi2": (np.array([0.4, 1.2, 2.9]), (3.3,), 0.1, 1.3),
}
Q = np.array([0.1, 0.45, 0.8])
METHODS = ["pdf", "logpdf", "cdf", "logcdf", "sf", "ppf", "logsf", "isf"]
# derivatives that need d/da of an incomplete gamma/beta function (or its inverse): refused
NO_CLOSED_FORM = {("t", "cdf"), ("t", "logcdf"), ("t", "sf"), ("t", "ppf"), ("gamma", "cdf"), ("gamma", "logcdf"),
                  ("gamma", "sf"), ("gamma", "ppf"), ("beta", "cdf"), ("beta", "logcdf"), ("beta", "sf"),
                  ("beta", "ppf"), ("chi2", "cdf"), ("chi2", "logcdf"), ("chi2", "sf"), ("chi2", "ppf")} | {
                     (name, method) for name in ("t", "gamma", "beta", "chi2") for method in ("logsf", "isf")}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(FAMILIES))
def test_methods_in_x_loc_scale(name, method):
    x, shapes, loc, scale = FAMILIES[name]
    point = Q if method in ("ppf", "isf") else x
    ours, theirs = getattr(getattr(stats, name), method), getattr(getattr(st, name), method)
    check_mirror(lambda v: ours(v, *shapes, loc, scale), lambda v: theirs(v, *shapes, loc, scale), point,
                 value_rtol=1e-9, rtol=1e-5)
    # in loc and scale together (keyword form)
    check_mirror(lambda p: ours(point, *shapes, loc=p[0], scale=p[1]),
                 lambda p: theirs(point, *shapes, loc=p[0], scale=p[1]), np.array([loc, scale]),
                 value_rtol=1e-9, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", [n for n in FAMILIES if FAMILIES[n][1]])
def test_methods_in_shape_parameters(name, method):
    x, shapes, loc, scale = FAMILIES[name]
    point = Q if method in ("ppf", "isf") else x
    ours, theirs = getattr(getattr(stats, name), method), getattr(getattr(st, name), method)

    def call(f, s):
        return f(point, *[s[i] for i in range(len(shapes))], loc, scale)
    if (name, method) in NO_CLOSED_FORM:
        with pytest.raises(dualad.UnsupportedFunctionError, match="argument"):
            dualad.jacobian(lambda s: call(ours, s), np.array(shapes))
        return
    check_mirror(lambda s: call(ours, s), lambda s: call(theirs, s), np.array(shapes), value_rtol=1e-9, rtol=1e-5)


def test_outside_the_support():
    for name in ("gamma", "expon", "chi2", "beta"):
        x, shapes, loc, scale = FAMILIES[name]
        pts = np.array([-0.5, 1.5]) + loc
        for method in ("logpdf", "pdf", "cdf"):
            np.testing.assert_allclose(getattr(getattr(stats, name), method)(pts, *shapes, loc, scale),
                                       getattr(getattr(st, name), method)(pts, *shapes, loc, scale), rtol=1e-12)
        J = dualad.jacobian(lambda v: stats.gamma.pdf(v, 2.3), np.array([-0.5]))
        assert J.tolist() == [[0.0]]


def test_multivariate_normal():
    rng = np.random.default_rng(3)
    L = rng.standard_normal((3, 3))
    cov = L @ L.T + 3 * np.eye(3)
    mean = np.array([0.2, -0.4, 1.0])
    xs = rng.standard_normal((4, 3))
    for method in ("logpdf", "pdf"):
        ours, theirs = getattr(stats.multivariate_normal, method), getattr(st.multivariate_normal, method)
        check_mirror(lambda v: ours(v.reshape(4, 3), mean, cov), lambda v: theirs(v.reshape(4, 3), mean, cov),
                     xs.ravel(), value_rtol=1e-10)
        check_mirror(lambda m: ours(xs[0], m, cov), lambda m: theirs(xs[0], m, cov), mean, value_rtol=1e-10)
        check_mirror(lambda c: ours(xs, mean, c.reshape(3, 3)), lambda c: theirs(xs, mean, c.reshape(3, 3)),
                     cov.ravel(), value_rtol=1e-10, rtol=1e-5)
    check_mirror(lambda v: stats.multivariate_normal.logpdf(v, 0.5, 2.0), lambda v: st.multivariate_normal.logpdf(v, 0.5, 2.0),
                 np.array([0.1, 0.7, -1.2]), value_rtol=1e-12)
    check_mirror(lambda v: stats.multivariate_normal.logpdf(v, mean, np.array([1.0, 2.0, 0.5])),
                 lambda v: st.multivariate_normal.logpdf(v, mean, np.array([1.0, 2.0, 0.5])), xs[1], value_rtol=1e-12)


def test_dirichlet_and_poisson():
    x = np.array([0.2, 0.3, 0.5])
    alpha = np.array([1.5, 2.0, 3.5])
    for method in ("logpdf", "pdf"):
        ours, theirs = getattr(stats.dirichlet, method), getattr(st.dirichlet, method)
        check_mirror(lambda a: ours(x, a), lambda a: theirs(x, a), alpha, value_rtol=1e-12)
    # x must stay on the simplex: differentiate along it
    f = lambda v: stats.dirichlet.logpdf(np.concatenate([v, 1.0 - np.sum(v, keepdims=True)]), alpha)  # noqa: E731
    g = lambda v: st.dirichlet.logpdf(np.concatenate([v, 1.0 - np.sum(v, keepdims=True)]), alpha)  # noqa: E731
    check_mirror(f, g, x[:2], value_rtol=1e-12)
    k = np.array([0, 1, 3, 7])
    for method in ("logpmf", "pmf", "cdf"):
        ours, theirs = getattr(stats.poisson, method), getattr(st.poisson, method)
        check_mirror(lambda m: ours(k, m), lambda m: theirs(k, m), np.array(2.3), value_rtol=1e-12)
    with pytest.raises(dualad.UnsupportedFunctionError, match="count k"):
        dualad.derivative(lambda kk: stats.poisson.logpmf(kk, 2.0), 3.0)


def test_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jst = pytest.importorskip("jax.scipy.stats")
    x = np.array([0.4, 1.2, 2.9])
    for ours, theirs, point in [
            (lambda p: np.sum(stats.norm.logpdf(x, p[0], p[1])), lambda p: jst.norm.logpdf(x, p[0], p[1]).sum(), [0.3, 1.4]),
            (lambda p: np.sum(stats.t.logpdf(x, p[0], 0.1, p[1])), lambda p: jst.t.logpdf(x, p[0], 0.1, p[1]).sum(), [3.5, 1.4]),
            (lambda p: np.sum(stats.gamma.logpdf(x, p[0], 0.0, p[1])), lambda p: jst.gamma.logpdf(x, p[0], 0.0, p[1]).sum(), [2.3, 1.3]),
            (lambda p: np.sum(stats.poisson.logpmf(np.array([0, 2, 5]), p[0])),
             lambda p: jst.poisson.logpmf(np.array([0, 2, 5]), p[0]).sum(), [2.3])]:
        point = np.array(point)
        want = jax.jit(jax.grad(theirs))(point)
        np.testing.assert_allclose(tape.grad(ours, point), want, rtol=1e-10)
        np.testing.assert_allclose(dualad.gradient(ours, point), want, rtol=1e-10)


# scipy's values outside the support, at the support's ends and at q = 0, 1 (or outside [0, 1])
EDGE_X = np.array([-np.inf, -3.0, -1e-300, 0.0, 1e-300, 0.3, 1.0, 1.5, np.inf, np.nan])
EDGE_Q = np.array([-0.1, 0.0, 1e-300, 1e-12, 0.3, 0.5, 1.0 - 1e-12, 1.0, 1.1, np.nan])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(FAMILIES))
def test_values_at_the_edges_equal_scipys(name, method):
    _, shapes, loc, scale = FAMILIES[name]
    point = EDGE_Q if method in ("ppf", "isf") else EDGE_X
    if name == "beta" and method in ("ppf", "isf"):
        point = point[point != 1e-300]  # scipy.special.betaincinv gives nan there (scipy.stats uses boost's own)
    ours, theirs = getattr(getattr(stats, name), method), getattr(getattr(st, name), method)
    for keywords in ({}, {"loc": loc, "scale": scale}):
        np.testing.assert_allclose(ours(point, *shapes, **keywords), theirs(point, *shapes, **keywords),
                                   rtol=1e-9, atol=0)
        finite = point[np.isfinite(point)]
        value, _ = dualad.jvp(lambda v: ours(v, *shapes, **keywords), finite, np.ones_like(finite))
        np.testing.assert_allclose(value, theirs(finite, *shapes, **keywords), rtol=1e-9, atol=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["expon", "gamma", "chi2", "beta"])
def test_no_derivative_outside_the_support(name):
    _, shapes, loc, scale = FAMILIES[name]
    below = np.array([loc - 2.0, loc - 0.5])  # the cdf is 0 there, the sf 1, for every nearby x
    for method in ("cdf", "sf", "logsf"):
        f = getattr(getattr(stats, name), method)
        np.testing.assert_array_equal(dualad.jacobian(lambda v: f(v, *shapes, loc, scale), below), np.zeros((2, 2)))
        np.testing.assert_array_equal(tape.jacobian(lambda v: f(v, *shapes, loc, scale), below), np.zeros((2, 2)))


@pytest.mark.parametrize("q", [1e-300, 1e-12, 0.2, 0.5, 0.9, 1.0 - 1e-12])
def test_cauchy_quantiles_keep_their_digits(q):
    # d ppf / dq = pi (1 + ppf^2) (the inverse of the pdf), in closed form
    for method, sign in (("ppf", 1.0), ("isf", -1.0)):
        f = getattr(stats.cauchy, method)
        value = f(q)
        assert value == pytest.approx(getattr(st.cauchy, method)(q), rel=1e-12)
        slope = dualad.derivative(f, q)
        assert slope == pytest.approx(sign * np.pi * (1.0 + value * value), rel=1e-9)
