"""scipy.special's ufunc rules (dualad/ops/special.py), entry by entry, like tests/test_rules.py.

The entries are registered lazily (on the first table miss once scipy.special is imported), so the
parametrisation uses the fixed list NAMES, and a test checks it equals the registered entries.
Each entry: central differences on several shapes, every differentiable argument alone and all
together (broadcast), one direction, forward = reverse, second order, float32 where scipy has a
float32 loop, the sparsity pattern covering the nonzeros; refused arguments raise, naming them.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

sc = pytest.importorskip("scipy.special")

import dualad  # noqa: E402
from dualad import rules, tape  # noqa: E402
from dualad.rules import TABLE, Custom, Elementwise  # noqa: E402

from cases import central_jacobian  # noqa: E402

NAMES = [
    "erf", "erfc", "erfinv", "erfcinv", "erfcx", "dawsn", "ndtr", "log_ndtr", "ndtri",
    "gamma", "gammaln", "loggamma", "digamma", "psi", "rgamma", "beta", "betaln", "poch",
    "gammainc", "gammaincc", "betainc", "expit", "logit", "log_expit", "entr", "rel_entr", "kl_div",
    "xlogy", "xlog1py", "boxcox", "boxcox1p", "pseudo_huber", "huber", "owens_t", "exp1", "expi", "expn",
    "spence", "zeta(x, q)", "zeta(x)", "i0", "i1", "i0e", "i1e", "j0", "j1", "y0", "y1", "k0", "k1",
    "k0e", "k1e", "jv", "yv", "iv", "kv", "hyp1f1", "expm1", "log1p", "exp2", "exp10", "cbrt", "cosm1",
    "exprel", "sindg", "cosdg", "sici", "fresnel", "stdtr", "stdtrit", "gammaincinv", "gammainccinv",
    "betaincinv", "chdtr", "chdtrc", "chdtri", "pdtr", "ndtri_exp",
]
RTOL, ATOL = 1e-5, 1e-6


def _special():
    rules.late_rule(None)  # loads dualad.ops.special (scipy.special is imported above)
    from dualad.ops import special
    return special


def _ufunc(name):
    return _special().SPECIAL[name]


def _scipy_ufunc(name):
    """The ufunc without loading the rules: collection must not change the table other test
    modules iterate over (their parametrisations would then include these entries)."""
    private = {"zeta(x, q)": "_zeta", "zeta(x)": "_riemann_zeta"}
    return getattr(sc._ufuncs, private[name]) if name in private else getattr(sc, name)


def _refused(rule, i) -> bool:
    from dualad.ops.special import Refused
    return type(rule) is Elementwise and isinstance(rule.partials[i], Refused)


def _sample(rule, i, shape, seed):
    lo, hi = rule.domain[min(i, len(rule.domain) - 1)]
    rng = np.random.default_rng(seed)
    if _refused(rule, i) and rule.partials[i].integer:
        return rng.integers(int(lo), int(hi), size=shape).astype(np.float64)
    margin = 0.02 * (hi - lo)
    return rng.uniform(lo + margin, hi - margin, size=shape)


def _arguments(ufunc, shapes, seed=0):
    rule = TABLE[ufunc]
    if type(rule) is Custom:  # sici, fresnel: one input, two outputs
        return [np.random.default_rng(seed).uniform(0.3, 2.5, size=shapes[0])]
    return [_sample(rule, i, shapes[i], seed + i) for i in range(ufunc.nin)]


def _differentiable(ufunc):
    rule = TABLE[ufunc]
    return [i for i in range(ufunc.nin) if not _refused(rule, i)]


def _function(ufunc, args, positions):
    """f(z): the ufunc with the arguments at ``positions`` read from the flat vector z."""
    shapes = [np.shape(a) for a in args]

    def f(z):
        call, start = list(args), 0
        for i in positions:
            n = int(np.prod(shapes[i]))
            call[i] = z[start:start + n].reshape(shapes[i])
            start += n
        out = ufunc(*call)
        return np.stack(out) if isinstance(out, tuple) else out

    z = np.concatenate([np.reshape(args[i], -1) for i in positions])
    return f, z


def _cases(name):
    """(f, z) pairs for one entry: each differentiable argument alone, then all together, broadcast."""
    ufunc = _ufunc(name)
    diff = _differentiable(ufunc)
    out = []
    if not diff:  # zeta(x): the Riemann zeta function has no closed-form derivative (refused)
        return out
    if ufunc.nin == 1:
        for shape in [(), (5,), (2, 3)]:
            out.append(_function(ufunc, _arguments(ufunc, [shape], seed=len(shape)), [0]))
        return out
    for i in diff:
        out.append(_function(ufunc, _arguments(ufunc, [(4,)] * ufunc.nin, seed=i), [i]))
    shapes = [(3, 1) if j == diff[0] else (4,) for j in range(ufunc.nin)]
    out.append(_function(ufunc, _arguments(ufunc, shapes, seed=7), diff))
    return out


DIFFERENTIABLE = [n for n in NAMES if n != "zeta(x)"]  # zeta(x) refuses its only argument
# entries with a refused argument (an integer order, or no closed-form derivative)
REFUSING = ["gammainc", "gammaincc", "betainc", "expn", "zeta(x, q)", "zeta(x)", "jv", "yv", "iv", "kv", "hyp1f1",
            "stdtr", "stdtrit", "gammaincinv", "gammainccinv", "betaincinv", "chdtr", "chdtrc", "chdtri", "pdtr"]


# ----------------------------------------------------------------------------- registration
def test_import_dualad_does_not_import_scipy_and_rules_load_on_first_miss():
    code = (
        "import sys, numpy as np, dualad\n"
        "assert 'scipy' not in sys.modules, 'import dualad imported scipy'\n"
        "dualad.jacobian(lambda x: np.sin(x) @ x, np.ones(3))\n"
        "assert 'dualad.ops.special' not in sys.modules, 'a table hit loaded the scipy rules'\n"
        "import scipy.special as sc\n"
        "assert 'dualad.ops.special' not in sys.modules\n"
        "d = dualad.derivative(sc.erf, 0.0)\n"
        "assert abs(d - 2 / np.pi ** 0.5) < 1e-15, d\n"
        "assert abs(dualad.tape.grad(lambda x: sc.gammaln(x), 3.0) - sc.digamma(3.0)) < 1e-14\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_reverse_mode_and_sparsity_load_the_rules_too():
    for first in ("assert tape.grad(lambda x: np.sum(sc.xlogy.outer(x, x)), np.ones(2)).shape == (2,)",
                  "assert dualad.jacobian_sparsity(lambda x: sc.expit(x), np.ones(2)).nnz == 2"):
        code = f"import numpy as np, scipy.special as sc, dualad\nfrom dualad import tape\n{first}\n"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_names_are_the_registered_entries():
    assert sorted(_special().SPECIAL) == sorted(NAMES)
    assert sorted(REFUSING) == sorted(n for n in NAMES if any(_refused(TABLE[_ufunc(n)], i)
                                                              for i in range(_ufunc(n).nin)))
    for name in NAMES:
        assert TABLE[_ufunc(name)] is not None


def test_issue_14_list_is_covered():
    listed = ["erf", "erfc", "erfinv", "erfcinv", "erfcx", "gamma", "gammaln", "loggamma", "digamma", "psi",
              "rgamma", "beta", "betaln", "expit", "logit", "log_expit", "ndtr", "log_ndtr", "ndtri", "entr",
              "rel_entr", "kl_div", "xlogy", "xlog1py", "i0", "i0e", "i1", "i1e", "j0", "j1", "y0", "y1", "k0",
              "k1", "jv", "iv", "kv", "exp1", "expi", "expn", "spence", "dawsn", "boxcox", "boxcox1p", "owens_t",
              "hyp1f1", "poch", "sici", "fresnel", "pseudo_huber", "gammainc", "gammaincc", "betainc"]
    _special()
    assert [n for n in listed if getattr(sc, n) not in TABLE] == []
    # zeta is a Python function over two ufuncs; polygamma and multigammaln call np.asarray and
    # live in dualad.scipy.special
    assert sc._ufuncs._zeta in TABLE and sc._ufuncs._riemann_zeta in TABLE


# ----------------------------------------------------------------------------- derivatives
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", NAMES)
def test_against_central_differences_both_modes(name):
    for f, z in _cases(name):
        J = dualad.jacobian(f, z)
        np.testing.assert_allclose(J, central_jacobian(f, z), rtol=RTOL, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(tape.jacobian(f, z), J, rtol=1e-12, atol=1e-14, err_msg=name)
        v = np.random.default_rng(1).standard_normal(z.shape)
        y, t = dualad.jvp(f, z, v)
        np.testing.assert_array_equal(y, f(z))  # the value is scipy's, unchanged
        np.testing.assert_allclose(t, (J.reshape(-1, z.size) @ v).reshape(np.shape(t)), rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_second_derivative(name):
    f, z = _cases(name)[-1]
    g = lambda w: dualad.jacobian(f, w)  # noqa: E731
    H = dualad.jacobian(g, z)
    np.testing.assert_allclose(H, central_jacobian(g, z, rel_step=1e-5), rtol=1e-4, atol=1e-5, err_msg=name)
    # forward over reverse agrees
    np.testing.assert_allclose(dualad.jacobian(lambda w: tape.jacobian(f, w), z), H, rtol=1e-10, atol=1e-12)


def _has_float32_loop(ufunc) -> bool:
    return any(t.split("->")[0] == "f" * ufunc.nin for t in ufunc.types)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", [n for n in DIFFERENTIABLE if _has_float32_loop(_scipy_ufunc(n))])
def test_float32_stays_float32(name):
    f, z = _cases(name)[-1]
    z32 = z.astype(np.float32)
    if f(z32).dtype != np.float32:
        pytest.skip("scipy computes this one in float64")
    J32 = dualad.jacobian(f, z32)
    assert J32.dtype == np.float32
    assert tape.jacobian(f, z32).dtype == np.float32
    J = dualad.jacobian(f, z)
    np.testing.assert_allclose(J32, J, rtol=2e-3, atol=2e-3 * max(1.0, np.abs(J).max()))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_sparsity_pattern_covers_nonzeros(name):
    f, z = _cases(name)[-1]
    J = dualad.jacobian(f, z).reshape(-1, z.size)
    S = dualad.jacobian_sparsity(f, z).toarray()
    assert not np.any((J != 0) & ~S), name


@pytest.mark.parametrize("name", REFUSING)
def test_refused_arguments_raise_naming_the_argument(name):
    ufunc = _ufunc(name)
    rule = TABLE[ufunc]
    args = _arguments(ufunc, [(3,)] * ufunc.nin)
    for i in range(ufunc.nin):
        if not _refused(rule, i):
            continue
        f, z = _function(ufunc, args, [i])
        argument = rule.partials[i].argument
        with pytest.raises(dualad.UnsupportedFunctionError, match=f"argument {argument}.*remedy"):
            dualad.jacobian(f, z)
        with pytest.raises(dualad.UnsupportedFunctionError, match=f"argument {argument}"):
            tape.jacobian(f, z)
        f(z)  # a plain number there works


# ----------------------------------------------------------------------------- conventions
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_limits_at_removable_singularities():
    _special()
    assert dualad.derivative(sc.i1, 0.0) == 0.5 and dualad.derivative(sc.j1, 0.0) == 0.5
    assert dualad.derivative(sc.i1e, 0.0) == 0.5 and dualad.derivative(sc.exprel, 0.0) == 0.5
    assert dualad.derivative(sc.spence, 1.0) == -1.0
    assert dualad.derivative(lambda x: sc.sici(x)[0], 0.0) == 1.0
    # rgamma at the poles of gamma: (-1)^n n!
    np.testing.assert_allclose([dualad.derivative(sc.rgamma, -n) for n in (0.0, 1.0, 2.0, 3.0)],
                               [1.0, -1.0, 2.0, -6.0])
    # boxcox at lambda == 0 is log(x): d/dlambda is log(x)^2 / 2
    np.testing.assert_allclose(dualad.derivative(lambda lm: sc.boxcox(2.0, lm), 0.0), np.log(2.0) ** 2 / 2)
    np.testing.assert_allclose(dualad.derivative(lambda lm: sc.boxcox(2.0, lm), 1e-3),
                               central_jacobian(lambda lm: sc.boxcox(2.0, lm), 1e-3), rtol=1e-6)
    # xlogy(0, y) is 0 for every y: no derivative in y there (and none from 0 * log(0))
    assert dualad.derivative(lambda y: sc.xlogy(0.0, y), 0.0) == 0.0
    # gammainc's x-derivative at x == 0 for a == 1 is e^0 = 1, not 0 * log(0)
    assert dualad.derivative(lambda x: sc.gammainc(1.0, x), 0.0) == 1.0
    # expn with n == 0 (e^-x / x)
    np.testing.assert_allclose(dualad.derivative(lambda x: sc.expn(0, x), 1.5),
                               central_jacobian(lambda x: sc.expn(0, x), 1.5), rtol=1e-7)


def test_unknown_scipy_ufunc_is_refused_by_its_scipy_name():
    _special()
    with pytest.raises(dualad.UnsupportedFunctionError, match=r"scipy\.special\.struve.*remedy"):
        dualad.jacobian(lambda x: sc.struve(1.0, x), np.array([0.5, 1.5]))
    with pytest.raises(dualad.UnsupportedFunctionError, match=r"scipy\.special\.struve"):
        tape.grad(lambda x: np.sum(sc.struve(1.0, x)), np.array([0.5, 1.5]))


# ----------------------------------------------------------------------------- against JAX
JAX_SAMPLE = [  # (scipy name, jax.scipy.special name, argument position differentiated, point)
    ("erf", "erf", 0, (0.3,)), ("erfinv", "erfinv", 0, (0.4,)), ("gammaln", "gammaln", 0, (1.7,)),
    ("digamma", "digamma", 0, (1.3,)), ("ndtri", "ndtri", 0, (0.3,)), ("log_ndtr", "log_ndtr", 0, (-2.5,)),
    ("xlogy", "xlogy", 1, (0.7, 1.9)), ("xlog1py", "xlog1py", 0, (0.7, 0.4)), ("i0e", "i0e", 0, (0.8,)),
    ("i1", "i1", 0, (1.1,)), ("gammainc", "gammainc", 1, (1.5, 0.9)),
    ("betainc", "betainc", 2, (1.5, 2.5, 0.3)),
    ("rel_entr", "rel_entr", 0, (0.6, 1.3)), ("kl_div", "kl_div", 1, (0.6, 1.3)),
    ("entr", "entr", 0, (0.6,)), ("poch", "poch", 1, (1.4, 0.7)),
    ("logit", "logit", 0, (0.3,)), ("expit", "expit", 0, (0.3,)), ("gamma", "gamma", 0, (2.3,)),
]


@pytest.mark.parametrize("name, jax_name, position, point", JAX_SAMPLE, ids=[s[0] for s in JAX_SAMPLE])
def test_against_jax(name, jax_name, position, point):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jsp = pytest.importorskip("jax.scipy.special")
    ufunc = _ufunc(name)

    def ours(x):
        args = list(point)
        args[position] = x
        return ufunc(*args)

    def theirs(x):
        args = list(point)
        args[position] = x
        return getattr(jsp, jax_name)(*args)

    x = point[position]
    want = float(jax.jit(jax.grad(theirs))(x))  # jit: one compilation, faster than eager here
    np.testing.assert_allclose(dualad.derivative(ours, x), want, rtol=1e-9)
    np.testing.assert_allclose(tape.grad(ours, x), want, rtol=1e-9)


def test_importing_the_mirrors_does_not_register_the_rules():
    """Test modules that iterate over TABLE at collection must not see entries that depend on
    which other test modules were imported first: the rules load on a miss, not on an import."""
    code = ("import sys, scipy.special, dualad\nfrom dualad.scipy import special\n"
            "assert 'dualad.ops.special' not in sys.modules\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
