"""ndarray's methods and attributes on Duals, tape values and sparsity tracers.

Each method either computes what ndarray's method computes, with the true derivative,
or raises a DualadError that names the remedy. Values are checked against the same
method on the plain value; derivatives against central differences of the same code
on plain floats, forward against reverse, and the sparsity pattern against the
nonzeros of the dense Jacobian. Positional arguments are passed in ndarray's order, so
a method that hands them to numpy's function in another order fails here.
"""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.arraylike import MEMORY_ATTRIBUTES, NUMPY_METHODS
from dualad.errors import ConversionError, DualadError, UnsupportedAttributeError, UnsupportedFunctionError
from alias_check import central_differences  # central differences of the plain-float code

X = np.array([[0.3, -1.2, 0.7, 2.1], [1.4, 0.2, -0.5, 0.9], [-0.8, 1.1, 0.4, -1.7]])


def _fill_in_place(a):
    y = a * 1.0
    y.fill(a[0, 1] ** 2)
    return y


def _partition_in_place(a):
    y = a * 1.0
    y.partition(1, 1)
    return y


def _put_in_place(a):
    y = a * 1.0
    y.put([0, 5], a[2, :2] ** 2)
    return y


def _sort_in_place(a):
    y = a * 1.0
    y.sort(0)
    return y


def _write_through_view(a):
    y = a * 1.0
    v = y.view()
    v[1] = a[0] * a[2]
    return y


#: (name, function of an array-like) with float results: value and derivative are checked
FLOAT_CASES = [
    ("sum", lambda a: a.sum(1, None, None, True)),
    ("sum dtype", lambda a: a.sum(axis=0, dtype=np.float64)),
    ("mean", lambda a: a.mean(0, None, None, True)),
    ("var ddof", lambda a: a.var(1, None, None, 1)),
    ("std ddof", lambda a: a.std(0, None, None, 1, True)),
    ("prod", lambda a: a.prod(1)),
    ("max", lambda a: a.max(1, None, True)),
    ("min", lambda a: a.min(axis=0)),
    ("cumsum", lambda a: a.cumsum(1)),
    ("cumprod", lambda a: a.cumprod(0)),
    ("clip positional", lambda a: a.clip(-0.5, 1.0)),
    ("clip min=", lambda a: a.clip(min=0.0)),
    ("clip max=", lambda a: a.clip(max=0.5)),
    ("round", lambda a: a.round(1) + a),
    ("diagonal", lambda a: a.diagonal(1)),
    ("trace", lambda a: np.atleast_1d(a.trace(1))),
    ("dot", lambda a: a.dot(np.arange(4.0))),
    ("repeat", lambda a: a.repeat(2, 0)),
    ("swapaxes", lambda a: a.swapaxes(0, 1)),
    ("squeeze", lambda a: a[:1].squeeze(0)),
    ("take", lambda a: a.take([0, 5, 11])),
    ("take axis", lambda a: a.take([3, 1], 1)),
    ("compress", lambda a: a.compress([True, False, True], 0)),
    ("compress flat", lambda a: a.compress([False, True, True])),
    ("copy", lambda a: a.copy()),
    ("ravel", lambda a: a.ravel()),
    ("flatten", lambda a: a.flatten()),
    ("reshape", lambda a: a.reshape(4, 3)),
    ("transpose", lambda a: a.transpose(1, 0)),
    ("mT", lambda a: a.mT),
    ("T", lambda a: a.T),
    ("view", lambda a: a.view() * 2.0),
    ("write through view()", _write_through_view),
    ("fill", _fill_in_place),
    ("partition", _partition_in_place),
    ("put", _put_in_place),
    ("sort", _sort_in_place),
    ("round(d, 2)", lambda a: a * round(a[0, 0], 2)),
    ("nbytes", lambda a: a * a.nbytes),
    ("itemsize", lambda a: a * a.itemsize),
]

#: methods with integer or boolean results: the value must be numpy's (no derivative)
DISCRETE_CASES = [
    ("argmax", lambda a: a.argmax(1)),
    ("argmin", lambda a: a.argmin(None, None, keepdims=True)),
    ("argsort", lambda a: a.argsort(0)),
    ("argpartition", lambda a: a.argpartition(2, 1)),
    ("nonzero", lambda a: np.stack(a.nonzero())),
    ("searchsorted", lambda a: a[0].cumsum().searchsorted([0.0, 1.0], "right")),
    ("all", lambda a: a.all(0)),
    ("any", lambda a: (a > 1.5).any(1)),
]



