"""User-defined rules (custom_jvp, custom_vjp, float_function) in every engine, against
central differences of the same function on plain floats and hand-derived closed forms."""
import math

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.checking import central_differences
from dualad.testing import check_rule

X = np.array([0.3, 1.2, -0.5])
Y = np.array([2.0, -1.0, 0.5])


def _plain_only(x):
    """Refuses anything but plain numbers, like a compiled routine."""
    return np.array([float(v) for v in np.asarray(x, dtype=float).reshape(-1)]).reshape(np.shape(x))


# a function that numpy could trace, so every rule can be checked against dualad's own derivative too
@dualad.custom_jvp
def sin_times(x, y):
    return np.sin(_plain_only(x)) * _plain_only(y)


@sin_times.defjvp
def _sin_times_jvp(primals, tangents):
    x, y = primals
    tx, ty = tangents
    return sin_times(x, y), np.cos(x) * y * tx + np.sin(x) * ty


def _g(v):
    return sin_times(v, Y) ** 2 + sin_times(Y, v) * v[0]


def _g_plain(v):
    return (np.sin(v) * Y) ** 2 + np.sin(Y) * v * v[0]


def _g_hand(v):  # d g_i / d v_j by hand
    J = np.diag(2 * np.sin(v) * Y * np.cos(v) * Y + np.sin(Y) * v[0])
    J[:, 0] += np.sin(Y) * v
    return J


ENGINES = {
    "forward": dualad.jacobian,
    "forward chunk 1": lambda f, x: dualad.jacobian(f, x, chunk_size=1),
    "forward chunk 2": lambda f, x: dualad.jacobian(f, x, chunk_size=2),
    "reverse": tape.jacobian,
    "reverse chunk 1": lambda f, x: tape.jacobian(f, x, chunk_size=1),
}


