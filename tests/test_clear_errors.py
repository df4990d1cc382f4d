"""Every failure a DualadError with a remedy (issue 12, section 3), and the edges that used to fail."""
from __future__ import annotations

import math
import operator
import statistics
import subprocess
import sys

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import ConversionError, DualadError, OutputError, UnsupportedFunctionError

from cases import central_jacobian

X = np.array([1.5, -0.5, 2.0])


def _engines():
    return [pytest.param(dualad.jacobian, id="forward"), pytest.param(tape.jacobian, id="reverse")]



@pytest.mark.parametrize("engine", _engines())
@pytest.mark.parametrize("f", [lambda x: x * (1 + 2j), lambda x: x + 1j, lambda x: 1j * x, lambda x: x[0] * 2j,
                               lambda x: np.multiply(x, 1j), lambda x: x - np.complex128(1j)],
                         ids=["mul", "add", "rmul", "scalar", "ufunc", "np.complex128"])
def test_complex_constants_give_complex_derivatives(engine, f):
    # once refused; now differentiated (issue 15): forward mode returns d Re + i d Im, reverse
    # mode differentiates the real part (a complex output needs tape.vjp or holomorphic=True)
    want = central_jacobian(lambda x: np.real(f(x)), X) + 1j * central_jacobian(lambda x: np.imag(f(x)), X)
    if engine is dualad.jacobian:
        np.testing.assert_allclose(engine(f, X), want, atol=1e-6)
    else:
        np.testing.assert_allclose(engine(lambda x: np.real(f(x)), X), want.real, atol=1e-6)
        np.testing.assert_allclose(engine(lambda x: np.imag(f(x)), X), want.imag, atol=1e-6)


@pytest.mark.parametrize("engine", _engines())
def test_floor_division_and_divmod(engine):
    for f in (lambda x: x // 0.7, lambda x: 2.5 // x, lambda x: divmod(x, 0.7)[0], lambda x: divmod(x, 0.7)[1],
              lambda x: divmod(3.0, x)[1]):
        x = np.array([1.3, -0.45, 2.2])  # away from the jumps
        np.testing.assert_allclose(f(dualad.Dual(x, np.zeros(3))).value, f(x))
        np.testing.assert_allclose(engine(f, x), central_jacobian(f, x), atol=1e-6)


@pytest.mark.parametrize("value", [dualad.Dual(np.array(1.5), np.array(1.0)),
                                   dualad.Dual(np.array([1.5, 2.0]), np.eye(2))], ids=["scalar", "vector"])
@pytest.mark.parametrize("call, error, needle", [
    (lambda d: pow(d, 2, 5), UnsupportedFunctionError, "(x ** y) % mod"),
    (lambda d: math.trunc(d), ConversionError, "np.trunc"),
    (lambda d: math.floor(d), ConversionError, "np.floor"),
    (lambda d: math.ceil(d), ConversionError, "np.ceil"),
    (lambda d: int(np.floor(d)), ConversionError, ".value"),
    (lambda d: statistics.mean([d, d]), ConversionError, "np.mean"),
])
def test_builtins_raise_dualad_errors(value, call, error, needle):
    if value.ndim and call.__code__.co_names and "int" in call.__code__.co_names:
        pytest.skip("int() of an array is numpy's TypeError as well")
    with pytest.raises(error, match="remedy") as info:
        call(value)
    assert needle in str(info.value)
    assert "use np.floor" not in str(info.value) or "math.floor" in str(info.value)


