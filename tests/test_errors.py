"""Every error path of issue 2: the exception type, and that the message names the remedy.

dualad never drops a derivative silently: what it cannot differentiate raises. Every message
carries "remedy:" followed by what to do instead; the tests check both the word and the advice.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import dualad
from dualad import (ConversionError, Dual, DualadError, InputError, OutputError, TangentShapeError,
                    UnsupportedFunctionError)

D = Dual(np.array([1.0, 2.0]), np.ones(2))
S = Dual(2.0, 1.0)
M = Dual(np.array([[2.0, 1.0], [0.5, 3.0]]), np.ones((2, 2)))


def _raises(exc, fn, *needles):
    """Assert ``fn()`` raises ``exc`` whose message has 'remedy' and every needle (case-insensitive)."""
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    assert "remedy" in msg, msg
    for needle in needles:
        assert needle.lower() in msg.lower(), (needle, msg)
    return info.value


# ----------------------------------------------------------------------------- hierarchy
def test_error_hierarchy():
    for exc in (UnsupportedFunctionError, ConversionError, InputError, OutputError):
        assert issubclass(exc, DualadError) and issubclass(exc, TypeError)
    assert issubclass(TangentShapeError, DualadError) and issubclass(TangentShapeError, ValueError)


# ----------------------------------------------------------------------------- unsupported functions
UNSUPPORTED = [
    ("np.lcm", lambda: np.lcm(D, 2)),
    ("np.bitwise_or", lambda: np.bitwise_or(D, 1)),
    ("np.spacing", lambda: np.spacing(D)),
    ("np.gcd", lambda: np.gcd(D, 2)),
    ("np.nextafter", lambda: np.nextafter(D, 2.0)),
    ("np.add.reduceat", lambda: np.add.reduceat(D, [0])),
    ("np.multiply.reduceat", lambda: np.multiply.reduceat(D, [0])),
]


@pytest.mark.parametrize("name, call", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_function_names_function_and_remedy(name, call):
    err = _raises(UnsupportedFunctionError, call, name, "no derivative rule", "rewrite it with supported numpy")
    assert isinstance(err, TypeError)


def test_unsupported_inside_jacobian():
    _raises(TypeError, lambda: dualad.jacobian(lambda x: np.spacing(x) * x, np.ones(4)), "np.spacing")


@pytest.mark.parametrize("call, needles", [
    (lambda: np.full_like(D, 1.0, order="F"), ("order=", "leave order= out")),
    (lambda: np.add(D, 1.0, where=np.array([True, False])), ("where=", "np.where")),
    (lambda: np.linalg.solve(a=np.eye(2), b=D), ("keyword", "positionally")),
    (lambda: np.prod(M, axis=(0, 1)), ("several axes", "one axis at a time")),
    (lambda: np.kron(D, M), ("ranks", "reshape")),
])
def test_unsupported_argument_forms(call, needles):
    _raises(UnsupportedFunctionError, call, *needles)


# ----------------------------------------------------------------------------- conversions
def test_float_of_dual():
    _raises(ConversionError, lambda: float(S), "float(dual)", ".value")


def test_int_of_dual():
    _raises(ConversionError, lambda: int(S), "int(dual)", "np.floor")


def test_complex_of_dual():
    _raises(ConversionError, lambda: complex(S), "complex(dual)")


def test_asarray_of_dual():
    _raises(ConversionError, lambda: np.asarray(D), "np.stack", "dualad.zeros_like")
    _raises(ConversionError, lambda: np.array(D), "np.stack")
    _raises(ConversionError, lambda: np.asarray(S), "np.stack")


def test_array_of_list_of_duals():
    _raises(ConversionError, lambda: np.array([S, S]), "np.stack")
    _raises(ConversionError, lambda: np.array([D[0], D[1]]), "np.stack")
    _raises(ConversionError, lambda: np.array(D.tolist()), "np.stack")


def test_list_of_duals_works_with_the_remedy():
    # the remedy the messages give really works
    y = np.stack([S, S * 2.0])
    assert isinstance(y, Dual) and y.shape == (2,)
    np.testing.assert_array_equal(y.tangent, [1.0, 2.0])


def test_assign_dual_into_float_ndarray_slice():
    a = np.zeros(2)

    def assign():
        a[:] = D
    _raises(ConversionError, assign, "dualad.zeros_like")
    b = np.zeros((2, 2))

    def assign_row():
        b[0] = D
    _raises(ConversionError, assign_row, "dualad.zeros_like")


def test_assign_scalar_dual_into_float_ndarray_element():
    """numpy turns the element case into its own ValueError, chained from dualad's ConversionError."""
    a = np.zeros(2)

    def assign():
        a[0] = S
    with pytest.raises((ConversionError, ValueError)) as info:
        assign()
    err = info.value if isinstance(info.value, ConversionError) else info.value.__cause__
    assert isinstance(err, ConversionError)
    assert "remedy" in str(err) and ".value" in str(err)
    assert a[0] == 0.0   # nothing was written


