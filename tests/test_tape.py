"""Reverse mode (dualad.tape): forward == reverse for every rule, identities, hand-derived gradients.

Forward mode (``dualad.jacobian``) is the reference for the table-driven tests:
both modes read the same rules, but through different engines (tangents pushed
forward vs cotangents pulled back, broadcasting undone by summation, fan-out
accumulation), so agreement to rounding checks the tape. Hand-derived formulas,
finite differences and the inner-product identity check it independently.
"""
from __future__ import annotations

import gc
import math
import re
import sys
import threading
import warnings
import weakref

import numpy as np
import pytest

import dualad
from dualad import ConversionError, InputError, OutputError, UnsupportedFunctionError, tape
from dualad.rules import TABLE, Composite, Custom, Elementwise, Linear, ZeroDerivative

from cases import CASES, NO_DERIVATIVE_CASES, RAISES, all_cases, case_id, central_jacobian

ELEMENTWISE = [f for f, r in TABLE.items() if type(r) is Elementwise]
# user-defined rules (dualad.custom_jvp and friends, registered as tests run) are tested in test_custom.py
DIFFERENTIABLE = [f for f, r in TABLE.items() if type(r) in (Linear, Custom, Composite, ZeroDerivative)
                  and not hasattr(f, "custom_function")]
CASE_LIST = all_cases()
CASE_IDS = [f"{case_id(k)}-{i}" for k, i, _, _ in CASE_LIST]