def test_format_specs_format_the_value():
    d = dualad.Dual(np.array(1.23456), np.array(1.0))
    assert f"{d:.3f}" == "1.235" and format(d, "8.2e") == format(1.23456, "8.2e")
    v = dualad.Dual(np.array([1.23456, 2.0]), np.eye(2))
    assert f"{v:.2f}" == "[1.23 2.00]"
    assert f"{d}" == str(d)
    g = tape.grad(lambda x: (lambda s: (f"{s:.1f}", s)[1])(np.sum(x ** 2)), np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_array_methods_on_differentiable_values():
    def f(x):
        y = x * 1.0
        order = y.argsort()
        taken = y.take([2, 0])
        y.sort()
        z = np.zeros_like(y)
        z.fill(y[0])
        assert y.any() and y.all() and not (y > 10).any()  # plain bools, as ndarray.any/all give
        return np.concatenate([y, taken, z, y[order]])
    want = central_jacobian(f, X)
    for engine in (dualad.jacobian, tape.jacobian):
        np.testing.assert_allclose(engine(f, X), want, atol=1e-8)


@pytest.mark.parametrize("engine", _engines())
def test_minpack_style_concatenate_with_inner_lists(engine):
    def residual(x):
        r = x[1:] - x[:-1] ** 2
        return np.concatenate([r, [x[0], x[1] - x[0] ** 2], (x[2] * 2,)])
    np.testing.assert_allclose(engine(residual, X), central_jacobian(residual, X), atol=1e-8)
    np.testing.assert_allclose(engine(lambda x: np.concatenate([x[:1], [x[1]]]), X), np.eye(3)[:2])
    np.testing.assert_allclose(engine(lambda x: np.stack([x[0], [x[1], x[2]][0]]), X), np.eye(3)[:2])


@pytest.mark.parametrize("engine", _engines())
def test_slice_assignment_of_a_list(engine):
    def f(x):
        z = np.zeros_like(x)
        z[0:2] = [x[0] * x[1], x[2]]
        z[2] = x[0]
        return z
    np.testing.assert_allclose(engine(f, X), central_jacobian(f, X), atol=1e-8)


def test_reverse_over_forward_with_indexing_and_assignment():
    def h(x):
        z = np.zeros_like(x)
        z[1] = x[0] * x[1]
        z[0] += x[2] ** 3
        return np.sum(z ** 2) + x[np.argmax(x)]
    H_rr = tape.jacobian(lambda x: dualad.gradient(h, x), X)
    np.testing.assert_allclose(H_rr, dualad.hessian(h, X), rtol=1e-12)
    np.testing.assert_allclose(H_rr, central_jacobian(lambda x: dualad.gradient(h, x), X), rtol=1e-6, atol=1e-6)


def test_listing_and_dot_with_tuple_valued_nodes():
    t = tape.record(lambda x: np.linalg.slogdet(x.reshape(2, 2))[1] * np.linalg.slogdet(x.reshape(2, 2))[0],
                    np.array([2.0, 1.0, 1.0, 3.0]))
    t.backward()
    text, dot = t.listing(), t.to_dot()
    assert "slogdet" in text and dot.startswith("digraph")


def test_misleading_remedies_are_gone():
    d = dualad.Dual(np.array(1.5), np.array(1.0))
    with pytest.raises(ConversionError) as info:
        int(np.floor(d))
    assert "int(dual.value)" in str(info.value)
    for call, name in ((lambda v: np.fft.ifftshift(v, axes=0), "ifftshift"), (lambda v: np.fft.ifftshift(v), "ifftshift")):
        try:
            call(dualad.Dual(X, np.eye(3)))
        except DualadError as err:
            assert "leave axes= out" not in str(err) and name in str(err)


@pytest.mark.parametrize("A", [np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((3, 3)),
                               np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]]),
                               np.array([[0.0, 1.0], [0.0, 0.0]])], ids=["rank1", "zero", "3x3 rank2", "nilpotent"])
def test_det_and_slogdet_at_singular_matrices(A):
    n = A.shape[0]
    f = lambda x: np.linalg.det(x.reshape(n, n))  # noqa: E731
    adj = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(A, j, 0), i, 1)) for j in range(n)]
                    for i in range(n)])  # adj(A), so d det / dA = adj(A).T
    for engine in (dualad.jacobian, tape.jacobian):
        np.testing.assert_allclose(engine(f, A.ravel()), adj.T.ravel(), atol=1e-12)
    sign, logdet = np.linalg.slogdet(dualad.Dual(A, np.zeros(A.shape)))
    assert sign == 0 and logdet.value == -np.inf
    assert np.linalg.det(dualad.Dual(A, np.ones(A.shape))).value == np.linalg.det(A)


@pytest.mark.parametrize("engine", _engines())
@pytest.mark.parametrize("f, x, want", [
    (np.linalg.norm, np.zeros(3), np.zeros(3)),
    (lambda x: np.where(x > 0, np.sqrt(x), 0.0), np.array([0.0, 4.0]), np.diag([0.0, 0.25])),
    (lambda x: np.abs(x) + np.maximum(x, 0.0), np.zeros(2), np.diag([0.5, 0.5])),
    (lambda x: np.hypot(x[0], x[1]), np.zeros(2), np.zeros(2)),
    (lambda x: x[0] ** 0.5 + x[1] ** 2, np.zeros(2), np.array([np.inf, 0.0])),
])
def test_errstate_raise_does_not_trip_dualad(engine, f, x, want):
    with np.errstate(all="raise"):
        J = engine(f, x)
    np.testing.assert_array_equal(J, want)


@pytest.mark.parametrize("engine", _engines() + [pytest.param(dualad.sparse_jacobian, id="sparse")])
@pytest.mark.parametrize("f", [lambda x: [1.0, [2.0, 3.0]], lambda x: [np.ones(2), np.ones(3)], lambda x: [1.0, "a"]],
                         ids=["ragged", "ragged arrays", "string"])
def test_bad_constant_outputs_raise_output_error(engine, f):
    if engine is not dualad.sparse_jacobian and isinstance(f(X), list) and np.ndim(f(X)[0]) == 1:
        pytest.skip("a list of arrays is a pytree output of the dense engines (one Jacobian per leaf)")
    with pytest.raises(OutputError, match="remedy"):
        engine(f, X)


