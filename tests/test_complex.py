"""Complex values and numpy.fft: dualad's convention (JAX's) in forward mode, reverse mode and sparsity.

References are independent of the code under test: JAX 0.10.2 (float64), central finite
differences of the same numpy code, hand-derived Wirtinger formulas, and the PyTorch
numbers measured in /work/shared/references.md (PyTorch's gradient is JAX's conjugate).
The README's convention tables are tested here, row by row.
"""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import InputError, NonHolomorphicError, OutputError, UnsupportedFunctionError

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RNG = np.random.default_rng(15)


def _c(*shape):
    return RNG.normal(size=shape) + 1j * RNG.normal(size=shape)


def _fd_complex(f, z, v, h=1e-6):
    """Central difference of f at z along the complex direction v (the real-linear map's value at v)."""
    return (np.asarray(f(z + h * v)) - np.asarray(f(z - h * v))) / (2 * h)


def _vjp_fd(f, z, u, h=1e-6):
    """The cotangent of z under the convention, from central differences of f alone:
    vjp(u)_j = Re sum(u * df(e_j)) - i Re sum(u * df(i e_j)) (real z: the real part only)."""
    z = np.asarray(z)
    out = np.zeros(z.shape, complex if np.iscomplexobj(z) else float)
    for j in range(z.size):
        e = np.zeros(z.size)
        e[j] = 1.0
        e = e.reshape(z.shape)
        out.flat[j] = np.real(np.sum(u * _fd_complex(f, z, e, h)))
        if np.iscomplexobj(z):
            out.flat[j] -= 1j * np.real(np.sum(u * _fd_complex(f, z, 1j * e, h)))
    return out


def _real_jacobian_fd(f, x, h=1e-6):
    x = np.asarray(x, float)
    cols = [(np.asarray(f(x + h * e)) - np.asarray(f(x - h * e))) / (2 * h) for e in np.eye(x.size)]
    return np.stack(cols, -1).reshape(np.shape(f(x)) + x.shape)


# ----------------------------------------------------------------------------- the README's tables
def test_table_r_to_c_to_r_equals_central_differences():
    x = np.array([1.0, 2.0, 0.5, -1.0, 0.3])
    f = lambda v: np.abs(np.fft.fft(v))  # noqa: E731
    ref = _real_jacobian_fd(f, x)
    np.testing.assert_allclose(dualad.jacobian(f, x), ref, atol=1e-7)
    np.testing.assert_allclose(tape.jacobian(f, x), ref, atol=1e-7)


@pytest.mark.parametrize("name, f, fz, fzbar", [
    ("abs", np.abs, lambda z: np.conj(z) / (2 * abs(z)), lambda z: z / (2 * abs(z))),
    ("conj", np.conj, lambda z: 0 * z, lambda z: 1 + 0 * z),
    ("real", np.real, lambda z: 0.5 + 0 * z, lambda z: 0.5 + 0 * z),
    ("imag", np.imag, lambda z: -0.5j + 0 * z, lambda z: 0.5j + 0 * z),
    ("angle", np.angle, lambda z: -1j / (2 * z), lambda z: 1j / (2 * np.conj(z))),
    ("z*conj(z)", lambda z: z * np.conj(z), lambda z: np.conj(z), lambda z: z),
    ("exp", np.exp, np.exp, lambda z: 0 * z),
])
def test_table_c_to_c_jvp_is_the_real_linear_map(name, f, fz, fzbar):
    z, v = _c(3), _c(3)
    got = dualad.jvp(f, z, v)[1]
    want = fz(z) * v + fzbar(z) * np.conj(v)  # df = f_z dz + f_zbar conj(dz), by hand
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(got, _fd_complex(f, z, v), atol=1e-7)


def test_table_holomorphic_jacobian_and_its_refusal():
    z = _c(3)
    f = lambda w: np.exp(w) * w ** 2  # noqa: E731
    want = np.asarray(jax.jacfwd(lambda w: jnp.exp(w) * w ** 2, holomorphic=True)(jnp.asarray(z)))
    np.testing.assert_allclose(dualad.jacobian(f, z, holomorphic=True), want, atol=1e-12)
    np.testing.assert_allclose(tape.jacobian(f, z, holomorphic=True), want, atol=1e-12)
    np.testing.assert_allclose(dualad.derivative(lambda w: w ** 3, 1 + 2j, holomorphic=True), 3 * (1 + 2j) ** 2)
    for bad in (np.abs, np.conj, np.real, np.imag, np.angle, lambda w: w * np.conj(w)):
        for jac in (dualad.jacobian, tape.jacobian):
            with pytest.raises(NonHolomorphicError, match="remedy"):
                jac(lambda w: bad(w) * w, z, holomorphic=True)


