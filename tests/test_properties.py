"""Property-based tests: random numpy expression trees, differentiated three ways.

hypothesis draws an expression over the supported operations (elementwise
unary and binary with broadcasting, reductions, shape ops, indexing, where,
matmul) whose leaves are slices of one input vector reshaped to (), (3,),
(2, 3), (2, 1) or (1, 3), or constants. Each drawn function is checked:

* forward (``dualad.jacobian``) equals reverse (``dualad.tape.jacobian``),
  including at kinks, ties and zeros, where both must apply the same convention;
* both match central finite differences when every operation is smooth;
* the dot-product test ``<v, J^T u> == <J v, u>`` with ``J v`` from ``dualad.jvp``
  and ``J^T u`` from ``dualad.tape.vjp``.

Operations with a restricted domain get a transformed input (``log`` of a
softplus, ``sqrt`` of ``a*a + 0.5``, ``arcsin`` of ``0.9 tanh a``), so every
drawn function is defined everywhere. The profile is derandomized with a
bounded number of examples, so CI runs are reproducible and short.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dualad  # noqa: E402
from cases import central_jacobian  # noqa: E402

tape = pytest.importorskip("dualad.tape")

N = 16  # length of the input vector the leaves are cut from
SHAPES = [(), (3,), (2, 3), (2, 1), (1, 3)]

PROFILE = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much])


class Node:
    """An expression: ``run(x)`` evaluates it on the input (an array, a Dual or a tape value)."""

    def __init__(self, run, shape, text, smooth=True):
        self.run, self.shape, self.text, self.smooth = run, tuple(shape), text, smooth

    def __repr__(self) -> str:
        return self.text


# name: (function, smooth everywhere?)
UNARY = {
    "sin": (np.sin, True),
    "cos": (np.cos, True),
    "tanh": (np.tanh, True),
    "arctan": (np.arctan, True),
    "neg": (np.negative, True),
    "square": (np.square, True),
    "exp(tanh)": (lambda a: np.exp(np.tanh(a)), True),
    "expm1(tanh)": (lambda a: np.expm1(np.tanh(a)), True),
    "exp2(tanh)": (lambda a: np.exp2(np.tanh(a)), True),
    "log(softplus)": (lambda a: np.log(np.logaddexp(0.0, a)), True),
    "log2(1+a^2)": (lambda a: np.log2(1.0 + a * a), True),
    "log10(exp)": (lambda a: np.log10(np.exp(np.tanh(a))), True),
    "log1p(a^2)": (lambda a: np.log1p(a * a), True),
    "sqrt(a^2+.5)": (lambda a: np.sqrt(a * a + 0.5), True),
    "cbrt(a^2+.5)": (lambda a: np.cbrt(a * a + 0.5), True),
    "recip(1+a^2)": (lambda a: np.reciprocal(1.0 + a * a), True),
    "pow1.5": (lambda a: (a * a + 0.5) ** 1.5, True),
    "arcsin(tanh)": (lambda a: np.arcsin(0.9 * np.tanh(a)), True),
    "arccos(tanh)": (lambda a: np.arccos(0.9 * np.tanh(a)), True),
    "arctanh(tanh)": (lambda a: np.arctanh(0.9 * np.tanh(a)), True),
    "arccosh": (lambda a: np.arccosh(1.5 + a * a), True),
    "arcsinh": (np.arcsinh, True),
    "sinh(tanh)": (lambda a: np.sinh(np.tanh(a)), True),
    "cosh(tanh)": (lambda a: np.cosh(np.tanh(a)), True),
    "abs": (np.abs, False),
    "relu": (lambda a: np.maximum(a, 0.0), False),
    "clip": (lambda a: np.clip(a, -0.5, 0.5), False),
    "where(a>0)": (lambda a: np.where(a > 0, np.sqrt(np.abs(a)), a * a), False),
    "sqrt|a|": (lambda a: np.sqrt(np.abs(a)), False),
    "floor": (np.floor, False),
    "sign*a": (lambda a: np.sign(a) * a, False),
}

BINARY = {
    "add": (np.add, True),
    "sub": (np.subtract, True),
    "mul": (np.multiply, True),
    "div": (lambda a, b: a / (1.0 + b * b), True),
    "logaddexp": (np.logaddexp, True),
    "arctan2": (lambda a, b: np.arctan2(a, 1.5 + b * b), True),
    "pow": (lambda a, b: (a * a + 0.5) ** np.tanh(b), True),
    "hypot": (np.hypot, False),
    "maximum": (np.maximum, False),
    "minimum": (np.minimum, False),
    "fmax": (np.fmax, False),
}


def _reductions(shape):
    """(name, function, new shape, smooth) of reductions applicable to ``shape``."""
    out = [("sum", np.sum, (), True), ("mean", np.mean, (), True), ("prod", np.prod, (), True),
           ("max", np.max, (), False), ("norm", np.linalg.norm, (), False)]
    if len(shape) >= 1:
        out.append(("cumsum", lambda a: np.cumsum(a, axis=-1), shape, True))
        out.append(("sum-1", lambda a: np.sum(a, axis=-1), shape[:-1], True))
        out.append(("min-0", lambda a: np.min(a, axis=0), shape[1:], False))
        out.append(("cumprod", lambda a: np.cumprod(a, axis=0), shape, True))
    if len(shape) == 2:
        out.append(("sum-0-keep", lambda a: np.sum(a, axis=0, keepdims=True), (1, shape[1]), True))
        out.append(("var-1", lambda a: np.var(a, axis=1), shape[:1], True))
    return out


def _shape_ops(shape):
    """(name, function, new shape) of shape and indexing operations applicable to ``shape``."""
    size = int(np.prod(shape))
    out = [("ravel", np.ravel, (size,)), ("transpose", np.transpose, shape[::-1]),
           ("reshape", lambda a: np.reshape(a, (size, 1)), (size, 1))]
    if len(shape) >= 1:
        out.append(("flip", lambda a: a[..., ::-1], shape))
        out.append(("first", lambda a: a[0], shape[1:]))
        out.append(("take", lambda a: a[[0, -1, 0]], (3,) + shape[1:]))
        out.append(("roll", lambda a: np.roll(a, 1, axis=0), shape))
    if len(shape) == 2:
        out.append(("col", lambda a: a[:, -1], shape[:1]))
    out.append(("bcast", lambda a: np.broadcast_to(a, np.broadcast_shapes(shape, (2, 3))),
                np.broadcast_shapes(shape, (2, 3))) if _fits(shape, (2, 3)) else ("copy", np.copy, shape))
    return out


def _fits(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


@st.composite
def leaf(draw):
    """A slice of the input reshaped to one of SHAPES (constants enter through binary ops)."""
    shape = draw(st.sampled_from(SHAPES))
    size = int(np.prod(shape))
    start = draw(st.integers(0, N - size))

    def run(x):
        return np.reshape(x[start:start + size], shape)

    return Node(run, shape, f"x[{start}:{start + size}]{shape}")


@st.composite
def constant(draw, shape):
    values = draw(st.lists(st.floats(-2.0, 2.0, allow_nan=False, width=64), min_size=int(np.prod(shape)),
                           max_size=int(np.prod(shape))))
    c = np.array(values, dtype=float).reshape(shape)
    return Node(lambda x, c=c: c, shape, f"c{shape}")


@st.composite
def expression(draw, depth=3, top=True):
    if depth == 0 or (not top and draw(st.integers(0, 3)) == 0):
        return draw(leaf())
    kind = draw(st.sampled_from(["unary", "unary", "binary", "binary", "reduce", "shape", "where", "matmul",
                                 "concat"]))
    a = draw(expression(depth - 1, top=False))
    if kind == "unary":
        name = draw(st.sampled_from(sorted(UNARY)))
        f, smooth = UNARY[name]
        return Node(lambda x: f(a.run(x)), a.shape, f"{name}({a})", smooth and a.smooth)
    if kind == "binary":
        name = draw(st.sampled_from(sorted(BINARY)))
        f, smooth = BINARY[name]
        b = draw(st.one_of(expression(depth - 1, top=False), constant(draw(st.sampled_from(SHAPES)))))
        if not _fits(a.shape, b.shape):
            b = Node(lambda x, b=b: np.sum(b.run(x)), (), f"sum({b})", b.smooth)
        if draw(st.booleans()):
            a, b = b, a
        return Node(lambda x: f(a.run(x), b.run(x)), np.broadcast_shapes(a.shape, b.shape), f"{name}({a}, {b})",
                    smooth and a.smooth and b.smooth)
    if kind == "reduce":
        name, f, shape, smooth = draw(st.sampled_from(_reductions(a.shape)))
        return Node(lambda x: f(a.run(x)), shape, f"{name}({a})", smooth and a.smooth)
    if kind == "shape":
        name, f, shape = draw(st.sampled_from(_shape_ops(a.shape)))
        return Node(lambda x: f(a.run(x)), shape, f"{name}({a})", a.smooth)
    if kind == "where":
        b = draw(expression(depth - 1, top=False))
        if not _fits(a.shape, b.shape):
            b = Node(lambda x, b=b: np.mean(b.run(x)), (), f"mean({b})", b.smooth)
        shape = np.broadcast_shapes(a.shape, b.shape)
        mask = np.array(draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                      max_size=int(np.prod(shape))))).reshape(shape)
        return Node(lambda x: np.where(mask, a.run(x), b.run(x)), shape, f"where(mask, {a}, {b})",
                    a.smooth and b.smooth)
    if kind == "matmul":
        if len(a.shape) == 0:
            return a
        k = a.shape[-1]
        b = draw(expression(depth - 1, top=False))
        right = Node(lambda x: np.reshape(_tile_to(b.run(x), k), (k, 2)), (k, 2), f"tile({b})", b.smooth)
        shape = a.shape[:-1] + (2,)
        return Node(lambda x: a.run(x) @ right.run(x), shape, f"({a} @ {right})", a.smooth and right.smooth)
    # concat: join two flattened subexpressions
    b = draw(expression(depth - 1, top=False))
    size = int(np.prod(a.shape)) + int(np.prod(b.shape))
    return Node(lambda x: np.concatenate([np.ravel(a.run(x)), np.ravel(b.run(x)) * 2.0]), (size,),
                f"concat({a}, {b})", a.smooth and b.smooth)


def _tile_to(v, k):
    """A (k * 2,)-vector built from ``v`` by repeating its entries (a gather: differentiable)."""
    flat = np.ravel(v)
    n = int(np.prod(np.shape(flat)))
    return flat[np.arange(2 * k) % n] * np.linspace(0.5, 1.5, 2 * k)


def _each_operation():
    """(id, function of x, smooth) for every operation above, on broadcasting shape pairs."""
    out = []
    for name, (f, smooth) in UNARY.items():
        out.append((f"unary-{name}", (lambda x, f=f: f(np.reshape(x[:6], (2, 3)))), smooth))
    for name, (f, smooth) in BINARY.items():
        for sa, sb in (((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3))):
            na, nb = int(np.prod(sa)), int(np.prod(sb))

            def g(x, f=f, sa=sa, sb=sb, na=na, nb=nb):
                return f(np.reshape(x[:na], sa), np.reshape(x[na:na + nb], sb))

            out.append((f"binary-{name}-{sa}-{sb}", g, smooth))
    for shape in ((2, 3), (3,)):
        n = int(np.prod(shape))
        for name, f, _, smooth in _reductions(shape):
            out.append((f"reduce-{name}-{shape}", (lambda x, f=f, n=n, shape=shape: f(np.reshape(x[:n], shape))),
                        smooth))
        for name, f, _ in _shape_ops(shape):
            out.append((f"shape-{name}-{shape}", (lambda x, f=f, n=n, shape=shape: f(np.reshape(x[:n], shape))),
                        True))
    return out


EACH = _each_operation()


@pytest.mark.parametrize("name,f,smooth", EACH, ids=[e[0] for e in EACH])
def test_each_operation_three_ways(name, f, smooth):
    """Every operation the trees draw from, alone: hypothesis may not draw each one."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rng.uniform(-1.5, 1.5, N)
    Jf = dualad.jacobian(f, x)
    Jr = np.asarray(tape.jacobian(f, x))
    np.testing.assert_allclose(Jf, Jr, rtol=1e-10, atol=1e-12)
    if smooth:  # random points are almost surely away from kinks, but only smooth ones are promised
        fd = central_jacobian(f, x)
        np.testing.assert_allclose(Jf, fd, rtol=1e-5, atol=1e-6 * (1 + np.max(np.abs(fd), initial=0.0)))
    u = rng.standard_normal(np.shape(f(x)))
    v = rng.standard_normal(N)
    assert float(np.dot(v, np.asarray(tape.vjp(f, x, u)[1]))) == pytest.approx(
        float(np.sum(np.asarray(dualad.jvp(f, x, v)[1]) * u)), rel=1e-10, abs=1e-12)