@pytest.mark.parametrize("engine", ENGINES)
def test_custom_jvp_jacobian_in_every_engine(engine):
    J = ENGINES[engine](_g, X)
    np.testing.assert_allclose(J, _g_hand(X), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(J, central_differences(_g_plain, X)[0], rtol=1e-7, atol=1e-9)


def test_custom_jvp_second_derivatives_every_nesting():
    def s(v):
        return np.sum(_g(v))

    def s_plain(v):
        return np.sum(_g_plain(v))

    H_fd = central_differences(lambda v: dualad.gradient(s_plain, v), X)[0]
    H_ff = dualad.hessian(s, X)
    H_fr = dualad.jacobian(lambda v: tape.grad(s, v), X)
    hvps = np.stack([dualad.hvp(s, X, e) for e in np.eye(3)], axis=1)
    H_jj = dualad.jacobian(lambda v: dualad.jacobian(s, v), X)
    for H in (H_ff, H_fr, hvps, H_jj):
        np.testing.assert_allclose(H, H_fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(H_ff, dualad.hessian(s_plain, X), rtol=1e-13, atol=1e-13)


def test_nondiff_argnums_and_keywords():
    @dualad.custom_jvp(nondiff_argnums=(0, 2))
    def apply(fn, x, power):
        return fn(x) ** power

    @apply.defjvp
    def apply_jvp(fn, power, primals, tangents):
        (x,), (t,) = primals, tangents
        return apply(fn, x, power), power * fn(x) ** (power - 1) * np.cos(x) * t

    J = dualad.jacobian(lambda v: apply(np.sin, v, power=3), X)
    np.testing.assert_allclose(J, np.diag(3 * np.sin(X) ** 2 * np.cos(X)), rtol=1e-14)
    np.testing.assert_allclose(tape.jacobian(lambda v: apply(np.sin, v, 3), X), J, rtol=1e-14)


def test_jvp_on_plain_floats_only_loops_and_transposes_by_columns():
    calls = []

    @dualad.custom_jvp
    def square(x):
        return _plain_only(x) ** 2

    @square.defjvp
    def square_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        calls.append(1)
        return square(x), 2 * _plain_only(x) * _plain_only(t)  # converts the tangent: no Dual, no tape

    J = dualad.jacobian(lambda v: square(v) * v, X)
    np.testing.assert_allclose(J, np.diag(3 * X ** 2), rtol=1e-14)
    np.testing.assert_allclose(tape.jacobian(lambda v: square(v) * v, X), J, rtol=1e-14)
    assert tape.grad(lambda v: np.sum(square(v)), X) == pytest.approx(2 * X, rel=1e-14)


def test_tuple_outputs():
    @dualad.custom_jvp
    def polar(x, y):
        return np.hypot(x, y), np.arctan2(y, x)

    @polar.defjvp
    def polar_jvp(p, t):
        (x, y), (tx, ty) = p, t
        r = np.hypot(x, y)
        return polar(x, y), ((x * tx + y * ty) / r, (x * ty - y * tx) / r ** 2)

    def g(v):
        r, th = polar(v[0], v[1])
        return np.stack([r * th, r + th])

    v = np.array([1.0, 2.0])
    J_fd = central_differences(lambda w: np.stack([np.hypot(*w) * np.arctan2(w[1], w[0]),
                                                   np.hypot(*w) + np.arctan2(w[1], w[0])]), v)[0]
    for J in (dualad.jacobian(g, v), tape.jacobian(g, v)):
        np.testing.assert_allclose(J, J_fd, rtol=1e-8)


def test_custom_vjp_reverse_only():
    @dualad.custom_vjp
    def f(x, y):
        return np.exp(x) * y

    def fwd(x, y):
        e = np.exp(x)
        return e * y, (e, y)

    def bwd(res, g):
        e, y = res
        return e * y * g, e * g

    f.defvjp(fwd, bwd)
    J = tape.jacobian(lambda v: f(v, Y) + f(Y, v), X)
    expected = np.diag(np.exp(X) * Y + np.exp(Y))
    np.testing.assert_allclose(J, expected, rtol=1e-14)
    np.testing.assert_allclose(tape.jacobian(lambda v: f(v, Y), X, chunk_size=1), np.diag(np.exp(X) * Y))
    with pytest.raises(dualad.CustomRuleError, match=r"f .*only a VJP.*remedy"):
        dualad.jacobian(lambda v: f(v, Y), X)
    check_rule(f, (X, Y))


def test_float_function_compiled_routine():
    def compiled(x, a):  # needs plain floats, like a C extension
        return np.array([math.exp(a * v) for v in _plain_only(x)])

    def compiled_jacobian(x, a):
        return np.diag(a * compiled(x, a))

    f = dualad.float_function(compiled, jacobian=compiled_jacobian, nondiff_argnums=(1,), sparsity="elementwise")
    g = lambda v: f(v, 0.5) * v[::-1]  # noqa: E731
    J_fd = central_differences(lambda v: np.exp(0.5 * v) * v[::-1], X)[0]
    for J in (dualad.jacobian(g, X), tape.jacobian(g, X), dualad.sparse_jacobian(g, X).toarray()):
        np.testing.assert_allclose(J, J_fd, rtol=1e-8)
    S = dualad.jacobian_sparsity(g, X).toarray()
    assert S.tolist() == (np.eye(3, dtype=bool) | np.eye(3, dtype=bool)[::-1]).tolist()
    # second derivatives need a differentiable Jacobian: without one, a clear error
    with pytest.raises(dualad.DualadError):
        dualad.hessian(lambda v: np.sum(f(v, 0.5)), X)
    # ... with one (the Jacobian wrapped in turn), the Hessian is exact
    hess = dualad.float_function(compiled_jacobian, nondiff_argnums=(1,),
                                 jacobian=lambda x, a: np.einsum("ij,jk->ijk", np.diag(a * a * compiled(x, a)),
                                                                 np.eye(len(x))))
    f2 = dualad.float_function(compiled, jacobian=hess, nondiff_argnums=(1,))
    H = dualad.hessian(lambda v: np.sum(f2(v, 0.5)), X)
    np.testing.assert_allclose(H, np.diag(0.25 * np.exp(0.5 * X)), rtol=1e-14)


def test_sparsity_coupled_unless_declared():
    def g(v):
        return sin_times(v[1:], v[:-1])

    x = np.linspace(0.1, 0.9, 5)
    assert dualad.jacobian_sparsity(g, x).toarray().all()  # no declaration: everything coupled

    declared = dualad.custom_jvp(sin_times.fun, sparsity="elementwise")
    declared.defjvp(_sin_times_jvp)
    S = dualad.jacobian_sparsity(lambda v: declared(v[1:], v[:-1]), x).toarray()
    assert S.tolist() == (np.eye(4, 5, 1, dtype=bool) | np.eye(4, 5, dtype=bool)).tolist()
    J = dualad.sparse_jacobian(lambda v: declared(v[1:], v[:-1]), x).toarray()
    np.testing.assert_allclose(J, dualad.jacobian(lambda v: np.sin(v[1:]) * v[:-1], x), rtol=1e-14)

    by_matrix = dualad.custom_jvp(sin_times.fun, sparsity=lambda x, y: (np.eye(len(x)), np.eye(len(y))))
    by_matrix.defjvp(_sin_times_jvp)
    assert dualad.jacobian_sparsity(lambda v: by_matrix(v[1:], v[:-1]), x).toarray().tolist() == S.tolist()


def test_float32_stays_float32():
    f = _rule(lambda p, t: (np.sin(p[0]), np.cos(p[0]) * t[0]))
    x = X.astype(np.float32)
    for engine in (dualad.jacobian, tape.jacobian):
        J = engine(lambda v: f(v) * np.float32(2), x)
        assert J.dtype == np.float32
        np.testing.assert_allclose(J, np.diag(2 * np.cos(X)), rtol=1e-6)
    wide = _rule(lambda p, t: (np.sin(p[0]), np.cos(p[0]).astype(np.float64) * t[0]))
    with pytest.raises(dualad.CustomRuleError, match="float64 but the value has dtype float32"):
        dualad.jacobian(wide, x)


def test_against_jax_custom_jvp():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    @jax.custom_jvp
    def jf(x, y):
        return jnp.sin(x) * y

    @jf.defjvp
    def jf_jvp(p, t):
        (x, y), (tx, ty) = p, t
        return jf(x, y), jnp.cos(x) * y * tx + jnp.sin(x) * ty

    def jg(v):
        return jf(v, Y) ** 2 + jf(Y, v) * v[0]

    np.testing.assert_allclose(dualad.jacobian(_g, X), np.asarray(jax.jacfwd(jg)(X)), rtol=1e-13)
    np.testing.assert_allclose(tape.grad(lambda v: np.sum(_g(v)), X),
                               np.asarray(jax.grad(lambda v: jnp.sum(jg(v)))(X)), rtol=1e-13)


# --------------------------------------------------------------------------- errors
def _rule(jvp):
    @dualad.custom_jvp
    def f(x):
        return np.sin(x)
    f.defjvp(jvp)
    return f


@pytest.mark.parametrize("bad, match", [
    (lambda p, t: (np.sin(p[0]), t[0][:-1]), r"shape \(2,\) but should have shape \(3,\)"),
    (lambda p, t: (np.sin(p[0]), t[0].astype(complex)), r"complex"),
    (lambda p, t: np.sin(p[0]), r"pair \(primal_out, tangent_out\)"),
    (lambda p, t: (np.sin(p[0])[:1], t[0]), r"primal output of the JVP rule has shape"),
])
def test_bad_jvp_rules_raise_naming_function_and_rule(bad, match):
    f = _rule(bad)
    for engine in (dualad.jacobian, tape.jacobian):
        with pytest.raises(dualad.DualadError, match=match) as err:
            engine(f, X)
        assert str(err.value).startswith("f (JVP rule <lambda>): ") and "remedy: " in str(err.value)


def test_misuse_errors():
    @dualad.custom_jvp
    def bare(x):
        return x
    with pytest.raises(dualad.CustomRuleError, match=r"bare .*no derivative rule.*defjvp"):
        dualad.jacobian(bare, X)
    with pytest.raises(dualad.CustomRuleError, match=r"bare .*no derivative rule"):
        tape.grad(lambda v: np.sum(bare(v)), X)
    assert bare(3.0) == 3.0  # plain values: the function itself

    @dualad.custom_jvp(nondiff_argnums=(1,))
    def h(x, n):
        return x * n
    h.defjvp(lambda n, p, t: (p[0] * n, t[0] * n))
    with pytest.raises(dualad.CustomRuleError, match=r"argument 1 is in nondiff_argnums"):
        dualad.jacobian(lambda v: h(v, v), X)

    # a keyword naming a positional parameter is bound to its position and differentiated
    np.testing.assert_allclose(dualad.jacobian(lambda v: sin_times(X, y=v), X), np.diag(np.sin(X)), rtol=1e-15)

    @dualad.custom_jvp(nondiff_argnums=())
    def kwonly(x, *, scale):
        return x * scale
    kwonly.defjvp(lambda p, t: (p[0], t[0]))
    with pytest.raises(dualad.CustomRuleError, match=r"keyword argument 'scale' is differentiable"):
        dualad.jacobian(lambda v: kwonly(X, scale=v), X)
    with pytest.raises(dualad.CustomRuleError, match=r"keyword-only arguments \['scale'\].*nondiff_argnums"):
        dualad.jacobian(lambda v: kwonly(v, scale=2.0), X)

    @dualad.custom_vjp
    def w(x):
        return 2 * x
    w.defvjp(lambda x: (2 * x, None), lambda r, g: (2 * g, g))  # one cotangent too many
    with pytest.raises(dualad.CustomRuleError, match=r"bwd rule returned .*1 cotangent"):
        tape.grad(lambda v: np.sum(w(v)), X)


def test_check_rule_catches_wrong_and_nonlinear_rules():
    report = check_rule(sin_times, (X, Y))
    assert report.passed and len(report.checks) >= 6

    wrong = _rule(lambda p, t: (np.sin(p[0]), np.sin(p[0]) * t[0]))  # the derivative of sin is not sin
    with pytest.raises(AssertionError, match="FAIL"):
        check_rule(wrong, (X,))
    nonlinear = _rule(lambda p, t: (np.sin(p[0]), np.cos(p[0]) * t[0] + 1e-3 * t[0] ** 2))
    with pytest.raises(AssertionError, match="JVP linear in the tangents .*FAIL"):
        check_rule(nonlinear, (X,), rtol=1e-2, atol=1e-2)
    with pytest.raises(dualad.InputError):
        check_rule(np.sin, (X,))