def test_table_complex_input_without_holomorphic_names_the_option():
    z = _c(2)
    for call in (lambda: dualad.jacobian(np.exp, z), lambda: tape.jacobian(np.exp, z),
                 lambda: dualad.derivative(np.exp, 1j)):
        with pytest.raises(InputError, match="holomorphic=True"):
            call()
    with pytest.raises(InputError, match=r"holomorphic=True\) needs a complex x"):
        dualad.jacobian(np.exp, np.ones(2), holomorphic=True)


@pytest.mark.parametrize("f, jf, pytorch", [
    (lambda z: np.abs(z) ** 2, lambda z: jnp.abs(z) ** 2, 2 + 4j),  # references.md: PyTorch 2+4j
    (lambda z: np.real(z) * np.imag(z), lambda z: jnp.real(z) * jnp.imag(z), 2 + 1j),  # PyTorch 2+1j
])
def test_table_reverse_c_to_r_is_jax_convention(f, jf, pytorch):
    z = 1 + 2j
    g = tape.grad(f, np.array(z))
    assert g == pytest.approx(complex(jax.grad(jf)(z)))
    assert g == pytest.approx(np.conj(pytorch))  # PyTorch's gradient is the conjugate


def test_table_forward_and_reverse_agree_through_the_real_jacobian():
    z = _c(3)
    f = lambda w: np.abs(np.fft.fft(w * np.conj(w[::-1]))) + np.angle(w) * np.real(w)  # noqa: E731
    # the 2m x 2n real Jacobian's columns from forward mode, its rows from reverse mode
    Jx = np.stack([dualad.jvp(f, z, e.astype(complex))[1] for e in np.eye(3)], -1)
    Jy = np.stack([dualad.jvp(f, z, 1j * e)[1] for e in np.eye(3)], -1)
    rows = np.stack([tape.vjp(f, z, e)[1] for e in np.eye(3)])
    np.testing.assert_allclose(rows, Jx - 1j * Jy, atol=1e-12)  # reverse: dL/dx - i dL/dy
    np.testing.assert_allclose(Jx, _real_jacobian_fd(lambda x: f(x + 1j * z.imag), z.real), atol=1e-6)


# ----------------------------------------------------------------------------- arithmetic and elementwise
def test_complex_constants_times_real_duals():
    x = np.array([0.5, 1.5])
    for f in (lambda v: np.abs(v * 1j + 2), lambda v: np.real(v * np.complex128(1 - 2j) * v),
              lambda v: np.imag(np.exp(1j * v)), lambda v: np.abs(v.astype(complex) ** 2 + 1j * v)):
        np.testing.assert_allclose(dualad.jacobian(f, x), _real_jacobian_fd(f, x), atol=1e-7)
        np.testing.assert_allclose(tape.jacobian(f, x), _real_jacobian_fd(f, x), atol=1e-7)


_UNARY = ["exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan",
          "arcsinh", "arccosh", "arctanh", "log1p", "expm1", "log2", "log10", "exp2", "square", "reciprocal",
          "negative", "conjugate", "absolute", "real", "imag", "angle"]


# JAX for a representative few (its per-call cost is high); central differences for every one.
# arccosh is not among them: JAX's 1/sqrt(z*z-1) has the other sign where Re z < 0 (numpy's branch
# and the differences agree with dualad's 1/(sqrt(z-1) sqrt(z+1)))
_VS_JAX = {"exp", "absolute", "conjugate", "real", "imag", "angle"}


@pytest.mark.parametrize("name", _UNARY)
def test_elementwise_in_both_modes(name):
    z = np.array([0.7 + 0.4j, -0.3 + 1.1j, 1.4 - 0.6j, -0.8 - 0.9j])
    v = _c(4)
    f = getattr(np, name)
    u = _c(4) if np.iscomplexobj(f(z)) else RNG.normal(size=4)
    tangent, cotangent = dualad.jvp(f, z, v)[1], tape.vjp(f, z, u)[1]
    np.testing.assert_allclose(tangent, _fd_complex(f, z, v), atol=1e-7)  # numpy's own branches
    np.testing.assert_allclose(cotangent, _vjp_fd(f, z, u), atol=1e-7)
    if name in _VS_JAX:
        jf = getattr(jnp, name)
        np.testing.assert_allclose(tangent, np.asarray(jax.jvp(jf, (jnp.asarray(z),), (jnp.asarray(v),))[1]),
                                   atol=1e-10)
        np.testing.assert_allclose(cotangent, np.asarray(jax.vjp(jf, jnp.asarray(z))[1](jnp.asarray(u))[0]),
                                   atol=1e-10)


