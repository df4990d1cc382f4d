"""Containers, argnums, has_aux, f's keywords and the transforms, checked against JAX on the same functions.

Each function is written once over an array namespace ``xp`` and run as numpy code by dualad and as
``jax.numpy`` code by JAX (float64 enabled); the results must have the same structure (our
``tree_flatten`` against ``jax.tree_util``) and the same leaves.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import DualadError, InputError, OutputError
from dualad.pytree import tree_flatten, tree_map, tree_unflatten

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
jtu = jax.tree_util


# ----------------------------------------------------------------------------- helpers
def same(ours, theirs, rtol=1e-12, atol=1e-12):
    """Equal structure and equal leaves, shapes included (both flattened by JAX's rules).

    JAX's flattening is the independent judge here: a tuple of 0-d results (one block per scalar
    argument) is a tuple for it, while dualad's own ``tree_flatten`` reads a tuple of scalars as an
    array (its documented convention for inputs and outputs).
    """
    leaves, treedef = jtu.tree_flatten(ours)
    their_leaves, their_def = jtu.tree_flatten(theirs)
    assert treedef == their_def, (treedef, their_def)
    for a, b in zip(leaves, their_leaves):
        b = np.asarray(b)
        assert isinstance(a, (np.ndarray, np.generic)), type(a)
        assert np.shape(a) == b.shape, (np.shape(a), b.shape)
        np.testing.assert_allclose(np.asarray(a, dtype=float), b, rtol=rtol, atol=atol)


@functools.lru_cache(maxsize=None)
def reference(transform, fn, argnums=0, has_aux=False):
    """A compiled JAX transform of ``fn`` over jax.numpy (compiling once is far quicker than eager JAX)."""
    options = {} if transform is jax.hessian and not has_aux else {"has_aux": has_aux}
    return jax.jit(transform(functools.partial(fn, jnp), argnums=argnums, **options))


def both(fn):
    """``fn(xp, ...)`` as (numpy version for dualad, jax.numpy version for JAX)."""
    return functools.partial(fn, np), functools.partial(fn, jnp)


def to_jax(tree):
    return jtu.tree_map(jnp.asarray, tree)


rng = np.random.default_rng(0)
W = rng.normal(size=(3, 4))
V = rng.normal(size=(2, 3))
b = rng.normal(size=3)
X = rng.normal(size=(4, 5))
PARAMS = {"W": W, "V": V, "b": b}


def mlp_loss(xp, p, x, scale=1.0):
    hidden = xp.tanh(p["W"] @ x + p["b"][:, None])
    return scale * xp.sum((p["V"] @ hidden) ** 2) / x.shape[1]


def tree_out(xp, a, t):
    """A container in (a vector and a tuple) and a container out (a dict of a matrix and a scalar)."""
    u, s = t
    return {"outer": xp.sin(a)[:, None] * u[None, :], "sum": xp.sum(a * a) * s + xp.sum(u ** 3)}


A = np.array([0.3, -0.7, 1.1])
T = (np.array([0.5, 2.0]), np.array(1.5))


# ----------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("argnums", [1, (0, 1), (1, 0), -1])
@pytest.mark.parametrize("form", ["jacobian", "tape.jacobian", "jacfwd", "jacrev"])
def test_jacobian_of_containers_matches_jax(form, argnums):
    f_np = functools.partial(tree_out, np)
    expected = reference(jax.jacfwd, tree_out, argnums)(jnp.asarray(A), to_jax(T))
    got = {"jacobian": lambda: dualad.jacobian(f_np, A, T, argnums=argnums),
           "tape.jacobian": lambda: tape.jacobian(f_np, A, T, argnums=argnums),
           "jacfwd": lambda: dualad.jacfwd(f_np, argnums=argnums)(A, T),
           "jacrev": lambda: dualad.jacrev(f_np, argnums=argnums)(A, T)}[form]()
    same(got, expected)


@pytest.mark.parametrize("chunk_size", [None, 1, 2])
def test_container_jacobian_options_go_to_the_core(chunk_size):
    f_np = functools.partial(tree_out, np)
    expected = reference(jax.jacfwd, tree_out, (0, 1))(jnp.asarray(A), to_jax(T))
    same(dualad.jacobian(f_np, A, T, argnums=(0, 1), chunk_size=chunk_size), expected)
    same(dualad.jacfwd(f_np, argnums=(0, 1), chunk_size=chunk_size)(A, T), expected)
    same(tape.jacobian(f_np, A, T, argnums=(0, 1), chunk_size=chunk_size), expected)
    same(dualad.jacrev(f_np, argnums=(0, 1), chunk_size=chunk_size)(A, T), expected)


def test_jacobian_of_list_of_vectors_output_is_a_list():
    # a list holding arrays is a container (a list of numbers stays an array, as before)
    f = lambda x: [x ** 2, np.sum(x)]  # noqa: E731
    got = dualad.jacobian(f, A)
    assert isinstance(got, list) and len(got) == 2
    np.testing.assert_allclose(got[0], np.diag(2 * A))
    np.testing.assert_allclose(got[1], np.ones(3))
    np.testing.assert_allclose(dualad.jacobian(lambda x: [x[0] * x[1], x[2]], A),
                               [[A[1], A[0], 0.0], [0.0, 0.0, 1.0]])


# ----------------------------------------------------------------------------- gradients
def mlp_loss_half(xp, p, x):
    return mlp_loss(xp, p, x, scale=0.5)


@pytest.mark.parametrize("argnums", [0, (0, 1)])
@pytest.mark.parametrize("form", ["gradient", "tape.grad", "grad", "value_and_grad", "tape.value_and_grad"])
def test_gradient_of_dict_params_matches_jax(form, argnums):
    f_np = functools.partial(mlp_loss, np)
    value, expected = reference(jax.value_and_grad, mlp_loss_half, argnums)(to_jax(PARAMS), jnp.asarray(X))
    calls = {
        "gradient": lambda: dualad.gradient(f_np, PARAMS, X, argnums=argnums, scale=0.5),
        "tape.grad": lambda: tape.grad(f_np, PARAMS, X, argnums=argnums, scale=0.5),
        "grad": lambda: dualad.grad(f_np, argnums=argnums)(PARAMS, X, scale=0.5),
        "value_and_grad": lambda: dualad.value_and_grad(f_np, argnums=argnums)(PARAMS, X, scale=0.5),
        "tape.value_and_grad": lambda: tape.value_and_grad(f_np, PARAMS, X, argnums=argnums, scale=0.5),
    }
    got = calls[form]()
    if "value" in form:
        assert float(got[0]) == pytest.approx(float(value), rel=1e-13)
        got = got[1]
    same(got, expected)


def loss_with_aux(xp, p, x):
    hidden = xp.tanh(p["W"] @ x + p["b"][:, None])
    out = p["V"] @ hidden
    return xp.sum(out ** 2), {"hidden": hidden, "mean": xp.mean(out)}


def loss_with_aux_of_b(xp, shift, x):
    return loss_with_aux(xp, {"W": W, "V": V, "b": shift}, x)


@pytest.mark.parametrize("form", ["grad", "value_and_grad", "tape.grad", "tape.value_and_grad", "gradient",
                                  "jacfwd", "jacrev", "hess"])
def test_has_aux_matches_jax(form):
    f_np = functools.partial(loss_with_aux, np)
    p_jax, x_jax = to_jax(PARAMS), jnp.asarray(X)
    ours = {
        "grad": lambda: dualad.grad(f_np, has_aux=True)(PARAMS, X),
        "value_and_grad": lambda: dualad.value_and_grad(f_np, has_aux=True)(PARAMS, X),
        "tape.grad": lambda: tape.grad(f_np, PARAMS, X, has_aux=True),
        "tape.value_and_grad": lambda: tape.value_and_grad(f_np, PARAMS, X, has_aux=True),
        "gradient": lambda: dualad.gradient(f_np, PARAMS, X, has_aux=True),
        "jacfwd": lambda: dualad.jacfwd(f_np, argnums=1, has_aux=True)(PARAMS, X),
        "jacrev": lambda: dualad.jacrev(f_np, argnums=1, has_aux=True)(PARAMS, X),
        "hess": lambda: dualad.hess(lambda p, x: f_np({**PARAMS, "b": p}, x), has_aux=True)(b, X),
    }[form]()
    (value, aux), g = reference(jax.value_and_grad, loss_with_aux, 0, True)(p_jax, x_jax)
    theirs = {
        "grad": lambda: (g, aux),
        "value_and_grad": lambda: ((value, aux), g),
        "tape.grad": lambda: (g, aux),
        "tape.value_and_grad": lambda: ((value, aux), g),
        "gradient": lambda: (g, aux),
        "jacfwd": lambda: reference(jax.jacfwd, loss_with_aux, 1, True)(p_jax, x_jax),
        "jacrev": lambda: reference(jax.jacfwd, loss_with_aux, 1, True)(p_jax, x_jax),
        "hess": lambda: reference(jax.hessian, loss_with_aux_of_b, 0, True)(p_jax["b"], x_jax),
    }[form]()
    same(ours, theirs)
    # the auxiliary data is plain: no Dual or tape value escapes
    for leaf in tree_flatten(ours)[0]:
        assert isinstance(leaf, (np.ndarray, np.generic, float))


# ----------------------------------------------------------------------------- Hessians, jvp, vjp, hvp, derivative
def scalar_of_tree(xp, a, t):
    u, s = t
    return xp.sum(xp.sin(a) * a[0]) * s ** 2 + xp.sum(u ** 3 * a[1])


@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_hessian_matches_jax(argnums):
    f_np = functools.partial(scalar_of_tree, np)
    expected = reference(jax.hessian, scalar_of_tree, argnums)(jnp.asarray(A), to_jax(T))
    same(dualad.hessian(f_np, A, T, argnums=argnums), expected)
    same(dualad.hess(f_np, argnums=argnums)(A, T), expected)


def test_hessian_of_dict_matches_jax_and_nested_transforms():
    f_np = functools.partial(mlp_loss, np)
    small = {"W": W[:2, :2], "V": V[:1, :2], "b": b[:2]}
    expected = reference(jax.hessian, mlp_loss)(to_jax(small), jnp.asarray(X[:2, :3]))
    same(dualad.hess(f_np)(small, X[:2, :3]), expected, rtol=1e-10, atol=1e-10)
    same(dualad.jacfwd(dualad.grad(f_np))(small, X[:2, :3]), expected, rtol=1e-10, atol=1e-10)


def test_jvp_vjp_hvp_of_containers_match_jax():
    f_np, f_jax = both(tree_out)
    primals = (A, T)
    tangents = (np.array([1.0, -2.0, 0.5]), (np.array([0.3, 0.1]), np.array(-1.0)))
    y, jv = dualad.jvp(f_np, A, T, tangents, argnums=(0, 1))
    y_j, jv_j = jax.jit(lambda p, t: jax.jvp(f_jax, p, t))(to_jax(primals), to_jax(tangents))
    same(y, y_j)
    same(jv, jv_j)
    # only the second argument
    y1, jv1 = dualad.jvp(f_np, A, T, tangents[1], argnums=1)
    _, jv1_j = jax.jit(lambda p, t: jax.jvp(lambda q: f_jax(jnp.asarray(A), q), (p,), (t,)))(
        to_jax(T), to_jax(tangents[1]))
    same(jv1, jv1_j)
    u = {"outer": rng.normal(size=(3, 2)), "sum": np.array(0.7)}
    value, uj = tape.vjp(f_np, A, T, u, argnums=(0, 1))
    y_j, uj_j = jax.jit(lambda p, w: (lambda yp: (yp[0], yp[1](w)))(jax.vjp(f_jax, *p)))(to_jax(primals), to_jax(u))
    same(value, y_j)
    same(uj, uj_j)

    def g(xp, p, x):
        return mlp_loss(xp, p, x)
    g_np, g_jax = both(g)
    v = tree_map(lambda leaf: np.full(np.shape(leaf), 0.1), PARAMS)
    hv = dualad.hvp(g_np, PARAMS, X, v)
    hv_j = jax.jit(lambda p, w: jax.jvp(lambda q: jax.grad(g_jax)(q, jnp.asarray(X)), (p,), (w,))[1])(
        to_jax(PARAMS), to_jax(v))
    same(hv, hv_j, rtol=1e-10, atol=1e-10)


def test_derivative_with_argnums_and_container_output():
    def f(xp, t, c):
        # (a tuple of scalars would be one array, dualad's convention; a vector inside makes it a tuple)
        return {"pos": c * xp.sin(t), "vel": (c * xp.cos(t), t ** 2 * xp.ones(2))}
    f_np, f_jax = both(f)
    same(dualad.derivative(f_np, 0.4, 2.0), jax.jit(jax.jacfwd(f_jax))(0.4, 2.0))
    same(dualad.derivative(f_np, 0.4, 2.0, argnums=(0, 1)), jax.jit(jax.jacfwd(f_jax, argnums=(0, 1)))(0.4, 2.0))


# ----------------------------------------------------------------------------- custom containers
class Affine(NamedTuple):
    weight: np.ndarray
    shift: np.ndarray


@dataclasses.dataclass
class Layer:
    weight: np.ndarray
    shift: np.ndarray
    name: str = "layer"


class Box:
    """A user type registered by hand (children: the two arrays; aux: the label)."""

    def __init__(self, left, right, label="box"):
        self.left, self.right, self.label = left, right, label


dualad.register_pytree_node(Box, lambda bx: ((bx.left, bx.right), bx.label),
                            lambda label, ch: Box(ch[0], ch[1], label))
dualad.register_dataclass(Layer, data_fields=["weight", "shift"], meta_fields=["name"])
jtu.register_pytree_node(Box, lambda bx: ((bx.left, bx.right), bx.label), lambda label, ch: Box(ch[0], ch[1], label))
jtu.register_dataclass(Layer, data_fields=["weight", "shift"], meta_fields=["name"])


def custom_loss(xp, p, x):
    return xp.sum(xp.tanh(p.weight @ x + p.shift[:, None]) ** 2)


@pytest.mark.parametrize("make", [Affine, Layer, Box], ids=["namedtuple", "dataclass", "registered"])
def test_custom_containers_match_jax(make):
    p = make(W, b)
    f_np, f_jax = both(custom_loss)
    if make is Box:
        f_np = functools.partial(lambda xp, bx, x: custom_loss(xp, Affine(bx.left, bx.right), x), np)
        f_jax = functools.partial(lambda xp, bx, x: custom_loss(xp, Affine(bx.left, bx.right), x), jnp)
    p_jax = jtu.tree_map(jnp.asarray, p)
    expected = jax.jit(jax.grad(f_jax))(p_jax, jnp.asarray(X))
    for got in (dualad.grad(f_np)(p, X), dualad.gradient(f_np, p, X)):
        assert type(got) is make
        np.testing.assert_allclose(tree_flatten(got)[0][0], np.asarray(jtu.tree_leaves(expected)[0]), rtol=1e-12)
        np.testing.assert_allclose(tree_flatten(got)[0][1], np.asarray(jtu.tree_leaves(expected)[1]), rtol=1e-12)
    if make is Layer:
        assert dualad.grad(f_np)(Layer(W, b, "first"), X).name == "first"  # meta data kept, not differentiated
    if make is Box:
        assert dualad.grad(f_np)(Box(W, b, "mine"), X).label == "mine"


def test_unregistered_dataclass_is_a_container_of_all_fields():
    @dataclasses.dataclass(frozen=True)
    class Pair:
        a: np.ndarray
        c: float

    g = tape.grad(lambda pr: np.sum(pr.a ** 2) * pr.c, Pair(np.array([1.0, 2.0]), 3.0))
    assert isinstance(g, Pair)
    np.testing.assert_allclose(g.a, [6.0, 12.0])
    assert float(g.c) == pytest.approx(5.0)


def test_tree_flatten_unflatten_round_trip_and_order_like_jax():
    tree = {"z": (np.ones(2), [3.0, np.zeros((1, 2))]), "a": Affine(np.eye(2), np.ones(2)), "m": [1.0, 2.0]}
    leaves, treedef = tree_flatten(tree)
    rebuilt = tree_unflatten(treedef, leaves)
    assert tree_flatten(rebuilt)[1] == treedef
    # same order as JAX's except that a list of numbers is one leaf here (read as an array)
    jax_leaves = jtu.tree_leaves({**tree, "m": np.array(tree["m"])})
    assert len(leaves) == len(jax_leaves)
    for ours, theirs in zip(leaves, jax_leaves):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


# ----------------------------------------------------------------------------- mixed precision, nesting, misuse
def test_float32_leaves_keep_their_dtype():
    p = {"a": np.array([1.0, 2.0], np.float32), "c": np.array(3.0)}
    g = tape.grad(lambda q: np.sum(q["a"] ** 2) * q["c"], p)
    assert g["a"].dtype == np.float32 and g["c"].dtype == np.float64
    np.testing.assert_allclose(g["a"], [6.0, 12.0])


def test_transforms_keep_name_and_doc_and_pass_keywords():
    def energy(q, k, *, damping=0.0):
        """The energy of a spring."""
        return 0.5 * k * np.sum(q ** 2) + damping * np.sum(q)
    for transform in (dualad.grad, dualad.value_and_grad, dualad.jacfwd, dualad.jacrev, dualad.hess):
        d = transform(energy)
        assert d.__name__ == "energy" and d.__doc__ == "The energy of a spring." and d.__wrapped__ is energy
    q = np.array([1.0, -2.0])
    np.testing.assert_allclose(dualad.grad(energy)(q, 3.0, damping=0.5), 3.0 * q + 0.5)
    np.testing.assert_allclose(dualad.gradient(energy, q, 3.0, damping=0.5), 3.0 * q + 0.5)
    np.testing.assert_allclose(dualad.grad(energy, argnums=1)(q, 3.0, damping=0.5), 2.5)


@pytest.mark.parametrize("call,match", [
    (lambda: dualad.grad(np.sum, np.ones(3)), "transform"),
    (lambda: dualad.grad(np.sum, argnums=1.0), "argnums"),
    (lambda: dualad.grad(np.sum, argnums=True), "argnums"),
    (lambda: dualad.grad(np.sum, argnums=(0, 0)), "twice"),
    (lambda: dualad.grad(3.0), "function"),
    (lambda: dualad.jacobian(lambda a, b: a * b, 1.0, 2.0, argnums=2), "argnums"),
    (lambda: dualad.grad(lambda a: a ** 2, has_aux=True)(1.0), "has_aux"),
    (lambda: dualad.grad(lambda p: p)({"a": 1.0, "b": 2.0}), "scalar"),
    (lambda: dualad.jvp(lambda a, b: a * b, 1.0, 2.0, (1.0,), argnums=(0, 1)), "structure"),
    (lambda: tape.vjp(lambda a: {"y": a, "z": a}, np.ones(2), {"y": np.ones(2)}), "structure"),
    (lambda: dualad.jacfwd(np.sin, chunksize=2), "option"),
], ids=["grad-with-point", "float-argnums", "bool-argnums", "repeated-argnums", "not-callable",
        "argnums-out-of-range", "aux-not-a-pair", "container-to-grad", "jvp-v-structure", "vjp-u-structure",
        "unknown-option"])
def test_misuse_raises_a_clear_error(call, match):
    with pytest.raises((DualadError, TypeError), match=match):
        call()


def test_aux_keeps_outer_levels_when_nested():
    # the aux of an inner call is plain at its own level but still carries the outer derivative
    def inner(x, c):
        return np.sum(x * c), c * x[0]
    outer = dualad.derivative(lambda c: dualad.grad(inner, has_aux=True)(np.array([2.0, 3.0]), c)[1], 1.5)
    assert float(outer) == pytest.approx(2.0)


def test_single_array_calls_return_the_core_result_unchanged():
    from dualad import forward
    from dualad.tape import api
    f = lambda v: np.sin(v) * v[0]  # noqa: E731
    x = np.array([0.5, 1.0])
    np.testing.assert_array_equal(dualad.jacobian(f, x), forward.jacobian(f, x))
    np.testing.assert_array_equal(tape.jacobian(f, x), api.jacobian(f, x))
    np.testing.assert_array_equal(dualad.jacobian(f, [0.5, 1.0]), forward.jacobian(f, x))
    assert type(dualad.gradient(np.sum, x)) is np.ndarray


def test_errors_are_typed():
    with pytest.raises(OutputError):
        dualad.jacobian(lambda p: {"a": "text"}, 1.0)
    with pytest.raises(InputError):
        dualad.jacobian(lambda p: p["a"], {"a": 1.0, "b": "text"})


# ----------------------------------------------------------------------------- scipy, as written in scipy's docs
def test_scipy_minimize_with_args_and_grad_transform():
    optimize = pytest.importorskip("scipy.optimize")
    data = np.array([1.0, 2.0, 3.0])

    def fun(x, d):
        return np.sum((x - d) ** 2) + np.sum(x ** 4)
    result = optimize.minimize(fun, np.zeros(3), args=(data,), jac=dualad.grad(fun), method="BFGS")
    assert result.success
    np.testing.assert_allclose(2 * (result.x - data) + 4 * result.x ** 3, 0.0, atol=1e-5)
    both_at_once = optimize.minimize(dualad.value_and_grad(fun), np.zeros(3), args=(data,), jac=True)
    np.testing.assert_allclose(both_at_once.x, result.x, atol=1e-5)


def test_scipy_solve_ivp_with_jacfwd_of_the_state():
    integrate = pytest.importorskip("scipy.integrate")

    def rhs(t, y, k):  # a stiff linear-plus-cubic system
        return np.stack([-k * y[0] + y[1] ** 3, y[0] - y[1]])
    jac = dualad.jacfwd(rhs, argnums=1)
    np.testing.assert_allclose(jac(0.0, np.array([1.0, 2.0]), 50.0), [[-50.0, 12.0], [1.0, -1.0]])
    for method in ("BDF", "Radau", "LSODA"):
        sol = integrate.solve_ivp(rhs, (0.0, 1.0), [1.0, 0.5], method=method, jac=jac, args=(50.0,),
                                  rtol=1e-8, atol=1e-10)
        assert sol.success and (sol.njev >= 1 or method == "LSODA"), method  # LSODA does not count them
        ref = integrate.solve_ivp(rhs, (0.0, 1.0), [1.0, 0.5], method="Radau", args=(50.0,), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-5, atol=1e-7)


def test_scipy_least_squares_and_root_with_args():
    optimize = pytest.importorskip("scipy.optimize")
    t = np.linspace(0.0, 1.0, 8)
    y = 2.0 * np.exp(-1.5 * t)

    def residual(p, t, y):
        return p[0] * np.exp(-p[1] * t) - y
    fit = optimize.least_squares(residual, [1.0, 1.0], jac=dualad.jacfwd(residual), args=(t, y))
    np.testing.assert_allclose(fit.x, [2.0, 1.5], rtol=1e-8)
    fit_rev = optimize.least_squares(residual, [1.0, 1.0], jac=dualad.jacrev(residual), args=(t, y))
    np.testing.assert_allclose(fit_rev.x, [2.0, 1.5], rtol=1e-8)

    def system(x, a):
        return np.stack([x[0] ** 2 + x[1] ** 2 - a, x[0] - x[1]])
    sol = optimize.root(system, [1.0, 0.5], jac=dualad.jacfwd(system), args=(2.0,), method="hybr")
    assert sol.success
    np.testing.assert_allclose(sol.x, [1.0, 1.0], rtol=1e-10)


def test_containers_with_an_executor():
    # f runs in the executor's workers; the output's structure is learned in the caller
    from concurrent.futures import ThreadPoolExecutor
    f_np = functools.partial(tree_out, np)
    expected = reference(jax.jacfwd, tree_out, (0, 1))(jnp.asarray(A), to_jax(T))
    with ThreadPoolExecutor(2) as pool:
        same(dualad.jacobian(f_np, A, T, argnums=(0, 1), executor=pool), expected)
        same(dualad.jacrev(f_np, argnums=(0, 1), executor=pool)(A, T), expected)
        J, aux = dualad.jacfwd(lambda a: (f_np(a, T), {"n": np.sum(a)}), has_aux=True, executor=pool)(A)
        assert float(aux["n"]) == pytest.approx(np.sum(A))
