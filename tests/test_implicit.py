"""Implicit differentiation (custom_root, fixed points, argmin) and the dualad.scipy.optimize mirrors,
against closed forms, central differences of tightly re-solved problems, and differentiation through
a hand-written Newton loop."""
import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.checking import central_differences

so = pytest.importorskip("scipy.optimize")
from dualad.scipy import optimize as do  # noqa: E402


def F(x, p):
    return np.stack([x[0] ** 3 + p[0] * x[1] - p[1], np.sin(x[1]) + x[0] * p[2] - 0.3])


def solve_plain(p):
    return so.root(F, np.array([0.5, 0.2]), args=(p,), tol=1e-14).x


P = np.array([1.5, 2.0, 0.7])
solve = dualad.custom_root(F)(solve_plain)


def _ift(p):
    """dx*/dp = -F_x^-1 F_p with F_x and F_p derived by hand."""
    x = solve_plain(p)
    Fx = np.array([[3 * x[0] ** 2, p[0]], [p[2], np.cos(x[1])]])
    Fp = np.array([[x[1], -1.0, 0.0], [0.0, 0.0, x[0]]])
    return -np.linalg.solve(Fx, Fp)


def newton_loop(p):
    """A hand-written Newton iteration, differentiated THROUGH its iterations."""
    x = dualad.zeros_like(p, shape=(2,)) + np.array([1.4, -0.8])  # near the root scipy finds
    for _ in range(30):
        x = x - np.linalg.solve(dualad.jacobian(lambda z: F(z, p), x), F(x, p))
    return x


@pytest.mark.parametrize("engine", ["forward", "reverse", "reverse chunk 1", "sparse"])
def test_custom_root_first_derivatives(engine):
    f = dualad.custom_root(F, sparse=True)(solve_plain) if engine == "sparse" else solve
    jac = dualad.jacobian if engine == "forward" else (
        lambda g, x: tape.jacobian(g, x, chunk_size=1)) if engine == "reverse chunk 1" else tape.jacobian
    J = jac(f, P) if engine != "sparse" else dualad.jacobian(f, P)
    np.testing.assert_allclose(J, _ift(P), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(J, central_differences(solve_plain, P)[0], rtol=1e-7, atol=1e-8)
    if engine == "sparse":
        np.testing.assert_allclose(tape.jacobian(f, P), J, rtol=1e-13, atol=1e-15)


def test_through_a_newton_loop_agrees():
    np.testing.assert_allclose(dualad.jacobian(newton_loop, P), dualad.jacobian(solve, P), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dualad.hessian(lambda p: newton_loop(p)[0], P),
                               dualad.hessian(lambda p: solve(p)[0], P), rtol=1e-9, atol=1e-11)


def test_custom_root_second_derivatives_every_nesting():
    def s(p):
        return np.sum(solve(p) ** 2)

    H_fd = central_differences(lambda q: _ift(q).T @ (2 * solve_plain(q)), P)[0]
    for H in (dualad.hessian(s, P), dualad.jacobian(lambda q: tape.grad(s, q), P),
              np.stack([dualad.hvp(s, P, e) for e in np.eye(3)], axis=1)):
        np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-7)


def test_sparse_solve_on_a_tridiagonal_system():
    n = 40

    def bratu(u, lam):  # -u'' = lam exp(u), Dirichlet
        h = 1.0 / (n + 1)
        up = np.concatenate([u[1:], np.zeros(1)])
        um = np.concatenate([np.zeros(1), u[:-1]])
        return (2 * u - up - um) / h ** 2 - lam * np.exp(u)

    def newton(lam):
        u = np.zeros(n)
        for _ in range(20):
            u = u - np.linalg.solve(dualad.jacobian(lambda z: bratu(z, lam), u), bratu(u, lam))
        return u

    dense = dualad.custom_root(bratu)(newton)
    sparse = dualad.custom_root(bratu, sparse=True)(newton)
    lam = np.array(1.0)
    d_dense = dualad.jacobian(dense, lam)
    np.testing.assert_allclose(dualad.jacobian(sparse, lam), d_dense, rtol=1e-12)
    np.testing.assert_allclose(tape.jacobian(sparse, lam), d_dense, rtol=1e-12)
    np.testing.assert_allclose(d_dense, central_differences(newton, lam)[0], rtol=1e-7)
    (sj,) = sparse._sparse_jacobians.values()
    assert sj.ncolors == 3  # one colouring, reused at every solution
    dualad.jacobian(sparse, np.array(1.2))
    assert len(sparse._sparse_jacobians) == 1