# Entries whose squares underflow (0 < |v| < 1e-150) are left out: there a norm's value is 0 in
# numpy too, and its derivative meets the documented 0 x inf gap (forward NaN, reverse 0).
_NOT_UNDERFLOWING = st.floats(-1.5, 1.5, allow_nan=False, width=64).filter(lambda v: v == 0 or abs(v) > 1e-150)
points = st.lists(_NOT_UNDERFLOWING, min_size=N, max_size=N).map(np.array)


def _check_shape(node, x):
    assert np.shape(node.run(x)) == node.shape, node


@PROFILE
@given(expression(), points)
def test_forward_equals_reverse(node, x):
    _check_shape(node, x)
    Jf = dualad.jacobian(node.run, x)
    Jr = np.asarray(tape.jacobian(node.run, x))
    assert Jf.shape == node.shape + (N,)
    assert np.all(np.isfinite(Jf)), node
    np.testing.assert_allclose(Jf, Jr, rtol=1e-9, atol=1e-9, err_msg=repr(node))


@PROFILE
@given(expression(), points)
def test_smooth_expressions_match_finite_differences(node, x):
    if not node.smooth:
        return
    Jf = dualad.jacobian(node.run, x)
    Jr = np.asarray(tape.jacobian(node.run, x))
    fd = central_jacobian(node.run, x)
    scale = 1.0 + np.max(np.abs(fd), initial=0.0)
    np.testing.assert_allclose(Jf, fd, rtol=1e-5, atol=1e-6 * scale, err_msg=repr(node))
    np.testing.assert_allclose(Jr, fd, rtol=1e-5, atol=1e-6 * scale, err_msg=repr(node))