def test_assert_derivatives_close_float32():
    from dualad.testing import assert_derivatives_close
    for x in (np.array([0.3, 1.7, 2.5], np.float32), np.array([-3.0, 0.01, 7.0], np.float32)):
        assert_derivatives_close(lambda v: np.sin(v) * v ** 3, x)
        assert_derivatives_close(lambda v: np.exp(v / 10) * np.tanh(v), x)
    wrong = lambda v: np.sin(v) * (1.01 if isinstance(v, np.ndarray) else 1.0)  # noqa: E731
    with pytest.raises(AssertionError):
        assert_derivatives_close(wrong, np.array([0.3, 1.7], np.float32))


def test_cost_compare_accepts_numpy_ints():
    r = dualad.cost.compare(np.sin, np.ones(3), repeat=np.int64(2), chunk_size=np.int32(2)) \
        if hasattr(dualad, "cost") else __import__("dualad.cost").cost.compare(np.sin, np.ones(3), repeat=np.int64(2))
    assert r is not None
    from dualad import cost
    with pytest.raises(dualad.errors.OptionError, match="remedy"):
        cost.compare(np.sin, np.ones(3), repeat=0)


def test_cli_plot_path_checked_before_the_sweep(tmp_path):
    missing = tmp_path / "missing" / "x.png"
    done = subprocess.run([sys.executable, "-m", "dualad", "compare", "--quick", "--plot", str(missing)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "remedy" in done.stderr
    assert "sizes" not in done.stdout  # refused before the sweep started


# ---------------------------------------------------------------- a value where the function belongs
ENTRY_POINTS = [
    ("jacobian", lambda f, x: dualad.jacobian(f, x)),
    ("jvp", lambda f, x: dualad.jvp(f, x, x)),
    ("derivative", lambda f, x: dualad.derivative(f, 0.5)),
    ("gradient", lambda f, x: dualad.gradient(f, x)),
    ("hessian", lambda f, x: dualad.hessian(f, x)),
    ("hvp", lambda f, x: dualad.hvp(f, x, x)),
    ("tape.grad", lambda f, x: tape.grad(f, x)),
    ("tape.value_and_grad", lambda f, x: tape.value_and_grad(f, x)),
    ("tape.vjp", lambda f, x: tape.vjp(f, x, x)),
    ("tape.jacobian", lambda f, x: tape.jacobian(f, x)),
    ("SparseJacobian", lambda f, x: dualad.SparseJacobian(f, x)),
    ("jacobian_sparsity", lambda f, x: dualad.jacobian_sparsity(f, x)),
    ("sparse_jacobian", lambda f, x: dualad.sparse_jacobian(f, x)),
]


@pytest.mark.parametrize("what, call", ENTRY_POINTS, ids=[e[0] for e in ENTRY_POINTS])
@pytest.mark.parametrize("not_a_function", [np.sin(np.ones(3)), 3, None], ids=["array", "int", "None"])
def test_a_value_passed_as_the_function_is_named(what, call, not_a_function):
    # sparse_jacobian builds a SparseJacobian, which names itself
    name = "SparseJacobian" if what == "sparse_jacobian" else what
    with pytest.raises(dualad.InputError, match=rf"^{name.replace('.', '[.]')} needs a callable f, got an? .*"
                                                r"remedy: pass the function first"):
        call(not_a_function, np.ones(3))


@pytest.mark.parametrize("call, needle", [
    (lambda x: dualad.jacobian(lambda v: v, x, chunksize=2), "did you mean chunk_size="),
    (lambda x: dualad.hessian(lambda v: v.sum(), x, exector=None), "did you mean executor="),
    (lambda x: tape.grad(lambda v: v.sum(), x, chunk_size=2), "tape.grad has no chunk_size="),
    (lambda x: dualad.gradient(lambda v, scale: scale * v.sum(), x, scael=2.0), "scael= is neither"),
], ids=["typo", "typo hessian", "option of another function", "misspelt keyword of f"])
def test_a_keyword_neither_dualad_nor_f_takes_is_an_option_error(call, needle):
    with pytest.raises(dualad.OptionError, match=needle):
        call(np.ones(3))


def test_keywords_of_f_still_reach_f():
    np.testing.assert_allclose(dualad.gradient(lambda v, scale: scale * v.sum(), np.ones(3), scale=2.0), 2 * np.ones(3))
    np.testing.assert_allclose(tape.grad(lambda v, **kw: kw["s"] * v.sum(), np.ones(3), s=3.0), 3 * np.ones(3))


def test_an_unknown_colouring_is_an_option_error():
    with pytest.raises(dualad.OptionError, match="unknown colouring 'nope'; remedy"):
        dualad.SparseJacobian(lambda v: v ** 2, np.ones(3), coloring="nope")