def _same(a, b, rtol=1e-10, atol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _reverse_limitation(key, err) -> bool:
    """The one documented reverse-only refusal: np.einsum with an index repeated inside an operand."""
    return key is np.einsum and "repeated index" in str(err)


# ----------------------------------------------------------------------------- every elementwise rule
def _sample(ufunc, i, shape, rng):
    dom = TABLE[ufunc].domain
    lo, hi = dom[i] if i < len(dom) else dom[-1]
    margin = 0.02 * (hi - lo)
    return rng.uniform(lo + margin, hi - margin, size=shape)


SHAPES = {"scalar": [(), ()], "vector": [(4,), (4,)], "matrix": [(2, 3), (2, 3)],
          "broadcast": [(2, 3), (3,)], "broadcast-left": [(1, 3), (2, 1)]}


@pytest.mark.parametrize("layout", list(SHAPES))
@pytest.mark.parametrize("ufunc", ELEMENTWISE, ids=case_id)
def test_elementwise_forward_equals_reverse(ufunc, layout):
    rng = np.random.default_rng(abs(hash((ufunc.__name__, layout))) % 2**32)
    shapes = SHAPES[layout][:ufunc.nin]
    args = [_sample(ufunc, i, s, rng) for i, s in enumerate(shapes)]
    sizes = [math.prod(s) for s in shapes]
    x = np.concatenate([np.reshape(a, -1) for a in args])

    def f(v):  # every input of the ufunc taken out of one vector: one Jacobian checks them all
        parts, start = [], 0
        for s, n in zip(shapes, sizes):
            parts.append(np.reshape(v[start:start + n], s))
            start += n
        return ufunc(*parts)

    J_fwd = dualad.jacobian(f, x)
    J_rev = tape.jacobian(f, x)
    assert np.all(np.isfinite(J_rev))
    _same(J_rev, J_fwd, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ufunc", [f for f in ELEMENTWISE if f.nin == 2], ids=case_id)
def test_elementwise_one_constant_argument(ufunc):
    rng = np.random.default_rng(7)
    a, b = _sample(ufunc, 0, (3,), rng), _sample(ufunc, 1, (3,), rng)
    for f, x in ((lambda v: ufunc(v, b), a), (lambda v: ufunc(a, v), b)):
        _same(tape.jacobian(f, x), dualad.jacobian(f, x), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- every other rule
def test_every_differentiable_key_has_cases():
    missing = [case_id(k) for k in DIFFERENTIABLE if k not in CASES and k not in RAISES]
    assert not missing, missing


@pytest.mark.parametrize("key, index, f, x", CASE_LIST, ids=CASE_IDS)
def test_case_forward_equals_reverse(key, index, f, x):
    J_fwd = dualad.jacobian(f, x)
    try:
        J_rev = tape.jacobian(f, x)
    except UnsupportedFunctionError as err:
        assert _reverse_limitation(key, err), err
        return
    _same(J_rev, J_fwd)


@pytest.mark.parametrize("key, index, f, x", CASE_LIST, ids=CASE_IDS)
def test_inner_product_identity(key, index, f, x):
    """<v, Jᵀu> = <Jv, u>: reverse mode's vjp against forward mode's jvp, random u and v."""
    rng = np.random.default_rng(index + 101)
    y = np.asarray(f(x), dtype=float)
    u = rng.standard_normal(y.shape)
    v = rng.standard_normal(np.shape(x))
    try:
        _, uJ = tape.vjp(f, x, u)
    except UnsupportedFunctionError as err:
        assert _reverse_limitation(key, err), err
        return
    _, Jv = dualad.jvp(f, x, v)
    lhs, rhs = float(np.sum(v * uJ)), float(np.sum(np.asarray(Jv) * u))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("key", list(RAISES), ids=case_id)
def test_refusing_composites_refuse_in_reverse_mode(key):
    for f, x in RAISES[key]:
        with pytest.raises(UnsupportedFunctionError):
            tape.grad(lambda v: np.sum(f(v)), x)


@pytest.mark.parametrize("key", list(NO_DERIVATIVE_CASES), ids=case_id)
def test_no_derivative_entries_give_plain_values(key):
    for f, x in NO_DERIVATIVE_CASES[key]:
        seen = []
        tape.record(lambda v: seen.append(f(v)) or np.sum(v), x)
        result, plain = seen[0], f(x)
        leaves = result if isinstance(result, tuple) else (result,)
        assert not any(isinstance(r, (tape.Var, dualad.Dual)) for r in leaves)
        np.testing.assert_equal(result, plain)


def test_reverse_einsum_repeated_index_puts_the_adjoint_on_the_diagonal():
    np.testing.assert_array_equal(tape.grad(lambda m: np.einsum("ii->", m), np.eye(3)), np.eye(3))
    np.testing.assert_array_equal(tape.jacobian(lambda m: np.einsum("ii->i", m), np.eye(2)),
                                  np.einsum("ij,ik->ijk", np.eye(2), np.eye(2)))


# ----------------------------------------------------------------------------- hand-derived gradients
def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _softmax(a):
    e = np.exp(a - np.max(a, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def test_two_layer_mlp_matches_the_lecture_formulas():
    """Logistic hidden layer z = σ(xV), softmax output ŷ = softmax(zW), mean cross-entropy."""
    rng = np.random.default_rng(3)
    N, D, M, C = 20, 4, 6, 3
    x = rng.standard_normal((N, D))
    y = np.eye(C)[rng.integers(0, C, N)]
    V = rng.standard_normal((D, M))
    W = rng.standard_normal((M, C))

    def loss(V_, W_):
        z = _sigmoid(x @ V_)
        yhat = _softmax(z @ W_)
        return -np.sum(y * np.log(yhat)) / N

    t = tape.record(loss, V, W)
    dV_tape, dW_tape = t.backward()

    # hand-derived backpropagation
    z = _sigmoid(x @ V)
    yhat = _softmax(z @ W)
    dW = z.T @ (yhat - y) / N
    dV = x.T @ (((yhat - y) @ W.T) * z * (1 - z)) / N
    np.testing.assert_allclose(dW_tape, dW, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dV_tape, dV, rtol=1e-12, atol=1e-14)
    assert t.value == pytest.approx(-np.sum(y * np.log(yhat)) / N)


def test_fan_out_accumulates():
    # x feeds three uses; d/dx (x*x + sin(x)*x) = 2x + x cos x + sin x
    x = np.array([0.3, -1.2, 2.0])
    g = tape.grad(lambda v: np.sum(v * v + np.sin(v) * v), x)
    np.testing.assert_allclose(g, 2 * x + x * np.cos(x) + np.sin(x), rtol=1e-14)
    # one intermediate used three times in one product: d/dx sum(sin(x)^3) = 3 sin² cos
    g = tape.grad(lambda v: np.sum((lambda s: s * s * s)(np.sin(v))), x)
    np.testing.assert_allclose(g, 3 * np.sin(x) ** 2 * np.cos(x), rtol=1e-14)


def test_broadcasting_is_undone_by_summation():
    # y = a[:, None] * b[None, :]; d sum(y) / d a = sum(b) for each a_i
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    g = tape.grad(lambda v: np.sum(v[:, None] * b[None, :] + v[:, None]), a)
    np.testing.assert_allclose(g, np.full(2, b.sum() + 3.0))


def test_chain_of_100000_operations_goes_backward():
    a, n = 1.00001, 50_000  # two primitives per step: 100 000 operations

    def chain(x):
        for _ in range(n):
            x = x * a + 1e-9
        return x

    t = tape.record(chain, 0.5)
    assert len(t.nodes) == 2 * n + 1
    limit = sys.getrecursionlimit()
    (g,) = t.backward()
    assert sys.getrecursionlimit() == limit
    assert float(g) == pytest.approx(a ** n, rel=1e-10)


def test_two_threads_at_once_are_both_correct():
    xs = {"a": np.linspace(0.1, 1.0, 5), "b": np.linspace(-1.0, 0.5, 7)}
    funcs = {"a": lambda v: np.sum(np.sin(v) * v ** 2), "b": lambda v: np.sum(np.exp(v) / (1.0 + v * v))}
    expected = {k: dualad.gradient(funcs[k], xs[k]) for k in xs}
    start = threading.Barrier(2)
    errors, results = [], {}

    def work(k):
        try:
            start.wait()
            results[k] = [tape.grad(funcs[k], xs[k]) for _ in range(200)]
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in xs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    for k in xs:
        for g in results[k]:
            np.testing.assert_allclose(g, expected[k], rtol=1e-13)


def test_tape_is_released_when_the_call_returns():
    refs = []

    def f(v):
        refs.append(weakref.ref(v.tape))
        return np.sum(v ** 2)

    tape.grad(f, np.ones(3))
    gc.collect()
    assert refs and refs[0]() is None


# ----------------------------------------------------------------------------- API
def test_grad_value_and_grad_vjp_jacobian_agree():
    f = lambda v: np.tanh(v) * v[0]  # noqa: E731
    x = np.array([0.2, -0.7, 1.1])
    J = dualad.jacobian(f, x)
    _same(tape.jacobian(f, x), J)
    _same(tape.jacobian(f, x, chunk_size=1), J)
    _same(tape.jacobian(f, x, chunk_size=2), J)
    u = np.array([1.0, -2.0, 0.5])
    value, uJ = tape.vjp(f, x, u)
    _same(value, f(x))
    _same(uJ, u @ J)
    s = lambda v: np.sum(f(v) ** 2)  # noqa: E731
    value, g = tape.value_and_grad(s, x)
    assert value == pytest.approx(s(x))
    _same(g, dualad.gradient(s, x))
    _same(tape.grad(s, x), g)


def test_jacobian_shape_convention_matches_forward_mode():
    x = np.arange(6.0).reshape(2, 3) / 5
    f = lambda m: np.sum(m ** 2, axis=0)  # noqa: E731
    assert tape.jacobian(f, x).shape == dualad.jacobian(f, x).shape == (3, 2, 3)
    assert tape.jacobian(lambda v: v * 2.0, 1.5).shape == ()
    assert tape.jacobian(lambda v: 3.0, np.ones(2)).shape == (2,)
    assert not np.any(tape.jacobian(lambda v: 3.0, np.ones(2)))
    _same(tape.jacobian(lambda v: [[v[0] * v[1], v[0]], [v[1], 2.0]], np.array([2.0, 3.0])),
          dualad.jacobian(lambda v: [[v[0] * v[1], v[0]], [v[1], 2.0]], np.array([2.0, 3.0])))


def test_float32_stays_float32():
    x = np.array([0.1, 0.5, 1.2], dtype=np.float32)
    g = tape.grad(lambda v: np.sum(np.maximum(v, 0.5) * np.tanh(v)), x)
    assert g.dtype == np.float32


def test_errors_name_the_problem():
    with pytest.raises(OutputError, match="scalar"):
        tape.grad(lambda v: v * 2.0, np.ones(3))
    with pytest.raises(InputError, match="shape"):
        tape.vjp(lambda v: v * 2.0, np.ones(3), np.ones(2))
    with pytest.raises(OutputError):
        tape.jacobian(lambda v: "abc", np.ones(2))
    with pytest.raises(ConversionError):
        tape.grad(lambda v: float(v[0]), np.ones(2))
    with pytest.raises(ConversionError):
        tape.grad(lambda v: np.sum(np.asarray(v)), np.ones(2))
    with pytest.raises(ConversionError):
        tape.grad(lambda v: v[v[0]], np.ones(2))
    with pytest.raises(UnsupportedFunctionError):
        tape.grad(lambda v: np.sum(np.spacing(v)), np.ones(2))


def test_stop_gradient_makes_a_constant():
    x = np.array([1.5, -2.0])
    # d/dx sum(x * c) with c = x held constant: c (not 2x)
    np.testing.assert_allclose(tape.grad(lambda v: np.sum(v * tape.stop_gradient(v)), x), x)
    assert not isinstance(tape.stop_gradient(np.float64(2.0)), tape.Var)
    g = tape.grad(lambda v: np.sum(tape.stop_gradient([v, v * 2.0])[1] * v), x)
    np.testing.assert_allclose(g, 2 * x)
    # no gradient at all: zeros, not an error
    np.testing.assert_array_equal(tape.grad(lambda v: np.sum(tape.stop_gradient(v) ** 2), x), np.zeros(2))


def test_in_place_operations_and_buffers_record():
    x = np.array([0.5, 1.0, 2.0])

    def f(v):
        out = np.zeros_like(v)
        for i in range(3):
            out[i] = v[i] ** 2 * v[2 - i]
        out += v
        out *= 2.0
        return out

    _same(tape.jacobian(f, x), dualad.jacobian(f, x))
    _same(tape.jacobian(f, x), central_jacobian(f, x), rtol=1e-7, atol=1e-8)

    def g(v):  # dualad.zeros_like with a shape, and out= into a tape value
        buf = dualad.zeros_like(v, (2,))
        buf[0] = v[0] * v[1]
        np.multiply(v[1:], 3.0, out=buf)
        return buf

    _same(tape.jacobian(g, x[:2]), dualad.jacobian(g, x[:2]))


def test_values_of_a_setitem_buffer_before_the_write_stay_intact():
    # a node that read the buffer before ``buf[0] = ...`` must keep the old value
    def f(v):
        buf = v * 1.0
        before = buf * buf
        buf[0] = 10.0 * v[1]
        return np.sum(before) + np.sum(buf)

    x = np.array([1.0, 2.0])
    _same(tape.grad(f, x), dualad.gradient(f, x))


def test_errstate_of_the_recorded_call_covers_the_backward_step():
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        def f(v):
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(v > 0, 1.0 / v, 0.0)
            return np.sum(r)

        g = tape.grad(f, np.array([0.0, 2.0]))
    np.testing.assert_allclose(g, [0.0, -0.25])


@pytest.mark.filterwarnings("ignore:divide by zero")  # the sqrt rule at 0, in both modes
def test_norm_at_zero_has_gradient_zero_as_in_forward_mode():
    # ∞ cotangent (from sqrt at 0) times a zero partial gives 0, mirroring forward mode
    f = lambda v: np.linalg.norm(v - 1.0)  # noqa: E731
    np.testing.assert_array_equal(tape.grad(f, np.ones(3)), dualad.gradient(f, np.ones(3)))
    np.testing.assert_array_equal(tape.grad(f, np.ones(3)), np.zeros(3))


# ----------------------------------------------------------------------------- inspection
def _graph():
    return tape.record(lambda x, y, z: tape.label(x + y, "q") * z, -2.0, 5.0, -4.0)


def test_record_names_inputs_and_gives_the_gradients():
    t = _graph()
    assert [n.label for n in t.inputs] == ["x", "y", "z"]
    assert t.value == -12.0
    assert [float(g) for g in t.backward()] == [-4.0, -4.0, 3.0]
    assert [float(g) for g in t.grads] == [-4.0, -4.0, 3.0]
    t2 = tape.record(lambda a, b: a * b, 2.0, 3.0, names=["w", "x"])
    assert [n.label for n in t2.inputs] == ["w", "x"]
    with pytest.raises(InputError):
        tape.record(lambda a, b: a * b, 2.0, 3.0, names=["w"])


def test_listing_shows_op_value_local_gradients_and_adjoint():
    t = _graph()
    before = t.listing()
    assert "call backward()" in before
    t.backward()
    rows = [line.split() for line in t.listing().splitlines()[2:]]
    # index, name, op, inputs..., value, local grads..., adjoint
    assert rows[0] == ["0", "x", "input", "-2", "-4"]
    assert rows[2] == ["2", "z", "input", "-4", "3"]
    assert rows[3] == ["3", "q", "add", "x,", "y", "3", "1,", "1", "-4"]
    assert rows[4] == ["4", "v4", "multiply", "q,", "z", "-12", "-4,", "3", "1"]
    assert len(t.nodes) == 5 and [n.op for n in t.nodes] == ["input"] * 3 + ["add", "multiply"]


def test_long_listing_is_elided_in_the_middle():
    def chain(v):
        for _ in range(50):
            v = v * 1.1 + 1.0
        return v

    t = tape.record(chain, 0.5)
    t.backward()
    lines = t.listing(max_rows=8).splitlines()
    assert len(lines) == 2 + 8 + 1 and "(93 more nodes)" in lines[6]
    assert lines[-1].split()[:3] == ["100", "v100", "add"] and lines[-1].split()[-1] == "1"
    assert float(lines[2].split()[-1]) == pytest.approx(1.1 ** 50, rel=1e-5)  # d out / d x
    assert len(t.listing(max_rows=None).splitlines()) == 2 + 101


def test_dot_export_is_well_formed_text():
    t = _graph()
    t.backward()
    dot = t.to_dot()
    lines = dot.strip().splitlines()
    assert lines[0] == "digraph tape {" and lines[-1] == "}"
    nodes = {line.split()[0] for line in lines if re.match(r"\s*n\d+ \[", line)}
    edges = sorted((line.split()[0], line.split()[2].rstrip(";")) for line in lines if "->" in line)
    assert nodes == {f"n{i}" for i in range(5)}
    assert edges == [("n0", "n3"), ("n1", "n3"), ("n2", "n4"), ("n3", "n4")]
    assert 'label="q = add\\nvalue 3\\ngrad -4"' in dot
    assert '"local -4"' in dot  # d(q z)/dq = z = -4 on the edge q -> output
    assert dot.count("{") == dot.count("}")


def test_nbytes_counts_values_and_adjoints():
    x = np.ones(1000)
    t = tape.record(lambda v: np.sum(v * 2.0), x)
    # the input, the product and the scalar sum, 8 bytes per float
    assert t.nbytes == 8 * (1000 + 1000 + 1)
    t.backward()
    assert t.nbytes > 8 * (1000 + 1000 + 1)
    assert len(t) == 3 and "3 nodes" in repr(t)


def test_tuple_outputs_record_one_node_per_item():
    A = np.array([[2.0, 0.5], [0.3, 1.5]])
    f = lambda m: np.linalg.slogdet(m)[1] * 2.0  # noqa: E731
    _same(tape.grad(f, A), 2.0 * np.linalg.inv(A).T)
    assert any(n.op.startswith("item[") for n in tape.record(f, A).nodes)


# ----------------------------------------------------------------------------- mixed and nested modes
def _rosenbrock(v):
    return np.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)


def _mlp_loss(theta):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3))
    y = np.eye(2)[rng.integers(0, 2, 8)]
    V, W = theta[:12].reshape(3, 4), theta[12:].reshape(4, 2)
    yhat = _softmax(_sigmoid(x @ V) @ W)
    return -np.sum(y * np.log(yhat)) / 8


@pytest.mark.parametrize("f, n", [(_rosenbrock, 5), (_mlp_loss, 20),
                                  (lambda v: np.prod(v) + np.linalg.det(np.reshape(v, (2, 2))), 4)],
                         ids=["rosenbrock", "mlp", "prod-det"])
def test_hvp_matches_hessian_and_differences_of_the_gradient(f, n):
    rng = np.random.default_rng(n)
    x, v = rng.uniform(0.2, 1.2, n), rng.standard_normal(n)
    hv = dualad.hvp(f, x, v)
    np.testing.assert_allclose(hv, dualad.hessian(f, x) @ v, rtol=1e-9, atol=1e-10)
    h = 1e-5
    fd = (tape.grad(f, x + h * v) - tape.grad(f, x - h * v)) / (2 * h)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key, index, f, x", CASE_LIST, ids=CASE_IDS)
def test_hvp_through_every_case(key, index, f, x):
    """Forward over reverse: every transpose/vjp runs on Dual cotangents."""
    rng = np.random.default_rng(index + 7)
    w = rng.standard_normal(np.shape(f(x)))
    s = lambda z: np.sum(f(z) * w)  # noqa: E731
    v = rng.standard_normal(np.shape(x))
    try:
        hv = dualad.hvp(s, x, v)
    except UnsupportedFunctionError as err:
        assert _reverse_limitation(key, err), err
        return
    expected = np.tensordot(dualad.hessian(s, x), v, axes=np.ndim(x))
    np.testing.assert_allclose(hv, expected, rtol=1e-8, atol=1e-10)


def test_hvp_of_a_linear_function_is_zero():
    np.testing.assert_array_equal(dualad.hvp(lambda v: np.sum(3.0 * v), np.ones(3), np.ones(3)), np.zeros(3))
    with pytest.raises(InputError):
        dualad.hvp(_rosenbrock, np.ones(3), np.ones(2))


def test_all_four_nestings_give_the_second_derivative():
    f = lambda y: np.sin(y) * y ** 2  # noqa: E731
    y = 0.7
    exact = (2 - y * y) * np.sin(y) + 4 * y * np.cos(y)
    assert float(tape.grad(lambda t: tape.grad(f, t), y)) == pytest.approx(exact, rel=1e-13)  # reverse/reverse
    assert float(dualad.derivative(lambda t: tape.grad(f, t), y)) == pytest.approx(exact, rel=1e-13)
    assert float(tape.grad(lambda t: dualad.derivative(f, t), y)) == pytest.approx(exact, rel=1e-13)
    x = np.array([0.3, -0.4, 1.1])
    h = lambda v: np.sum(np.exp(v) * v[0]) + v[1] ** 3 * v[2]  # noqa: E731
    H = dualad.hessian(h, x)
    np.testing.assert_allclose(tape.jacobian(lambda v: tape.grad(h, v), x), H, rtol=1e-13)
    np.testing.assert_allclose(dualad.jacobian(lambda v: tape.grad(h, v), x), H, rtol=1e-13)
    np.testing.assert_allclose(tape.jacobian(lambda v: dualad.gradient(h, v), x), H, rtol=1e-13)


def test_jacobian_of_a_reverse_jacobian_is_the_second_derivative_tensor():
    f = lambda v: np.stack([v[0] * np.sin(v[1]), v[1] ** 3 * v[2], np.exp(v[0] * v[2])])  # noqa: E731
    x = np.array([0.4, -0.8, 1.3])
    T = dualad.jacobian(lambda v: dualad.jacobian(f, v), x)
    np.testing.assert_allclose(dualad.jacobian(lambda v: tape.jacobian(f, v), x), T, rtol=1e-13)
    np.testing.assert_allclose(dualad.jacobian(lambda v: tape.jacobian(f, v, chunk_size=2), x), T, rtol=1e-13)
    np.testing.assert_allclose(tape.jacobian(lambda v: tape.jacobian(f, v), x), T, rtol=1e-13)


def test_reverse_jacobian_memory_is_the_jacobian_plus_two_chunks():
    import tracemalloc
    x = np.linspace(0.1, 1.0, 3000)  # dense Jacobian: 72 MB; chunked seeds keep the extra small
    tracemalloc.start()
    try:
        J = tape.jacobian(np.sin, x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the Jacobian itself plus about two m x chunk cotangent blocks (seed and product)
    assert peak < J.nbytes + 2.5 * dualad.forward.CHUNK_BYTES, (peak - J.nbytes) / dualad.forward.CHUNK_BYTES
    idx = np.arange(0, x.size, 97)
    np.testing.assert_allclose(J[idx, idx], np.cos(x[idx]), rtol=1e-14)
    assert np.count_nonzero(J) == x.size


def test_closure_over_an_outer_tape_value_is_a_constant_inside():
    # d/da [ d/dx (a x²) at x = 3 ] = d/da (6a) = 6
    g = tape.grad(lambda a: tape.grad(lambda x: a * x ** 2, 3.0), 2.0)
    assert float(g) == pytest.approx(6.0)


def test_python_operators_and_methods_mirror_dual():
    x = np.array([[0.5, 1.5], [2.0, 0.7]])

    def f(m):
        r = (m @ m.T - 2 / m + m ** 2 % 1.3) * -m
        return abs(r).sum(axis=0) + m.mean() + m.reshape(-1)[::2].prod() + m.T.max() + m.std()

    _same(tape.jacobian(f, x), dualad.jacobian(f, x))
    with pytest.raises(ConversionError):
        tape.grad(lambda m: m.astype(np.int64).sum(), x)
    t = tape.record(lambda v: (v > 0.6).sum() * v[0, 0], x)
    assert float(t.value) == 3 * 0.5


# ----------------------------------------------------------------------------- docs and demo
@pytest.mark.parametrize("module", ["dualad.tape", "dualad.tape.api", "dualad.tape.var", "dualad.tape.display",
                                    "dualad.checking", "dualad.testing"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    defaults = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False, nanstr="nan",
                    infstr="inf", sign="-", floatmode="maxprec", legacy=False)
    with np.printoptions(**defaults):  # other tests (the demo) may have changed the print options
        result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_demo_shows_reverse_mode_beside_forward_and_differences():
    import io
    from dualad.__main__ import demo
    out = io.StringIO()
    with np.printoptions():  # the demo sets its own print options; restore them afterwards
        demo(out=out)
    text = out.getvalue()
    assert "reverse mode" in text and "finite differences" in text
    diff = float(text.split("max |forward - reverse| =")[1].split()[0])
    assert diff < 1e-12
