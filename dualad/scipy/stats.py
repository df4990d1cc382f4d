"""Differentiable versions of scipy.stats distributions: ``norm.logpdf(x, loc, scale)`` and friends.

Each distribution object has scipy's method names and argument order (``pdf``, ``logpdf``,
``cdf``, ``logcdf``, ``sf``, ``logsf``, ``ppf``, ``isf``; scipy's values outside the support and at
q = 0 or 1), written with numpy and scipy.special calls that dualad
differentiates, in x and in every parameter where a closed form exists. Where one does not
(the shape parameter of ``gamma.cdf``, for instance: that is ``gammainc``'s a), the call
raises an UnsupportedFunctionError naming the argument, never a zero derivative.

Covered: ``norm``, ``t``, ``gamma``, ``beta``, ``expon``, ``laplace``, ``cauchy``, ``chi2``,
``multivariate_normal`` (``pdf``, ``logpdf``), ``dirichlet`` (``pdf``, ``logpdf``) and
``poisson`` (``pmf``, ``logpmf``, ``cdf`` in mu).

>>> import numpy as np, dualad
>>> from dualad.scipy import stats
>>> float(dualad.derivative(lambda m: stats.norm.logpdf(1.0, loc=m), 0.0))  # (x - mu) / sigma^2
1.0
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from ..arraylike import ArrayLike, primal
from ..errors import UnsupportedFunctionError

__all__ = ["norm", "t", "gamma", "beta", "expon", "laplace", "cauchy", "chi2", "multivariate_normal",
           "dirichlet", "poisson"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _plain(x) -> np.ndarray:
    return np.asarray(primal(x)) if isinstance(x, ArrayLike) else np.asarray(x)


def _outside(mask, value, fill):
    """``value`` where ``mask`` is False, ``fill`` where True (no derivative leaks from outside the support)."""
    if not np.any(_plain(mask)):
        return value
    return np.where(mask, fill, value)


class _Continuous:
    """A location-scale family from its standard ``logpdf``, ``cdf`` and ``ppf`` (shape parameters first)."""

    def __init__(self, name: str, nshapes: int, logpdf, cdf, ppf, isf, support=(-np.inf, np.inf), logcdf=None,
                 sf=None, logsf=None):
        self.name = name
        self._n = nshapes
        self._logpdf, self._cdf, self._ppf, self._logcdf, self._sf = logpdf, cdf, ppf, logcdf, sf
        self._isf, self._logsf = isf, logsf
        self._support = support

    def _parse(self, x, args, kwds):
        args = list(args)
        names = ["loc", "scale"]
        shapes = args[:self._n]
        if len(shapes) < self._n:
            raise TypeError(f"{self.name} needs {self._n} shape parameter(s)")
        rest = dict(zip(names, args[self._n:]))
        rest.update(kwds)
        return shapes, rest.get("loc", 0.0), rest.get("scale", 1.0)

    def _z(self, x, loc, scale):
        z = (x - loc) / scale
        lo, hi = self._support
        out = (_plain(z) < lo) | (_plain(z) > hi)
        return z, out

    def logpdf(self, x, *args, **kwds):
        shapes, loc, scale = self._parse(x, args, kwds)
        z, out = self._z(x, loc, scale)
        zs = _outside(out, z, 0.5 * (self._support[0] + self._support[1]) if np.isfinite(self._support[1])
                      else self._support[0] + 1.0 if np.isfinite(self._support[0]) else 0.0)
        return _outside(out, self._logpdf(zs, *shapes) - np.log(scale), -np.inf)

    def pdf(self, x, *args, **kwds):
        return np.exp(self.logpdf(x, *args, **kwds))

    def _clipped(self, x, args, kwds):
        """Shape parameters and the standardised x clipped to the support (the cdf is 0 or 1 outside it,
        with derivative 0, whatever formula the family's cdf, logcdf or sf uses)."""
        shapes, loc, scale = self._parse(x, args, kwds)
        z, _ = self._z(x, loc, scale)
        lo, hi = self._support
        return shapes, (np.clip(z, lo, hi) if (np.isfinite(lo) or np.isfinite(hi)) else z)

    def cdf(self, x, *args, **kwds):
        shapes, z = self._clipped(x, args, kwds)
        return self._cdf(z, *shapes)

    def logcdf(self, x, *args, **kwds):
        if self._logcdf is None:
            return np.log(self.cdf(x, *args, **kwds))
        shapes, z = self._clipped(x, args, kwds)
        return self._logcdf(z, *shapes)

    def sf(self, x, *args, **kwds):
        if self._sf is None:
            return 1.0 - self.cdf(x, *args, **kwds)
        shapes, z = self._clipped(x, args, kwds)
        return self._sf(z, *shapes)

    def logsf(self, x, *args, **kwds):
        if self._logsf is None:
            return np.log(self.sf(x, *args, **kwds))
        shapes, z = self._clipped(x, args, kwds)
        return self._logsf(z, *shapes)

    def _quantile(self, q, args, kwds, standard, bounds):
        """``loc + scale * standard(q)`` with scipy's edges: ``bounds[0]`` at q = 0 and ``bounds[1]`` at
        q = 1 (the support's ends, scaled), nan outside [0, 1]."""
        shapes, loc, scale = self._parse(q, args, kwds)
        qp = _plain(q)
        inside = (qp > 0) & (qp < 1)
        value = loc + scale * standard(_outside(~inside, q, 0.5), *shapes)
        for edge, bound in ((qp == 0, bounds[0]), (qp == 1, bounds[1])):
            value = _outside(edge, value, loc + scale * bound if np.isfinite(bound) else bound)
        return _outside(~(inside | (qp == 0) | (qp == 1)), value, np.nan)

    def ppf(self, q, *args, **kwds):
        return self._quantile(q, args, kwds, self._ppf, self._support)

    def isf(self, q, *args, **kwds):
        return self._quantile(q, args, kwds, self._isf, self._support[::-1])

    def __repr__(self) -> str:
        return f"<dualad.scipy.stats.{self.name}>"


# --------------------------------------------------------------------------- the families (standard forms)
norm = _Continuous(
    "norm", 0, lambda z: -0.5 * z * z - _LOG_SQRT_2PI, sc.ndtr, sc.ndtri, lambda q: -sc.ndtri(q), logcdf=sc.log_ndtr,
    sf=lambda z: sc.ndtr(-z), logsf=lambda z: sc.log_ndtr(-z))


def _t_logpdf(z, df):
    half = 0.5 * (df + 1.0)
    return sc.gammaln(half) - sc.gammaln(0.5 * df) - 0.5 * np.log(df * math.pi) - half * np.log1p(z * z / df)


t = _Continuous("t", 1, _t_logpdf, lambda z, df: sc.stdtr(df, z), lambda q, df: sc.stdtrit(df, q),
                lambda q, df: -sc.stdtrit(df, q), sf=lambda z, df: sc.stdtr(df, -z))

gamma = _Continuous(
    "gamma", 1, lambda z, a: sc.xlogy(a - 1.0, z) - z - sc.gammaln(a), lambda z, a: sc.gammainc(a, z),
    lambda q, a: sc.gammaincinv(a, q), lambda q, a: sc.gammainccinv(a, q), support=(0.0, np.inf),
    sf=lambda z, a: sc.gammaincc(a, np.maximum(z, 0.0)))

beta = _Continuous(
    "beta", 2, lambda z, a, b: sc.xlogy(a - 1.0, z) + sc.xlog1py(b - 1.0, -z) - sc.betaln(a, b),
    lambda z, a, b: sc.betainc(a, b, z), lambda q, a, b: sc.betaincinv(a, b, q),
    lambda q, a, b: 1.0 - sc.betaincinv(b, a, q), support=(0.0, 1.0))

expon = _Continuous("expon", 0, lambda z: -z, lambda z: -np.expm1(-z), lambda q: -np.log1p(-q), lambda q: -np.log(q),
                    support=(0.0, np.inf), logcdf=lambda z: np.log(-np.expm1(-z)), sf=lambda z: np.exp(-z),
                    logsf=lambda z: -z)


def _laplace_cdf(z):
    return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0.0)), 1.0 - 0.5 * np.exp(-np.maximum(z, 0.0)))