@pytest.mark.parametrize("sparse", [False, True])
def test_singular_and_ill_conditioned_jacobians_raise(sparse):
    singular = dualad.custom_root(lambda x, p: (x - p) ** 2, sparse=sparse)(lambda p: p.copy())
    for engine in (dualad.jacobian, tape.jacobian):
        with pytest.raises(dualad.CustomRuleError, match=r"singular \(condition number inf\).*remedy"):
            engine(singular, np.array([1.0, 2.0]))
    scale = np.array([1.0, 1e-14])
    ill = dualad.custom_root(lambda x, p: scale * (x - p), sparse=sparse)(lambda p: p.copy())
    with pytest.raises(dualad.CustomRuleError, match=r"ill-conditioned \(condition number 1e\+14"):
        dualad.jacobian(ill, np.array([1.0, 2.0]))
    ok = dualad.custom_root(lambda x, p: scale * (x - p), sparse=sparse, max_condition=1e15)(lambda p: p.copy())
    np.testing.assert_allclose(dualad.jacobian(ok, np.array([1.0, 2.0])), np.eye(2), rtol=1e-12)


def test_fixed_point_and_argmin():
    G = lambda x, a: np.cos(a * x)  # noqa: E731

    def iterate(a):
        x = 0.5
        for _ in range(300):
            x = np.cos(a * x)
        return np.array(x)

    fp = dualad.custom_fixed_point(G)(iterate)
    a = 0.8
    x = iterate(a)
    closed = -np.sin(a * x) * x / (1 + a * np.sin(a * x))
    for d in (dualad.derivative(fp, a), tape.grad(fp, a)):
        assert float(d) == pytest.approx(closed, rel=1e-12)

    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    L = lambda x, c: 0.5 * x @ A @ x - c @ x + 0.25 * np.sum(x ** 4)  # noqa: E731
    argmin = dualad.custom_argmin(L)(lambda c: so.minimize(L, np.zeros(2), args=(c,), method="BFGS", options={"gtol": 1e-12}).x)
    c = np.array([0.5, -1.0])
    xs = argmin(c)
    closed = np.linalg.inv(A + np.diag(3 * xs ** 2))  # dx*/dc = H^-1
    np.testing.assert_allclose(dualad.jacobian(argmin, c), closed, rtol=1e-9)
    np.testing.assert_allclose(tape.jacobian(argmin, c), closed, rtol=1e-9)


# --------------------------------------------------------------------------- the scipy mirrors
def _cube(x, a, b):
    return x ** 3 + a * x - b


def F_list(x, p):  # as scipy's documentation writes residuals: a list of expressions
    return [x[0] ** 3 + p[0] * x[1] - p[1], np.sin(x[1]) + x[0] * p[2] - 0.3]


MIRRORS = {
    "root": lambda m, p: m.root(F, np.array([0.5, 0.2]), args=(p,), tol=1e-14).x,
    "root jac=True": lambda m, p: m.root(lambda x, p: (F(x, p), dualad.jacobian(lambda z: F(z, p), x)),
                                         np.array([0.5, 0.2]), args=(p,), jac=True, tol=1e-14).x,
    "fsolve": lambda m, p: m.fsolve(F, np.array([0.5, 0.2]), args=(p,), xtol=1e-12),
    "fsolve full_output": lambda m, p: m.fsolve(F, np.array([0.5, 0.2]), args=(p,), xtol=1e-12, full_output=True)[0],
    "brentq": lambda m, p: m.brentq(_cube, 0.0, 5.0, args=(p[0], p[1]), xtol=1e-15),
    "newton": lambda m, p: m.newton(_cube, 1.0, args=(p[0], p[1]), tol=1e-15),
    "newton array": lambda m, p: m.newton(_cube, np.ones(2), args=(p[:2], p[1:]), tol=1e-15),
    "root of a list": lambda m, p: m.root(F_list, np.array([0.5, 0.2]), args=(p,), tol=1e-14).x,
    "fsolve of a list": lambda m, p: m.fsolve(F_list, np.array([0.5, 0.2]), args=(p,), xtol=1e-12),
    "root of a list, method lm": lambda m, p: m.root(F_list, np.array([0.5, 0.2]), args=(p,), method="lm",
                                                     tol=1e-14).x,
}


@pytest.mark.parametrize("name", MIRRORS)
def test_root_mirrors_both_modes_against_central_differences(name):
    call = MIRRORS[name]
    plain = call(do, P)
    expected = call(so, P)
    np.testing.assert_allclose(plain, expected, rtol=0, atol=0)  # plain args: scipy's own result
    J_fd = central_differences(lambda p: call(so, p), P)[0]
    for J in (dualad.jacobian(lambda p: call(do, p), P), tape.jacobian(lambda p: call(do, p), P)):
        np.testing.assert_allclose(J, J_fd, rtol=1e-7, atol=1e-9)


