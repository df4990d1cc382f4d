"""dualad.scipy.integrate: solve_ivp sensitivities against closed forms (y' = A y: expm(A t)) and central
differences of tightly solved ODEs (Lotka-Volterra, Robertson), in both modes and nested; quadrature mirrors
against scipy's values and hand-derived weights."""
import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.checking import central_differences

si = pytest.importorskip("scipy.integrate")
sl = pytest.importorskip("scipy.linalg")
from dualad.scipy import integrate as di  # noqa: E402

A = np.array([[-1.0, 2.0], [-3.0, -0.5]])
Y0 = np.array([1.0, 0.5])
TIMES = np.array([0.5, 2.0])


def _linear(method):
    def y_at(y0):
        return di.solve_ivp(lambda t, y: A @ y, (0.0, 2.0), y0, method=method, t_eval=TIMES,
                            rtol=1e-8, atol=1e-10).y
    return y_at


# (Radau at tight tolerances takes thousands of steps even on plain floats: forward mode only, to stay lean)
@pytest.mark.parametrize("method, mode", [(m, d) for m in ("RK45", "DOP853", "BDF", "LSODA") for d in
                                          ("forward", "reverse")] + [("Radau", "forward")])
def test_linear_ode_sensitivity_is_expm(method, mode):
    jac = dualad.jacobian if mode == "forward" else tape.jacobian
    J = jac(_linear(method), Y0)  # (2, len(TIMES), 2)
    for i, t in enumerate(TIMES):
        np.testing.assert_allclose(J[:, i, :], sl.expm(A * t), rtol=1e-5, atol=1e-6)
    plain = si.solve_ivp(lambda t, y: A @ y, (0.0, 2.0), Y0, method=method, t_eval=TIMES, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(_linear(method)(Y0), plain.y, rtol=0, atol=0)


def lotka_volterra(t, y, a, b, c, d):
    return np.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])


def _lv(p, solver=di.solve_ivp):
    return solver(lotka_volterra, (0.0, 2.0), p[:2], args=tuple(p[2:]), t_eval=np.linspace(0.0, 2.0, 3),
                  method="DOP853", rtol=1e-12, atol=1e-12).y


P_LV = np.array([1.0, 0.5, 1.5, 1.0, 1.0, 3.0])


def test_lotka_volterra_against_central_differences_both_modes():
    J_fd = central_differences(lambda p: _lv(p, si.solve_ivp), P_LV)[0]
    scale = np.abs(J_fd).max()
    for J in (dualad.jacobian(_lv, P_LV), tape.jacobian(_lv, P_LV), dualad.jacobian(_lv, P_LV, chunk_size=3)):
        np.testing.assert_allclose(J, J_fd, rtol=1e-6, atol=1e-8 * scale)


def robertson(t, y, k1, k2, k3):
    return np.stack([-k1 * y[0] + k3 * y[1] * y[2],
                     k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2],
                     k2 * y[1] ** 2])


def _rob(k, solver=di.solve_ivp, method="BDF"):
    return solver(robertson, (0.0, 4.0), np.array([1.0, 0.0, 0.0]), args=tuple(k), method=method,
                  t_eval=[4.0], rtol=1e-8, atol=[1e-12, 1e-16, 1e-12]).y[:, -1]


K = np.array([0.04, 3e7, 1e4])


@pytest.mark.parametrize("method", ["BDF", "LSODA"])
def test_robertson_stiff_against_central_differences(method):
    J_fd = central_differences(lambda k: _rob(k, si.solve_ivp, method), K, rel_step=1e-4)[0]
    J = dualad.jacobian(lambda k: _rob(k, method=method), K)
    scale = np.abs(J_fd)
    np.testing.assert_allclose(J, J_fd, rtol=2e-4, atol=1e-12 * scale.max())
    if method == "BDF":
        np.testing.assert_allclose(tape.jacobian(lambda k: _rob(k, method=method), K), J, rtol=1e-6,
                                   atol=1e-14 * scale.max())