@pytest.mark.parametrize("f, jf", [
    (lambda a, b: a ** b, lambda a, b: a ** b),
    (lambda a, b: a / b, lambda a, b: a / b),
    (lambda a, b: np.abs(a) * b - a, lambda a, b: jnp.abs(a) * b - a),
    (lambda a, b: a.reshape(2, 2) @ b.reshape(2, 2), lambda a, b: a.reshape(2, 2) @ b.reshape(2, 2)),
])
def test_binary_and_matmul_match_jax(f, jf):
    z = np.array([0.7 + 0.4j, -0.3 + 1.1j, 1.4 - 0.6j, -0.8 - 0.9j])
    g = lambda w: f(w, w[::-1] + 2)  # noqa: E731
    jg = lambda w: jf(w, w[::-1] + 2)  # noqa: E731
    v, u = _c(4), _c(*np.shape(g(z)))
    np.testing.assert_allclose(dualad.jvp(g, z, v)[1], np.asarray(jax.jvp(jg, (jnp.asarray(z),),
                                                                         (jnp.asarray(v),))[1]), atol=1e-10)
    np.testing.assert_allclose(tape.vjp(g, z, u)[1], np.asarray(jax.vjp(jg, jnp.asarray(z))[1](jnp.asarray(u))[0]),
                               atol=1e-10)


def test_non_ready_rules_refuse_complex_values():
    z = _c(4)
    for f in (lambda w: np.maximum(w, 0.5), lambda w: np.sign(w), lambda w: np.var(w), lambda w: np.vdot(w, w),
              lambda w: np.max(w), lambda w: np.linalg.cholesky(np.outer(w, np.conj(w)) + np.eye(4)), lambda w: np.sort(w)):
        for run in (lambda g: dualad.jvp(g, z, z), lambda g: tape.vjp(g, z, np.ones_like(g(z)))):
            with pytest.raises(UnsupportedFunctionError, match="complex"):
                run(f)


def test_reverse_needs_a_real_output():
    with pytest.raises(OutputError, match="complex"):
        tape.grad(lambda v: np.sum(v * 1j), np.ones(2))
    with pytest.raises(OutputError, match="holomorphic=True"):
        tape.jacobian(lambda v: v * 1j, np.ones(2))
    # forward mode of an R -> C function: the complex Jacobian d Re + i d Im (as JAX's jacfwd)
    np.testing.assert_allclose(dualad.jacobian(lambda v: v * 1j, np.ones(2)), 1j * np.eye(2))


# ----------------------------------------------------------------------------- numpy.fft
_NORMS = [None, "ortho", "forward"]

