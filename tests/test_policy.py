"""The error and convention policy (issue 5): never a silently wrong derivative.

Every expected value here is derived by hand from the documented convention,
not copied from dualad's output. Conventions are checked in forward mode and,
through ``dualad.tape``, in reverse mode with the same expected numbers.
"""
from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import dualad
from dualad import (ConversionError, DegeneracyError, DualadError, InputError, OutputError, TangentShapeError,
                    UnsupportedFunctionError)

# The functions under test compute sqrt(0), log(0), 0/0 in branches np.where discards;
# numpy's RuntimeWarnings about that are expected noise here.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INF = np.inf


def _tape():
    return pytest.importorskip("dualad.tape")


def jac(mode: str, f, x):
    """The Jacobian of ``f`` at ``x`` in the given mode."""
    if mode == "forward":
        return dualad.jacobian(f, x)
    return np.asarray(_tape().jacobian(f, x))


MODES = ["forward", "reverse"]


# ----------------------------------------------------------------------------- conventions
def _diag(*d):
    return np.diag(np.array(d, dtype=float))


# (id, f, x, expected Jacobian): each expectation follows from the rule in the README.
CONVENTIONS = [
    ("abs-at-0", np.abs, [0.0, 2.0, -2.0], _diag(0.0, 1.0, -1.0)),
    ("abs-method-at-0", lambda v: abs(v), [0.0], [[0.0]]),
    ("fabs-at-0", np.fabs, [0.0], [[0.0]]),
    ("sqrt-at-0", np.sqrt, [0.0, 4.0], _diag(INF, 0.25)),
    ("cbrt-at-0", np.cbrt, [0.0, 8.0], _diag(INF, 1.0 / 12.0)),
    ("pow-0.5-at-0", lambda v: v ** 0.5, [0.0], [[INF]]),
    ("pow-1-at-0", lambda v: v ** 1.0, [0.0], [[1.0]]),
    ("pow-2-at-0", lambda v: v ** 2, [0.0], [[0.0]]),
    ("pow-3-at-0", lambda v: v ** 3.0, [0.0], [[0.0]]),
    ("pow-0-at-0", lambda v: v ** 0.0, [0.0], [[0.0]]),
    # d/dx x**y = y x**(y-1) = 0 and d/dy x**y = x**y log x -> 0 (the limit) at x = 0, y = 2
    ("pow-both-at-0", lambda v: v[0] ** v[1], [0.0, 2.0], [0.0, 0.0]),
    ("maximum-tie", lambda v: np.maximum(v[0], v[1]), [1.0, 1.0], [0.5, 0.5]),
    ("minimum-tie", lambda v: np.minimum(v[0], v[1]), [1.0, 1.0], [0.5, 0.5]),
    ("fmax-tie", lambda v: np.fmax(v[0], v[1]), [-2.0, -2.0], [0.5, 0.5]),
    ("fmin-tie", lambda v: np.fmin(v[0], v[1]), [-2.0, -2.0], [0.5, 0.5]),
    ("maximum-tie-constant", lambda v: np.maximum(v, 0.0), [0.0, 1.0, -1.0], _diag(0.5, 1.0, 0.0)),
    ("max-2-way-tie", np.max, [3.0, 1.0, 3.0], [0.5, 0.0, 0.5]),
    ("min-3-way-tie", np.min, [1.0, 1.0, 1.0], [1 / 3, 1 / 3, 1 / 3]),
    ("amax-tie", np.amax, [2.0, 2.0], [0.5, 0.5]),
    ("max-method-tie", lambda v: v.max(), [2.0, 2.0], [0.5, 0.5]),
    ("max-axis-tie", lambda v: np.max(v.reshape(2, 2), axis=1), [1.0, 1.0, 0.0, 5.0],
     [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]),
    ("norm-at-0", np.linalg.norm, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
    ("norm-fro-at-0", lambda v: np.linalg.norm(v.reshape(2, 2), "fro"), [0.0] * 4, [0.0] * 4),
    ("norm-axis-at-0", lambda v: np.linalg.norm(v.reshape(2, 2), axis=1), [0.0, 0.0, 3.0, 4.0],
     [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.6, 0.8]]),
    ("norm-1-at-0", lambda v: np.linalg.norm(v, 1), [0.0, 0.0], [0.0, 0.0]),
    ("norm-inf-at-0", lambda v: np.linalg.norm(v, np.inf), [0.0, 0.0], [0.0, 0.0]),
    ("hypot-at-0", lambda v: np.hypot(v[0], v[1]), [0.0, 0.0], [0.0, 0.0]),
    # clip = minimum(maximum(x, lo), hi): at a bound x ties with it and gets 1/2
    ("clip-at-bounds", lambda v: np.clip(v, 0.0, 1.0), [0.0, 1.0, 0.5, -1.0, 2.0],
     _diag(0.5, 0.5, 1.0, 0.0, 0.0)),
    ("clip-method-at-bounds", lambda v: v.clip(0.0, 1.0), [0.0, 1.0], _diag(0.5, 0.5)),
    ("clip-bounds-variable", lambda v: np.clip(v[0], v[1], v[2]), [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]),
    # np.where selects tangents, so the discarded branch's inf/nan never leaks
    ("where-sqrt-at-0", lambda v: np.where(v > 0, np.sqrt(v), 0.0), [0.0, 4.0], _diag(0.0, 0.25)),
    ("where-xlogx-at-0", lambda v: np.where(v > 0, v * np.log(v), 0.0), [0.0, 1.0], _diag(0.0, 1.0)),
    ("where-sinc-at-0", lambda v: np.where(v != 0, np.sin(v) / v, 1.0), [0.0], [[0.0]]),
    ("where-reciprocal-at-0", lambda v: np.where(v > 0, 1.0 / v, v), [0.0], [[1.0]]),
    ("where-log-negative", lambda v: np.where(v > 0, np.log(v), -v), [-1.0, 1.0], _diag(-1.0, 1.0)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,f,x,expected", CONVENTIONS, ids=[c[0] for c in CONVENTIONS])
def test_convention(mode, name, f, x, expected):
    J = jac(mode, f, np.array(x))
    np.testing.assert_allclose(J, np.array(expected, dtype=float), rtol=1e-12, atol=1e-12)


def test_builtin_max_is_python_semantics():
    # Python's max() compares and returns the first largest object; numpy never sees it,
    # so no tie split is possible. Documented: use np.maximum / np.max for ties.
    J = dualad.jacobian(lambda v: max(v[0], v[1]), np.array([1.0, 1.0]))
    np.testing.assert_array_equal(J, [1.0, 0.0])


# ----------------------------------------------------------------------------- NaN safety
@pytest.mark.parametrize("mode", MODES)
def test_where_sqrt_with_zeros_is_finite(mode):
    x = np.array([0.0, 0.25, 0.0, 4.0, -1.0])
    J = jac(mode, lambda x: np.where(x > 0, np.sqrt(x), 0.0), x)
    assert np.all(np.isfinite(J))
    np.testing.assert_allclose(np.diag(J), [0.0, 1.0, 0.0, 0.25, 0.0])


@pytest.mark.parametrize("mode", MODES)
def test_norm_at_its_kink_inside_a_sum_is_finite(mode):
    c = np.array([1.0, -2.0, 0.5])

    def f(x):
        return np.linalg.norm(x - c) + np.sum(x ** 2) + np.sin(x[0])

    g = jac(mode, f, c.copy())
    # norm contributes 0 at x = c (convention); the other terms give 2c + cos(c0) e0
    np.testing.assert_allclose(g, 2 * c + np.array([np.cos(c[0]), 0.0, 0.0]), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_norm_of_difference_vector_output_is_finite(mode):
    c = np.array([[1.0, 2.0], [3.0, 4.0]])
    J = jac(mode, lambda x: np.linalg.norm(x - c, axis=1) * 2.0 + x[:, 0], c.copy())
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0] = expected[1, 1, 0] = 1.0
    np.testing.assert_allclose(J, expected)


def test_zero_tangent_times_infinite_partial_is_zero():
    # d/dx sqrt(y) with y independent of x: the inf partial meets a zero tangent
    J = dualad.jacobian(lambda v: np.sqrt(v[1] * 0.0 + 0.0 * v[0] + np.array(0.0)) + v[0], [1.0, 2.0])
    np.testing.assert_array_equal(J, [1.0, 0.0])


# f(x) at x = 0, where an infinite local derivative (sqrt, cbrt at 0) meets a zero factor
# later in the chain: 0 * inf, whose value only the global function knows. (true derivative)
ZERO_TIMES_INF = [
    ("sqrt(x)**2", lambda v: np.sqrt(v) ** 2, 1.0),
    ("sqrt(x)*sqrt(x)", lambda v: np.sqrt(v) * np.sqrt(v), 1.0),
    ("cbrt(x)**3", lambda v: np.cbrt(v) ** 3, 1.0),
    ("sin(sqrt(x))**2", lambda v: np.sin(np.sqrt(v)) ** 2, 1.0),
    ("x*sqrt(x)", lambda v: v * np.sqrt(v), 0.0),
    ("0*sqrt(x)", lambda v: 0.0 * np.sqrt(v), 0.0),
    ("sqrt(x**3)", lambda v: np.sqrt(v ** 3), 0.0),
]


@pytest.mark.parametrize("name,f,true", ZERO_TIMES_INF, ids=[c[0] for c in ZERO_TIMES_INF])
def test_forward_zero_times_infinity_is_never_a_finite_wrong_value(name, f, true):
    # forward mode zeroes only a zero *tangent* meeting an infinite partial; an infinite
    # tangent meeting a zero partial stays NaN: visible, never a wrong number
    d = dualad.derivative(f, 0.0)
    assert np.isnan(d) or d == true


@pytest.mark.xfail(strict=True, reason="known limit: reverse mode meets the zero first (the cotangent "
                   "2 sqrt(0) = 0) and a zero cotangent times an infinite partial is 0, the mirror of forward "
                   "mode's rule; so a cancelled infinite derivative, sqrt(x)**2 at 0, gives 0 instead of 1")
@pytest.mark.parametrize("name,f,true", ZERO_TIMES_INF[:4], ids=[c[0] for c in ZERO_TIMES_INF[:4]])
def test_reverse_zero_times_infinity_is_never_a_finite_wrong_value(name, f, true):
    d = float(np.asarray(_tape().grad(f, np.array(0.0))))
    assert np.isnan(d) or d == true


def test_infinite_derivative_is_reported_not_hidden():
    # a nonzero tangent through sqrt at 0 is a genuinely infinite derivative, kept as inf
    assert dualad.derivative(lambda t: np.sqrt(t * t * t), 0.0) == 0.0  # |t|^1.5: smooth, 0
    assert np.isinf(dualad.derivative(np.sqrt, 0.0))


# ----------------------------------------------------------------------------- exceptions
@pytest.mark.parametrize("cls,base", [
    (UnsupportedFunctionError, TypeError), (ConversionError, TypeError), (InputError, TypeError),
    (OutputError, TypeError), (TangentShapeError, ValueError)])
def test_hierarchy(cls, base):
    assert issubclass(cls, DualadError) and issubclass(cls, base)
    assert cls.__name__ in dualad.__all__


def test_every_public_error_is_a_builtin_too():
    for name in dualad.__all__:
        obj = getattr(dualad, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj is not DualadError:
            assert issubclass(obj, (TypeError, ValueError)), name


def _message(exc_type, call):
    with pytest.raises(exc_type) as info:
        call()
    return str(info.value)


D3 = dualad.Dual(np.ones(3), np.ones(3))


@pytest.mark.parametrize("call,exc,words", [
    (lambda: np.spacing(D3), UnsupportedFunctionError, ["np.spacing", "(3,)", "float64", "remedy"]),
    (lambda: np.maximum(D3 * 1j, 0.5), UnsupportedFunctionError, ["np.maximum", "(3,)", "complex", "remedy"]),
    (lambda: np.lcm(np.diag(D3), 2), UnsupportedFunctionError, ["np.lcm", "(3, 3)", "float64", "remedy"]),
    (lambda: np.linalg.eigvals(np.diag(D3)), DegeneracyError, ["np.linalg.eig", "repeated", "remedy"]),
    (lambda: np.add.reduceat(D3, [0, 1]), UnsupportedFunctionError, ["np.add.reduceat", "(3,)", "remedy"]),
    (lambda: np.bitwise_and(D3, 1), UnsupportedFunctionError, ["np.bitwise_and", "(3,)", "remedy"]),
    (lambda: float(D3[0]), ConversionError, ["float(", "()", "float64", "remedy"]),
    (lambda: np.asarray(D3), ConversionError, ["np.asarray", "(3,)", "remedy"]),
    (lambda: np.zeros(3).__setitem__(slice(None), D3), ConversionError, ["assign", "(3,)", "remedy"]),
    (lambda: D3.astype(int), ConversionError, ["astype", "remedy"]),
    (lambda: dualad.jacobian(np.sin, np.ones(2, complex)), InputError,
     ["complex", "(2,)", "complex128", "remedy"]),
    (lambda: dualad.jacobian(np.sin, np.array(["a", "b"])), InputError, ["(2,)", "<U1", "remedy"]),
    (lambda: dualad.jacobian(lambda x: np.array(["a"]), 1.0), OutputError, ["(1,)", "<U1", "remedy"]),
    (lambda: dualad.Dual(np.ones(3), np.ones(2)), TangentShapeError, ["(2,)", "(3,)", "remedy"]),
    (lambda: dualad.jacobian(np.sin, [1.0], chunk_size=0), InputError, ["chunk_size", "remedy"]),
    (lambda: dualad.gradient(np.sin, np.ones(2)), OutputError, ["gradient", "(2,)", "remedy"]),
])
def test_messages_name_operation_shape_and_remedy(call, exc, words):
    msg = _message(exc, call)
    for w in words:
        assert w in msg, (w, msg)


def test_scalar_written_into_float_buffer_is_refused():
    # numpy replaces the error of a sequence-like object with its own ValueError; the
    # ConversionError (with the remedy) stays attached as the cause.
    buf = np.zeros(3)
    with pytest.raises(ValueError) as info:
        buf[0] = D3[0]
    assert isinstance(info.value.__cause__, ConversionError)
    assert "remedy" in str(info.value.__cause__)
    assert not buf.any()


# ----------------------------------------------------------------------------- inputs
NON_NUMERIC = [
    pytest.param("abc", id="str"),
    pytest.param(None, id="None"),
    pytest.param(b"ab", id="bytes"),
    pytest.param(np.array(["a", "b"]), id="str-array"),
    pytest.param(np.array([None, 1.0], dtype=object), id="object-None"),
    pytest.param(np.array([object()], dtype=object), id="object-object"),
    pytest.param(np.array(["1.5"], dtype=object), id="object-numeric-str"),
    pytest.param([1.0, "a"], id="mixed-list"),
    pytest.param({"a": 1.0}, id="dict"),
    pytest.param([[1.0], [2.0, 3.0]], id="ragged"),
    pytest.param(np.datetime64("2020-01-01"), id="datetime"),
]

ENTRY_POINTS = {
    "jacobian": lambda f, x: dualad.jacobian(f, x),
    "jvp": lambda f, x: dualad.jvp(f, x, x),
    "derivative": lambda f, x: dualad.derivative(f, x),
    "gradient": lambda f, x: dualad.gradient(lambda v: np.sum(f(v)), x),
    "hessian": lambda f, x: dualad.hessian(lambda v: np.sum(f(v)), x),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("x", NON_NUMERIC)
def test_non_numeric_x_raises_type_error(entry, x):
    with pytest.raises(TypeError):
        ENTRY_POINTS[entry](np.sin, x)


@pytest.mark.parametrize("x", NON_NUMERIC)
def test_non_numeric_x_raises_type_error_reverse(x):
    tape = _tape()
    for call in (lambda: tape.jacobian(np.sin, x), lambda: tape.grad(lambda v: np.sum(np.sin(v)), x)):
        with pytest.raises(TypeError):
            call()


def test_object_array_of_numbers_is_accepted():
    x = np.array([1.0, 2, np.float32(3.0)], dtype=object)
    np.testing.assert_allclose(dualad.jacobian(lambda v: v * v, x), np.diag([2.0, 4.0, 6.0]))


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("x", [1j, np.array([1.0 + 0j, 2.0]), [1.0, 2j]])
def test_complex_x_is_refused(entry, x):
    if entry == "jvp" and not isinstance(x, list):  # the real-linear map along a complex direction (issue 15)
        np.testing.assert_allclose(ENTRY_POINTS[entry](np.sin, x)[1], np.cos(np.asarray(x)) * np.asarray(x))
        return
    with pytest.raises(InputError, match="complex"):
        ENTRY_POINTS[entry](np.sin, x)


def test_complex_dual_tangent_must_fit():
    assert dualad.Dual(1j, 1.0).tangent.dtype.kind == "c"
    with pytest.raises(InputError, match="complex"):
        dualad.Dual(1.0, 1j)


class _UserError(Exception):
    pass


@pytest.mark.parametrize("entry", list(ENTRY_POINTS) + ["tape.jacobian", "tape.grad", "tape.vjp"])
def test_exception_inside_f_reaches_user_unchanged(entry):
    err = _UserError("raised by f")

    def f(v):
        np.sin(v)
        raise err

    x = np.array(0.5)
    with pytest.raises(_UserError) as info:
        if entry.startswith("tape."):
            tape = _tape()
            {"tape.jacobian": lambda: tape.jacobian(f, x), "tape.grad": lambda: tape.grad(f, x),
             "tape.vjp": lambda: tape.vjp(f, x, np.array(1.0))}[entry]()
        else:
            ENTRY_POINTS[entry](f, x)
    assert info.value is err


def test_builtin_exception_inside_nested_f_is_unchanged():
    err = KeyError("inner")

    def f(v):
        return dualad.derivative(lambda y: y * v if float(y.value) < 0 else {}[err], 1.0)

    with pytest.raises(KeyError) as info:
        dualad.derivative(f, 1.0)
    assert info.value.args == ("inner",) or info.value.args == (err,)


GARBAGE = [
    pytest.param(lambda v: "abc", id="str"),
    pytest.param(lambda v: None, id="None"),
    pytest.param(lambda v: {"y": "a"}, id="dict-of-str"),  # {"y": v} is a valid container output (issue 13)
    pytest.param(lambda v: object(), id="object"),
    pytest.param(lambda v: np.array(["a"]), id="str-array"),
    pytest.param(lambda v: [v, "a"], id="list-with-str"),
    pytest.param(lambda v: np.sin, id="function"),
    pytest.param(lambda v: (v for _ in range(2)), id="generator"),
]


@pytest.mark.parametrize("entry", ["jacobian", "jvp", "derivative"])
@pytest.mark.parametrize("f", GARBAGE)
def test_non_numeric_output_raises_type_error(entry, f):
    with pytest.raises(TypeError):
        ENTRY_POINTS[entry](f, 0.5)


@pytest.mark.parametrize("f", GARBAGE)
def test_non_numeric_output_raises_type_error_reverse(f):
    tape = _tape()
    with pytest.raises(TypeError):
        tape.jacobian(f, np.array([0.5]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("xshape", [(0,), (0, 3), (2, 0)])
@pytest.mark.parametrize("f", [np.sin, np.sum, lambda x: np.sum(x, axis=0), lambda x: 2.0,
                               lambda x: x @ np.ones(x.shape[-1])],
                         ids=["sin", "sum", "sum-axis0", "constant", "matvec"])
def test_empty_x_gives_empty_jacobian_of_right_shape(mode, xshape, f):
    x = np.zeros(xshape)
    J = jac(mode, f, x)
    out_shape = np.shape(f(np.zeros(xshape)))
    assert J.shape == out_shape + xshape
    assert np.all(J == 0)


@pytest.mark.parametrize("x", [np.arange(3), [1, 2, 3], np.array([True, False, True]), 2, True],
                         ids=["int-array", "int-list", "bool-array", "int", "bool"])
def test_int_and_bool_x_become_float64(x):
    J = dualad.jacobian(lambda v: v * v, x)
    assert J.dtype == np.float64
    xf = np.asarray(x, dtype=np.float64)
    np.testing.assert_allclose(J, np.diag(2 * xf.ravel()).reshape(xf.shape * 2) if xf.ndim else 2 * xf)
    y, t = dualad.jvp(lambda v: v / 3, x, np.ones(np.shape(x)))
    assert np.asarray(y).dtype == np.float64 and np.asarray(t).dtype == np.float64
    np.testing.assert_allclose(y, xf / 3)  # true division on the float values


_M32 = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=np.float32)


def _chain32(x):
    y = np.maximum(np.sin(x) * 2.0, 0.0) + np.exp(-x) / (1.0 + x * x)
    y = np.where(x > 0.3, y, np.sqrt(np.abs(x)))
    z = _M32 @ y + np.clip(y[:2], 0.1, 0.8) ** 2
    return np.stack([np.linalg.norm(z), np.mean(y), np.max(z), np.sum(np.tanh(y) * x)])


def test_float32_stays_float32_end_to_end():
    x = np.array([0.1, 0.5, 1.2], dtype=np.float32)
    J = dualad.jacobian(_chain32, x)
    assert J.dtype == np.float32
    y, t = dualad.jvp(_chain32, x, np.ones(3, np.float32))
    assert y.dtype == np.float32 and t.dtype == np.float32
    g = dualad.gradient(lambda v: _chain32(v)[0], x)
    assert g.dtype == np.float32
    H = dualad.hessian(lambda v: _chain32(v)[3], x)
    assert H.dtype == np.float32
    assert np.asarray(dualad.derivative(lambda s: np.maximum(s, 0.0) ** 2, np.float32(1.5))).dtype == np.float32
    # and the float32 values are right (float64 finite differences as the reference)
    from cases import central_jacobian
    np.testing.assert_allclose(J, central_jacobian(_chain32, x.astype(np.float64)), rtol=2e-3, atol=2e-3)


def test_float32_stays_float32_reverse():
    tape = _tape()
    x = np.array([0.1, 0.5, 1.2], dtype=np.float32)
    assert np.asarray(tape.jacobian(_chain32, x)).dtype == np.float32
    assert np.asarray(tape.grad(lambda v: _chain32(v)[0], x)).dtype == np.float32


def test_elementwise_jacobian_of_20000_stays_below_twice_the_dense_bytes():
    # n = 20 000: without chunking the seed block and every intermediate tangent would
    # each be as large as the dense Jacobian. float32 (1.6 GB Jacobian) halves the test's
    # memory and time; the chunk size follows the itemsize, so the bound is the same.
    n = 20_000
    x = np.linspace(0.1, 1.0, n, dtype=np.float32)
    tracemalloc.start()
    try:
        J = dualad.jacobian(np.sin, x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert J.shape == (n, n) and J.dtype == np.float32
    assert peak < 2 * J.nbytes, peak / J.nbytes
    idx = np.arange(0, n, 997)
    xi = x[idx].astype(np.float64)
    np.testing.assert_allclose(J[idx, idx], np.cos(xi), rtol=1e-6)
    assert not np.any(J[idx, (idx + 1) % n])


# ----------------------------------------------------------------------------- threads
def _nested(x):
    # d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x  (perturbation confusion would give 3x or more)
    return dualad.derivative(lambda s: s * dualad.derivative(lambda y: s * y, 1.0), x)


def _run_threads(work, n_threads=2):
    barrier = threading.Barrier(n_threads)
    results, errors = [None] * n_threads, []

    def target(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as e:  # noqa: BLE001 - reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_nested_derivatives_in_two_threads_do_not_mix():
    def work(i):
        out = []
        for k in range(150):
            x = 1.0 + i + 0.01 * k
            H = dualad.hessian(lambda v: np.sum(v ** 3) * (i + 1), np.array([x, 2 * x]))
            out.append((float(_nested(x)), x, H))
        return out

    for i, res in enumerate(_run_threads(work)):
        for d, x, H in res:
            assert d == pytest.approx(2 * x, rel=1e-12)
            np.testing.assert_allclose(H, np.diag([6 * x, 12 * x]) * (i + 1), rtol=1e-12)


def test_tape_in_two_threads_does_not_mix():
    tape = _tape()

    def work(i):
        out = []
        for k in range(100):
            x = np.array([1.0 + i, 0.5 + 0.01 * k])
            out.append((x, np.asarray(tape.grad(lambda v: np.sum(np.sin(v) * v) * (i + 1), x))))
        return out

    for i, res in enumerate(_run_threads(work)):
        for x, g in res:
            np.testing.assert_allclose(g, (np.cos(x) * x + np.sin(x)) * (i + 1), rtol=1e-12)


def test_tape_and_forward_nested_in_two_threads():
    tape = _tape()

    def work(i):
        out = []
        for k in range(60):
            x = 0.5 + 0.01 * k + i
            if i == 0:
                out.append((x, float(_nested(x))))
            else:
                out.append((x, float(np.asarray(tape.grad(lambda v: v * v, np.array(x))))))
        return out

    for res in _run_threads(work):
        for x, d in res:
            assert d == pytest.approx(2 * x, rel=1e-12)


@pytest.mark.parametrize("name", ["norm", "abs(norm)", "2*norm"])
def test_underflowing_squares_never_give_a_finite_wrong_derivative(name):
    """The 0 x inf rule where a square underflows (|x| < 1e-154): numpy's value is 0 and sqrt's local
    derivative there is infinite. Decided (common.chain_product, README 'NaN-safe propagation'):
    forward mode shows a non-finite derivative (visible, never a finite wrong number); reverse mode
    gives the same, or 0 where a zero cotangent meets it, which is the derivative of the function as
    computed in floating point: central differences of the same code are 0 there."""
    f = {"norm": lambda v: np.linalg.norm(v), "abs(norm)": lambda v: np.abs(np.linalg.norm(v)),
         "2*norm": lambda v: 2.0 * np.linalg.norm(v)}[name]
    x = np.array([2.16e-275, -3e-280])
    with np.errstate(all="ignore"):
        forward = dualad.jacobian(f, x)
        reverse = np.asarray(dualad.tape.jacobian(f, x))
        h = 1e-282
        central = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(2)])
    assert f(x) == 0.0  # numpy's value: the squares underflowed
    assert not np.isfinite(forward).any()
    finite = np.isfinite(reverse)
    np.testing.assert_array_equal(reverse[finite], central[finite])  # finite reverse values are the computed f's