def test_math_functions_refuse_duals():
    _raises(ConversionError, lambda: math.sin(S), "float(dual)")
    _raises(ConversionError, lambda: math.exp(D[0]), "float(dual)")
    _raises(ConversionError, lambda: math.sqrt(S), "float(dual)")
    # the same inside a differentiated function
    _raises(ConversionError, lambda: dualad.derivative(math.sin, 1.0), "remedy")


def test_index_with_a_dual():
    _raises(ConversionError, lambda: D[S], "index with integers")
    _raises(ConversionError, lambda: D[(0, S)], "index with integers")
    _raises(ConversionError, lambda: range(5)[S], "index with integers")


@pytest.mark.parametrize("dtype", [int, np.int32, bool, "int64", np.uint8])
def test_astype_to_non_float(dtype):
    _raises(ConversionError, lambda: D.astype(dtype), "float dtype", "np.floor")


def test_reduction_to_integer_dtype():
    _raises(ConversionError, lambda: np.sum(D, dtype=int), "float dtype")
    _raises(ConversionError, lambda: np.add(D, 1.0, dtype=np.int64), "float dtype")


# ----------------------------------------------------------------------------- out= into plain arrays
def test_ufunc_out_plain_array():
    out = np.zeros(2)
    _raises(ConversionError, lambda: np.sin(D, out=out), "np.sin", "out=", "dualad.zeros_like")
    assert not out.any()
    _raises(ConversionError, lambda: np.add(D, 1.0, out=(out,)), "np.add", "out=")
    _raises(ConversionError, lambda: np.matmul(M, D, out=out), "out=")


def test_array_function_out_plain_array():
    _raises(ConversionError, lambda: np.sum(D, out=np.zeros(())), "np.sum", "out=")
    _raises(ConversionError, lambda: np.cumsum(D, out=np.zeros(2)), "out=")


def test_inplace_operator_on_plain_array_with_dual():
    a = np.zeros(2)

    def iadd():
        nonlocal a
        a += D
    _raises(ConversionError, iadd, "out=", "dualad.zeros_like")


# ----------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("x", [np.array([1 + 1j, 2.0]), 1j, [1.0, 2j]], ids=["array", "scalar", "list"])
def test_complex_input(x):
    _raises(InputError, lambda: dualad.jacobian(np.sin, x), "complex", "real and imaginary parts")
    _raises(InputError, lambda: dualad.gradient(np.sum, x), "complex")


def test_complex_dual():
    assert Dual(1j, 1.0).tangent == 1.0 + 0j  # a complex value: its tangent is complex (issue 15)
    _raises(InputError, lambda: Dual(1.0, 1j), "complex", "real tangent")


@pytest.mark.parametrize("x", ["abc", ["a", "b"], None, object(), [[1.0, 2.0], [3.0]],
                               [1.0, None], np.array(["1.0"]), {"a": "1.0"}, {"a": 1.0, "b": None}],
                         ids=["str", "strlist", "None", "object", "ragged", "None-in-list", "strarray",
                              "dict-of-str", "dict-with-None"])
def test_non_numeric_x(x):
    _raises(InputError, lambda: dualad.jacobian(np.sin, x), "number")


def test_dict_x_is_a_container_not_an_error():
    # a dict used to be refused as "not a number"; it is now a container of inputs (issue 13)
    J = dualad.jacobian(lambda d: np.sin(d["a"]) * d["b"], {"a": 1.0, "b": 2.0})
    assert J == {"a": pytest.approx(np.cos(1.0) * 2.0), "b": pytest.approx(np.sin(1.0))}