_FFT_CASES = [  # (name, numpy function, jax function, input kind, kwargs)
    ("fft", np.fft.fft, jnp.fft.fft, "c", {}),
    ("fft_n_pad", np.fft.fft, jnp.fft.fft, "c", {"n": 9}),
    ("fft_n_cut_axis0", np.fft.fft, jnp.fft.fft, "c", {"n": 3, "axis": 0}),
    ("ifft", np.fft.ifft, jnp.fft.ifft, "c", {}),
    ("ifft_n_axis0", np.fft.ifft, jnp.fft.ifft, "c", {"n": 6, "axis": 0}),
    ("rfft", np.fft.rfft, jnp.fft.rfft, "r", {}),
    ("rfft_n_odd", np.fft.rfft, jnp.fft.rfft, "r", {"n": 7}),
    ("rfft_n_cut_axis0", np.fft.rfft, jnp.fft.rfft, "r", {"n": 3, "axis": 0}),
    ("irfft", np.fft.irfft, jnp.fft.irfft, "c", {}),
    ("irfft_n_odd", np.fft.irfft, jnp.fft.irfft, "c", {"n": 7}),
    ("irfft_n_pad", np.fft.irfft, jnp.fft.irfft, "c", {"n": 14}),
    ("irfft_axis0", np.fft.irfft, jnp.fft.irfft, "c", {"axis": 0}),
    ("hfft", np.fft.hfft, jnp.fft.hfft, "c", {}),
    ("hfft_n_odd", np.fft.hfft, jnp.fft.hfft, "c", {"n": 9}),
    ("ihfft", np.fft.ihfft, jnp.fft.ihfft, "r", {}),
    ("fft2", np.fft.fft2, jnp.fft.fft2, "c", {}),
    ("ifft2_s", np.fft.ifft2, jnp.fft.ifft2, "c", {"s": (3, 6)}),
    ("fftn", np.fft.fftn, jnp.fft.fftn, "c", {}),
    ("ifftn_axes", np.fft.ifftn, jnp.fft.ifftn, "c", {"axes": (0,)}),
    ("rfft2", np.fft.rfft2, jnp.fft.rfft2, "r", {}),
    ("rfftn_s", np.fft.rfftn, jnp.fft.rfftn, "r", {"s": (5, 4), "axes": (0, 1)}),
    ("irfft2", np.fft.irfft2, jnp.fft.irfft2, "c", {}),
    ("irfftn_s", np.fft.irfftn, jnp.fft.irfftn, "c", {"s": (4, 7), "axes": (0, 1)}),
    ("fftshift", np.fft.fftshift, jnp.fft.fftshift, "c", {}),
    ("ifftshift_axes", np.fft.ifftshift, jnp.fft.ifftshift, "c", {"axes": 1}),
]


# against JAX: one norm per transform (JAX's eager calls cost about a second each); every norm
# against the transform's own differences (a linear map: the differences are exact up to rounding)
_JAX_NORM = {"fft": "ortho", "rfft_n_odd": "forward", "irfft_n_odd": None, "irfft2": "ortho"}


@pytest.mark.parametrize("norm", _NORMS, ids=lambda n: str(n))
@pytest.mark.parametrize("name, f, jf, kind, kw", _FFT_CASES, ids=[c[0] for c in _FFT_CASES])
def test_fft_in_both_modes(name, f, jf, kind, kw, norm):
    if "shift" in name:
        if norm is not None:
            pytest.skip("fftshift has no norm")
        opts = kw
    else:
        opts = dict(kw, norm=norm)
    shape = (4, 5)
    x = _c(*shape) if kind == "c" else RNG.normal(size=shape)
    v = _c(*shape) if kind == "c" else RNG.normal(size=shape)
    g = lambda a: f(a, **opts)  # noqa: E731
    y = g(x)
    u = _c(*y.shape) if np.iscomplexobj(y) else RNG.normal(size=y.shape)
    value, tangent = dualad.jvp(g, x, v)
    cotangent = tape.vjp(g, x, u)[1]
    np.testing.assert_array_equal(value, y)
    np.testing.assert_allclose(tangent, _fd_complex(g, x, v, h=1.0), atol=1e-10)
    np.testing.assert_allclose(cotangent, _vjp_fd(g, x, u, h=1.0), atol=1e-10)
    if name in _JAX_NORM and _JAX_NORM[name] == norm:
        jg = lambda a: jf(a, **opts)  # noqa: E731
        want_t = np.asarray(jax.jvp(jg, (jnp.asarray(x),), (jnp.asarray(v),))[1])
        np.testing.assert_allclose(tangent, want_t, atol=1e-10)
        want_ct = np.asarray(jax.vjp(jg, jnp.asarray(x))[1](jnp.asarray(u))[0])
        np.testing.assert_allclose(cotangent, want_ct, atol=1e-10)


def test_fft_jvp_and_vjp_are_transposes_with_the_bilinear_pairing():
    # Re sum(u * J v) == Re sum(vjp(u) * v): the identity behind the convention (no conjugation)
    for f, kind in ((lambda a: np.fft.irfft(a, 7, norm="ortho"), "c"), (lambda a: np.fft.rfftn(a, (3, 6), axes=(0, 1)), "r")):
        x = _c(3, 4) if kind == "c" else RNG.normal(size=(3, 4))
        v = _c(3, 4) if kind == "c" else RNG.normal(size=(3, 4))
        y = f(x)
        u = _c(*y.shape) if np.iscomplexobj(y) else RNG.normal(size=y.shape)
        lhs = np.real(np.sum(u * dualad.jvp(f, x, v)[1]))
        rhs = np.real(np.sum(tape.vjp(f, x, u)[1] * v))
        assert lhs == pytest.approx(rhs, rel=1e-12)