def test_every_numpy_method_is_cased():
    cased = {name.split()[0] for name, _ in FLOAT_CASES + DISCRETE_CASES} | {"choose"}  # choose: its own test
    assert set(NUMPY_METHODS) <= cased, set(NUMPY_METHODS) - cased


@pytest.mark.parametrize("name, f", FLOAT_CASES, ids=[c[0] for c in FLOAT_CASES])
def test_float_method_value_and_derivative(name, f):
    expected = f(X.copy())
    J_fd = central_differences(f, X.copy())
    for jac in (dualad.jacobian, tape.jacobian):
        J = jac(f, X.copy())
        np.testing.assert_allclose(J, J_fd, rtol=1e-6, atol=1e-6, err_msg=f"{jac.__module__} {name}")
    v = np.random.default_rng(0).standard_normal(X.shape)
    value, _ = dualad.jvp(f, X.copy(), v)
    np.testing.assert_array_equal(np.asarray(value), expected)
    value, _ = tape.vjp(f, X.copy(), np.ones_like(expected))
    np.testing.assert_array_equal(np.asarray(value), expected)
    pattern = dualad.jacobian_sparsity(f, X.copy())
    dense = np.asarray(pattern.toarray() if hasattr(pattern, "toarray") else pattern).reshape(J_fd.size // X.size, -1)
    assert np.all(dense[np.abs(J_fd.reshape(dense.shape)) > 1e-9]), name


@pytest.mark.parametrize("name, g", DISCRETE_CASES, ids=[c[0] for c in DISCRETE_CASES])
@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_discrete_method_value(name, g, jac):
    seen = []

    def f(a):
        seen.append(g(a))
        return a * 1.0

    jac(f, X.copy())
    assert seen and all(np.array_equal(np.asarray(s), g(X.copy())) for s in seen), name


@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_choose_on_a_float_index_raises_as_numpy_does(jac):
    with pytest.raises(TypeError) as numpy_error:
        X.choose([X, X])
    with pytest.raises(TypeError, match="Cannot cast") as ours:
        jac(lambda a: a.choose([X, X]), X.copy())
    assert str(ours.value) == str(numpy_error.value)


@pytest.mark.parametrize("attribute", MEMORY_ATTRIBUTES)
@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_memory_attribute_is_refused_by_name(attribute, jac):
    answers = []

    def f(a):
        answers.append(hasattr(a, attribute))  # an AttributeError: hasattr answers False, as for any object
        getattr(a, attribute)
        return a

    with pytest.raises(UnsupportedAttributeError, match=rf"\.{attribute} reads or writes the raw memory.*remedy"):
        jac(f, X.copy())
    assert answers == [False]
    assert issubclass(UnsupportedAttributeError, DualadError) and issubclass(UnsupportedAttributeError, AttributeError)


@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian, dualad.jacobian_sparsity],
                         ids=["forward", "reverse", "sparsity"])
def test_assigning_the_shape_is_refused_with_the_reshape_remedy(jac):
    def f(a):
        y = a * 1.0
        y.shape = (4, 3)
        return y
    with pytest.raises(UnsupportedAttributeError, match=r"\.shape = \(4, 3\).*remedy: .* = .*\.reshape\(\(4, 3\)\)"):
        jac(f, X.copy())


@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_round_without_digits_is_a_conversion(jac):
    with pytest.raises(ConversionError, match=r"round\(.*np\.round"):
        jac(lambda a: a * round(a[0, 0]), X.copy())


@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
@pytest.mark.parametrize("call", [lambda a: a.resize(2, 6), lambda a: a.view(np.int64)], ids=["resize", "view dtype"])
def test_in_place_resize_and_reinterpreting_views_are_refused(jac, call):
    with pytest.raises(UnsupportedFunctionError, match="remedy"):
        jac(lambda a: (call(a), a)[1], X.copy())


def test_tape_values_do_not_pickle_and_duals_do():
    def f(a):
        with pytest.raises(ConversionError, match=r"pickling a tape value.*remedy"):
            pickle.dumps(a)
        return a * 2.0
    tape.grad(lambda a: np.sum(f(a)), X.copy())

    d = dualad.Dual(X, np.ones(X.shape + (2,)))
    back = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(back.value, d.value)
    np.testing.assert_array_equal(np.asarray(back.tangent), np.asarray(d.tangent))
    assert copy.deepcopy(d).value is not d.value


@pytest.mark.parametrize("jac", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
def test_refused_keywords_through_methods_are_dualad_errors(jac):
    with pytest.raises(UnsupportedFunctionError, match="where="):
        jac(lambda a: a.mean(where=a > 0), X.copy())
    with pytest.raises(UnsupportedFunctionError, match="initial="):
        jac(lambda a: a.max(initial=0.0), X.copy())