def test_non_numeric_x_in_every_api_function():
    _raises(InputError, lambda: dualad.jvp(np.sin, "abc", 1.0), "number")
    _raises(InputError, lambda: dualad.derivative(np.sin, "abc"), "number")
    _raises(InputError, lambda: dualad.gradient(np.sum, "abc"), "number")
    _raises(InputError, lambda: dualad.hessian(np.sum, "abc"), "number")
    _raises(InputError, lambda: Dual("a", 1.0), "number")


def test_jvp_direction_errors():
    _raises(InputError, lambda: dualad.jvp(np.sin, np.ones(3), np.ones(2)), "shape")
    _raises(InputError, lambda: dualad.jvp(np.sin, 1.0, "a"), "number")


def test_derivative_needs_scalar():
    _raises(InputError, lambda: dualad.derivative(np.sin, np.ones(2)), "scalar", "jacobian")


@pytest.mark.parametrize("bad", [0, -3, 1.5, "2", True])
def test_chunk_size(bad):
    _raises(InputError, lambda: dualad.jacobian(np.sin, np.ones(3), chunk_size=bad), "chunk_size")


def test_tangent_shape():
    _raises(TangentShapeError, lambda: Dual(np.ones(3), np.ones(2)), "(3,)", "k directions")


# ----------------------------------------------------------------------------- outputs
@pytest.mark.parametrize("out", ["a string", None, {"k": "a string"}, object(), np.array(["x"]), {"k": None}],
                         ids=["str", "None", "dict-of-str", "object", "strarray", "dict-of-None"])
def test_f_returning_non_numeric(out):
    _raises(OutputError, lambda: dualad.jacobian(lambda x: out, [1.0, 2.0]), "return a float, an array")
    _raises(OutputError, lambda: dualad.jvp(lambda x: out, 1.0, 1.0), "return a float")


def test_f_returning_list_with_string():
    _raises(OutputError, lambda: dualad.jacobian(lambda x: [x[0], "a"], [1.0, 2.0]), "return a float")


def test_gradient_of_vector_function():
    _raises(OutputError, lambda: dualad.gradient(lambda x: x * 2.0, np.ones(3)), "scalar-valued", "jacobian")


# ----------------------------------------------------------------------------- other array types
class Other:
    """A foreign array-like: numpy must give it its turn when a Dual cannot handle it."""

    def __init__(self):
        self.seen = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self.seen.append(("ufunc", ufunc.__name__, method))
        return "handled by Other"

    def __array_function__(self, func, types, args, kwargs):
        self.seen.append(("function", func.__name__))
        return "handled by Other"

    def __radd__(self, other):
        self.seen.append(("radd",))
        return "radd by Other"

    def __rmul__(self, other):
        return "rmul by Other"

    def __lt__(self, other):
        return "lt by Other"


def test_dual_returns_notimplemented_to_other_array_types():
    o = Other()
    assert D.__array_ufunc__(np.add, "__call__", D, o) is NotImplemented
    assert D.__array_function__(np.concatenate, (Dual, Other), ([D, o],), {}) is NotImplemented
    assert D.__add__(o) is NotImplemented and D.__radd__(o) is NotImplemented
    assert D.__mul__(o) is NotImplemented and D.__iadd__(o) is NotImplemented


def test_other_array_type_gets_its_turn():
    o = Other()
    assert np.add(D, o) == "handled by Other"
    assert np.multiply(o, D) == "handled by Other"
    assert np.sin(D, out=(o,)) == "handled by Other"
    assert np.concatenate([D, o]) == "handled by Other"
    assert np.stack([o, D]) == "handled by Other"
    assert D + o == "radd by Other"
    assert S * o == "rmul by Other"
    assert ("ufunc", "add", "__call__") in o.seen and ("function", "concatenate") in o.seen


def test_unknown_operand_without_protocol_gives_type_error():
    class Plain:
        pass
    with pytest.raises(TypeError):
        D + Plain()
    with pytest.raises(TypeError):
        Plain() * S