def test_fftfreq_with_a_differentiable_spacing():
    d = 0.25
    f = lambda dd: np.fft.fftfreq(8, dd)  # noqa: E731
    np.testing.assert_allclose(dualad.derivative(f, d), -np.fft.fftfreq(8, 1.0) / d ** 2)
    np.testing.assert_allclose(dualad.derivative(lambda dd: np.fft.rfftfreq(8, dd), d), -np.fft.rfftfreq(8) / d ** 2)


def test_spectral_derivative_of_a_real_field():
    # u_x by FFT: the Jacobian is the (real) spectral differentiation matrix, checked against FD
    n = 8
    k = 2j * np.pi * np.fft.fftfreq(n, 1.0 / n)
    f = lambda u: np.real(np.fft.ifft(k * np.fft.fft(u))) * u  # noqa: E731
    u = np.sin(np.linspace(0, 2 * np.pi, n, endpoint=False)) + 0.1
    for jac in (dualad.jacobian, tape.jacobian):
        np.testing.assert_allclose(jac(f, u), _real_jacobian_fd(f, u), atol=1e-6)


# ----------------------------------------------------------------------------- the sparsity tracer
def test_sparsity_through_complex_intermediates():
    n = 6
    f = lambda v: np.abs(v[:-1] * 1j + v[1:]) ** 2  # noqa: E731
    pattern = dualad.jacobian_sparsity(f, np.arange(1.0, n + 1))
    want = (np.abs(_real_jacobian_fd(f, np.arange(1.0, n + 1))) > 0).astype(int)
    np.testing.assert_array_equal(pattern.toarray() != 0, want != 0)
    dense = dualad.jacobian_sparsity(lambda v: np.abs(np.fft.fft(v)), np.ones(4) + np.arange(4))
    assert dense.nnz == 16


# ----------------------------------------------------------------------------- complex linear algebra
_A4 = np.array([[0.9, -1.2, 0.3, 0.5], [0.8, 0.4, -0.7, 0.2], [-0.3, 0.6, 1.1, -0.9], [0.2, -0.5, 0.4, 0.7]])
_Z3 = np.array([[1.0 + 0.5j, 0.3 - 0.2j, -0.4 + 0.1j], [0.2 + 0.7j, -0.8 + 0.3j, 0.5 - 0.6j],
                [-0.1 - 0.4j, 0.6 + 0.2j, 1.3 - 0.5j]])
_H3 = _Z3 + np.conj(_Z3.T)
_B43 = np.vstack([_Z3, [[0.3 - 0.1j, -0.2 + 0.9j, 0.4 + 0.4j]]])

_LINALG = [  # (name, f, point): values and vectors in numpy's (LAPACK's) normalisation
    ("eigvals-real-nonsymmetric", np.linalg.eigvals, _A4),
    ("eig-values", lambda a: np.linalg.eig(a)[0], _A4),
    ("eig-vectors", lambda a: np.linalg.eig(a)[1], _A4),
    ("eig-complex-vectors", lambda a: np.linalg.eig(a)[1], _Z3),
    ("eigh-hermitian-values", lambda a: np.linalg.eigh(a)[0], _H3),
    ("eigh-hermitian-vectors", lambda a: np.linalg.eigh(a)[1], _H3),
    ("eigh-hermitian-upper", lambda a: np.linalg.eigh(a, UPLO="U")[1], _H3),
    ("eigvalsh-hermitian", np.linalg.eigvalsh, _H3),
    ("svd-complex-U", lambda a: np.linalg.svd(a, full_matrices=False)[0], _B43),
    ("svd-complex-s", lambda a: np.linalg.svd(a, full_matrices=False)[1], _B43),
    ("svd-complex-square-full", lambda a: np.linalg.svd(a)[2], _Z3),
    ("svd-complex-Vh-wide", lambda a: np.linalg.svd(a.T, full_matrices=False)[2], _B43),
    ("svdvals-complex", np.linalg.svdvals, _B43),
    ("slogdet-sign", lambda a: np.linalg.slogdet(a)[0], _Z3),
    ("slogdet-logabs", lambda a: np.linalg.slogdet(a)[1], _Z3),
    ("solve", lambda a: np.linalg.solve(a, np.array([1.0, 2j, -1.0])), _Z3),
    ("inv", np.linalg.inv, _Z3),
    ("det", np.linalg.det, _Z3),
    ("matmul", lambda a: a @ a.T, _Z3),
]