def test_augmented_jacobian_is_exact_block_structure():
    # what stiff methods get for z = [y, vec(S)]: [[J, 0], [d(J S + f_p T)/dy, J (x) I_k]]
    k = 2
    rhs = di.augmented_rhs(robertson, 3, k, 3, [0, 2])  # directions in k1 and k3
    y = np.array([0.9, 1e-5, 0.1])
    S = np.arange(6.0).reshape(3, k) * 0.1
    T = (np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    z = np.concatenate([y, S.reshape(-1)])
    J = di.augmented_jacobian(rhs)(0.0, z, *K, *T)
    J_fd = central_differences(lambda w: rhs(0.0, w, *K, *T), z, rel_step=1e-6)[0]
    np.testing.assert_allclose(J, J_fd, rtol=1e-5, atol=1e-6 * np.abs(J_fd).max())
    Jy = dualad.jacobian(lambda v: robertson(0.0, v, *K), y)
    np.testing.assert_allclose(J[:3, :3], Jy, rtol=1e-14)
    np.testing.assert_allclose(J[3:, 3:], np.kron(Jy, np.eye(k)), rtol=1e-14)
    assert not J[:3, 3:].any() and J[3:, :3].any()
    # and the sensitivity part of rhs is f_y S + f_p T
    f_p = dualad.jacobian(lambda kk: robertson(0.0, y, *kk), K)
    expected = Jy @ S + f_p[:, [0, 2]] @ np.eye(2)
    np.testing.assert_allclose(rhs(0.0, z, *K, *T)[3:].reshape(3, k), expected, rtol=1e-14)


def test_nested_second_derivatives():
    # y' = -a y^2, y(0) = 1: y(1) = 1 / (1 + a); d2/da2 = 2 / (1 + a)^3
    def y1(a):
        return di.solve_ivp(lambda t, y, a: -a * y ** 2, (0.0, 1.0), np.array([1.0]), args=(a,), t_eval=[1.0],
                            rtol=1e-11, atol=1e-12).y[0, 0]

    a = 0.5
    assert float(dualad.hessian(y1, a)) == pytest.approx(2 / 1.5 ** 3, rel=1e-7)
    assert float(dualad.derivative(lambda a: tape.grad(y1, a), a)) == pytest.approx(2 / 1.5 ** 3, rel=1e-7)
    assert float(dualad.hvp(y1, np.array(a), np.array(1.0))) == pytest.approx(2 / 1.5 ** 3, rel=1e-7)


def test_dense_output_and_default_times():
    def decay(a, t):
        res = di.solve_ivp(lambda t, y, a: -a * y, (0.0, 1.0), np.array([2.0]), args=(a,), dense_output=True,
                           rtol=1e-11, atol=1e-12)
        return res.sol(t)[0]

    t = np.array([0.25, 0.8])
    np.testing.assert_allclose(dualad.jacobian(lambda a: decay(a, t), 0.7), -2 * t * np.exp(-0.7 * t), rtol=1e-7)
    np.testing.assert_allclose(tape.jacobian(lambda a: decay(a, t), 0.7), -2 * t * np.exp(-0.7 * t), rtol=1e-7)
    res = di.solve_ivp(lambda t, y, a: -a * y, (0.0, 1.0), np.array([2.0]), args=(dualad.Dual(0.7, 1.0),),
                       rtol=1e-11, atol=1e-12)
    plain = si.solve_ivp(lambda t, y, a: -a * y, (0.0, 1.0), np.array([2.0]), args=(0.7,), rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(res.t, plain.t)
    np.testing.assert_allclose(res.y.tangent[0], -2 * plain.t * np.exp(-0.7 * plain.t), rtol=1e-7, atol=1e-12)
    assert res.success and res.nfev == plain.nfev


def test_refusals():
    f = lambda t, y, a: -a * y  # noqa: E731
    with pytest.raises(dualad.DualadError, match="events"):
        dualad.derivative(lambda a: di.solve_ivp(f, (0, 1), np.ones(1), args=(a,), events=lambda t, y, a: y[0]).y,
                          1.0)
    with pytest.raises(dualad.DualadError, match="t_span"):
        dualad.derivative(lambda T: di.solve_ivp(lambda t, y: -y, (0.0, T), np.ones(1)).y, 1.0)


# --------------------------------------------------------------------------- quadrature mirrors
X = np.array([0.0, 0.3, 0.5, 1.1, 1.6, 2.0])


@pytest.mark.parametrize("m", [5, 6])
def test_quadrature_values_equal_scipy_and_gradients(m):
    rng = np.random.default_rng(m)
    y = rng.standard_normal((2, m))
    x = X[:m]
    np.testing.assert_allclose(di.trapezoid(y, x), si.trapezoid(y, x), rtol=1e-14)
    np.testing.assert_allclose(di.trapezoid(y, dx=0.3), si.trapezoid(y, dx=0.3), rtol=1e-14)
    np.testing.assert_allclose(di.cumulative_trapezoid(y, x, initial=0), si.cumulative_trapezoid(y, x, initial=0),
                               rtol=1e-14)
    np.testing.assert_allclose(di.simpson(y, x=x), si.simpson(y, x=x), rtol=1e-13)
    # d/dy of each rule is its weight vector (linear in y): compare with central differences on scipy's own
    for ours, theirs in ((lambda v: di.simpson(v, x=x), lambda v: si.simpson(v, x=x)),
                         (lambda v: di.trapezoid(v, x), lambda v: si.trapezoid(v, x)),
                         (lambda v: di.cumulative_trapezoid(v, x), lambda v: si.cumulative_trapezoid(v, x))):
        J_fd = central_differences(theirs, y[0])[0]
        np.testing.assert_allclose(dualad.jacobian(ours, y[0]), J_fd, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(tape.jacobian(ours, y[0]), J_fd, rtol=1e-8, atol=1e-10)
    # trapezoid in the sample points too
    J_fd = central_differences(lambda s: si.trapezoid(y[0], s), x)[0]
    np.testing.assert_allclose(dualad.jacobian(lambda s: di.trapezoid(y[0], s), x), J_fd, rtol=1e-8, atol=1e-10)
    with pytest.raises(dualad.DualadError, match="simpson with a differentiable x"):
        dualad.jacobian(lambda s: di.simpson(y[0], x=s), x)