def _laplace_ppf(q):
    return np.where(q < 0.5, np.log(2.0 * np.minimum(q, 0.5)), -np.log(2.0 - 2.0 * np.maximum(q, 0.5)))


laplace = _Continuous("laplace", 0, lambda z: -np.abs(z) - math.log(2.0), _laplace_cdf, _laplace_ppf,
                      lambda q: -_laplace_ppf(q))

def _cauchy_ppf(q):
    """tan(pi (q - 1/2)), written so that q near 0 or 1 keeps its digits (-1 / tan(pi q) for small q:
    q - 1/2 would round them away)."""
    qp = _plain(q)
    low, high = qp < 0.25, qp > 0.75
    middle = np.tan(math.pi * (_outside(low | high, q, 0.5) - 0.5))
    value = _outside(low, middle, -1.0 / np.tan(math.pi * _outside(~low, q, 0.1)))
    return _outside(high, value, 1.0 / np.tan(math.pi * (1.0 - _outside(~high, q, 0.9))))


cauchy = _Continuous("cauchy", 0, lambda z: -np.log(math.pi * (1.0 + z * z)),
                     lambda z: 0.5 + np.arctan(z) / math.pi, _cauchy_ppf, lambda q: -_cauchy_ppf(q))


def _chi2_logpdf(z, df):
    half = 0.5 * df
    return sc.xlogy(half - 1.0, z) - 0.5 * z - sc.gammaln(half) - half * math.log(2.0)