@PROFILE
@given(expression(), points, st.integers(0, 2**32 - 1))
def test_dot_product_identity(node, x, seed):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(N)
    u = rng.standard_normal(node.shape)
    y, Jv = dualad.jvp(node.run, x, v)
    y_r, JTu = tape.vjp(node.run, x, u)
    np.testing.assert_allclose(np.asarray(y_r), y, rtol=1e-12, atol=1e-12)
    lhs, rhs = float(np.dot(v, np.asarray(JTu))), float(np.sum(np.asarray(Jv) * u))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9), node


@PROFILE
@given(expression(depth=2), points)
def test_float32_forward_equals_reverse(node, x):
    # a float32 value gets a float32 derivative in both modes (a float64 constant in the
    # expression may promote the value; the modes may then differ in the Jacobian's dtype:
    # forward follows the output, reverse the input)
    x32 = x.astype(np.float32)
    dtype = np.asarray(node.run(x32)).dtype
    Jf = dualad.jacobian(node.run, x32)
    Jr = np.asarray(tape.jacobian(node.run, x32))
    assert Jf.dtype == dtype, node
    if dtype == np.float32:
        assert Jr.dtype == np.float32, node
    np.testing.assert_allclose(Jf, Jr, rtol=1e-4, atol=1e-4, err_msg=repr(node))
