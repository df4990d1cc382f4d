"""Derivative rules for scipy.special's ufuncs (erf, gammaln, xlogy, the Bessel functions, ...).

scipy.special's functions are real numpy ufuncs, so a Dual or tape value reaches them through
numpy's own protocol (NEP 13) and they need nothing but an entry in the rule table. This module
imports scipy, so ``import dualad`` never imports it: :func:`dualad.rules.late_rule` imports this
module the first time a ufunc missing from the table meets a differentiable value while
scipy.special is loaded (a user who calls ``scipy.special.erf`` has imported it).

>>> import numpy as np, scipy.special, dualad
>>> float(dualad.derivative(scipy.special.erf, 0.0))  # 2 / sqrt(pi)
1.1283791670955126

Arguments that cannot be differentiated are refused with an :class:`UnsupportedFunctionError`
naming the argument, never given a zero derivative: integer orders (``expn``'s n) and shape
parameters without a closed-form derivative (``gammainc``'s a, ``jv``'s order v). Python
functions of scipy.special that call ``np.asarray`` (``polygamma``, ``multigammaln``,
``logsumexp``) have differentiable versions in :mod:`dualad.scipy.special`.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from ..errors import UnsupportedFunctionError
from ..rules import TABLE, Custom, Elementwise

__all__ = ["Refused", "SPECIAL"]

_2_SQRTPI = 2.0 / math.sqrt(math.pi)
_SQRTPI_2 = math.sqrt(math.pi) / 2.0
_SQRT2PI = math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
_POS = (0.2, 3.0)
_REAL = (-2.0, 2.0)

# every scipy.special ufunc this module gives a rule, by the name users call it under
SPECIAL: dict[str, np.ufunc] = {}


class Refused:
    """The partial derivative of an argument dualad refuses to differentiate; calling it raises.

    It stands where an ``Elementwise`` rule expects a partial, so a Dual in that argument fails
    with a message naming the argument, and plain numbers there work as usual.
    """

    __slots__ = ("function", "argument", "integer", "why")

    def __init__(self, function: str, argument: str, *, integer: bool = False, why: str = ""):
        self.function = function
        self.argument = argument
        self.integer = integer  # the argument takes integer values (an order), so tests sample integers
        self.why = why or ("it is an integer order: the function is defined only at integers there, so it "
                           "has no derivative" if integer else
                           "dualad has no closed-form derivative in this parameter")

    def __call__(self, out, *inputs):
        raise UnsupportedFunctionError(
            f"scipy.special.{self.function} cannot be differentiated with respect to its argument "
            f"{self.argument}: {self.why}; remedy: pass {self.argument} as a plain number (e.g. d.value, "
            f"or tape.stop_gradient(v)) if it does not depend on the input"
            + ("" if self.integer else
               f", or estimate the derivative in {self.argument} by finite differences of the plain call"))

    def __repr__(self) -> str:
        return f"Refused({self.function}, {self.argument})"


def _ew(name: str, *partials, domain=(_REAL,), note: str = "", ufunc=None) -> None:
    ufunc = ufunc if ufunc is not None else getattr(sc, name)
    TABLE[ufunc] = Elementwise(tuple(partials), tuple(domain), note)
    SPECIAL[name] = ufunc


def _over_x(v, x, at_zero: float):
    """``v / x`` with the limit ``at_zero`` where ``x == 0`` (i1(x)/x -> 1/2, sin(x)/x -> 1, ...)."""
    zero = x == 0
    if not np.any(zero):
        return v / x
    return np.where(zero, at_zero, v / np.where(zero, 1.0, x))


def _zero_where(cond, value):
    """``value`` with 0 where ``cond`` (a factor that vanishes there, e.g. x in d/dy xlogy(x, y))."""
    if not np.any(cond):
        return value
    return np.where(cond, 0.0, value)


def _trigamma(x):
    return sc.zeta(2.0, x)  # psi'(x) = zeta(2, x), a ufunc with a rule of its own (second order)


# --------------------------------------------------------------------------- error function family
_ew("erf", lambda o, x: _2_SQRTPI * np.exp(-x * x))
_ew("erfc", lambda o, x: -_2_SQRTPI * np.exp(-x * x))
_ew("erfinv", lambda o, x: _SQRTPI_2 * np.exp(o * o), domain=((-0.9, 0.9),))
_ew("erfcinv", lambda o, x: -_SQRTPI_2 * np.exp(o * o), domain=((0.1, 1.9),))
_ew("erfcx", lambda o, x: 2.0 * x * o - _2_SQRTPI)
_ew("dawsn", lambda o, x: 1.0 - 2.0 * x * o)
_ew("ndtr", lambda o, x: np.exp(-0.5 * x * x) / _SQRT2PI)
_ew("log_ndtr", lambda o, x: np.exp(-0.5 * x * x - o) / _SQRT2PI, domain=((-3.0, 3.0),))
_ew("ndtri", lambda o, x: _SQRT2PI * np.exp(0.5 * o * o), domain=((0.05, 0.95),))

# --------------------------------------------------------------------------- gamma function family
_ew("gamma", lambda o, x: o * sc.digamma(x), domain=(_POS,))
_ew("gammaln", lambda o, x: sc.digamma(x), domain=(_POS,),
    note="gammaln is log|gamma|: its derivative is digamma on both sides of 0")
_ew("loggamma", lambda o, x: sc.digamma(x), domain=(_POS,))
_ew("digamma", lambda o, x: _trigamma(x), domain=(_POS,))
_ew("psi", lambda o, x: _trigamma(x), domain=(_POS,))


def _rgamma_partial(o, x):
    # -rgamma(x) digamma(x), except at the poles of gamma (x = 0, -1, -2, ...), where rgamma is 0 and
    # digamma infinite; the limit there is (-1)^n n! = cos(pi x) gamma(1 - x).
    pole = (o == 0) & (x <= 0)
    if not np.any(pole):
        return -o * sc.digamma(x)
    safe = np.where(pole, 0.5, x)
    return np.where(pole, np.cos(np.pi * x) * sc.gamma(1.0 - x), -o * sc.digamma(safe))


_ew("rgamma", _rgamma_partial, domain=(_POS,), note="rgamma at 0, -1, -2, ...: the limit (-1)^n n!")
_ew("beta", lambda o, a, b: o * (sc.digamma(a) - sc.digamma(a + b)),
    lambda o, a, b: o * (sc.digamma(b) - sc.digamma(a + b)), domain=((0.3, 3.0), (0.3, 3.0)))
_ew("betaln", lambda o, a, b: sc.digamma(a) - sc.digamma(a + b),
    lambda o, a, b: sc.digamma(b) - sc.digamma(a + b), domain=((0.3, 3.0), (0.3, 3.0)))
_ew("poch", lambda o, z, m: o * (sc.digamma(z + m) - sc.digamma(z)), lambda o, z, m: o * sc.digamma(z + m),
    domain=((0.3, 3.0), (0.3, 2.0)))


def _gamma_density(a, x):
    """x^(a-1) e^(-x) / gamma(a): the x-derivative of gammainc (in logs where x > 0, against overflow)."""
    positive = x > 0
    if np.all(positive):
        return np.exp((a - 1.0) * np.log(x) - x - sc.gammaln(a))
    safe = np.where(positive, x, 1.0)
    inside = np.exp((a - 1.0) * np.log(safe) - safe - sc.gammaln(a))
    return np.where(positive, inside, np.power(x, a - 1.0) * np.exp(-x - sc.gammaln(a)))


def _beta_density(a, b, x):
    """x^(a-1) (1-x)^(b-1) / B(a, b): the x-derivative of betainc."""
    inside = (x > 0) & (x < 1)
    if np.all(inside):
        return np.exp((a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - sc.betaln(a, b))
    safe = np.where(inside, x, 0.5)
    body = np.exp((a - 1.0) * np.log(safe) + (b - 1.0) * np.log1p(-safe) - sc.betaln(a, b))
    edge = np.power(x, a - 1.0) * np.power(1.0 - x, b - 1.0) * np.exp(-sc.betaln(a, b))
    return np.where(inside, body, edge)


_ew("gammainc", Refused("gammainc", "a"), lambda o, a, x: _gamma_density(a, x), domain=((0.5, 3.0), _POS))
_ew("gammaincc", Refused("gammaincc", "a"), lambda o, a, x: -_gamma_density(a, x), domain=((0.5, 3.0), _POS))
_ew("betainc", Refused("betainc", "a"), Refused("betainc", "b"), lambda o, a, b, x: _beta_density(a, b, x),
    domain=((0.5, 3.0), (0.5, 3.0), (0.1, 0.9)))


# distribution functions and their inverses (what scipy.stats' cdf and ppf call)
def _t_density(df, t):
    half = 0.5 * (df + 1.0)
    return np.exp(sc.gammaln(half) - sc.gammaln(0.5 * df) - 0.5 * np.log(df * math.pi) - half * np.log1p(t * t / df))


_ew("stdtr", Refused("stdtr", "df"), lambda o, df, t: _t_density(df, t), domain=((1.0, 10.0), _REAL))
_ew("stdtrit", Refused("stdtrit", "df"), lambda o, df, p: 1.0 / _t_density(df, o), domain=((1.0, 10.0), (0.1, 0.9)))
_ew("gammaincinv", Refused("gammaincinv", "a"), lambda o, a, y: 1.0 / _gamma_density(a, o),
    domain=((0.5, 3.0), (0.1, 0.9)))
_ew("gammainccinv", Refused("gammainccinv", "a"), lambda o, a, y: -1.0 / _gamma_density(a, o),
    domain=((0.5, 3.0), (0.1, 0.9)))
_ew("betaincinv", Refused("betaincinv", "a"), Refused("betaincinv", "b"),
    lambda o, a, b, y: 1.0 / _beta_density(a, b, o), domain=((0.5, 3.0), (0.5, 3.0), (0.1, 0.9)))
_ew("chdtr", Refused("chdtr", "v"), lambda o, v, x: 0.5 * _gamma_density(0.5 * v, 0.5 * x), domain=((1.0, 5.0), _POS))
_ew("chdtrc", Refused("chdtrc", "v"), lambda o, v, x: -0.5 * _gamma_density(0.5 * v, 0.5 * x),
    domain=((1.0, 5.0), _POS))
_ew("chdtri", Refused("chdtri", "v"), lambda o, v, p: -2.0 / _gamma_density(0.5 * v, 0.5 * o),
    domain=((1.0, 5.0), (0.1, 0.9)))  # chdtri inverts chdtrc, the survival function
_ew("pdtr", Refused("pdtr", "k", integer=True), lambda o, k, m: -_gamma_density(np.floor(k) + 1.0, m),
    domain=((0.0, 5.0), _POS))
_ew("ndtri_exp", lambda o, y: _SQRT2PI * np.exp(y + 0.5 * o * o), domain=((-3.0, -0.1),))

# --------------------------------------------------------------------------- logistic, entropies, logs
_ew("expit", lambda o, x: o * (1.0 - o))
_ew("logit", lambda o, x: 1.0 / (x * (1.0 - x)), domain=((0.1, 0.9),))
_ew("log_expit", lambda o, x: sc.expit(-x))
_ew("entr", lambda o, x: -np.log(x) - 1.0, domain=(_POS,), note="entr at 0: derivative +inf")
_ew("rel_entr", lambda o, x, y: np.log(x / y) + 1.0, lambda o, x, y: -x / y, domain=(_POS, _POS),
    note="rel_entr at x == 0: derivative -inf in x (the one-sided limit), 0 in y")
_ew("kl_div", lambda o, x, y: np.log(x / y), lambda o, x, y: 1.0 - x / y, domain=(_POS, _POS))
_ew("xlogy", lambda o, x, y: np.log(y), lambda o, x, y: _zero_where(x == 0, x / y), domain=(_REAL, _POS),
    note="xlogy(0, y) is 0 for every y: derivative 0 in y there")
_ew("xlog1py", lambda o, x, y: np.log1p(y), lambda o, x, y: _zero_where(x == 0, x / (1.0 + y)),
    domain=(_REAL, (-0.5, 2.0)), note="xlog1py(0, y) is 0 for every y: derivative 0 in y there")


def _boxcox_lambda(o, base, log_base, lmbda):
    # d/dl (b^l - 1)/l = (b^l log b - out) / l, whose limit at l == 0 is (log b)^2 / 2
    zero = lmbda == 0
    if not np.any(zero):
        return (np.exp(lmbda * log_base) * log_base - o) / lmbda
    safe = np.where(zero, 1.0, lmbda)
    return np.where(zero, 0.5 * log_base * log_base, (np.exp(safe * log_base) * log_base - o) / safe)


_ew("boxcox", lambda o, x, lmbda: np.power(x, lmbda - 1.0),
    lambda o, x, lmbda: _boxcox_lambda(o, x, np.log(x), lmbda), domain=(_POS, _REAL))
_ew("boxcox1p", lambda o, x, lmbda: np.power(1.0 + x, lmbda - 1.0),
    lambda o, x, lmbda: _boxcox_lambda(o, 1.0 + x, np.log1p(x), lmbda), domain=((-0.5, 2.0), _REAL))


def _pseudo_huber_delta(o, delta, r):
    # d/dd d^2 (sqrt(1 + (r/d)^2) - 1) = 2 out / d - r^2 / hypot(d, r)
    h = np.hypot(delta, r)
    return _zero_where(h == 0, 2.0 * _over_x(o, delta, 0.0) - r * r / np.where(h == 0, 1.0, h))


_ew("pseudo_huber", _pseudo_huber_delta,
    lambda o, delta, r: _zero_where(delta == 0, r * delta / np.where(delta == 0, 1.0, np.hypot(delta, r))),
    domain=((0.2, 2.0), _REAL), note="pseudo_huber at delta == 0: partials 0")
_ew("huber", lambda o, delta, r: np.where(np.abs(r) <= delta, 0.0, np.abs(r) - delta),
    lambda o, delta, r: np.where(np.abs(r) <= delta, r, delta * np.sign(r)),
    domain=((0.2, 2.0), _REAL), note="huber at |r| == delta: the quadratic side's derivative (they agree in r)")
_ew("owens_t", lambda o, h, a: -0.5 * np.exp(-0.5 * h * h) / _SQRT2PI * sc.erf(h * a / _SQRT2),
    lambda o, h, a: np.exp(-0.5 * h * h * (1.0 + a * a)) / (2.0 * math.pi * (1.0 + a * a)), domain=(_REAL, _REAL))

# --------------------------------------------------------------------------- exponential integrals, zeta
_ew("exp1", lambda o, x: -np.exp(-x) / x, domain=(_POS,))
_ew("expi", lambda o, x: np.exp(x) / x, domain=(_POS,))


def _expn_partial(o, n, x):
    # d/dx E_n(x) = -E_{n-1}(x); E_0(x) = e^-x / x has derivative -e^-x (x + 1) / x^2
    lower = -sc.expn(np.maximum(n - 1, 0), x)
    first = n == 0
    if not np.any(first):
        return lower
    return np.where(first, -np.exp(-x) * (x + 1.0) / (x * x), lower)


_ew("expn", Refused("expn", "n", integer=True), _expn_partial, domain=((0.0, 4.0), _POS))


def _spence_partial(o, z):
    # spence(z) = int_1^z log(t) / (1 - t) dt: the integrand, with its limit -1 at z == 1
    one = z == 1
    if not np.any(one):
        return np.log(z) / (1.0 - z)
    safe = np.where(one, 2.0, z)
    return np.where(one, -1.0, np.log(safe) / (1.0 - safe))


_ew("spence", _spence_partial, domain=(_POS,))
# scipy.special.zeta is a Python function calling these two ufuncs: zeta(x) and zeta(x, q)
_ew("zeta", Refused("zeta", "x"), lambda o, x, q: -x * sc.zeta(x + 1.0, q), domain=((1.5, 4.0), (0.3, 3.0)),
    ufunc=sc._ufuncs._zeta)
SPECIAL["zeta(x, q)"] = SPECIAL.pop("zeta")
_ew("riemann_zeta", Refused("zeta", "x"), domain=((1.5, 4.0),), ufunc=sc._ufuncs._riemann_zeta)
SPECIAL["zeta(x)"] = SPECIAL.pop("riemann_zeta")

# --------------------------------------------------------------------------- Bessel functions
_ew("i0", lambda o, x: sc.i1(x))
_ew("i1", lambda o, x: sc.i0(x) - _over_x(o, x, 0.5))
_ew("i0e", lambda o, x: sc.i1e(x) - np.sign(x) * o,
    note="i0e = exp(-|x|) i0(x) has a kink at 0: derivative 0 there (a subgradient, like abs)")
_ew("i1e", lambda o, x: sc.i0e(x) - np.sign(x) * o - _over_x(o, x, 0.5))
_ew("j0", lambda o, x: -sc.j1(x))
_ew("j1", lambda o, x: sc.j0(x) - _over_x(o, x, 0.5))
_ew("y0", lambda o, x: -sc.y1(x), domain=((0.5, 3.0),))
_ew("y1", lambda o, x: sc.y0(x) - o / x, domain=((0.5, 3.0),))
_ew("k0", lambda o, x: -sc.k1(x), domain=((0.3, 3.0),))
_ew("k1", lambda o, x: -sc.k0(x) - o / x, domain=((0.3, 3.0),))
_ew("k0e", lambda o, x: o - sc.k1e(x), domain=((0.3, 3.0),))
_ew("k1e", lambda o, x: o - sc.k0e(x) - o / x, domain=((0.3, 3.0),))
_ORDER = (0.3, 2.5)
_ew("jv", Refused("jv", "v"), lambda o, v, x: 0.5 * (sc.jv(v - 1.0, x) - sc.jv(v + 1.0, x)), domain=(_ORDER, (0.5, 3.0)))
_ew("yv", Refused("yv", "v"), lambda o, v, x: 0.5 * (sc.yv(v - 1.0, x) - sc.yv(v + 1.0, x)), domain=(_ORDER, (0.5, 3.0)))
_ew("iv", Refused("iv", "v"), lambda o, v, x: 0.5 * (sc.iv(v - 1.0, x) + sc.iv(v + 1.0, x)), domain=(_ORDER, (0.5, 3.0)))
_ew("kv", Refused("kv", "v"), lambda o, v, x: -0.5 * (sc.kv(v - 1.0, x) + sc.kv(v + 1.0, x)), domain=(_ORDER, (0.5, 3.0)))
_ew("hyp1f1", Refused("hyp1f1", "a"), Refused("hyp1f1", "b"),
    lambda o, a, b, x: a / b * sc.hyp1f1(a + 1.0, b + 1.0, x), domain=((0.2, 2.0), (0.5, 2.0), _REAL))

# --------------------------------------------------------------------------- elementary extras
_ew("expm1", lambda o, x: o + 1.0)
_ew("log1p", lambda o, x: 1.0 / (1.0 + x), domain=((-0.8, 2.0),))
_ew("exp2", lambda o, x: o * math.log(2.0))
_ew("exp10", lambda o, x: o * math.log(10.0))
_ew("cbrt", lambda o, x: 1.0 / (3.0 * o * o), domain=(_POS,))
_ew("cosm1", lambda o, x: -np.sin(x))
_ew("exprel", lambda o, x: _over_x(np.exp(x) - o, x, 0.5), domain=((0.2, 2.0),))
_ew("sindg", lambda o, x: math.pi / 180.0 * sc.cosdg(x), domain=((-90.0, 90.0),))
_ew("cosdg", lambda o, x: -math.pi / 180.0 * sc.sindg(x), domain=((-90.0, 90.0),))


# --------------------------------------------------------------------------- two outputs: sici, fresnel
def _two_output_rule(name: str, derivatives):
    """A Custom rule for a one-input, two-output ufunc from the two outputs' derivatives (reverse
    mode transposes this jvp, so the formula is stated once)."""
    def jvp(out, args, kwargs, tangents):
        x, t = args[0], tangents[0]
        return tuple(d[..., None] * t if np.ndim(d) else d * t for d in derivatives(x))

    ufunc = getattr(sc, name)
    TABLE[ufunc] = Custom(jvp)
    SPECIAL[name] = ufunc


# Si'(x) = sin(x)/x (1 at 0), Ci'(x) = cos(x)/x
_two_output_rule("sici", lambda x: (_over_x(np.sin(x), x, 1.0), np.cos(x) / x))
# fresnel returns (S, C): S'(x) = sin(pi x^2 / 2), C'(x) = cos(pi x^2 / 2)
_two_output_rule("fresnel", lambda x: (np.sin(0.5 * math.pi * x * x), np.cos(0.5 * math.pi * x * x)))