chi2 = _Continuous("chi2", 1, _chi2_logpdf, lambda z, df: sc.gammainc(0.5 * df, 0.5 * z),
                   lambda q, df: 2.0 * sc.gammaincinv(0.5 * df, q), lambda q, df: 2.0 * sc.gammainccinv(0.5 * df, q),
                   support=(0.0, np.inf))


# --------------------------------------------------------------------------- multivariate
class _MultivariateNormal:
    """``multivariate_normal.logpdf(x, mean=None, cov=1)``, differentiable in x, mean and cov.

    Like scipy, only the lower triangle of ``cov`` is read (scipy factors it with ``eigh``).
    """

    name = "multivariate_normal"

    def logpdf(self, x, mean=None, cov=1, allow_singular: bool = False):
        cov_shape = np.shape(_plain(cov))
        dim = cov_shape[0] if len(cov_shape) else (np.shape(_plain(mean))[-1] if mean is not None and
                                                    np.ndim(_plain(mean)) else 1)
        if len(cov_shape) == 0:
            cov = cov * np.eye(dim)
        elif len(cov_shape) == 1:
            cov = cov * np.eye(dim)  # a vector is the diagonal
        xs = np.shape(_plain(x))
        if dim == 1 and (len(xs) == 0 or xs[-1] != 1):
            x = np.reshape(x, xs + (1,))
        diff = x - (0.0 if mean is None else mean)
        n = dim
        lower = np.linalg.cholesky(cov * np.tril(np.ones((n, n))) + np.swapaxes(cov * np.tril(np.ones((n, n)), -1), -1, -2))
        flat = np.reshape(diff, (-1, n))
        y = np.linalg.solve(lower, np.swapaxes(flat, -1, -2))
        maha = np.sum(y * y, axis=0)
        log_det = 2.0 * np.sum(np.log(np.diagonal(lower)))
        out = -0.5 * (maha + log_det + n * math.log(2.0 * math.pi))
        shape = np.shape(_plain(diff))[:-1]
        out = np.reshape(out, shape)
        return out if shape == () or np.size(_plain(out)) > 1 else np.reshape(out, ())

    def pdf(self, x, mean=None, cov=1, allow_singular: bool = False):
        return np.exp(self.logpdf(x, mean, cov, allow_singular))

    def __repr__(self) -> str:
        return "<dualad.scipy.stats.multivariate_normal>"


class _Dirichlet:
    """``dirichlet.logpdf(x, alpha)``: x has the K components along its first axis, like scipy."""

    name = "dirichlet"

    def logpdf(self, x, alpha):
        plain = _plain(x)
        if np.any(np.abs(np.sum(plain, axis=0) - 1.0) > 10e-10):
            raise ValueError("The input vector 'x' must lie within the normal simplex. but np.sum(x, 0) - 1 = "
                             f"{np.sum(plain, axis=0) - 1.0}.")
        a = alpha if np.ndim(plain) == 1 else np.reshape(alpha, np.shape(_plain(alpha)) + (1,) * (np.ndim(plain) - 1))
        log_b = np.sum(sc.gammaln(alpha)) - sc.gammaln(np.sum(alpha))
        return np.sum(sc.xlogy(a - 1.0, x), axis=0) - log_b

    def pdf(self, x, alpha):
        return np.exp(self.logpdf(x, alpha))

    def __repr__(self) -> str:
        return "<dualad.scipy.stats.dirichlet>"


class _Poisson:
    """``poisson.logpmf(k, mu, loc=0)``: differentiable in mu; the count k is an integer (a Dual is refused)."""

    name = "poisson"

    @staticmethod
    def _k(k, loc):
        if isinstance(k, ArrayLike) or isinstance(loc, ArrayLike):
            raise UnsupportedFunctionError(
                "dualad.scipy.stats.poisson: the count k (and loc) is an integer and cannot be differentiated; "
                "remedy: pass k as plain integers (the pmf is differentiable in mu)")
        return np.asarray(k) - loc

    def logpmf(self, k, mu, loc=0):
        k = self._k(k, loc)
        integral = (k == np.floor(k)) & (k >= 0)
        ks = np.where(integral, k, 0.0)
        return _outside(~integral, sc.xlogy(ks, mu) - sc.gammaln(ks + 1.0) - mu, -np.inf)

    def pmf(self, k, mu, loc=0):
        return np.exp(self.logpmf(k, mu, loc))

    def cdf(self, k, mu, loc=0):
        k = np.floor(self._k(k, loc))
        return _outside(k < 0, sc.gammaincc(np.maximum(k, 0.0) + 1.0, mu), 0.0)

    def __repr__(self) -> str:
        return "<dualad.scipy.stats.poisson>"


multivariate_normal = _MultivariateNormal()
dirichlet = _Dirichlet()
poisson = _Poisson()