@pytest.mark.parametrize("name, f, a", _LINALG, ids=[c[0] for c in _LINALG])
def test_complex_linalg_in_both_modes(name, f, a):
    v = RNG.normal(size=a.shape) + (1j * RNG.normal(size=a.shape) if np.iscomplexobj(a) else 0)
    if "hermitian" in name:
        v = v + np.conj(v.T)  # stay Hermitian, as numpy's one-triangle read does anyway
    y = f(a)
    u = RNG.normal(size=np.shape(y)) + (1j * RNG.normal(size=np.shape(y)) if np.iscomplexobj(y) else 0)
    np.testing.assert_allclose(dualad.jvp(f, a, v)[1], _fd_complex(f, a, v), atol=1e-7)
    np.testing.assert_allclose(tape.vjp(f, a, u)[1], _vjp_fd(f, a, u), atol=1e-7)


@pytest.mark.parametrize("f, jf", [
    (np.linalg.eigvals, jnp.linalg.eigvals),
    (lambda a: np.linalg.slogdet(a)[1], lambda a: jnp.linalg.slogdet(a)[1]),
    (lambda a: np.linalg.inv(a) @ a.T, lambda a: jnp.linalg.inv(a) @ a.T),
], ids=["eigvals", "slogdet", "inv"])
def test_complex_linalg_matches_jax(f, jf):
    a = _Z3
    v = RNG.normal(size=a.shape) + 1j * RNG.normal(size=a.shape)
    y = f(a)
    u = RNG.normal(size=np.shape(y)) + (1j * RNG.normal(size=np.shape(y)) if np.iscomplexobj(y) else 0)
    order = np.argsort(np.asarray(jf(jnp.asarray(a)))) if f is np.linalg.eigvals else None
    mine_t, mine_ct = dualad.jvp(f, a, v)[1], tape.vjp(f, a, u)[1]
    want_t = np.asarray(jax.jvp(jf, (jnp.asarray(a),), (jnp.asarray(v),))[1])
    if order is not None:  # JAX and numpy list the eigenvalues in the same LAPACK order; check it
        np.testing.assert_allclose(np.asarray(jf(jnp.asarray(a))), y, atol=1e-12)
    np.testing.assert_allclose(mine_t, want_t, atol=1e-10)
    want_ct = np.asarray(jax.vjp(jf, jnp.asarray(a))[1](jnp.asarray(u))[0])
    np.testing.assert_allclose(mine_ct, want_ct, atol=1e-10)


def test_complex_linalg_degeneracy_raises():
    from dualad.errors import DegeneracyError
    repeated = np.diag([2.0, 2.0, 1.0]) + np.triu(np.ones((3, 3)), 1)  # a defective double eigenvalue
    for f in (np.linalg.eigvals, lambda a: np.linalg.eig(a)[1]):
        with pytest.raises(DegeneracyError, match="remedy"):
            dualad.jacobian(f, repeated)
    herm = np.diag([1.0, 1.0, 3.0]).astype(complex)
    with pytest.raises(DegeneracyError, match="remedy"):
        dualad.jvp(lambda a: np.linalg.eigh(a)[1], herm, herm)
    np.testing.assert_allclose(dualad.jvp(np.linalg.eigvalsh, herm, np.eye(3) + 0j)[1], np.ones(3))  # values: fine
    with pytest.raises(UnsupportedFunctionError, match="full_matrices=False"):
        dualad.jvp(lambda a: np.linalg.svd(a)[0], _B43, _B43)


# ----------------------------------------------------------------------------- check_grad
def test_check_grad_on_complex_intermediates_and_complex_inputs():
    from dualad.testing import assert_derivatives_close
    x = np.array([0.3, -1.2, 0.8, 0.5])
    report = assert_derivatives_close(lambda v: np.abs(np.fft.fft(v * np.exp(1j * v))) ** 2 + np.fft.irfft(np.fft.rfft(v) * 1j, 4), x)
    assert report.passed
    z = np.array([0.4 + 0.3j, -0.7 + 1.1j])
    report = dualad.check_grad(lambda w: np.abs(np.exp(w) * np.conj(w)) + np.angle(w), z)  # complex x
    assert report.passed and report.x_shape == (2, 2)
    report = dualad.check_grad(lambda w: np.fft.fft(w * w), z)  # complex x and output: (Re, Im) pairs
    assert report.passed