def test_brentq_closed_form_and_initial_bracket_has_no_derivative():
    cube_root = lambda p: do.brentq(lambda x, p: x ** 3 - p, 0.0, 10.0, args=(p,), xtol=1e-15)  # noqa: E731
    assert float(dualad.derivative(cube_root, 8.0)) == pytest.approx(1 / 12, rel=1e-13)
    assert float(tape.grad(cube_root, 8.0)) == pytest.approx(1 / 12, rel=1e-13)
    x0_only = lambda a: do.brentq(lambda x: x ** 3 - 8.0, a - 2.0, 10.0, xtol=1e-15)  # noqa: E731
    assert float(dualad.derivative(x0_only, 1.0)) == 0.0


def test_minimize_and_least_squares_closed_forms():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    B = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 2.0]])

    def quad(x, p):  # minimiser x* = A^-1 B p; minimum -1/2 (Bp)^T A^-1 (Bp)
        return 0.5 * x @ A @ x - (B @ p) @ x

    res = lambda p: do.minimize(quad, np.zeros(2), args=(p,), method="BFGS", options={"gtol": 1e-10})  # noqa: E731
    for jac in (dualad.jacobian, tape.jacobian):
        np.testing.assert_allclose(jac(lambda p: res(p).x, P), np.linalg.solve(A, B), rtol=1e-10)
    grad_min = -B.T @ np.linalg.solve(A, B @ P)
    np.testing.assert_allclose(tape.grad(lambda p: res(p).fun, P), grad_min, rtol=1e-7)

    M = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    t = np.arange(4.0)

    def resid(x, p):  # a straight-line fit to p0 + p1 t + p2 t^2
        return M @ x - (p[0] + p[1] * t + p[2] * t ** 2)

    ls = lambda p: do.least_squares(resid, np.zeros(2), args=(p,), xtol=1e-15, ftol=1e-15, gtol=1e-15)  # noqa
    basis = np.stack([np.ones(4), t, t ** 2], axis=1)
    closed = np.linalg.pinv(M) @ basis
    for jac in (dualad.jacobian, tape.jacobian):
        np.testing.assert_allclose(jac(lambda p: ls(p).x, P), closed, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dualad.jacobian(lambda p: ls(p).fun, P), M @ closed - basis, rtol=1e-9, atol=1e-12)
    plain = ls(P)
    assert isinstance(plain.x, np.ndarray) and plain.nfev == so.least_squares(
        resid, np.zeros(2), args=(P,), xtol=1e-15, ftol=1e-15, gtol=1e-15).nfev


def test_mirror_misuse_raises():
    quad = lambda x, p: np.sum((x - p) ** 2)  # noqa: E731
    cons = {"type": "eq", "fun": lambda x: x[0]}
    with pytest.raises(dualad.CustomRuleError, match="constraints"):
        dualad.jacobian(lambda p: do.minimize(quad, np.zeros(2), args=(p,), constraints=[cons]).x, P[:2])
    with pytest.raises(dualad.CustomRuleError, match="stopped on a bound"):
        dualad.jacobian(lambda p: do.minimize(quad, np.zeros(2), args=(p,), bounds=[(0, 1), (0, 1)]).x, P[:2])
    with pytest.raises(dualad.CustomRuleError, match="stopped on a bound"):
        dualad.jacobian(lambda p: do.least_squares(lambda x, p: x - p, np.zeros(2), args=(p,), bounds=(0, 1)).x,
                        P[:2])
    with pytest.raises(dualad.CustomRuleError, match="robust loss"):
        dualad.jacobian(lambda p: do.least_squares(lambda x, p: x - p, np.zeros(2), args=(p,), loss="soft_l1").x,
                        P[:2])
    with pytest.raises(dualad.CustomRuleError, match=r"max \|F\(x, \*args\)\| = .* not a solution"):
        dualad.jacobian(lambda p: do.root(lambda x, p: x ** 2 + p, np.ones(2), args=(p,)).x, P[:2])


def test_a_point_that_is_not_a_root_is_refused():
    stopped_early = dualad.custom_root(lambda x, p: x ** 2 - p)(lambda p: np.sqrt(p) + 1e-3)
    for engine in (dualad.jacobian, tape.jacobian):
        with pytest.raises(dualad.CustomRuleError, match=r"max \|F\(x, \*args\)\| = 0.00\d+ > residual_tol"):
            engine(stopped_early, np.array([4.0]))
    tolerant = dualad.custom_root(lambda x, p: x ** 2 - p, residual_tol=1e-2)(lambda p: np.sqrt(p) + 1e-3)
    assert dualad.jacobian(tolerant, np.array([4.0]))[0, 0] == pytest.approx(1 / (2 * 2.001), rel=1e-12)


def test_custom_root_of_a_residual_returning_a_list():
    solve_list = dualad.custom_root(F_list)(solve_plain)
    for J in (dualad.jacobian(solve_list, P), tape.jacobian(solve_list, P)):
        np.testing.assert_allclose(J, _ift(P), rtol=1e-9, atol=1e-12)
